import { randomUUID } from 'node:crypto';
import { describe, expect } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { rosterTest } from './support/fixtures.js';
import { gql, seedTenant, startTestServer } from './support/harness.js';
import { getOperationAST, parse, print, specifiedRules, validate, type DocumentNode } from 'graphql';
import { toGlobalId } from '../server/shared/ids.js';
import { parseEnv } from '../server/env.js';
import { getSchema } from '../server/schema.js';
import { operationLimitErrors, operationLimitsFor } from '../server/http/operation-limits.js';
import { operationCatalogue } from '../client/src/sdk.js';

const test = rosterTest();

const aliased = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');

async function post(url: string, body: string | Buffer, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } };
}

async function groupCount(url: string, token: string) {
  return (await gql<any>(url, `{ groups { totalCount } }`, {}, token)).data.groups.totalCount as number;
}

describe('the client package', () => {
  test('every operation document passes the default limits on both engines', async () => {
    const schema = await getSchema();
    const env = parseEnv({});
    const catalogue = operationCatalogue();
    expect(catalogue.length).toBeGreaterThan(40);
    for (const engine of ['pglite', 'postgres'] as const) {
      const limits = operationLimitsFor(env, engine);
      for (const { method, document } of catalogue) {
        // As the client sends it: printed, then parsed by the server with the token limit.
        const doc = parse(print(document as DocumentNode), { maxTokens: limits.maxTokens });
        expect(validate(schema, doc, specifiedRules), method).toEqual([]);
        const errors = operationLimitErrors(schema, doc, getOperationAST(doc)!, {}, limits);
        expect(
          errors.map((e) => e.message),
          `${method} on ${engine}`,
        ).toEqual([]);
      }
    }
  });
});

