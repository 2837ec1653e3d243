import { DONE, type PubSub, type Topics } from './pubsub.js';

/** With no event for this long, a progress stream re-reads the state (a lost event never leaves it stuck). */
const QUIET_RESYNC_MS = 5000;

/** What `liveProgress` follows, and how. */
export interface ProgressOptions<K extends keyof Topics, T> {
  pubsub: PubSub;
  kind: K;
  id: string;
  current: () => Promise<Topics[K]>;
  isTerminal: (event: Topics[K]) => boolean;
  map?: (event: Topics[K]) => T;
  quietResyncMs?: number;
}

/**
 * A progress subscription: the object's current state at once (a late subscriber is never
 * left waiting), then the published events, ending after the first terminal one. The bus
 * listener is added before the state is read, so no event in between is lost. Each item is
 * `map(event)` (the event itself by default).
 *
 * Events can still be lost when the bus's database connection drops (NOTIFY is not queued
 * for a listener that is reconnecting). So the state is read again when the bus reports it
 * reconnected, and after `quietResyncMs` of waiting without events (running work publishes a
 * heartbeat every 500 ms, so silence means an event went missing or nothing moves); a changed
 * state is yielded like an event, and a terminal one ends the stream. A read that fails because
 * the database is away is retried at the next occasion rather than ending the stream. A read
 * overtaken by an event is dropped: the stream stays in publishing order.
 *
 * An iterator of its own rather than an async generator: with a thousand subscribers of one
 * sync, each generator layer's promises per event were a measurable share of delivering it
 * (test/bench/subscribers.bench.ts), and `return` ends the bus listener at once even while a
 * `next` is waiting (a generator waiting in an `await` queues the `return` until its next event).
 */
export function liveProgress<K extends keyof Topics, T = Topics[K]>(opts: ProgressOptions<K, T>): AsyncIterableIterator<T> {
  return new ProgressStream(opts);
}

class ProgressStream<K extends keyof Topics, T> implements AsyncIterableIterator<T> {
  /** Events received and not yet taken (the consumer was busy, or the first state not read yet). */
  private queue: Topics[K][] = [];
  /** The `next` waiting for an event, if any. */
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private started = false;
  private ended = false;
  /** The last state yielded: compared (as JSON) only when a re-read happens. */
  private last: Topics[K] | undefined;
  /** Events received so far: a re-read overtaken by one is dropped. */
  private received = 0;
  private rereading = false;
  private readonly unlisten: () => void;
  private readonly removeResync: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: ProgressOptions<K, T>) {
    this.unlisten = opts.pubsub.listen(opts.kind, opts.id, { event: (e) => this.event(e), end: () => this.finish() });
    this.removeResync = opts.pubsub.onResync(() => this.reread());
    // One timer per stream, pushed back by every event and re-armed after every re-read: only
    // waiting `quietResyncMs` with no event re-reads (no timer allocated per event).
    this.timer = setTimeout(() => this.reread(), opts.quietResyncMs ?? QUIET_RESYNC_MS);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (!this.started) {
      this.started = true;
      let first: Topics[K];
      try {
        first = await this.opts.current();
      } catch (err) {
        this.finish();
        throw err;
      }
      if (this.ended) return DONE;
      return this.item(first);
    }
    const queued = this.queue.shift();
    if (queued !== undefined) return this.item(queued);
    if (this.ended) return DONE;
    return new Promise((resolve) => (this.waiter = resolve));
  }

  async return(): Promise<IteratorResult<T>> {
    this.finish();
    return DONE;
  }

  /** An event from the bus: to the waiting `next`, or queued. */
  private event(e: Topics[K]): void {
    if (this.ended) return;
    this.received++;
    this.timer.refresh();
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(this.item(e));
    } else this.queue.push(e);
  }

  /** `e` as the stream's next item; a terminal one ends the stream after it. */
  private item(e: Topics[K]): IteratorResult<T> {
    this.last = e;
    if (this.opts.isTerminal(e)) this.finish();
    return { done: false, value: this.opts.map ? this.opts.map(e) : (e as unknown as T) };
  }

  /** The bus may have lost events, or none came for a while: read the state, yield it if it changed. */
  private reread(): void {
    // Only while waiting for an event (the first state is being read, or events are queued, otherwise).
    if (this.ended || this.rereading || !this.waiter) {
      if (!this.ended) this.timer.refresh();
      return;
    }
    this.rereading = true;
    const before = this.received;
    const settle = (now: Topics[K] | null) => {
      this.rereading = false;
      if (this.ended) return;
      this.timer.refresh();
      // Unchanged (nothing was missed), the database is away, or an event came meanwhile: keep waiting.
      if (now === null || this.received !== before || JSON.stringify(now) === JSON.stringify(this.last)) return;
      this.event(now);
    };
    this.opts.current().then(settle, () => settle(null));
  }

  /** Ends the stream: no further item, the bus listener removed at once. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    clearTimeout(this.timer);
    this.unlisten();
    this.removeResync();
    const w = this.waiter;
    this.waiter = null;
    w?.(DONE);
  }
}
