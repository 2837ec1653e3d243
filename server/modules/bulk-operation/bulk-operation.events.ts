import type { BulkOperationRow } from './bulk-operation.types.js';

/**
 * The progress event of a bulk operation: the row without its input (which can hold 100,000
 * ids), plus `validateOnly`. JSON-safe, so the in-process bus and LISTEN/NOTIFY carry the
 * same payload.
 */
export function bulkEvent(op: BulkOperationRow) {
  const { input: _input, ...rest } = op;
  return { ...rest, validateOnly: (op.input as { validateOnly?: boolean }).validateOnly === true };
}

export type BulkOperationEvent = ReturnType<typeof bulkEvent>;

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `bulkOperation:<id>`: the operation's counters and status after each chunk, and a heartbeat while it runs. */
    bulkOperation: BulkOperationEvent;
  }
}
