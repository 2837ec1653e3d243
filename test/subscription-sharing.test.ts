import { createClient, type Client } from 'graphql-ws';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { ok } from './support/directory-api.js';
import { rosterTest } from './support/fixtures.js';
import { papi, seedDeployedProvisioning } from './support/provisioning-api.js';
import { RawSocket } from './support/raw-socket.js';

/**
 * Subscribers following one sync run share each published event's execution
 * (`server/http/shared-execution.ts`) only with subscribers of the same tenant, operation text,
 * variables and credential kind: each still gets exactly its own selection, every event, and the
 * final state.
 */
// Chunks of 100 keep a run of a few thousand users going long enough to publish several events
// after every subscriber has attached. In two default chunks (2,000 users each) a run on PGlite,
// which no longer pauses between chunks when idle, could end before a subscriber's first read.
const test = rosterTest({ JOB_POLL_MS: '50', SYNC_CHUNK_SIZE: '100' });

const WIDE = `subscription Wide($id: ID!) { syncRunProgress(runId: $id) { status phase created percent } }`;
const NARROW = `subscription Narrow($id: ID!) { syncRunProgress(runId: $id) { status created } }`;

type Event = Record<string, unknown>;

function follow(client: Client, query: string, id: string): Promise<Event[]> {
  return new Promise((resolve, reject) => {
    const events: Event[] = [];
    client.subscribe<{ syncRunProgress: Event }>(
      { query, variables: { id } },
      {
        next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : events.push(r.data!.syncRunProgress)),
        error: reject,
        complete: () => resolve(events),
      },
    );
  });
}

describe('shared subscription execution', () => {
  test('each subscriber gets its own selection of every event, whoever it shares them with', async ({ server: ts, tenant: t, admin }) => {
    const { provisioningId } = await seedDeployedProvisioning(ts, t, 2500);
    const secret = ok(
      (await admin.createApiToken({ input: { name: 'watcher', scopes: ['PROVISIONING_READ' as never] } })).createApiToken,
    ).secret!;
    // Connected (and authenticated) before the run starts: subscribing is then one message each.
    const connected: Promise<unknown>[] = [];
    const clients = [t.token, t.token, secret].map((token) =>
      createClient({
        url: ts.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { token },
        retryAttempts: 0,
        lazy: false,
      }),
    );
    for (const c of clients) connected.push(new Promise((resolve) => c.on('connected', resolve)));
    try {
      await Promise.all(connected);
      const run = (await papi(ts, t.token).sync(provisioningId)).syncRun!;
      const [wide1, wide2, narrow, wideToken] = await Promise.all([
        follow(clients[0]!, WIDE, run.id),
        follow(clients[1]!, WIDE, run.id),
        follow(clients[0]!, NARROW, run.id),
        follow(clients[2]!, WIDE, run.id),
      ]);
      for (const events of [wide1, wide2, wideToken]) {
        for (const e of events) expect(Object.keys(e).sort()).toEqual(['created', 'percent', 'phase', 'status']);
        expect(events.at(-1)).toMatchObject({ status: 'COMPLETED', phase: 'DONE', created: 2500, percent: 100 });
      }
      for (const e of narrow) expect(Object.keys(e).sort()).toEqual(['created', 'status']);
      expect(narrow.at(-1)).toEqual({ status: 'COMPLETED', created: 2500 });
      // After each one's first state (read for it alone), the same published events in the same order.
      const tail = (events: Event[], n: number) => events.slice(-n);
      const n = Math.min(wide1.length, wide2.length, wideToken.length, narrow.length) - 1;
      expect(n).toBeGreaterThan(0);
      expect(tail(wide2, n)).toEqual(tail(wide1, n));
      expect(tail(wideToken, n)).toEqual(tail(wide1, n));
      expect(tail(narrow, n)).toEqual(tail(wide1, n).map((e) => ({ status: e.status, created: e.created })));
    } finally {
      for (const c of clients) await c.dispose();
    }
  });

  test('each socket gets byte-exact frames: its own id around the one shared payload text, or its own payload', async ({
    server: ts,
    tenant: t,
  }) => {
    const { provisioningId } = await seedDeployedProvisioning(ts, t, 1500);
    const [a, b] = await Promise.all([RawSocket.open(ts.wsUrl, t.token), RawSocket.open(ts.wsUrl, t.token)]);
    try {
      const run = (await papi(ts, t.token).sync(provisioningId)).syncRun!;
      // Ids that JSON must escape: each frame names its own subscription exactly.
      const ids = { wideA: 'wide "a" \\ 1', wideB: 'wide-b-ü', narrowA: 'narrow\ta' };
      const [wideA, wideB, narrowA] = await Promise.all([
        a.subscribeFrames(ids.wideA, WIDE, { id: run.id }),
        b.subscribeFrames(ids.wideB, WIDE, { id: run.id }),
        a.subscribeFrames(ids.narrowA, NARROW, { id: run.id }),
      ]);
      /** The payload texts of a subscription's frames, checking each frame's exact text on the way. */
      const payloads = (frames: string[], id: string) => {
        expect(frames.at(-1)).toBe(`{"id":${JSON.stringify(id)},"type":"complete"}`);
        return frames.slice(0, -1).map((frame) => {
          // What graphql-ws's JSON.stringify of { id, type, payload } writes, byte for byte.
          expect(JSON.stringify(JSON.parse(frame))).toBe(frame);
          const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
          expect(frame.startsWith(prefix) && frame.endsWith('}')).toBe(true);
          return frame.slice(prefix.length, -1);
        });
      };
      const [pa, pb, pn] = [payloads(wideA, ids.wideA), payloads(wideB, ids.wideB), payloads(narrowA, ids.narrowA)];
      // After each one's first state, the same events: the same payload text for the same selection.
      const n = Math.min(pa.length, pb.length, pn.length) - 1;
      expect(n).toBeGreaterThan(0);
      expect(pb.slice(-n)).toEqual(pa.slice(-n));
      for (const text of [...pa, ...pb]) {
        expect(Object.keys((JSON.parse(text) as { data: { syncRunProgress: Event } }).data.syncRunProgress)).toEqual([
          'status',
          'phase',
          'created',
          'percent',
        ]);
      }
      // The other selection on socket a gets its own payload of the same events.
      expect(pn.slice(-n)).toEqual(
        pa.slice(-n).map((text) => {
          const e = (JSON.parse(text) as { data: { syncRunProgress: Event } }).data.syncRunProgress;
          return JSON.stringify({ data: { syncRunProgress: { status: e.status, created: e.created } } });
        }),
      );
      expect(JSON.parse(pa.at(-1)!)).toEqual({
        data: { syncRunProgress: { status: 'COMPLETED', phase: 'DONE', created: 1500, percent: 100 } },
      });
    } finally {
      a.close();
      b.close();
    }
  });
});
