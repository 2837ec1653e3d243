import type { Db, Executor } from '../db.js';
import type { Logger } from '../logger.js';
import type { RequestActivity } from '../request-activity.js';

/**
 * The one engine for checkpointed, chunked background work (bulk operations, sync runs).
 *
 * A run is a row (its state and checkpoint) advanced by a sequence of short transactions,
 * "chunks". Each chunk:
 *   1. optionally prepares outside any transaction (e.g. password hashing, which must not
 *      hold a connection or row locks for a second),
 *   2. opens a transaction, locks the run row (`lock`, `SELECT … FOR UPDATE`) and checks that
 *      the run is still active and still this job's (`lock` returns null otherwise): a cancel,
 *      an approval or another worker's claim takes the same row lock, so it is seen at the
 *      very next chunk and never overwritten,
 *   3. does one bounded step and writes its effects *and* the checkpoint in that transaction,
 *      so a chunk that committed is never repeated and one that did not left nothing behind.
 *
 * The engine also owns what every such loop needs and used to be written twice: progress
 * publishing (after a chunk, at most every `publishEveryMs` unless the phase changed or the
 * run ended, plus a heartbeat when nothing was published for a while, so a long phase still
 * shows life), chunk pacing (a chunk slower than `targetMs` narrows the next ones, quick ones
 * widen up to `maxPace`), and the only
 * PGlite-specific courtesy: PGlite is one connection in this process, so before each chunk the
 * engine yields to queued requests and lets the requests in flight finish (for at most a third
 * of the last chunk's time).
 */
export interface ChunkedWork<R, P = undefined> {
  /** Locks the run row in `tx` and returns it when this job may still advance it; null otherwise. */
  lock(tx: Executor): Promise<R | null>;
  /** Whether the run still has chunks to do (e.g. status RUNNING). */
  isActive(run: R): boolean;
  /** Work outside the transaction before a chunk, from the last committed state. */
  prepare?(run: R, pace: number): Promise<P>;
  /**
   * Preparing the chunk that follows `prepared` while that one is written, assuming it commits:
   * the next chunk's reads and CPU work (a CSV slice's validation, its emails' lookup, password
   * hashing) then overlap this chunk's transaction instead of following it. Not used on a
   * shared connection, where nothing could overlap.
   */
  ahead?: {
    prepare(prepared: P, pace: number): Promise<P>;
    /**
     * Whether a chunk prepared ahead follows `run` as committed; when not (another worker
     * advanced the checkpoint, the chunk did not commit everything), it is dropped and
     * `prepare` runs from `run`.
     */
    follows(prepared: P, run: R): boolean;
  };
  /**
   * One chunk in `tx`, on the locked row: apply the step and write the checkpoint; returns the
   * run as committed. `pace` scales the chunk (1 = the nominal size).
   */
  step(tx: Executor, run: R, prepared: P, pace: number): Promise<R>;
  /** Publishes the run's progress (best effort: failures are logged, never thrown). */
  publish(run: R): Promise<void>;
  /**
   * After each chunk's transaction committed, with the run `step` returned: announces what
   * the chunk changed (e.g. sessions ended by deleted users). Best effort, like `publish`.
   */
  committed?(run: R): Promise<void>;
  /** The run's phase: a new phase resets the pace and is published at once. */
  phaseOf?(run: R): string;
}

export interface ChunkedRunOptions {
  /** PGlite shares one connection with API requests: yield before and pause after each chunk. */
  sharesOneConnection: boolean;
  /** Chunk duration to aim at; slower chunks narrow the next ones. */
  targetMs?: number;
  /** Upper bound of the pace multiplier. */
  maxPace?: number;
  publishEveryMs?: number;
  heartbeatMs?: number;
  /**
   * On a shared connection, the longest wait between chunks for requests in flight, as a share
   * of the last chunk's time (default 1/3, at most 100 ms). Work that already leaves the
   * connection free between chunks (a `prepare` that hashes passwords or plans outside the
   * transaction) may lower it; 0 keeps only the yield.
   */
  pauseFraction?: number;
  /**
   * The process's HTTP requests in flight: with it, the wait between chunks ends as soon as
   * none is in flight (none at all when the API is idle); without it, the engine pauses for
   * the whole bound.
   */
  requests?: RequestActivity;
}

export type ChunkedRunOutcome<R> =
  /** The run is no longer active (finished, stopped for approval, failed by its own step). */
  | { kind: 'done'; run: R; slowestChunkMs: Record<string, number> }
  /** The row vanished, ended or was handed to another job while this one worked. */
  | { kind: 'gone'; run: R };

/** Thrown when the job's signal is aborted (shutdown, lost lease): the queue retries from the checkpoint. */
export class RunInterrupted extends Error {
  override name = 'RunInterrupted';
}

/**
 * A turn of the event loop that includes its poll phase, so requests and socket reads (a
 * websocket's pong) waiting for this process get in. On a shared connection a timer first
 * (a short pause), then `setImmediate`: a timer alone was not enough. The chunk that follows
 * continues through promises only (PGlite's statements resolve without I/O), and with other
 * timers due (heartbeats, keep-alives, the job queue's) Node could stay in its timers phase
 * from one chunk to the next: an upload ran chunk after chunk for seconds without a single
 * read, and an in-process websocket client's pong waited that long (its subscription was
 * cut, 1006). An immediate queued from the timers phase runs only after a poll phase.
 */
