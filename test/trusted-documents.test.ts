import { readFileSync } from 'node:fs';
import { describe, expect, test as unit } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { createRosterClient } from '../client/src/index.js';
import { operationCatalogue } from '../client/src/sdk.js';
import { rosterTest } from './support/fixtures.js';

/**
 * Issue 10: opt-in trusted documents. With TRUSTED_DOCUMENTS_ONLY=true `/graphql` runs only
 * the typed client's persisted documents (codegen's manifest, by `documentId`) on every
 * transport; any other document is refused before it is parsed.
 */
const manifest = JSON.parse(readFileSync('client/src/generated/persisted-documents.json', 'utf8')) as Record<string, string>;
const idOf = (method: string) => {
  const op = operationCatalogue().find((o) => o.method === method)!;
  return (op.document as unknown as { __meta__: { hash: string } }).__meta__.hash;
};

const post = async (url: string, body: unknown, token?: string) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data?: Record<string, unknown>; errors?: { message: string; extensions?: { code?: string } }[] },
  };
};

unit('every operation of the typed client is in the manifest, under the hash its document carries', () => {
  const ops = operationCatalogue();
  expect(ops.length).toBeGreaterThan(50);
  for (const op of ops) expect(manifest[idOf(op.method)], op.method).toBeTypeOf('string');
  expect(Object.keys(manifest).every((k) => /^sha256:[0-9a-f]{64}$/.test(k))).toBe(true);
});

const trustedTest = rosterTest({ TRUSTED_DOCUMENTS_ONLY: 'true' });
const openTest = rosterTest();

describe('TRUSTED_DOCUMENTS_ONLY=true', () => {
  const test = trustedTest;

  test('the typed client works, sending ids only or ids with text: queries, mutations, subscriptions', async ({ server, tenant }) => {
    for (const trustedDocuments of [true, false]) {
      const c = createRosterClient({ url: server.url, token: tenant.token, webSocketImpl: WebSocket, trustedDocuments });
      try {
        expect((await c.tenant()).tenant.id).toBeTruthy();
        const made = await c.createGroup({ input: { name: `Trusted ${String(trustedDocuments)}` } });
        expect(made.createGroup.errors).toEqual([]);
        const beats: number[] = [];
        for await (const e of c.heartbeat({ intervalMs: 50, count: 2 })) beats.push(e.heartbeat.seq);
        expect(beats).toHaveLength(2);
      } finally {
        await c.close();
      }
    }
  });

  test('a document sent as text is refused before it is parsed, signed in or not', async ({ server, tenant }) => {
    for (const query of ['{ tenant { id } }', '{ {{{ not graphql', `{ ${'a: __typename '.repeat(5000)} }`]) {
      for (const token of [tenant.token, undefined]) {
        const r = await post(server.url, { query }, token);
        expect(r.status).toBe(400);
        expect(r.body.errors?.[0]?.extensions?.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
        expect(r.body.data).toBeUndefined();
      }
    }
    // A batch is not a way around it.
    const batch = await post(server.url, [{ documentId: idOf('tenant') }], tenant.token);
    expect(batch.status).toBe(400);
    expect(batch.body.errors?.[0]?.extensions?.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
  });

  test('an unknown id is refused; a known id runs its own document, whatever text comes with it', async ({ server, tenant }) => {
    const unknown = await post(server.url, { documentId: `sha256:${'0'.repeat(64)}` }, tenant.token);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('UNKNOWN_DOCUMENT_ID');

    const swapped = await post(server.url, { documentId: idOf('tenant'), query: '{ __schema { types { name } } }' }, tenant.token);
    expect(swapped.status).toBe(200);
    expect(swapped.body.data).toHaveProperty('tenant');
    expect(swapped.body.data).not.toHaveProperty('__schema');
  });

  test('GET with a documentId runs the query; GET with text is refused; no explorer', async ({ server, tenant }) => {
    const get = await fetch(`${server.url}?documentId=${encodeURIComponent(idOf('tenant'))}`, {
      headers: { authorization: `Bearer ${tenant.token}`, 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(200);
    expect(((await get.json()) as { data: { tenant: { id: string } } }).data.tenant.id).toBeTruthy();

    const text = await fetch(`${server.url}?query=${encodeURIComponent('{ tenant { id } }')}`, {
      headers: { authorization: `Bearer ${tenant.token}`, 'apollo-require-preflight': 'true' },
    });
    expect(text.status).toBe(400);
    expect(((await text.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'TRUSTED_DOCUMENT_REQUIRED',
    );

    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });

  test('over the websocket, a subscription sent as text is refused', async ({ server, tenant }) => {
    const ws = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: tenant.token }, retryAttempts: 0 });
    try {
      const it = ws.iterate({ query: 'subscription { heartbeat(intervalMs: 50, count: 1) { seq } }' });
      const refused = await it.next().then(
        () => null,
        (err: unknown) => err as { extensions?: { code?: string } }[],
      );
      expect(refused?.[0]?.extensions?.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
    } finally {
      await ws.dispose();
    }
  });
});

describe('without the setting', () => {
  const test = openTest;

  test('text still runs; an id alone must be known; the explorer stays', async ({ server, tenant }) => {
    const text = await post(server.url, { query: '{ tenant { id } }' }, tenant.token);
    expect(text.body.data).toHaveProperty('tenant');
    const byId = await post(server.url, { documentId: idOf('tenant') }, tenant.token);
    expect(byId.body.data).toHaveProperty('tenant');
    const unknown = await post(server.url, { documentId: 'sha256:nope' }, tenant.token);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe('UNKNOWN_DOCUMENT_ID');
    // A newer client's id this server does not know, with its text: the text runs.
    const newer = await post(server.url, { documentId: 'sha256:newer', query: '{ tenant { id } }' }, tenant.token);
    expect(newer.body.data).toHaveProperty('tenant');
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });
});
