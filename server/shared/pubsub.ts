import { EventEmitter, on } from 'node:events';
import type { Database } from './db.js';

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

const EVENTS_CHANNEL = 'roster_events';

/**
 * Cross-replica bus on PostgreSQL LISTEN/NOTIFY: every replica LISTENs once and fans events
 * out to its local subscribers, so a subscriber sees progress of work running on any
 * replica. NOTIFY payloads are limited to 8000 bytes: events carry counts and ids, not data.
 */
export class PgPubSub implements PubSub {
  private readonly local = new InProcessPubSub();
  private unlisten: (() => Promise<void>) | null = null;

  private constructor(private readonly database: Database) {}

  static async create(database: Database): Promise<PgPubSub> {
    const bus = new PgPubSub(database);
    bus.unlisten = await database.listen(EVENTS_CHANNEL, (raw) => {
      try {
        const { topic, payload } = JSON.parse(raw) as { topic: string; payload: unknown };
        void bus.local.publish(topic, payload);
      } catch {
        // Not ours or truncated: ignore rather than kill the listener.
      }
    });
    return bus;
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    const message = JSON.stringify({ topic, payload });
    if (Buffer.byteLength(message) > 7900) throw new Error(`event on ${topic} is too large for NOTIFY`);
    await this.database.notify(EVENTS_CHANNEL, message);
  }

  subscribe(topic: string, signal?: AbortSignal): AsyncIterableIterator<unknown> {
    return this.local.subscribe(topic, signal);
  }

  async close(): Promise<void> {
    await this.unlisten?.();
    await this.local.close();
  }
}

/** PostgreSQL may have several replicas: use NOTIFY. PGlite is one process: stay in memory. */
export async function createPubSub(database: Database): Promise<PubSub> {
  return database.engine === 'postgres' ? PgPubSub.create(database) : new InProcessPubSub();
}
