import { EventEmitter } from 'node:events';
import { sql, type SQL } from 'drizzle-orm';
import type { Database, Executor } from './db.js';

/**
 * Topic kinds and the event each carries. Empty here: every module that publishes declares
 * its own kinds with `declare module '…/shared/pubsub.js' { interface Topics { … } }`, so the
 * bus is typed end to end without the ground floor importing any module.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Topics {}

/**
 * The event bus behind subscriptions. Services only see this interface, so the in-process bus
 * can be replaced by a PostgreSQL LISTEN/NOTIFY one for several replicas. Payloads must be
 * JSON-safe for that reason. A topic is a kind plus the id of the object it concerns.
 */
export interface PubSub {
  publish<K extends keyof Topics>(kind: K, id: string, payload: Topics[K]): Promise<void>;
  /**
   * Publishes when, and only if, the transaction `tx` commits: a NOTIFY issued inside it, which
   * PostgreSQL (and PGlite) delivers at commit and drops on rollback. For events written in the
   * transaction of a change (the audit trail), where publishing after the caller's commit
   * would need every caller to remember it.
   */
  publishOnCommit<K extends keyof Topics>(tx: Executor, kind: K, id: string, payload: Topics[K]): Promise<void>;
  /**
   * `publishOnCommit` as an expression for the caller's own statement, for a change written in
   * one statement with no transaction around it: `payload` is SQL yielding the event as JSON
   * (computed in the statement, e.g. from what it inserted).
   */
  notifyOnCommitSql<K extends keyof Topics>(kind: K, id: string, payload: SQL): SQL;
  subscribe<K extends keyof Topics>(kind: K, id: string, signal?: AbortSignal): AsyncIterableIterator<Topics[K]>;
  /**
   * `subscribe` as callbacks, for a consumer that keeps its own queue (a progress stream with a
   * thousand subscribers): `event` for each event, `end` when the bus closes. Returns a remover
   * that ends the listening at once.
   */
  listen<K extends keyof Topics>(kind: K, id: string, listener: Listener<Topics[K]>): () => void;
  /**
   * Calls `listener` whenever events may have been lost (the bus's database connection dropped
   * and was re-established): a subscriber that follows state re-reads it. Returns a remover.
   */
  onResync(listener: () => void): () => void;
  close(): Promise<void>;
}

/** A `listen` consumer. */
export interface Listener<E> {
  event(e: E): void;
  /** The bus closed: no further event. */
  end(): void;
}

function topicFor(kind: string, id: string): string {
  return `${kind}:${id}`;
}

/** A bus addressed by raw topic strings; `TypedBus` puts the typed interface on top. */
interface RawBus {
  publishRaw(topic: string, payload: unknown): Promise<void>;
  listenRaw(topic: string, listener: Listener<unknown>): () => void;
  onResync(listener: () => void): () => void;
  close(): Promise<void>;
}

class TypedBus implements PubSub {
  constructor(private readonly raw: RawBus) {}

  publish<K extends keyof Topics>(kind: K, id: string, payload: Topics[K]): Promise<void> {
    return this.raw.publishRaw(topicFor(kind, id), payload);
  }

