import { Writable } from 'node:stream';
import { print, type DocumentNode } from 'graphql';
import { LoginDocument, ViewerDocument } from '../client/src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ok, tokenOf, waitForMailLink } from './support/directory-api.js';
import { gql, seedTenant, startTestServer, type SeededTenant, type TestServer } from './support/harness.js';
import { enroll, papi } from './support/provisioning-api.js';

/**
 * SQL statements per request are deterministic, so they are asserted (times never are): the
 * server logs each HTTP GraphQL operation with the statements it issued, counted in the
 * database layer. A page costs the session check (admin membership included), its page query,
 * and one statement per kind of related row, however many rows the page holds.
 */
describe('statements per request', () => {
  const logged: { msg?: string; requestId?: string; statements?: number }[] = [];
  let ts: TestServer;
  let t: SeededTenant;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l.trim()) logged.push(JSON.parse(l));
        cb();
      },
    });
    ts = await startTestServer({ LOG_LEVEL: 'info' }, { logTo: sink });
    t = await seedTenant(ts);
    const a = api(ts, t.token);
    // Two directories, three groups, 12 users in up to three groups each: rows to batch.
    const ext = ok(await a.createDirectory('External', 'ACTIVE_DIRECTORY')).directory!;
    const groups = [];
    for (const name of ['Red', 'Green', 'Blue']) groups.push(ok(await a.createGroup(name)).group!.id);
    const users: string[] = [];
    for (let i = 0; i < 12; i++) {
      const u = ok(
        await a.createUser({
          email: `u${i}@count.test`,
          firstName: `U${i}`,
          lastName: 'Count',
          directoryId: i % 2 ? ext.id : undefined,
          groupIds: i % 2 ? [] : groups.slice(0, i % 3),
        }),
      ).user!;
      users.push(u.id);
    }
    // MFA users with enrolled devices.
    const p = papi(ts, t.token);
    for (const name of ['mia', 'noah']) {
      ok(await p.createMfaUser({ username: name, email: `${name}@count.test`, sendEnrollmentEmail: true }));
      const r = await enroll(ts, tokenOf(await waitForMailLink(ts, `${name}@count.test`)), 'Phone');
      expect(r.errors).toEqual([]);
    }
    // One with two devices (the page reads a row per device) and one with none.
    const mia = (await gql<any>(ts.url, `{ mfaUsers(first: 10) { nodes { id username } } }`, {}, t.token)).data.mfaUsers.nodes.find(
      (n: any) => n.username === 'mia',
    );
    ok(await p.sendEnrollment(mia.id));
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'mia@count.test', 2)), 'Tablet')).errors).toEqual([]);
    ok(await p.createMfaUser({ username: 'lena', email: 'lena@count.test', sendEnrollmentEmail: false }));
  }, 120_000);

  afterAll(async () => {
    await ts?.close();
  });

  async function statementsOf(query: string, variables?: object, token: string | null = t.token, body?: (b: any) => void): Promise<number> {
    const requestId = `count-${Math.random().toString(36).slice(2)}`;
    const res = await fetch(ts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), 'x-request-id': requestId },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await res.json()) as { errors?: unknown };
    expect(json.errors).toBeUndefined();
    body?.(json);
    for (let i = 0; i < 50; i++) {
      const line = logged.find((l) => l.msg === 'graphql operation' && l.requestId === requestId);
      if (line) return line.statements!;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no log line for the request');
  }

  it('users page with groups and directory: session, page, groups, directories', async () => {
    const page = `{ users(first: 100) { nodes { id email groups { id name } directory { id name } } } }`;
    const check = await gql<any>(ts.url, page, {}, t.token);
    expect(check.data.users.nodes).toHaveLength(13);
    expect(check.data.users.nodes.some((u: any) => u.groups.length === 3)).toBe(true);
    // Each user gets its own groups, sorted by name, though the page's groups are read once per group.
    const groupsOf = Object.fromEntries(check.data.users.nodes.map((u: any) => [u.email, u.groups.map((g: any) => g.name)]));
    expect([0, 2, 4, 6, 8].map((i) => groupsOf[`u${i}@count.test`])).toEqual([
      ['Users'],
      ['Green', 'Red', 'Users'],
      ['Red', 'Users'],
      ['Users'],
      ['Green', 'Red', 'Users'],
    ]);
    expect(await statementsOf(page)).toBe(4);
    // totalCount costs its COUNT only when selected.
    expect(await statementsOf(`{ users(first: 100) { totalCount nodes { id groups { id name } directory { id name } } } }`)).toBe(5);
  });

  it('groups page with member counts: session, page (counts read in it), count', async () => {
    const page = `{ groups(first: 100) { nodes { id name memberCount } } }`;
    const check = await gql<any>(ts.url, page, {}, t.token);
    const counts = Object.fromEntries(check.data.groups.nodes.map((g: any) => [g.name, g.memberCount]));
    // u0, u2, …, u10 are in the first i % 3 of Red, Green.
    expect(counts).toMatchObject({ Admins: 1, Red: 4, Green: 2, Blue: 0 });
    // The same counts as a single group's field reads (its own loader statement).
    for (const g of check.data.groups.nodes) {
      const one = await gql<any>(ts.url, `query($id: ID!) { group(id: $id) { memberCount } }`, { id: g.id }, t.token);
      expect(one.data.group.memberCount).toBe(g.memberCount);
    }
    expect(await statementsOf(page)).toBe(2);
    expect(await statementsOf(`{ groups(first: 100) { totalCount nodes { id name memberCount } } }`)).toBe(3);
    // Through edges and a fragment, and when the count is not selected.
    expect(await statementsOf(`{ groups(first: 100) { edges { node { ...G } } } } fragment G on Group { id memberCount }`)).toBe(2);
    expect(await statementsOf(`{ groups(first: 100) { nodes { id name } } }`)).toBe(2);
  });

  it('mfaUsers with devices: session, page (devices read in it)', async () => {
    const page = `{ mfaUsers(first: 100) { nodes { id username devices { id name kind status lastUsedAt enrolledAt } } } }`;
    const check = await gql<any>(ts.url, page, {}, t.token);
    expect(check.data.mfaUsers.nodes.map((n: any) => [n.username, n.devices.map((d: any) => d.name)])).toEqual([
      ['lena', []],
      ['mia', ['Phone', 'Tablet']],
      ['noah', ['Phone']],
    ]);
    // Page by page, the same users and devices.
    let after: string | null = null;
    const paged: unknown[] = [];
    do {
      const r: any = await gql<any>(
        ts.url,
        `query($after: String) { mfaUsers(first: 1, after: $after) { pageInfo { hasNextPage endCursor } nodes { id username devices { id name kind status lastUsedAt enrolledAt } } } }`,
        { after },
        t.token,
      );
      paged.push(...r.data.mfaUsers.nodes);
      after = r.data.mfaUsers.pageInfo.hasNextPage ? r.data.mfaUsers.pageInfo.endCursor : null;
    } while (after);
    expect(paged).toEqual(check.data.mfaUsers.nodes);
    // The same devices, field for field, as a single MFA user's field reads (its loader statement).
    for (const u of check.data.mfaUsers.nodes) {
      const one = await gql<any>(
        ts.url,
        `query($id: ID!) { node(id: $id) { ... on MfaUser { devices { id name kind status lastUsedAt enrolledAt } } } }`,
        { id: u.id },
        t.token,
      );
      expect(one.data.node.devices).toEqual(u.devices);
      for (const d of u.devices) expect(d).toMatchObject({ kind: 'TOTP', status: 'ACTIVE' });
    }
    expect(await statementsOf(page)).toBe(2);
    expect(await statementsOf(`{ mfaUsers(first: 100) { totalCount nodes { id username devices { id name } } } }`)).toBe(3);
    expect(await statementsOf(`{ mfaUsers(first: 100) { edges { node { ... on MfaUser { devices { id } } } } } }`)).toBe(2);
  });

  it("login with the whole viewer (the typed client's Login): tenant and candidate, both limits, session with lastSignInAt and audit event, limits settled, groups", async () => {
    const login = print(LoginDocument as DocumentNode);
    const input = { tenant: t.slug, email: t.adminEmail, password: t.adminPassword };
    let data: any;
    expect(await statementsOf(login, { input }, null, (b) => (data = b.data.login))).toBe(5);
    expect(data.errors).toEqual([]);
    expect(data.token).toMatch(/^rst_/);
    expect(data.viewer.user.email).toBe(t.adminEmail);
    expect(data.viewer.tenant.slug).toBe(t.slug);
    expect(data.viewer.user.groups.map((g: any) => g.builtIn).sort()).toEqual(['ADMINS', 'USERS']);
    // The payload shows this sign-in: lastSignInAt is written before the viewer is answered.
    expect(Date.parse(data.viewer.user.lastSignInAt)).toBeGreaterThan(Date.now() - 60_000);
    // The payload's viewer is the one the new session sees, field for field.
    const viewer = await gql<any>(ts.url, print(ViewerDocument as DocumentNode), {}, data.token);
    expect(viewer.data.viewer).toEqual(data.viewer);
    expect(data.viewer.sessionExpiresAt).toBe(data.expiresAt);
  });

  it('createUser in two groups writes the user and all its memberships in one statement', async () => {
    const groups = await gql<any>(ts.url, `{ groups(first: 100) { nodes { id name isBuiltIn } } }`, {}, t.token);
    const groupIds = groups.data.groups.nodes
      .filter((g: any) => !g.isBuiltIn)
      .slice(0, 2)
      .map((g: any) => g.id);
    const create = `mutation($input: CreateUserInput!) { createUser(input: $input) { user { id groups { name } } errors { code } } }`;
    let data: any;
    const input = { email: 'counted@stmt.test', firstName: 'C', lastName: 'S', groupIds };
    // 11 when the memberships were a statement of their own after the users insert.
    expect(await statementsOf(create, { input }, t.token, (b) => (data = b.data.createUser))).toBe(10);
    expect(data.errors).toEqual([]);
    // The two and the directory's Users group.
    expect(data.user.groups).toHaveLength(3);
  });
});
