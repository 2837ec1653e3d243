import { expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';

/**
 * Found in CI: a 100,000-row upload on PGlite kept this process busy, and graphql-ws's own
 * keep-alive terminated the subscriber's socket (1006) because the pong, already received,
 * was read only after the timer that gave up on it. Here the keep-alive is fast and the
 * process stalls (a synchronous busy loop, as a long PGlite statement or GC would) while a
 * subscription runs: the subscription must reach its end.
 */
const test = rosterTest({ WS_KEEPALIVE_MS: '100' });

const stall = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* the event loop is blocked, as by a long synchronous statement */
  }
};

test('a stalled process does not cut live subscribers', async ({ admin }) => {
  const seqs: number[] = [];
  for await (const e of admin.heartbeat({ intervalMs: 60, count: 20 })) {
    seqs.push(e.heartbeat.seq);
    stall(250);
  }
  expect(seqs).toHaveLength(20);
});

/**
 * Work that continues from a timer through promises only (a chunk of PGlite statements after
 * the job's pause) can keep this process in the event loop's timers phase: the keep-alive's
 * next tick then came right after its ping with no read between them, and a single turn
 * before giving up was not enough for a client in this process to read the ping and for its
 * pong to be read back (the 100,000-row upload's subscription was cut, 1006).
 */
test('work chained on timers does not cut live subscribers', async ({ admin }) => {
  const seqs: number[] = [];
  let busy: Promise<void> | null = null;
  for await (const e of admin.heartbeat({ intervalMs: 60, count: 20 })) {
    seqs.push(e.heartbeat.seq);
    busy ??= (async () => {
      for (let chunk = 0; chunk < 20; chunk++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        for (let statement = 0; statement < 10; statement++) {
          await Promise.resolve();
          stall(20);
        }
      }
    })();
  }
  await busy;
  expect(seqs).toHaveLength(20);
});
