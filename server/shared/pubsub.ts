import { EventEmitter, on } from 'node:events';

/**
 * The event bus behind subscriptions. Resolvers and services only see this interface, so the
 * in-process bus can be replaced by a PostgreSQL LISTEN/NOTIFY one for several replicas.
 * Payloads must be JSON-safe for that reason.
 */
export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  subscribe(topic: string, signal?: AbortSignal): AsyncIterableIterator<unknown>;
  close(): Promise<void>;
}

export function topicFor(kind: string, id: string): string {
  return `${kind}:${id}`;
}

export class InProcessPubSub implements PubSub {
  private readonly emitter = new EventEmitter();
  private readonly controller = new AbortController();

  constructor() {
    // Every live subscription is a listener; there may be many.
    this.emitter.setMaxListeners(0);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    // Round-trip through JSON so a payload that would not survive NOTIFY fails here too.
    this.emitter.emit(topic, JSON.parse(JSON.stringify(payload)));
  }

  subscribe(topic: string, signal?: AbortSignal): AsyncIterableIterator<unknown> {
    const signals = signal ? AbortSignal.any([signal, this.controller.signal]) : this.controller.signal;
    const it = on(this.emitter, topic, { signal: signals });
    const mapped = (async function* () {
      try {
        for await (const [payload] of it) yield payload;
      } catch (err) {
        if ((err as { name?: string }).name !== 'AbortError') throw err;
      }
    })();
    return mapped;
  }

  async close(): Promise<void> {
    this.controller.abort();
  }
}
