import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Db } from '../server/shared/db.js';
import { ChunkedRunner, type ChunkedWork } from '../server/shared/jobs/chunked-run.js';
import { createLogger } from '../server/shared/logger.js';

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
