import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { gql, seedTenant } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { enroll, papi } from './support/provisioning-api.js';

const test = rosterTest();

const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

describe('MFA directory: manual users', () => {
  test.concurrent(
    'createMfaUser makes a MANUAL, UNENROLLED user; usernames are unique ignoring case',
    async ({ server: ts, tenant: t }) => {
      const p = papi(ts, t.token);
      const r = await p.createMfaUser({ username: 'Alice', email: 'Alice@Example.test', firstName: 'Alice', lastName: 'A' });
      expect(r.errors).toEqual([]);
      expect(r.mfaUser).toMatchObject({ username: 'Alice', source: 'MANUAL', status: 'UNENROLLED' });
      expect(codes((await p.createMfaUser({ username: 'alice' })).errors)).toEqual(['NAME_TAKEN']);
      expect(codes((await p.createMfaUser({ username: 'bob', email: 'not-an-email' })).errors)).toEqual(['INVALID_INPUT']);
      expect(codes((await p.createMfaUser({ username: 'carol', sendEnrollmentEmail: true })).errors)).toEqual(['INVALID_INPUT']);
      // Another tenant may use the same username.
      const other = await seedTenant(ts);
      expect((await papi(ts, other.token).createMfaUser({ username: 'alice' })).errors).toEqual([]);
      const list = await p.mfaUsers();
      expect(list.nodes.map((u) => [u.username, u.email, u.provisioningId, u.directoryUserId])).toEqual([
        ['Alice', 'alice@example.test', null, null],
      ]);
    },
  );

  test.concurrent('mfaUsers filters by source, status and search, and pages with cursors', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    for (const name of ['ann', 'bea', 'cid', 'dan', 'eve'])
      expect((await p.createMfaUser({ username: name, email: `${name}@x.test` })).errors).toEqual([]);
    // One provisioned user, so the source filter has something to tell apart.
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('MFA')).group!.id;
    await p.addUsers(g, 'prov', 1);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g], { sendEnrollmentEmails: false });
    await p.deploy(id);
    await p.syncAndWait(id);
    const token = tokenOf(
      await (async () => {
        const cid = (await p.mfaUsers({ search: 'cid' })).nodes[0].id;
        expect((await p.sendEnrollment(cid)).errors).toEqual([]);
        return waitForMailLink(ts, 'cid@x.test');
      })(),
    );
    expect((await enroll(ts, token, 'Phone')).success).toBe(true);

    expect((await p.mfaUsers({ source: 'MANUAL' })).totalCount).toBe(5);
    expect((await p.mfaUsers({ source: 'PROVISIONING' })).nodes.map((u) => u.username)).toEqual(['prov0@x.test']);
    expect((await p.mfaUsers({ status: 'ACTIVE' })).nodes.map((u) => u.username)).toEqual(['cid']);
    expect((await p.mfaUsers({ status: 'UNENROLLED', source: 'MANUAL' })).totalCount).toBe(4);
    expect((await p.mfaUsers({ search: 'PROV' })).totalCount).toBe(1);
    expect((await p.mfaUsers({ search: '%' })).totalCount).toBe(0);

    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await p.mfaUsers({}, 2, after);
      expect(page.totalCount).toBe(6);
      seen.push(...page.nodes.map((u) => u.username));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(seen).toEqual(['ann', 'bea', 'cid', 'dan', 'eve', 'prov0@x.test']);

    // The page reads only the columns its selection needs: every field asked alone (beside
    // the id) answers as it does when all are asked, through `nodes` and through `edges`.
    const deviceFields = ['id', 'name', 'kind', 'status', 'lastUsedAt', 'enrolledAt'];
    const fields = ['username', 'email', 'firstName', 'lastName', 'status', 'suspendedAt', 'source', 'provisioningId'];
    fields.push('directoryUserId', 'createdAt', 'groups', 'failedVerifications', 'verificationLockedUntil', '__typename');
    const pageOf = async (selection: string) => {
      const r = await gql<any>(ts.url, `{ mfaUsers(first: 10) { edges { node { ${selection} } } } }`, {}, t.token);
      expect(r.errors).toBeUndefined();
      return r.data.mfaUsers.edges.map((e: any) => e.node);
    };
    const all = await pageOf(`id ${fields.join(' ')} devices { ${deviceFields.join(' ')} }`);
    expect(all.map((u: any) => [u.username, u.source, u.status, u.devices.length])).toEqual([
      ['ann', 'MANUAL', 'UNENROLLED', 0],
      ['bea', 'MANUAL', 'UNENROLLED', 0],
      ['cid', 'MANUAL', 'ACTIVE', 1],
      ['dan', 'MANUAL', 'UNENROLLED', 0],
      ['eve', 'MANUAL', 'UNENROLLED', 0],
      ['prov0@x.test', 'PROVISIONING', 'UNENROLLED', 0],
    ]);
    expect(all[5]).toMatchObject({ email: 'prov0@x.test', provisioningId: id, directoryUserId: expect.any(String), groups: ['MFA'] });
    for (const f of fields) expect(await pageOf(`id ${f}`), f).toEqual(all.map((u: any) => ({ id: u.id, [f]: u[f] })));
    for (const f of deviceFields) {
      const only = all.map((u: any) => ({ id: u.id, devices: u.devices.map((d: any) => ({ [f]: d[f] })) }));
      expect(await pageOf(`id devices { ${f} }`), f).toEqual(only);
    }
    // A fragment on the node and one on the connection read the same.
    const r = await gql<any>(
      ts.url,
      `{ mfaUsers(first: 10) { ...C } } fragment C on MfaUserConnection { nodes { ... on Node { id } ...U } } fragment U on MfaUser { email devices { name } }`,
      {},
      t.token,
    );
    expect(r.data.mfaUsers.nodes).toEqual(
      all.map((u: any) => ({ id: u.id, email: u.email, devices: u.devices.map((d: any) => ({ name: d.name })) })),
    );
  });
});

