import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { gql } from './support/harness.js';
import { bulkApi } from './support/bulk-api.js';
import { uuidV7 } from '../server/shared/uuid7.js';

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

  /** The uuid inside a global id. */
  const uuidOf = (id: string) => Buffer.from(id, 'base64url').toString('utf8').split(':')[1]!;

  test.concurrent('new users get time-ordered (version 7) ids, in the order they were created', async ({ admin, server, tenant }) => {
    const a = (await admin.createUser({ input: { email: 'first@order.test', firstName: 'A', lastName: 'A' } })).createUser.user!;
    const op = await bulkApi(server, tenant.token).uploadAndWait({ csv: 'second@order.test,B,B,,\nthird@order.test,C,C,,' });
    const ids = [a.id, ...op.results.nodes.map((n) => n.userId!)].map(uuidOf);
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
  });

  test.concurrent('ids made in one millisecond stay in order, past the 12-bit counter', () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => uuidV7(now));
    expect(new Set(ids).size).toBe(5000);
    expect([...ids].sort()).toEqual(ids);
    // The clock going back (or the same millisecond) never makes an id sort before an earlier one.
    const later = uuidV7(now - 1000);
    expect(later > ids[ids.length - 1]!).toBe(true);
  });
});
