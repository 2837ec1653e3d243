import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import WebSocket from 'ws';
import { createRosterClient, RosterSubscriptionError, type RosterClient } from '../client/src/index.js';
import { rosterTest, type RosterFixtures } from './support/fixtures.js';
import { startReplica, type SeededTenant, type TestServer } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { RawSocket, within } from './support/raw-socket.js';

/**
 * Ending a session ends its websockets too, on every replica. The main server re-checks open
 * sockets only every 10 minutes here, so a socket it closes within the test was closed by the
 * revocation event. The replica: on PostgreSQL it hears the event through NOTIFY (and keeps the
 * 30 s default re-check, so the event is what closes it in time); on PGlite every server in the
 * process has its own in-memory bus, so there it is closed by a short periodic re-check.
 */
const onPostgres = !!process.env.TEST_DATABASE_URL;
const test = rosterTest({ WS_SESSION_RECHECK_MS: '600000' }).extend<{ replica: TestServer }>({
  replica: [
    async ({ server }: Pick<RosterFixtures, 'server'>, use: (r: TestServer) => Promise<void>) => {
      const replica = await startReplica(server, onPostgres ? {} : { WS_SESSION_RECHECK_MS: '250' });
      try {
        await use(replica);
      } finally {
        await replica.close();
      }
    },
    { scope: 'file' },
  ],
});

const BOUND = 10_000;
const TENANT_QUERY = 'query { tenant { slug } }';
const ADD_MEMBERS = 'mutation($input: GroupMembersInput!) { addGroupMembers(input: $input) { errors { code } } }';

interface Admin {
  id: string;
  email: string;
  password: string;
  token: string;
}

async function adminsGroupId(admin: RosterClient): Promise<string> {
  return (await admin.groups({})).groups.nodes.find((g) => g.builtIn === 'ADMINS')!.id;
}

/** A second admin of the tenant, signed in (`sessions` times: one token each). */
async function secondAdmin(
  tenant: SeededTenant,
  admin: RosterClient,
  anon: RosterClient,
  sessions = 1,
): Promise<Admin & { tokens: string[] }> {
  const email = `b-${randomBytes(4).toString('hex')}@${tenant.slug}.test`;
  const password = 'Sec0nd!admin-pass';
  const { createUser } = await admin.createUser({
    input: { email, firstName: 'Second', lastName: 'Admin', password, groupIds: [await adminsGroupId(admin)] },
  });
  expect(createUser.errors).toEqual([]);
  const tokens: string[] = [];
  for (let i = 0; i < sessions; i++) {
    const { login } = await anon.login({ input: { tenant: tenant.slug, email, password } });
    tokens.push(login.token!);
  }
  return { id: createUser.user!.id, email, password, token: tokens[0]!, tokens };
}

/** A heartbeat subscription through the typed client; resolves with what ended it. */
async function liveHeartbeat(client: RosterClient): Promise<{ ended: Promise<unknown> }> {
  const it = client.heartbeat({ intervalMs: 100 });
  expect((await it.next()).done).toBe(false);
  const ended = (async () => {
    try {
      for (;;) if ((await it.next()).done) return 'completed';
    } catch (err) {
      return err;
    }
  })();
  return { ended };
}

/** Everything a session may have open: raw sockets on both replicas and a typed-client subscription. */
async function openEverywhere(server: TestServer, replica: TestServer, client: RosterClient, token: string) {
  const [here, there] = await Promise.all([RawSocket.open(server.wsUrl, token), RawSocket.open(replica.wsUrl, token)]);
  expect((await here.run(TENANT_QUERY)).data?.tenant).toBeTruthy();
  expect((await there.run(TENANT_QUERY)).data?.tenant).toBeTruthy();
  const subscription = await liveHeartbeat(client);
  return { here, there, subscription };
}

