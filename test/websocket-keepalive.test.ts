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
