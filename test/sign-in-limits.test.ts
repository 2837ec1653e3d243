import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { describe, expect } from 'vitest';
import { createRosterClient, type RosterClient } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { startReplica, type TestServer } from './support/harness.js';

// Small limits so tests stay short; X-Forwarded-For is trusted so each test has its own client address.
const test = rosterTest({
  TRUST_PROXY: 'true',
  SIGN_IN_MAX_FAILURES: '5',
  SIGN_IN_DELAY_AFTER: '2',
  SIGN_IN_ADDRESS_MAX_FAILURES: '8',
  SIGN_IN_ADDRESS_DELAY_AFTER: '8',
  SIGN_IN_LOCK_MINUTES: '15',
});

const WRONG = 'Wrong!pass1';

function fromAddress(ts: TestServer, address = `10.${[1, 2, 3].map(() => randomBytes(1)[0]).join('.')}`): RosterClient {
  return createRosterClient({ url: ts.url, webSocketImpl: WebSocket, headers: { 'x-forwarded-for': address } });
}

/** Ends the short delays between attempts (as if the client had waited), leaving locks in place: time is moved in the database, never slept. */
async function skipDelays(ts: TestServer) {
  await ts.database.db.execute(sql`update sign_in_limits set locked_until = now() - interval '1 second' where failures < 5`);
}

/** Lets every lock run out and every failure be forgotten. */
async function expireAll(ts: TestServer) {
  await ts.database.db.execute(
    sql`update sign_in_limits set locked_until = now() - interval '1 second', last_failure_at = now() - interval '16 minutes'`,
  );
}