describe('MFA directory: device enrolment', () => {
  test.concurrent(
    'a link enrols one device; a second device takes a new link; the user becomes ACTIVE',
    async ({ server: ts, tenant: t }) => {
      const p = papi(ts, t.token);
      const u = (await p.createMfaUser({ username: 'dora', email: 'dora@x.test', firstName: 'Dora', sendEnrollmentEmail: true })).mfaUser!;
      const first = tokenOf(await waitForMailLink(ts, 'dora@x.test'));
      const r = await enroll(ts, first, 'Phone');
      expect(r).toMatchObject({ success: true, username: 'dora', mfaUserId: u.id, errors: [] });
      expect((await enroll(ts, first, 'Laptop')).errors.map((e) => e.code)).toEqual(['TOKEN_USED']);
      expect((await p.mfaUsers({ search: 'dora' })).nodes[0]).toMatchObject({
        status: 'ACTIVE',
        devices: [{ name: 'Phone', kind: 'TOTP' }],
      });

      expect((await p.sendEnrollment(u.id)).errors).toEqual([]);
      const second = tokenOf(await waitForMailLink(ts, 'dora@x.test', 2));
      expect((await enroll(ts, second, 'Tablet')).success).toBe(true);
      const devices = (await p.mfaUsers({ search: 'dora' })).nodes[0].devices;
      expect(devices).toMatchObject([
        { name: 'Phone', kind: 'TOTP' },
        { name: 'Tablet', kind: 'TOTP' },
      ]);
    },
  );

  test.concurrent('a new link voids unused earlier ones; unknown and expired links are refused', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const u = (await p.createMfaUser({ username: 'eli', email: 'eli@x.test', sendEnrollmentEmail: true })).mfaUser!;
    const old = tokenOf(await waitForMailLink(ts, 'eli@x.test'));
    await p.sendEnrollment(u.id);
    const fresh = tokenOf(await waitForMailLink(ts, 'eli@x.test', 2));
    expect(codes((await enroll(ts, old, 'Phone')).errors)).toEqual(['TOKEN_USED']);
    expect(codes((await enroll(ts, 'mfa_' + 'x'.repeat(43), 'Phone')).errors)).toEqual(['TOKEN_INVALID']);
    expect(codes((await enroll(ts, 'garbage', 'Phone')).errors)).toEqual(['TOKEN_INVALID']);
    expect(codes((await enroll(ts, fresh, '')).errors)).toEqual(['INVALID_INPUT']);
    await ts.database.db.execute(
      sql`update mfa_enrollment_tokens set expires_at = now() - interval '1 minute' where tenant_id = ${t.tenantId}`,
    );
    expect(codes((await enroll(ts, fresh, 'Phone')).errors)).toEqual(['TOKEN_EXPIRED']);
    expect((await p.mfaUsers({ search: 'eli' })).nodes[0]).toMatchObject({ status: 'UNENROLLED', devices: [] });
  });

  test.concurrent('another tenant’s MFA user behaves like a missing one', async ({ server: ts }) => {
    const a = await seedTenant(ts);
    const b = await seedTenant(ts);
    const u = (await papi(ts, a.token).createMfaUser({ username: 'x', email: 'x@x.test' })).mfaUser!;
    expect(codes((await papi(ts, b.token).sendEnrollment(u.id)).errors)).toEqual(['NOT_FOUND']);
    const node = await papi(ts, b.token).client.node({ id: u.id });
    expect(node.node).toBeNull();
    expect((await papi(ts, b.token).mfaUsers()).totalCount).toBe(0);
  });
});
