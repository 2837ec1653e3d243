import { describe, expect } from 'vitest';
import type { ApiScope, RosterClient } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { ok } from './support/directory-api.js';
import { seedTenant } from './support/harness.js';

/**
 * Following and exporting the audit trail: the `auditEvents` subscription delivers committed
 * events of the viewer's tenant as they happen (filtered by action prefix or target type), and
 * `GET /audit-events.ndjson` streams a time range oldest first for SIEM tools.
 */
const test = rosterTest();

async function token(admin: RosterClient, scopes: ApiScope[]) {
  const r = ok((await admin.createApiToken({ input: { name: `t-${scopes.join('-')}`, scopes } })).createApiToken);
  return r.secret!;
}

type NdjsonError = { errors: { message: string; extensions: { code: string; field?: string } }[] };

describe('audit live feed', () => {
  test('a token with audit:read follows group changes of its tenant only, as they commit', async ({ server, admin, clientFor }) => {
    const reader = clientFor(await token(admin, ['AUDIT_READ']));
    const other = clientFor((await seedTenant(server)).token);
    const feed = reader.auditEventsLive({ filter: { action: 'group.', targetType: 'Group' } });
    const first = feed.next();
    // graphql-ws does not acknowledge a subscription: change until the first event shows it is live.
    let n = 0;
    let arrived = false;
    void first.then(() => (arrived = true));
    while (!arrived) {
      ok((await admin.createGroup({ input: { name: `warm-up ${n++}` } })).createGroup);
      await Promise.race([first, new Promise((r) => setTimeout(r, 200))]);
    }
    expect((await first).value.auditEvents.action).toBe('group.create');
    const warmUps = n;

    // Another tenant's group, this tenant's user (another action), then this tenant's group.
    ok((await other.createGroup({ input: { name: 'Elsewhere' } })).createGroup);
    ok(
      (await admin.createUser({ input: { email: 'ann@live.test', firstName: 'Ann', lastName: 'A', password: 'Ann!passw0rd-1' } }))
        .createUser,
    );
    const ops = ok((await admin.createGroup({ input: { name: 'Ops' } })).createGroup).group!;
    ok((await admin.updateGroup({ input: { id: ops.id, name: 'Operations' } })).updateGroup);

    const seen: string[] = [];
    for (;;) {
      const e = (await feed.next()).value.auditEvents;
      if (e.target.name?.startsWith('warm-up')) continue; // later warm-ups that were still in flight
      seen.push(`${e.action} ${e.target.name}`);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['group.create Ops', 'group.update Operations']);
    expect(warmUps).toBeGreaterThan(0);
    await feed.return?.(undefined);
  });

  test("sign-ins reach the feed: their event and its notification are written in the sign-in's one statement", async ({
    admin,
    tenant,
    clientFor,
  }) => {
    const reader = clientFor(await token(admin, ['AUDIT_READ']));
    const feed = reader.auditEventsLive({ filter: { action: 'auth.sign_in' } });
    const first = feed.next();
    let arrived = false;
    void first.then(() => (arrived = true));
    // Signs in until the first event shows the subscription is live (graphql-ws does not acknowledge it).
    const anon = clientFor();
    while (!arrived) {
      const r = await anon.login({ input: { tenant: tenant.slug, email: tenant.adminEmail, password: tenant.adminPassword } });
      expect(r.login.token).toMatch(/^rst_/);
      await Promise.race([first, new Promise((r) => setTimeout(r, 200))]);
    }
    const e = (await first).value.auditEvents;
    expect(e).toMatchObject({ action: 'auth.sign_in', target: { name: tenant.adminEmail } });
    await feed.return?.(undefined);
  });

  test('the subscription needs audit:read', async ({ admin, clientFor }) => {
    const service = clientFor(await token(admin, ['DIRECTORY_READ']));
    const refused = await (async () => {
      try {
        for await (const _ of service.auditEventsLive({})) return null;
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(refused?.message).toContain('audit:read');
  });
});

describe('NDJSON export', () => {
  test('streams the range oldest first, one event per line, for a token with audit:read', async ({ server, admin, tenant }) => {
    const since = new Date(Date.now() - 60_000).toISOString();
    for (const name of ['Alpha', 'Beta', 'Gamma']) ok((await admin.createGroup({ input: { name } })).createGroup);
    const secret = await token(admin, ['AUDIT_READ']);
    const url = `${new URL(server.url).origin}/audit-events.ndjson?since=${encodeURIComponent(since)}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text()).trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { action: string; at: string; target: { name: string }; actor: { kind: string } });
    const groups = events.filter((e) => e.action === 'group.create').map((e) => e.target.name);
    expect(groups).toEqual(['Alpha', 'Beta', 'Gamma']);
    const times = events.map((e) => e.at);
    expect([...times].sort()).toEqual(times);
    // The admin's sign-in of the seed is there too, and nothing of another tenant.
    expect(events.some((e) => e.action === 'auth.sign_in')).toBe(true);
    expect(JSON.stringify(events)).not.toContain('Elsewhere');
    expect(lines.every((l) => !l.includes(tenant.adminPassword))).toBe(true);

    // An admin session may export too; `until` bounds the range (an empty one is an empty body).
    const until = new Date(Date.parse(since) + 1).toISOString();
    const bounded = await fetch(`${url}&until=${encodeURIComponent(until)}`, { headers: { authorization: `Bearer ${tenant.token}` } });
    expect(bounded.status).toBe(200);
    expect(await bounded.text()).toBe('');
  });

  test('bad ranges are a 400 with a JSON error; no credential is a 401, a token without audit:read a 403', async ({ server, admin }) => {
    const base = `${new URL(server.url).origin}/audit-events.ndjson`;
    const secret = await token(admin, ['AUDIT_READ']);
    const get = (query: string, auth = secret) => fetch(`${base}${query}`, { headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    const cases: [string, string][] = [
      ['', 'since'],
      ['?since=yesterday', 'since'],
      ['?since=2026-02-30T99:00:00Z', 'since'],
      ['?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z', 'until'],
      ['?since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'until'],
      ['?since=1999-01-01T00:00:00Z', 'since'],
      ['?since=2026-11-01T00:00:00Z&until=soon', 'until'],
      ['?since=2026-11-01&since=2026-11-02', 'since'],
    ];
    for (const [query, field] of cases) {
      const res = await get(query);
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as NdjsonError;
      expect(body.errors[0]!.extensions, query).toMatchObject({ code: 'INVALID_INPUT', field });
    }
    expect((await get('?since=2026-11-01T00:00:00Z', '')).status).toBe(401);
    const reader = await token(admin, ['DIRECTORY_READ']);
    const refused = await get('?since=2026-11-01T00:00:00Z', reader);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as NdjsonError).errors[0]!.message).toContain('audit:read');
  });
});