describe('sign-in limits', () => {
  test('wrong passwords delay, then lock the account: the right password is refused like a wrong one until the lock ends', async ({
    server,
    tenant,
  }) => {
    const anon = fromAddress(server);
    const attempt = (password: string) => anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password } });

    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push((await attempt(WRONG)).login.errors[0]);
      await skipDelays(server);
    }
    // Two free failures, then growing delays (1 s, 2 s, …), then the lock at the fifth.
    expect(answers.map((e) => [e?.code, e?.retryAfter])).toEqual([
      ['INVALID_CREDENTIALS', null],
      ['INVALID_CREDENTIALS', null],
      ['INVALID_CREDENTIALS', 1],
      ['INVALID_CREDENTIALS', 2],
      ['INVALID_CREDENTIALS', 15 * 60],
    ]);

    const locked = await attempt(tenant.adminPassword);
    expect(locked.login.token).toBeNull();
    expect(locked.login.errors).toEqual([
      { code: 'INVALID_CREDENTIALS', message: answers[0]!.message, field: null, retryAfter: expect.any(Number) },
    ]);
    expect(locked.login.errors[0]!.retryAfter).toBeGreaterThan(15 * 60 - 30);

    // Administrators see the state.
    const admin = createRosterClient({ url: server.url, token: tenant.token, webSocketImpl: WebSocket });
    const state = await admin.userSignInState({ id: (await admin.viewer()).viewer!.user.id });
    expect(state.user).toMatchObject({ failedSignIns: 5, signInLockedUntil: expect.any(String) });

    // The lock runs out (moved in the database): the right password works and resets the count.
    await expireAll(server);
    const ok = await attempt(tenant.adminPassword);
    expect(ok.login.errors).toEqual([]);
    expect(ok.login.token).toMatch(/^rst_/);
    expect((await admin.userSignInState({ id: state.user!.id })).user).toMatchObject({ failedSignIns: 0, signInLockedUntil: null });
    await Promise.all([anon.close(), admin.close()]);
  });

  test('a delay also refuses the right password until it has passed', async ({ server, tenant }) => {
    const anon = fromAddress(server);
    const attempt = (password: string) => anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password } });
    await attempt(WRONG);
    await attempt(WRONG);
    expect((await attempt(WRONG)).login.errors[0]!.retryAfter).toBe(1);
    const refused = await attempt(tenant.adminPassword);
    expect(refused.login.token).toBeNull();
    expect(refused.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: 1 });
    await skipDelays(server);
    expect((await attempt(tenant.adminPassword)).login.token).toMatch(/^rst_/);
    await anon.close();
  });

  test('a parallel burst of wrong passwords is counted before checking: few are verified, and the account is delayed', async ({
    server,
    tenant,
  }) => {
    const clients = Array.from({ length: 20 }, () => fromAddress(server));
    const answers = await Promise.all(
      clients.map((c) => c.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: WRONG } })),
    );
    expect(answers.every((a) => a.login.errors[0]!.code === 'INVALID_CREDENTIALS')).toBe(true);
    const admin = createRosterClient({ url: server.url, token: tenant.token, webSocketImpl: WebSocket });
    const me = (await admin.viewer()).viewer!.user.id;
    // Attempts past the first delay were refused unchecked and not counted.
    const { failedSignIns } = (await admin.userSignInState({ id: me })).user!;
    expect(failedSignIns).toBeGreaterThanOrEqual(3);
    expect(failedSignIns).toBeLessThan(20);
    expect(answers.filter((a) => a.login.errors[0]!.retryAfter !== null).length).toBeGreaterThanOrEqual(20 - failedSignIns);
    const right = await fromAddress(server).login({
      input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword },
    });
    expect(right.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: expect.any(Number) });
    await Promise.all([...clients, admin].map((c) => c.close()));
  });

  test('parallel right sign-ins on one account from one address: each signed in or delayed, and every count taken back', async ({
    server,
    tenant,
  }) => {
    // Counting both limits and settling them after a success each lock the address row, then
    // the account row: sign-ins being counted and sign-ins being settled wait for each other
    // (on PostgreSQL, on several connections) and never deadlock.
    const address = `10.201.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    const clients = Array.from({ length: 8 }, () => fromAddress(server, address));
    const input = { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword };
    const answers = await Promise.all(clients.map((c) => c.login({ input })));
    for (const a of answers) {
      if (!a.login.token) expect(a.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: expect.any(Number) });
    }
    expect(answers.filter((a) => a.login.token).length).toBeGreaterThanOrEqual(1);
    // Every attempt counted was taken back: none was a failure.
    const key = createHash('sha256').update(`address:${address}`).digest('hex');
    const rows = (await server.database.db.execute(sql`select failures, locked_until from sign_in_limits where key = ${key}`)) as any;
    expect(rows.rows ?? rows).toEqual([{ failures: 0, locked_until: null }]);
    const admin = createRosterClient({ url: server.url, token: tenant.token, webSocketImpl: WebSocket });
    const me = (await admin.viewer()).viewer!.user.id;
    expect((await admin.userSignInState({ id: me })).user).toMatchObject({ failedSignIns: 0, signInLockedUntil: null });
    await Promise.all([...clients, admin].map((c) => c.close()));
  });

  test('unlockUser ends the lock (admin, own tenant only)', async ({ server, tenant, admin, clientFor }) => {
    const anon = fromAddress(server);
    const attempt = (password: string) => anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password } });
    for (let i = 0; i < 5; i++) {
      await attempt(WRONG);
      await skipDelays(server);
    }
    expect((await attempt(tenant.adminPassword)).login.errors[0]!.code).toBe('INVALID_CREDENTIALS');
    const userId = (await admin.viewer()).viewer!.user.id;

    // Another tenant's admin cannot see or unlock this user.
    const { seedTenant } = await import('./support/harness.js');
    const other = clientFor((await seedTenant(server)).token);
    expect((await other.unlockUser({ input: { id: userId } })).unlockUser.errors[0]!.code).toBe('NOT_FOUND');
    expect((await attempt(tenant.adminPassword)).login.token).toBeNull();

    const unlocked = await admin.unlockUser({ input: { id: userId } });
    expect(unlocked.unlockUser.errors).toEqual([]);
    expect(unlocked.unlockUser.user).toMatchObject({ failedSignIns: 0, signInLockedUntil: null });
    expect((await attempt(tenant.adminPassword)).login.token).toMatch(/^rst_/);
    // Signed out, it is refused like every other admin field.
    await expect(clientFor().unlockUser({ input: { id: userId } })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await anon.close();
  });

  test('a client address is limited across accounts', async ({ server, tenant }) => {
    const address = `10.200.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    const anon = fromAddress(server, address);
    // Eight failures, each on a different (unknown) account: no account reaches its own limit.
    for (let i = 0; i < 8; i++) {
      const r = await anon.login({ input: { tenant: tenant.slug, email: `nobody${i}@x.test`, password: WRONG } });
      expect(r.login.errors[0]!.code).toBe('INVALID_CREDENTIALS');
    }
    const refused = await anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } });
    expect(refused.login.token).toBeNull();
    expect(refused.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: expect.any(Number) });
    // The same account from another address is fine.
    const elsewhere = fromAddress(server);
    expect(
      (await elsewhere.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } })).login.token,
    ).toMatch(/^rst_/);
    await Promise.all([anon.close(), elsewhere.close()]);
  });

  test('aliased logins: 500 are refused before execution; within the operation limits only the first is checked', async ({
    server,
    tenant,
  }) => {
    const loginDocument = (n: number) => {
      const candidates = Array.from({ length: n }, (_, i) => (i === n - 1 ? tenant.adminPassword : `Guess!${i}word`));
      return `mutation {\n${candidates
        .map(
          (p, i) =>
            `a${i}: login(input: { tenant: ${JSON.stringify(tenant.slug)}, email: ${JSON.stringify(tenant.adminEmail)}, password: ${JSON.stringify(p)} }) { token errors { code retryAfter message } }`,
        )
        .join('\n')}\n}`;
    };
    const post = (query: string) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.250.0.1' },
        body: JSON.stringify({ query }),
      });
    const admin = createRosterClient({ url: server.url, token: tenant.token, webSocketImpl: WebSocket });
    const me = (await admin.viewer()).viewer!.user.id;

    // 500 aliases: the operation limits refuse the document whole; no credential is checked.
    const refused = await post(loginDocument(500));
    expect(refused.status).toBe(400);
    const refusedBody = (await refused.json()) as { data?: unknown; errors: { extensions?: { code?: string } }[] };
    expect(refusedBody.data ?? null).toBeNull();
    expect(['GRAPHQL_PARSE_FAILED', 'OPERATION_TOO_COMPLEX']).toContain(refusedBody.errors[0]?.extensions?.code);
    expect((await admin.userSignInState({ id: me })).user!.failedSignIns).toBe(0);

    // As many aliases as the limits allow, the right password last: only the first is checked.
    const n = 20;
    const res = await post(loginDocument(n));
    const body = (await res.json()) as { data: Record<string, { token: string | null; errors: { code: string; message: string }[] }> };
    const answers = Object.values(body.data);
    expect(answers).toHaveLength(n);
    expect(answers.every((a) => a.token === null && a.errors[0]!.code === 'INVALID_CREDENTIALS')).toBe(true);
    expect(answers.filter((a) => /one credential/i.test(a.errors[0]!.message))).toHaveLength(n - 1);
    // One failure was counted, not n.
    expect((await admin.userSignInState({ id: me })).user!.failedSignIns).toBe(1);
    await admin.close();
  });

  test('an unknown account-setup or enrolment token counts against the client address', async ({ server, tenant }) => {
    const anon = fromAddress(server);
    for (let i = 0; i < 4; i++) {
      const r = await anon.completeAccountSetup({
        input: { token: `inv_${randomBytes(32).toString('base64url')}`, password: 'N3w!password' },
      });
      expect(r.completeAccountSetup.errors[0]!.code).toBe('TOKEN_INVALID');
      const m = await anon.beginTotpEnrollment({
        input: { token: `mfa_${randomBytes(32).toString('base64url')}`, deviceName: 'Phone' },
      });
      expect(m.beginTotpEnrollment.errors[0]!.code).toBe('TOKEN_INVALID');
    }
    // Eight failures of the address: even the right password is now refused from it.
    const r = await anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } });
    expect(r.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: expect.any(Number) });
    const s = await anon.completeAccountSetup({
      input: { token: `inv_${randomBytes(32).toString('base64url')}`, password: 'N3w!password' },
    });
    expect(s.completeAccountSetup.errors[0]).toMatchObject({ code: 'TOKEN_INVALID', retryAfter: expect.any(Number) });
    await anon.close();
  });

  test('replicas share the counts: a lock taken through one is seen by the other', async ({ server, tenant }) => {
    const replica = await startReplica(server, {
      TRUST_PROXY: 'true',
      SIGN_IN_MAX_FAILURES: '5',
      SIGN_IN_DELAY_AFTER: '2',
      SIGN_IN_ADDRESS_MAX_FAILURES: '8',
      SIGN_IN_ADDRESS_DELAY_AFTER: '8',
      WORKERS: 'false',
    });
    try {
      const address = `10.201.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
      const a = fromAddress(server, address);
      const b = fromAddress(replica, address);
      for (let i = 0; i < 5; i++) {
        await (i % 2 ? a : b).login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: WRONG } });
        await skipDelays(server);
      }
      for (const c of [a, b]) {
        const r = await c.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } });
        expect(r.login.errors[0]).toMatchObject({ code: 'INVALID_CREDENTIALS', retryAfter: expect.any(Number) });
      }
      await Promise.all([a.close(), b.close()]);
    } finally {
      await replica.close();
    }
  });
});