  async publishOnCommit<K extends keyof Topics>(tx: Executor, kind: K, id: string, payload: Topics[K]): Promise<void> {
    await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${notifyMessage(topicFor(kind, id), payload)})`);
  }

  notifyOnCommitSql<K extends keyof Topics>(kind: K, id: string, payload: SQL): SQL {
    // The same message as `notifyMessage` (receivers parse it); small by construction.
    return sql`pg_notify(${EVENTS_CHANNEL}, json_build_object('topic', ${topicFor(kind, id)}::text, 'payload', ${payload})::text)`;
  }

  subscribe<K extends keyof Topics>(kind: K, id: string, signal?: AbortSignal): AsyncIterableIterator<Topics[K]> {
    return new Subscription(this.raw, topicFor(kind, id), signal) as AsyncIterableIterator<Topics[K]>;
  }

  listen<K extends keyof Topics>(kind: K, id: string, listener: Listener<Topics[K]>): () => void {
    return this.raw.listenRaw(topicFor(kind, id), listener as Listener<unknown>);
  }

  onResync(listener: () => void): () => void {
    return this.raw.onResync(listener);
  }

  close(): Promise<void> {
    return this.raw.close();
  }
}

/** The end of an iterator of events (a subscription, a progress stream). */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * `subscribe`'s iterator: events queued until taken, ended by `return`, the signal or the bus
 * closing. Queued events are still delivered after the signal or the close (as node's
 * `events.on` did), not after `return`.
 */
class Subscription implements AsyncIterableIterator<unknown> {
  private readonly queue: unknown[] = [];
  private waiter: ((r: IteratorResult<unknown>) => void) | null = null;
  private ended = false;
  private readonly unlisten: () => void;
  private readonly signal: AbortSignal | undefined;

  constructor(bus: RawBus, topic: string, signal?: AbortSignal) {
    this.unlisten = bus.listenRaw(topic, {
      event: (e) => {
        if (this.ended) return;
        const w = this.waiter;
        if (w) {
          this.waiter = null;
          w({ done: false, value: e });
        } else this.queue.push(e);
      },
      end: () => this.end(),
    });
    this.signal = signal;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this.end, { once: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.queue.length) return Promise.resolve({ done: false, value: this.queue.shift() });
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<unknown>> {
    this.queue.length = 0;
    this.end();
    return Promise.resolve(DONE);
  }

  private readonly end = () => {
    if (this.ended) return;
    this.ended = true;
    this.unlisten();
    this.signal?.removeEventListener('abort', this.end);
    const w = this.waiter;
    this.waiter = null;
    w?.(DONE);
  };
}

class InProcessBus implements RawBus {
  private readonly emitter = new EventEmitter();
  /** The `end` of every live listener, called when the bus closes. */
  private readonly ends = new Set<() => void>();
  private unlisten: (() => Promise<void>) | null = null;

  constructor() {
    // Every live subscription is a listener; there may be many.
    this.emitter.setMaxListeners(0);
  }

  /**
   * PGlite: one process, so `publish` stays in memory; but `publishOnCommit` goes through the
   * database's NOTIFY (delivered at commit), so this bus listens to the channel for those.
   */
  static async listening(database: Database): Promise<InProcessBus> {
    const bus = new InProcessBus();
    bus.unlisten = await database.listen(EVENTS_CHANNEL, (raw) => bus.deliver(raw));
    return bus;
  }

  /** A NOTIFY message `{ topic, payload }` to the local subscribers. */
  deliver(raw: string): void {
    try {
      const { topic, payload } = JSON.parse(raw) as { topic: string; payload: unknown };
      this.emitter.emit(topic, payload);
    } catch {
      // Not ours or truncated: ignore rather than kill the listener.
    }
  }

  async publishRaw(topic: string, payload: unknown): Promise<void> {
    // Round-trip through JSON so a payload that would not survive NOTIFY fails here too.
    this.emitter.emit(topic, JSON.parse(JSON.stringify(payload)));
  }

  listenRaw(topic: string, listener: Listener<unknown>): () => void {
    const event = (payload: unknown) => listener.event(payload);
    const end = () => {
      this.emitter.off(topic, event);
      this.ends.delete(end);
      listener.end();
    };
    this.emitter.on(topic, event);
    this.ends.add(end);
    return () => {
      this.emitter.off(topic, event);
      this.ends.delete(end);
    };
  }

  /** In one process nothing is lost between publisher and subscriber. */
  onResync(_listener: () => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    await this.unlisten?.().catch(() => {});
    for (const end of [...this.ends]) end();
  }
}

const EVENTS_CHANNEL = 'roster_events';

/** The NOTIFY text of an event; payloads are limited to 8000 bytes. */
function notifyMessage(topic: string, payload: unknown): string {
  const message = JSON.stringify({ topic, payload });
  if (Buffer.byteLength(message) > 7900) throw new Error(`event on ${topic} is too large for NOTIFY`);
  return message;
}

/**
 * Cross-replica bus on PostgreSQL LISTEN/NOTIFY: every replica LISTENs once and fans events
 * out to its local subscribers, so a subscriber sees progress of work running on any
 * replica. NOTIFY payloads are limited to 8000 bytes: events carry counts and ids, not data.
 */
class PgBus implements RawBus {
  private readonly local = new InProcessBus();
  private readonly resyncs = new EventEmitter();
  private unlisten: (() => Promise<void>) | null = null;

  private constructor(private readonly database: Database) {
    this.resyncs.setMaxListeners(0);
  }

  static async create(database: Database): Promise<PgBus> {
    const bus = new PgBus(database);
    bus.unlisten = await database.listen(
      EVENTS_CHANNEL,
      (raw) => bus.local.deliver(raw),
      // LISTEN was re-established after its connection dropped: events sent meanwhile are gone.
      () => bus.resyncs.emit('resync'),
    );
    return bus;
  }

  onResync(listener: () => void): () => void {
    this.resyncs.on('resync', listener);
    return () => this.resyncs.off('resync', listener);
  }

  async publishRaw(topic: string, payload: unknown): Promise<void> {
    await this.database.notify(EVENTS_CHANNEL, notifyMessage(topic, payload));
  }

  listenRaw(topic: string, listener: Listener<unknown>): () => void {
    return this.local.listenRaw(topic, listener);
  }

  async close(): Promise<void> {
    this.resyncs.removeAllListeners();
    // The database's own close ends the LISTEN connection anyway: a failed UNLISTEN is moot.
    await this.unlisten?.().catch(() => {});
    await this.local.close();
  }
}

/** PostgreSQL may have several replicas: use NOTIFY. PGlite is one process: stay in memory. */
export async function createPubSub(database: Database): Promise<PubSub> {
  return new TypedBus(database.engine === 'postgres' ? await PgBus.create(database) : await InProcessBus.listening(database));
}
