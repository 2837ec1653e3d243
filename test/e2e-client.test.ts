import WebSocket from 'ws';
import { describe, expect } from 'vitest';
import {
  createRosterClient,
  HeartbeatDocument,
  LoginDocument,
  RosterGraphQLError,
  RosterSubscriptionError,
  TenantDocument,
  UsersDocument,
  ViewerDocument,
} from '../client/src/index.js';
import { ADMIN_PASSWORD, seedTenant } from './support/harness.js';
import { rosterTest } from './support/fixtures.js';

const test = rosterTest();

describe('typed client against a started server', () => {
  test('signs in over HTTP, queries, and subscribes over graphql-ws', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const anon = createRosterClient({ url: ts.url, webSocketImpl: WebSocket });
    const { login } = await anon.request(LoginDocument, {
      input: { tenant: t.slug, email: t.adminEmail.toUpperCase(), password: ADMIN_PASSWORD },
    });
    expect(login.errors).toEqual([]);
    expect(login.token).toMatch(/^rst_/);
    expect(login.viewer?.user.email).toBe(t.adminEmail);

    const client = createRosterClient({ url: ts.url, getToken: () => login.token, webSocketImpl: WebSocket });
    const { users } = await client.request(UsersDocument, { first: 10 });
    expect(users.totalCount).toBe(1);
    expect(users.nodes[0]!.groups.map((g) => g.name)).toEqual(['Admins', 'Users']);
    const { tenant } = await client.request(TenantDocument);
    expect(tenant.slug).toBe(t.slug);

    const ticks: number[] = [];
    for await (const ev of client.subscribe(HeartbeatDocument, { intervalMs: 100, count: 2 })) ticks.push(ev.heartbeat.seq);
    expect(ticks).toEqual([1, 2]);

    // Leaving early unsubscribes cleanly.
    for await (const ev of client.subscribe(HeartbeatDocument, { intervalMs: 100 })) {
      expect(ev.heartbeat.seq).toBe(1);
      break;
    }
    await client.close();
  });

  test('refuses a subscription without a token or with a garbage token', async ({ server: ts }) => {
    for (const token of [undefined, 'rst_garbage', 'not-a-token']) {
      const c = createRosterClient({ url: ts.url, token, webSocketImpl: WebSocket });
      const run = async () => {
        for await (const _ of c.subscribe(HeartbeatDocument, { count: 1 })) {
          // unreachable: the connection is refused at connection_init
        }
      };
      const err = await run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RosterSubscriptionError);
      expect((err as RosterSubscriptionError).closeCode).toBe(4403);
      expect((err as RosterSubscriptionError).code).toBe('UNAUTHENTICATED');
      await c.close();
    }
  });

  test('throws typed errors for a bad token, and returns null viewer without one', async ({ server: ts }) => {
    const bad = createRosterClient({ url: ts.url, token: 'rst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const err = await bad.request(UsersDocument, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterGraphQLError);
    expect((err as RosterGraphQLError).code).toBe('UNAUTHENTICATED');
    const anon = createRosterClient({ url: ts.url });
    expect((await anon.request(ViewerDocument)).viewer).toBeNull();
  });
});