export function yieldTurn(sharesOneConnection: boolean): Promise<void> {
  return new Promise((resolve) => (sharesOneConnection ? setTimeout(() => setImmediate(resolve), 1) : setImmediate(resolve)));
}

export class ChunkedRunner {
  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: ChunkedRunOptions,
  ) {}

  /** Whether this runner shares PGlite's one connection (read loops outside runs pace themselves too). */
  get sharesOneConnection(): boolean {
    return this.opts.sharesOneConnection;
  }

  /** Drives `work` chunk after chunk from `initial` until it is no longer active or is taken away. */
  async run<R, P = undefined>(initial: R, work: ChunkedWork<R, P>, signal: AbortSignal): Promise<ChunkedRunOutcome<R>> {
    const targetMs = this.opts.targetMs ?? 200;
    const maxPace = this.opts.maxPace ?? 4;
    const publishEveryMs = this.opts.publishEveryMs ?? 250;
    const phaseOf = work.phaseOf ?? (() => '');
    let latest = initial;
    let lastPublished = 0;
    let lastPhase: string | null = null;
    const publish = async (force: boolean) => {
      const now = Date.now();
      const phase = phaseOf(latest);
      if (!force && phase === lastPhase && now - lastPublished < publishEveryMs) return;
      lastPublished = now;
      lastPhase = phase;
      try {
        await work.publish(latest);
      } catch (err) {
        this.log.warn({ err }, 'progress publish failed');
      }
    };
    // A heartbeat, so a subscriber sees an event at least every `heartbeatMs` even in a long
    // chunk — but only when nothing else was published for that long. Every event goes to every
    // subscriber (with a thousand, one event is a thousand GraphQL executions and socket
    // writes), so a heartbeat right after a chunk's own event is not free. Checked five times
    // per period, so the gap stays within `heartbeatMs` whenever the event loop is free.
    const heartbeatMs = this.opts.heartbeatMs ?? 500;
    const heartbeat = setInterval(() => {
      if (Date.now() - lastPublished >= (heartbeatMs * 4) / 5) void publish(true);
    }, heartbeatMs / 5);
    heartbeat.unref();
    const slowest: Record<string, number> = {};
    let pace = 1;
    // The next chunk's preparation, started while the current one is written (`work.ahead`).
    let ahead: Promise<P> | null = null;
    // On a shared connection, how long the next chunk may wait for requests in flight.
    let pauseMs = 0;
    try {
      await publish(true);
      while (work.isActive(latest)) {
        if (signal.aborted) throw new RunInterrupted('interrupted');
        // Let requests waiting for PGlite's single connection go first; the turn also reads the
        // requests that arrived during the last chunk, so they count as in flight below.
        await yieldTurn(this.opts.sharesOneConnection);
        // A request runs its statements one after another with JavaScript between them: leave
        // it the connection until it has answered (a third of the last chunk's time at most),
        // or it would wait a whole chunk for each statement after the first.
        if (this.opts.sharesOneConnection && pauseMs > 0) {
          if (this.opts.requests) await this.opts.requests.settled(pauseMs);
          else await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
        const pending = ahead === null ? undefined : await ahead;
        ahead = null;
        const prepared = (
          pending !== undefined && work.ahead?.follows(pending, latest)
            ? pending
            : work.prepare
              ? await work.prepare(latest, pace)
              : undefined
        ) as P;
        if (work.ahead && !this.opts.sharesOneConnection) {
          ahead = work.ahead.prepare(prepared, pace);
          // Awaited by the next chunk; if the run ends first, its failure must not go unhandled.
          ahead.catch(() => {});
        }
        const phase = phaseOf(latest);
        const t0 = Date.now();
        const next = await this.db.transaction(async (tx) => {
          const locked = await work.lock(tx);
          if (!locked || !work.isActive(locked)) return { gone: true as const, run: locked };
          return { gone: false as const, run: await work.step(tx, locked, prepared, pace) };
        });
        const ms = Date.now() - t0;
        if (next.gone) return { kind: 'gone', run: next.run ?? latest };
        latest = next.run;
        if (work.committed) {
          try {
            await work.committed(latest);
          } catch (err) {
            this.log.warn({ err }, 'after-commit announcement failed');
          }
        }
        slowest[phase] = Math.max(slowest[phase] ?? 0, ms);
        if (phaseOf(latest) !== phase) pace = 1;
        else if (ms > targetMs) pace = Math.max(1 / 256, pace * Math.max(0.25, targetMs / ms));
        else if (ms < targetMs / 2) pace = Math.min(maxPace, pace * 2);
        await publish(!work.isActive(latest));
        pauseMs = Math.min(100, Math.round(ms * (this.opts.pauseFraction ?? 1 / 3)));
      }
      return { kind: 'done', run: latest, slowestChunkMs: slowest };
    } finally {
      clearInterval(heartbeat);
    }
  }
}
