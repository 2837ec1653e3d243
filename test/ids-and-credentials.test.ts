import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { gql } from './support/harness.js';

const test = rosterTest();

/** A global id as the server encodes them: base64url("Type:uuid"). */
const globalId = (type: string) => Buffer.from(`${type}:00000000-0000-4000-8000-000000000001`).toString('base64url');

describe('ids and credentials are checked before they reach anything', () => {
  test.concurrent('node(id:) with an object member as type name is simply not found', async ({ admin }) => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect((await admin.node({ id: globalId(type) })).node, type).toBeNull();
    }
  });

  test.concurrent('one Bearer rule on every route: a bare token is not a credential', async ({ server, tenant }) => {
    const bare = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: tenant.token },
      body: JSON.stringify({ query: '{ tenant { slug } }' }),
    });
    const body = (await bare.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const upload = await fetch(server.url.replace('/graphql', '/uploads'), {
      method: 'POST',
      headers: { authorization: tenant.token },
      body: 'a,b,c',
    });
    expect(upload.status).toBe(401);
    const ok = await gql<{ tenant: { slug: string } }>(server.url, '{ tenant { slug } }', {}, tenant.token);
    expect(ok.data?.tenant.slug).toBe(tenant.slug);
  });
});
