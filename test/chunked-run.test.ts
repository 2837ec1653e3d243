import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Db } from '../server/shared/db.js';
import { ChunkedRunner, type ChunkedWork } from '../server/shared/jobs/chunked-run.js';
import { createLogger } from '../server/shared/logger.js';
import { RequestActivity } from '../server/shared/request-activity.js';

/** A database whose transactions just run their callback: the engine's own logic, no SQL. */
const db = { transaction: (fn: (tx: unknown) => Promise<unknown>) => fn({}) } as unknown as Db;

/**
 * A run of `chunks` chunks, each taking `chunkMs` of (fake) time, that records what it
 * publishes. Time is vitest's fake clock, advanced inside each chunk, so the heartbeat's
 * interval fires while a chunk "runs" exactly as it would on a real clock, and nothing here
 * depends on the machine's speed.
 */
function work(chunks: number, chunkMs: number) {
  const published: number[] = [];
  const state = { done: 0 };
  const w: ChunkedWork<{ done: number }> = {
    lock: async () => ({ done: state.done }),
    isActive: (r) => r.done < chunks,
    step: async (_tx, r) => {
      vi.advanceTimersByTime(chunkMs);
      state.done = r.done + 1;
      return { done: state.done };
    },
    publish: async (r) => {
      published.push(r.done);
    },
  };
  return { w, published };
}

describe('chunked runs: progress events', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends no heartbeat while chunks publish often enough on their own', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
    // Chunks of 300 ms: each one's event is due (publishEveryMs 250), so the run publishes
    // once at the start and once after each chunk — a heartbeat (500 ms) would only repeat them.
    const { w, published } = work(10, 300);
    const out = await runner.run({ done: 0 }, w, new AbortController().signal);
    expect(out.kind).toBe('done');
    expect(published).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('still beats during a long chunk, at least every 500 ms', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
    // One chunk of 3 s: heartbeats (the state before the chunk, 0) meanwhile, no two more than
    // 500 ms apart.
    const times: number[] = [];
    const { w, published } = work(1, 3000);
    const publish = w.publish;
    w.publish = async (r) => {
      times.push(Date.now());
      await publish(r);
    };
    await runner.run({ done: 0 }, w, new AbortController().signal);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(published.filter((d) => d === 0).length - 1).toBeGreaterThanOrEqual(6);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(500);
    expect(published.at(-1)).toBe(1);
  });
});

/**
 * `ahead`: the next chunk prepared while the current one is written. A run over positions
 * 0…n in chunks of 10, where a prepared chunk is its start position; the log shows the order in
 * which preparations and steps start and end.
 */
describe('chunked runs: preparing the next chunk ahead', () => {
  function steps(n: number, opts: { skipTo?: { at: number; to: number }; failAheadFrom?: number } = {}) {
    const log: string[] = [];
    const state = { at: 0 };
    const tick = () => new Promise((r) => setImmediate(r));
    const w: ChunkedWork<{ at: number }, number> = {
      lock: async () => ({ at: state.at }),
      isActive: (r) => r.at < n,
      prepare: async (r) => {
        log.push(`prepare ${r.at}`);
        await tick();
        return r.at;
      },
      ahead: {
        prepare: async (from) => {
          log.push(`ahead ${from + 10}`);
          await tick();
          if (opts.failAheadFrom !== undefined && from + 10 >= opts.failAheadFrom) throw new Error('ahead failed');
          return from + 10;
        },
        follows: (from, r) => from === r.at,
      },
      step: async (_tx, r, from) => {
        // As the upload's step: a chunk planned from another checkpoint is not applied.
        if (from !== r.at) {
          log.push(`stale ${from}`);
          return r;
        }
        log.push(`step ${from} start`);
        await tick();
        await tick();
        // Another worker moved the checkpoint while this chunk was prepared ahead.
        state.at = opts.skipTo && from === opts.skipTo.at ? opts.skipTo.to : Math.min(n, from + 10);
        log.push(`step ${from} end`);
        return { at: state.at };
      },
      publish: async () => {},
    };
    return { w, log };
  }

  it("overlaps the next chunk's preparation with the current chunk's transaction and uses it", async () => {
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
    const { w, log } = steps(30);
    const out = await runner.run({ at: 0 }, w, new AbortController().signal);
    expect(out.kind).toBe('done');
    expect(log.filter((l) => l.startsWith('prepare'))).toEqual(['prepare 0']);
    // Chunk 10 is prepared before chunk 0's transaction ends.
    expect(log.indexOf('ahead 10')).toBeLessThan(log.indexOf('step 0 end'));
    expect(log.filter((l) => l.endsWith('start'))).toEqual(['step 0 start', 'step 10 start', 'step 20 start']);
    expect(log.some((l) => l.startsWith('stale'))).toBe(false);
  });

  it('drops a chunk prepared ahead that does not follow the committed checkpoint and prepares from it', async () => {
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
    // After chunk 10 the checkpoint is 25, not 20: the chunk prepared ahead (20) is dropped.
    const { w, log } = steps(45, { skipTo: { at: 10, to: 25 } });
    const out = await runner.run({ at: 0 }, w, new AbortController().signal);
    expect(out.kind).toBe('done');
    expect(log).toContain('prepare 25');
    expect(log.filter((l) => l.endsWith('start'))).toEqual(['step 0 start', 'step 10 start', 'step 25 start', 'step 35 start']);
    expect(log.some((l) => l.startsWith('stale'))).toBe(false);
  });

  it('fails the run with the error of a chunk prepared ahead, as with one prepared in turn', async () => {
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
    const { w, log } = steps(30, { failAheadFrom: 20 });
    await expect(runner.run({ at: 0 }, w, new AbortController().signal)).rejects.toThrow('ahead failed');
    expect(log).toContain('step 10 end');
    expect(log).not.toContain('step 20 start');
  });

  it("leaves no unhandled rejection when the run ends before a failed preparation's chunk", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: false });
      // The last chunk (20) prepares chunk 30 ahead, which fails; the run is over by then.
      const { w } = steps(30, { failAheadFrom: 30 });
      const out = await runner.run({ at: 0 }, w, new AbortController().signal);
      expect(out.kind).toBe('done');
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('prepares in turn on a shared connection (PGlite), where nothing could overlap', async () => {
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: true, pauseFraction: 0 });
    const { w, log } = steps(30);
    await runner.run({ at: 0 }, w, new AbortController().signal);
    expect(log.filter((l) => l.startsWith('prepare'))).toEqual(['prepare 0', 'prepare 10', 'prepare 20']);
    expect(log.some((l) => l.startsWith('ahead'))).toBe(false);
  });
});

