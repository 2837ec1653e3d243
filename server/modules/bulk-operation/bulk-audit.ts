import type { AuditEntry } from '../audit/audit.types.js';
import type { BulkOperationRow } from './bulk-operation.types.js';
import type { Item } from './bulk-upload.js';

/** `bulk.<kind>` per operation kind, e.g. `bulk.delete_users`, `bulk.upload_users`. */
const actionOf = (kind: string) => `bulk.${kind.toLowerCase()}`;

/**
 * The audit events of a chunk: one per item that succeeded (failed items changed nothing),
 * naming the user and carrying the operation as source, so each bulk item can be traced. The
 * item's own message says what happened to it (created, updated, invited, deleted, …);
 * `validateOnly` uploads wrote nothing and are not audited.
 */
export function bulkItemEvents(op: BulkOperationRow, items: readonly Item[]): AuditEntry[] {
  if ((op.input as { validateOnly?: boolean } | null)?.validateOnly) return [];
  return items
    .filter((i) => i.outcome === 'SUCCEEDED')
    .map((i) => ({
      action: actionOf(op.kind),
      targetType: 'User',
      targetId: i.userId,
      targetName: i.email ?? i.reference,
      changes: i.message ? { outcome: { before: null, after: i.message } } : null,
      sourceId: op.id,
    }));
}
