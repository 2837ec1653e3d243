import { createClient, type Client } from 'graphql-ws';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { ok } from './support/directory-api.js';
import { rosterTest } from './support/fixtures.js';
import { papi, seedDeployedProvisioning } from './support/provisioning-api.js';

/**
 * Subscribers following one sync run share each published event's execution
 * (`server/http/shared-execution.ts`) only with subscribers of the same tenant, operation text,
 * variables and credential kind: each still gets exactly its own selection, every event, and the
 * final state.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });

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
    const clients = [t.token, t.token, secret].map((token) =>
      createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token }, retryAttempts: 0, lazy: true }),
    );
    try {
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
});