/**
 * PGlite: one connection for the run and the API. Between chunks the run leaves it to the HTTP
 * requests in flight, until they answered or for a third of the last chunk's time at most, and
 * does not wait when none is in flight. Time is fake (chunks of 300 ms, so the bound is 100 ms);
 * the gaps are the fake clock's, not the machine's.
 */
describe('chunked runs: the wait between chunks on a shared connection', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs 3 chunks of 300 ms; `during(i)` is called at the end of chunk i. Returns the gaps between chunks in ms. */
  async function gapsBetweenChunks(opts: { requests?: RequestActivity; during?: (chunk: number) => void }): Promise<number[]> {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setImmediate'] });
    const runner = new ChunkedRunner(db, createLogger('silent'), { sharesOneConnection: true, requests: opts.requests });
    const spans: { start: number; end: number }[] = [];
    const state = { done: 0 };
    const w: ChunkedWork<{ done: number }> = {
      lock: async () => ({ done: state.done }),
      isActive: (r) => r.done < 3,
      step: async (_tx, r) => {
        const start = Date.now();
        vi.setSystemTime(start + 300);
        // At the chunk's end, before it commits: a request that came meanwhile.
        opts.during?.(r.done);
        spans.push({ start, end: Date.now() });
        state.done = r.done + 1;
        return { done: state.done };
      },
      publish: async () => {},
    };
    let finished = false;
    const out = runner.run({ done: 0 }, w, new AbortController().signal).finally(() => (finished = true));
    while (!finished) await vi.advanceTimersByTimeAsync(1);
    expect((await out).kind).toBe('done');
    return spans.slice(1).map((s, i) => s.start - spans[i]!.end);
  }

  /** A response that answers (closes) `afterMs` from now on the fake clock. */
  function requestInFlight(requests: RequestActivity, afterMs: number) {
    const response = new EventEmitter();
    requests.track(response as unknown as ServerResponse);
    setTimeout(() => response.emit('close'), afterMs);
  }

  it('starts the next chunk at once when no request is in flight', async () => {
    const gaps = await gapsBetweenChunks({ requests: new RequestActivity() });
    // Only the turn of the event loop that lets queued requests in (a 1 ms timer).
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(2);
  });

  it('waits for a request that arrived during a chunk until it has answered', async () => {
    const requests = new RequestActivity();
    const gaps = await gapsBetweenChunks({ requests, during: (chunk) => chunk === 0 && requestInFlight(requests, 40) });
    // The request answers 40 ms after chunk 0 ended; chunk 1 starts right after, not at the bound.
    expect(gaps[0]).toBeGreaterThanOrEqual(40);
    expect(gaps[0]).toBeLessThanOrEqual(42);
    expect(gaps[1]).toBeLessThanOrEqual(2);
  });

  it('waits at most a third of the last chunk for a request that takes longer', async () => {
    const requests = new RequestActivity();
    const gaps = await gapsBetweenChunks({ requests, during: (chunk) => chunk === 0 && requestInFlight(requests, 10_000) });
    expect(gaps[0]).toBeGreaterThanOrEqual(100);
    expect(gaps[0]).toBeLessThanOrEqual(102);
    expect(gaps[1]).toBeGreaterThanOrEqual(100);
  });

  it('pauses for the whole bound when it cannot see the requests', async () => {
    const gaps = await gapsBetweenChunks({});
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(100);
  });
});