describe('operation limits over HTTP, before any resolver runs', () => {
  test.concurrent('refuses a document nested deeper than maxDepth', async ({ server, tenant }) => {
    const deep = `{ users { nodes { groups { members { nodes { groups { members { nodes { groups { members { nodes { id } } } } } } } } } } } }`;
    const r = await gql(server.url, deep, {}, tenant.token);
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors![0]).toMatchObject({ extensions: { code: 'OPERATION_TOO_COMPLEX' } });
    expect(r.errors![0]!.message).toMatch(/nests 12 levels.*limit is 10 \(maxDepth\)/);
  });

  test.concurrent(
    'refuses more aliases than maxAliases, and more root fields than maxRootFields, writing nothing',
    async ({ server, tenant }) => {
      const create = (i: number) =>
        `g${i}: createGroup(input: { directoryId: "${toGlobalId('Directory', tenant.directoryId)}", name: "n${i}" }) { group { id } }`;
      const before = await groupCount(server.url, tenant.token);
      const aliases = await gql(server.url, `mutation { ${Array.from({ length: 31 }, (_, i) => create(i)).join(' ')} }`, {}, tenant.token);
      expect(aliases.errors![0]).toMatchObject({ extensions: { code: 'OPERATION_TOO_COMPLEX' } });
      expect(aliases.errors![0]!.message).toContain('31 aliases; the limit is 30 (maxAliases)');
      const roots = await gql(server.url, `mutation { ${Array.from({ length: 21 }, (_, i) => create(i)).join(' ')} }`, {}, tenant.token);
      expect(roots.status).toBe(400);
      expect(roots.errors![0]!.message).toContain('21 root fields; the limit is 20 (maxRootFields)');
      expect(await groupCount(server.url, tenant.token)).toBe(before);
      // 2,000 aliased pages of users (the attack that ran 2,000 SQL queries) stops at the token limit; 100 at the alias limit.
      const many = await gql(server.url, `{ ${aliased(2000, 'users(first: 100) { nodes { id } }')} }`, {}, tenant.token);
      expect(many.errors![0]).toMatchObject({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      const hundred = await gql(server.url, `{ ${aliased(100, 'users(first: 100) { nodes { id } }')} }`, {}, tenant.token);
      expect(hundred.errors![0]!.message).toContain('100 aliases');
    },
  );

  test.concurrent('estimates cost from page sizes × nesting, with variables, and refuses over budget', async ({ server, tenant }) => {
    const q = `query($n: Int) { users(first: $n) { nodes { groups { members(first: $n) { nodes { groups { name } } } } } } }`;
    const small = await gql<any>(server.url, q, { n: 2 }, tenant.token);
    expect(small.errors).toBeUndefined();
    expect(small.data.users.nodes).toHaveLength(1);
    const big = await gql(server.url, q, { n: 100 }, tenant.token);
    expect(big.status).toBe(400);
    expect(big.errors![0]).toMatchObject({ extensions: { code: 'OPERATION_TOO_COMPLEX' } });
    expect(big.errors![0]!.message).toMatch(/estimated cost is [\d,]+; the limit is [\d,]+ \(maxCost\)/);
    // Absent `first` counts as the default page size (50): 25 + 50 × (1 + 10 × (25 + 50 × (1 + 10))) > budget.
    const defaults = await gql(server.url, `{ users { nodes { groups { members { nodes { groups { name } } } } } } }`, {}, tenant.token);
    expect(defaults.errors![0]).toMatchObject({ extensions: { code: 'OPERATION_TOO_COMPLEX' } });
  });

  test.concurrent('stops parsing a document over maxTokens, signed in or not', async ({ server, tenant }) => {
    const doc = `{ ${aliased(30_000, '__typename')} }`; // ~600 KB: under the body limit, far over 2,000 tokens
    for (const token of [undefined, tenant.token]) {
      const r = await post(server.url, JSON.stringify({ query: doc }), token);
      expect(r.status).toBe(400);
      expect(r.body.errors![0]).toMatchObject({ extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      expect(r.body.errors![0]!.message).toMatch(/more tha[nt] 2000 tokens/);
    }
  });
});

describe('request body limits', () => {
  test.concurrent('refuses an anonymous 7 MB alias document with 413 before reading it, and stays up', async ({ server }) => {
    const doc = `{ ${aliased(420_000, 'x: __typename')} }`.slice(0, 7 * 1024 * 1024);
    const r = await post(server.url, JSON.stringify({ query: doc }));
    expect(r.status).toBe(413);
    expect(r.body.errors![0]).toMatchObject({ extensions: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await fetch(server.url.replace('/graphql', '/healthz'))).status).toBe(200);
  });

  test.concurrent('refuses a 2 MB ordinary operation with 413 even with a session', async ({ server, tenant }) => {
    const body = JSON.stringify({
      query: `query($pad: String) { viewer { user { id } } }`,
      variables: { pad: 'x'.repeat(2 * 1024 * 1024) },
    });
    for (const token of [undefined, tenant.token]) {
      const r = await post(server.url, body, token);
      expect(r.status).toBe(413);
      expect(r.body.errors![0]).toMatchObject({ extensions: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(r.body.errors![0]!.message).toContain('the limit is 1 MB');
    }
    // Sent chunked (no length up front): refused once the limit is crossed.
    const chunks = [Buffer.from(body.slice(0, 1024 * 1024)), Buffer.from(body.slice(1024 * 1024))];
    const stream = new ReadableStream({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  test.concurrent('accepts a bulk delete of 100,000 ids (~6 MB) from a signed-in admin only', async ({ server, tenant }) => {
    const userIds = Array.from({ length: 100_000 }, () => toGlobalId('User', randomUUID()));
    const query = `mutation($i: BulkUsersInput!) { bulkDeleteUsers(input: $i) { bulkOperation { id total } errors { code } } }`;
    const body = JSON.stringify({ query, variables: { i: { userIds } } });
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);
    expect((await post(server.url, body)).status).toBe(413);
    const r = await post(server.url, body, tenant.token);
    expect(r.status).toBe(200);
    expect(r.body.data.bulkDeleteUsers).toMatchObject({ errors: [], bulkOperation: { total: 100_000 } });
    const cancel = `mutation($i: BulkOperationIdInput!) { cancelBulkOperation(input: $i) { errors { code } } }`;
    await gql(server.url, cancel, { i: { id: r.body.data.bulkDeleteUsers.bulkOperation.id } }, tenant.token);
  });
});

describe('websocket limits', () => {
  test.concurrent('closes a socket that sends a frame over maxPayload (1 MB) before authenticating', async ({ server }) => {
    const ws = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(await closed).toBe(1009);
    expect((await fetch(server.url.replace('/graphql', '/healthz'))).status).toBe(200);
  });

  test.concurrent('refuses the 21st operation on one socket; the socket and the others go on', async ({ admin }) => {
    const subs = Array.from({ length: 20 }, () => admin.heartbeat({ intervalMs: 200 }));
    for (const s of subs) expect((await s.next()).value.heartbeat.seq).toBe(1);
    const extra = admin.heartbeat({ intervalMs: 200 });
    await expect(extra.next()).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect((await subs[0]!.next()).value.heartbeat.seq).toBe(2);
    await subs[0]!.return!();
    const again = admin.heartbeat({ intervalMs: 200 });
    expect((await again.next()).value.heartbeat.seq).toBe(1);
    await Promise.all([again, ...subs.slice(1)].map((s) => s.return!()));
  });

  test.concurrent('applies the token and operation limits to websocket operations', async ({ server, tenant }) => {
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { token: tenant.token },
    });
    const run = (query: string) =>
      new Promise<unknown>((resolve) => {
        client.subscribe({ query }, { next: resolve, error: resolve, complete: () => resolve(null) });
      });
    try {
      expect(await run(`{ viewer { user { email } } }`)).toMatchObject({ data: { viewer: { user: { email: tenant.adminEmail } } } });
      const costly = (await run(`{ users(first: 100) { nodes { groups { members(first: 100) { nodes { id } } } } } }`)) as any[];
      expect(costly[0]).toMatchObject({ extensions: { code: 'OPERATION_TOO_COMPLEX' } });
      const long = (await run(`{ ${aliased(3000, '__typename')} }`)) as any[];
      expect(long[0].message).toMatch(/more tha[nt] 2000 tokens/);
    } finally {
      await client.dispose();
    }
  });
});

describe('schema suggestions', () => {
  test.concurrent('"Did you mean …?" is shown in development', async ({ server }) => {
    const r = await gql(server.url, `{ viewr { user { id } } }`);
    expect(r.errors![0]!.message).toMatch(/Did you mean "viewer"/);
    const enumValue = await gql(server.url, `query($o: UserOrder) { users(orderBy: $o) { totalCount } }`, { o: 'EMAIL_AS' });
    expect(enumValue.errors![0]!.message).toMatch(/Did you mean the enum value "EMAIL_ASC"/);
  });

  test('are hidden in production, over HTTP and websocket', async () => {
    const ts = await startTestServer({ NODE_ENV: 'production' });
    try {
      const field = await gql(ts.url, `{ viewr { user { id } } }`);
      expect(field.errors![0]!.message).toBe('Cannot query field "viewr" on type "Query".');
      const enumValue = await gql(ts.url, `query($o: UserOrder) { users(orderBy: $o) { totalCount } }`, { o: 'EMAIL_AS' });
      expect(enumValue.errors![0]!.message).not.toContain('Did you mean');
      const { token } = await seedTenant(ts);
      const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { token } });
      try {
        const run = (query: string, variables?: Record<string, unknown>) =>
          new Promise<any>((resolve) => {
            client.subscribe({ query, variables }, { next: resolve, error: resolve, complete: () => resolve(null) });
          });
        expect((await run(`{ viewr { user { id } } }`))[0].message).toBe('Cannot query field "viewr" on type "Query".');
        const [coercion] = await run(`query($o: UserOrder) { users(orderBy: $o) { totalCount } }`, { o: 'EMAIL_AS' });
        expect(coercion).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
        expect(coercion.message).toContain('EMAIL_AS');
        expect(coercion.message).not.toContain('Did you mean');
      } finally {
        await client.dispose();
      }
    } finally {
      await ts.close();
    }
  });
});