async function expectAllClosed(open: Awaited<ReturnType<typeof openEverywhere>>) {
  // The next operation on the old socket is refused (an UNAUTHENTICATED error, or the socket is already closed).
  const next = await open.here.run(TENANT_QUERY);
  expect(next.data?.tenant ?? null).toBeNull();
  expect(next.closedWith ?? next.errors?.[0]?.extensions?.code).toSatisfy((v) => v === 4403 || v === 'UNAUTHENTICATED');
  expect(await within(open.here.closed, BOUND, 'the socket to close')).toBe(4403);
  expect(await within(open.there.closed, BOUND, "the replica's socket to close")).toBe(4403);
  const ended = await within(open.subscription.ended, BOUND, 'the subscription to end');
  expect(ended).toBeInstanceOf(RosterSubscriptionError);
  expect(ended).toMatchObject({ closeCode: 4403, code: 'UNAUTHENTICATED' });
}

async function expectRejectedOverHttp(clientFor: RosterFixtures['clientFor'], token: string) {
  await expect(clientFor(token).tenant()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
}

describe('ending a session closes its websockets on every replica (4403)', () => {
  test('logout', async ({ server, replica, tenant, admin, clientFor }) => {
    const open = await openEverywhere(server, replica, admin, tenant.token);
    expect((await clientFor(tenant.token).logout()).logout.success).toBe(true);
    await expectAllClosed(open);
    await expectRejectedOverHttp(clientFor, tenant.token);
  });

  test('logout ends only that session: another session of the same admin keeps its socket', async ({
    server,
    replica,
    tenant,
    admin,
    clientFor,
  }) => {
    const b = await secondAdmin(tenant, admin, clientFor(), 2);
    const open = await openEverywhere(server, replica, clientFor(b.tokens[0]), b.tokens[0]!);
    const other = await RawSocket.open(server.wsUrl, b.tokens[1]!);
    await clientFor(b.tokens[0]).logout();
    await expectAllClosed(open);
    expect((await other.run(TENANT_QUERY)).data?.tenant.slug).toBe(tenant.slug);
    other.close();
  });

  test('removal from Admins: the old socket cannot add its user back', async ({ server, replica, tenant, admin, clientFor }) => {
    const b = await secondAdmin(tenant, admin, clientFor());
    const admins = await adminsGroupId(admin);
    const open = await openEverywhere(server, replica, clientFor(b.token), b.token);
    expect((await admin.removeGroupMembers({ input: { groupId: admins, userIds: [b.id] } })).removeGroupMembers.errors).toEqual([]);

    const readd = await open.here.run(ADD_MEMBERS, { input: { groupId: admins, userIds: [b.id] } });
    expect(readd.data?.addGroupMembers ?? null).toBeNull();
    await expectAllClosed(open);
    const members = (await admin.group({ id: admins })).group!.members.nodes.map((u) => u.id);
    expect(members).not.toContain(b.id);
    await expectRejectedOverHttp(clientFor, b.token);

    // Re-added by another admin, the old token stays dead: the session was revoked, not suspended.
    await admin.addGroupMembers({ input: { groupId: admins, userIds: [b.id] } });
    await expectRejectedOverHttp(clientFor, b.token);
  });

  test('disabling the user', async ({ server, replica, tenant, admin, clientFor }) => {
    const b = await secondAdmin(tenant, admin, clientFor());
    const open = await openEverywhere(server, replica, clientFor(b.token), b.token);
    expect((await admin.updateUser({ input: { id: b.id, disabled: true } })).updateUser.errors).toEqual([]);
    await expectAllClosed(open);
    await admin.updateUser({ input: { id: b.id, disabled: false } });
    await expectRejectedOverHttp(clientFor, b.token);
  });

  test('deleting the user', async ({ server, replica, tenant, admin, clientFor }) => {
    const b = await secondAdmin(tenant, admin, clientFor());
    const open = await openEverywhere(server, replica, clientFor(b.token), b.token);
    expect((await admin.deleteUser({ input: { id: b.id } })).deleteUser.errors).toEqual([]);
    await expectAllClosed(open);
    await expectRejectedOverHttp(clientFor, b.token);
  });

  test('bulk delete', async ({ server, replica, tenant, admin, clientFor }) => {
    const b = await secondAdmin(tenant, admin, clientFor());
    const open = await openEverywhere(server, replica, clientFor(b.token), b.token);
    const { bulkDeleteUsers } = await admin.bulkDeleteUsers({ input: { userIds: [b.id] } });
    expect(bulkDeleteUsers.errors).toEqual([]);
    // The sockets close when the job's chunk commits.
    expect(await within(open.here.closed, BOUND, 'the socket to close')).toBe(4403);
    await expectAllClosed(open);
    await expectRejectedOverHttp(clientFor, b.token);
  });

  test('a password reset ends every session of the user, also on HTTP', async ({ server, replica, tenant, admin, clientFor }) => {
    const b = await secondAdmin(tenant, admin, clientFor(), 2);
    const open = await openEverywhere(server, replica, clientFor(b.tokens[0]), b.tokens[0]!);
    const { inviteUser } = await admin.inviteUser({ input: { userId: b.id } });
    expect(inviteUser.invitation?.kind).toBe('PASSWORD_RESET');
    // Either replica's worker may send the mail (each has its own mailbox folder).
    const token = tokenOf(await Promise.any([waitForMailLink(server, b.email), waitForMailLink(replica, b.email)]));
    const newPassword = 'N3w!reset-password';
    const { completeAccountSetup } = await clientFor().completeAccountSetup({ input: { token, password: newPassword } });
    expect(completeAccountSetup.success).toBe(true);

    await expectAllClosed(open);
    for (const t of b.tokens) await expectRejectedOverHttp(clientFor, t);
    // The new password signs in.
    const { login } = await clientFor().login({ input: { tenant: tenant.slug, email: b.email, password: newPassword } });
    expect(login.token).toBeTruthy();
  });
});

describe('every websocket operation re-checks the session', () => {
  test('a session that expired (no event) is refused at the next operation, then the socket closes', async ({ server, tenant }) => {
    const socket = await RawSocket.open(server.wsUrl, tenant.token);
    expect((await socket.run(TENANT_QUERY)).data?.tenant.slug).toBe(tenant.slug);
    await server.database.db.execute(
      sql`update sessions set expires_at = now() - interval '1 second' where tenant_id = ${tenant.tenantId}`,
    );
    const next = await socket.run(TENANT_QUERY);
    expect(next.data ?? null).toBeNull();
    expect(next.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(next.errors?.[0]?.message).toMatch(/expired/);
    expect(await within(socket.closed, BOUND, 'the socket to close')).toBe(4403);
  });

  test('a session revoked without an event (a missed NOTIFY) is refused at the next operation', async ({ server, tenant }) => {
    const socket = await RawSocket.open(server.wsUrl, tenant.token);
    await server.database.db.execute(sql`update sessions set revoked_at = now() where tenant_id = ${tenant.tenantId}`);
    const next = await socket.run('mutation { logout { success } }');
    expect(next.data ?? null).toBeNull();
    expect(next.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(await within(socket.closed, BOUND, 'the socket to close')).toBe(4403);
  });

  test('an idle subscription is closed by the periodic re-check when its session expires', async ({ server, tenant }) => {
    const quick = await startReplica(server, { WS_SESSION_RECHECK_MS: '200' });
    const client = createRosterClient({ url: quick.url, token: tenant.token, webSocketImpl: WebSocket });
    try {
      const subscription = await liveHeartbeat(client);
      const socket = await RawSocket.open(quick.wsUrl, tenant.token);
      await server.database.db.execute(
        sql`update sessions set expires_at = now() - interval '1 second' where tenant_id = ${tenant.tenantId}`,
      );
      expect(await within(socket.closed, BOUND, 'the socket to close')).toBe(4403);
      expect(await within(subscription.ended, BOUND, 'the subscription to end')).toMatchObject({ closeCode: 4403 });
    } finally {
      await client.close();
      await quick.close();
    }
  });
});
