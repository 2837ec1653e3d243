import { test as base } from 'vitest';
import WebSocket from 'ws';
import { createRosterClient, type RosterClient } from '../../client/src/index.js';
import { seedTenant, startTestServer, type SeededTenant, type TestServer } from './harness.js';

export interface RosterFixtures {
  /** The real server on a free port with its own database: one per test file, shared by its tests. */
  server: TestServer;
  /** A fresh tenant (entitlements EAA and MFA) with a signed-in admin: one per test, so tests never see each other's data. */
  tenant: SeededTenant;
  /** The typed client (`@roster/client`) signed in as that tenant's admin, subscriptions included. */
  admin: RosterClient;
  /** A typed client for any token (or none), closed after the test. */
  clientFor: (token?: string | null) => RosterClient;
}

/**
 * The test API every integration file uses instead of its own beforeAll/afterAll: `server` is
 * started once per file (with `env`), `tenant` and `admin` are new for each test that asks for
 * them. Tests seed their own tenant, so they may run concurrently (`test.concurrent`).
 */
export function rosterTest(env: Record<string, string> = {}) {
  return base.extend<RosterFixtures>({
    server: [
      async ({}, use) => {
        const ts = await startTestServer(env);
        try {
          await use(ts);
        } finally {
          await ts.close();
        }
      },
      { scope: 'file' },
    ],
    tenant: async ({ server }, use) => {
      await use(await seedTenant(server));
    },
    clientFor: async ({ server }, use) => {
      const opened: RosterClient[] = [];
      await use((token) => {
        const c = createRosterClient({ url: server.url, token: token ?? null, webSocketImpl: WebSocket });
        opened.push(c);
        return c;
      });
      await Promise.all(opened.map((c) => c.close()));
    },
    admin: async ({ tenant, clientFor }, use) => {
      await use(clientFor(tenant.token));
    },
  });
}
