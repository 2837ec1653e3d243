import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { hashToken } from '../server/shared/tokens.js';
import { gql, seedTenant, type TestServer } from './support/harness.js';
import { rosterTest } from './support/fixtures.js';

const test = rosterTest();

async function raw(ts: TestServer, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(ts.url, { method: 'POST', headers, body });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (() => {
      try {
        return JSON.parse(text) as any;
      } catch {
        return null;
      }
    })(),
  };
}

function noLeaks(text: string) {
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toMatch(/\/work\/|node_modules|\.ts:\d+/);
}

describe('bad input gets clear, coded errors and no internals', () => {
  test('malformed JSON body', async ({ server: ts }) => {
    const r = await raw(ts, '{"query": "{ viewer { user { id } } }"');
    expect(r.status).toBe(400);
    expect(r.json.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(r.json.errors[0].message).toMatch(/malformed json/i);
    noLeaks(r.text);
  });

  test('an unsupported content type', async ({ server: ts }) => {
    const r = await raw(ts, 'query { viewer { user { id } } }', { 'content-type': 'text/plain' });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    noLeaks(r.text);
  });

  test('an unknown operation name and an unknown field', async ({ server: ts }) => {
    const a = await raw(ts, JSON.stringify({ query: 'query A { viewer { sessionExpiresAt } }', operationName: 'B' }));
    expect(a.status).toBe(400);
    expect(a.json.errors[0].extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const b = await raw(ts, JSON.stringify({ query: '{ nope }' }));
    expect(b.json.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const c = await raw(ts, JSON.stringify({ query: '{ viewer { ' }));
    expect(c.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    for (const r of [a, b, c]) noLeaks(r.text);
  });

  test('wrong variable types', async ({ server: ts }) => {
    const r = await raw(ts, JSON.stringify({ query: 'query($n: Int) { users(first: $n) { totalCount } }', variables: { n: 'ten' } }));
    expect(r.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    noLeaks(r.text);
  });

  test('missing, garbage and expired tokens', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const missing = await gql(ts.url, '{ users { totalCount } }');
    expect(missing.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(missing.status).toBe(401);
    const garbage = await gql(ts.url, '{ users { totalCount } }', {}, 'garbage');
    expect(garbage.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(garbage.errors?.[0]?.message).toMatch(/invalid/);

    await ts.database.db.execute(
      sql`update sessions set expires_at = now() - interval '1 minute' where token_hash = ${hashToken(t.token)}`,
    );
    const expired = await gql(ts.url, '{ users { totalCount } }', {}, t.token);
    expect(expired.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(expired.errors?.[0]?.message).toMatch(/expired/);
    // Public fields still answer, as signed out.
    expect((await gql<any>(ts.url, '{ viewer { sessionExpiresAt } }', {}, t.token)).data.viewer).toBeNull();
  });

  test('a removed admin loses access at once', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    await ts.database.db.execute(sql`delete from group_memberships where group_id = ${t.adminsGroupId}`);
    const r = await gql(ts.url, '{ tenant { slug } }', {}, t.token);
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('malformed ids and cursors', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const r = await gql<any>(ts.url, `{ user(id: "not-an-id") { id } group(id: "") { id } node(id: "Zm9vOmJhcg") { id } }`, {}, t.token);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ user: null, group: null, node: null });
    const c = await gql<any>(ts.url, `{ users(after: "%%%") { totalCount } }`, {}, t.token);
    expect(c.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const big = await gql<any>(ts.url, `{ users(first: 1000) { totalCount } }`, {}, t.token);
    expect(big.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('an oversized body', async ({ server: ts }) => {
    const r = await raw(ts, JSON.stringify({ query: `{ viewer { sessionExpiresAt } } # ${'x'.repeat(9_000_000)}` }));
    expect(r.status).toBe(413);
    expect(r.json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
