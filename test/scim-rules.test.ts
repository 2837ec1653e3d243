import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { fromGlobalId } from '../server/shared/ids.js';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { countRows, enroll, papi } from './support/provisioning-api.js';
import { GROUP, PATCH_OP, USER, expectScimError, scimClient, scimProvisioning } from './support/scim-api.js';

const test = rosterTest();

describe('SCIM: ownership, claims and isolation', () => {
  test.concurrent(
    'a MANUAL user with the same userName is claimed with its devices when the setting is on',
    async ({ server: ts, tenant: t }) => {
      const p = papi(ts, t.token);
      const manual = await p.createMfaUser({ username: 'Erin@Corp.test', email: 'erin@corp.test', sendEnrollmentEmail: true });
      expect(manual.errors).toEqual([]);
      expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'erin@corp.test')), 'Phone')).success).toBe(true);
      const manualId = fromGlobalId(manual.mfaUser!.id, 'MfaUser') ?? manual.mfaUser!.id;

      const { scim, uuid } = await scimProvisioning(ts, t.token, 'Okta claim', { sendEnrollmentEmails: true });
      // Off by default: the MANUAL user is refused, naming why.
      const refused = await scim.post('/Users', {
        schemas: [USER],
        userName: 'erin@corp.test',
        emails: [{ value: 'erin@corp.test', primary: true }],
      });
      expectScimError(refused, 409, 'uniqueness');
      expect(refused.body.detail).toMatch(/MANUAL/);

      expect(
        (
          await p.update((await p.client.provisionings()).provisionings.find((x) => x.name === 'Okta claim')!.id, {
            includeManuallyProvisionedUsers: true,
          })
        ).errors,
      ).toEqual([]);
      const claimed = await scim.post('/Users', {
        schemas: [USER],
        userName: 'erin@corp.test',
        emails: [{ value: 'erin@corp.test', primary: true }],
        name: { givenName: 'Erin' },
      });
      expect(claimed.status, JSON.stringify(claimed.body)).toBe(201);
      expect(claimed.body.id).toBe(manualId);
      expect(claimed.body.userName).toBe('erin@corp.test');
      // Source changed, device kept, still enrolled, no new enrolment email.
      expect(
        await countRows(
          ts,
          sql`select count(*)::int as n from mfa_users where id = ${manualId}::uuid and provisioning_id = ${uuid}::uuid and status = 'ACTIVE'`,
        ),
      ).toBe(1);
      expect(await countRows(ts, sql`select count(*)::int as n from mfa_devices where mfa_user_id = ${manualId}::uuid`)).toBe(1);
      expect(await countRows(ts, sql`select count(*)::int as n from mfa_enrollment_tokens where mfa_user_id = ${manualId}::uuid`)).toBe(1);
      // Deactivation keeps the device too; DELETE removes the user with its devices.
      expect(
        (await scim.patch(`/Users/${manualId}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })).body
          .active,
      ).toBe(false);
      expect(await countRows(ts, sql`select count(*)::int as n from mfa_devices where mfa_user_id = ${manualId}::uuid`)).toBe(1);
      expect((await scim.delete(`/Users/${manualId}`)).status).toBe(204);
      expect(await countRows(ts, sql`select count(*)::int as n from mfa_devices where mfa_user_id = ${manualId}::uuid`)).toBe(0);

      // Groups are claimed the same way.
      const mg = await ts.database.db.execute(
        sql`insert into mfa_groups (tenant_id, name) values (${t.tenantId}::uuid, 'Ops') returning id`,
      );
      expect(mg).toBeTruthy();
      const g = await scim.post('/Groups', { schemas: [GROUP], displayName: 'OPS' });
      expect(g.status).toBe(201);
      expect(
        await countRows(
          ts,
          sql`select count(*)::int as n from mfa_groups where tenant_id = ${t.tenantId}::uuid and provisioning_id = ${uuid}::uuid`,
        ),
      ).toBe(1);
    },
    180_000,
  );

  test.concurrent(
    'users of an EAA provisioning are never touched by SCIM: 409 naming the owner',
    async ({ server: ts, tenant: t }) => {
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const grp = (await p.createGroup('MFA')).group!.id;
      await p.addUsers(grp, 'eaa', 1);
      const eaa = (await p.create('Directory sync')).provisioning!.id;
      await p.configure(eaa, dir, [grp], { sendEnrollmentEmails: false, includeManuallyProvisionedUsers: true });
      await p.deploy(eaa);
      expect((await p.syncAndWait(eaa)).status).toBe('COMPLETED');
      const { scim } = await scimProvisioning(ts, t.token, 'Okta', { includeManuallyProvisionedUsers: true });
      const r = await scim.post('/Users', { schemas: [USER], userName: 'EAA0@x.test' });
      expectScimError(r, 409, 'uniqueness');
      expect(r.body.detail).toContain('"Directory sync" (EAA)');
      // A SCIM provisioning cannot be synced or deployed.
      const scimId = (await p.client.provisionings()).provisionings.find((x) => x.kind === 'SCIM')!.id;
      expect((await p.sync(scimId)).errors.map((e) => e.code)).toEqual(['INVALID_STATE']);
      expect((await p.client.deployProvisioning({ input: { id: scimId } })).deployProvisioning.errors.map((e) => e.code)).toEqual([
        'INVALID_STATE',
      ]);
      // An EAA sync leaves SCIM users alone (its removal phase only sees its own users).
      const u = await scim.post('/Users', { schemas: [USER], userName: 'scim-only@x.test' });
      expect(u.status).toBe(201);
      expect((await p.syncAndWait(eaa)).status).toBe('COMPLETED');
      expect((await scim.get(`/Users/${u.body.id}`)).status).toBe(200);
    },
    180_000,
  );

  test.concurrent(
    'two SCIM provisionings and two tenants are isolated; many SCIM provisionings, unique names',
    async ({ server: ts, tenant: t }) => {
      const a = await scimProvisioning(ts, t.token, 'Okta A');
      const b = await scimProvisioning(ts, t.token, 'Okta B');
      const dup = (await a.p.client.createProvisioning({ input: { kind: 'SCIM', name: 'okta a' } })).createProvisioning;
      expect(dup.errors.map((e) => e.code)).toEqual(['NAME_TAKEN']);
      const other = await seedTenant(ts);
      const c = await scimProvisioning(ts, other.token, 'Okta A');

      const ua = await a.scim.post('/Users', { schemas: [USER], userName: 'shared@x.test' });
      expect(ua.status).toBe(201);
      // Same tenant, other provisioning: the userName is taken (MFA usernames are unique per tenant), naming the owner.
      const ub = await b.scim.post('/Users', { schemas: [USER], userName: 'shared@x.test' });
      expectScimError(ub, 409, 'uniqueness');
      expect(ub.body.detail).toContain('"Okta A" (SCIM)');
      // Another tenant may use it.
      expect((await c.scim.post('/Users', { schemas: [USER], userName: 'shared@x.test' })).status).toBe(201);

      // A's ids are 404 through B and C.
      for (const other of [b, c]) {
        expectScimError(await other.scim.get(`/Users/${ua.body.id}`), 404);
        expectScimError(
          await other.scim.patch(`/Users/${ua.body.id}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: 'replace', value: { active: false } }],
          }),
          404,
        );
        expectScimError(await other.scim.delete(`/Users/${ua.body.id}`), 404);
        expect((await other.scim.get('/Users?filter=' + encodeURIComponent(`id eq "${ua.body.id}"`))).body.totalResults).toBe(0);
      }
      expect((await b.scim.get('/Users')).body.totalResults).toBe(0);
      // B cannot make A's user a member of its group.
      const gb = await b.scim.post('/Groups', { schemas: [GROUP], displayName: 'B group', members: [{ value: ua.body.id }] });
      expectScimError(gb, 400, 'invalidValue');
      // A token only opens its own provisioning's URL.
      expectScimError(await scimClient(b.base, a.token).get('/Users'), 401);
      expectScimError(await scimClient(c.base, a.token).get('/Users'), 401);
      expectScimError(await scimClient(a.base, null).get('/Users'), 401);
      expectScimError(await scimClient(a.base, 'scim_' + 'x'.repeat(43)).get('/Users'), 401);
      // Still A's user, untouched.
      expect((await a.scim.get(`/Users/${ua.body.id}`)).body.active).toBe(true);
    },
    180_000,
  );
});

describe('SCIM: malformed requests are SCIM errors, never a 500', () => {
  test.concurrent(
    'bodies, filters, paging and PATCH paths',
    async ({ server: ts, tenant: t }) => {
      const { scim } = await scimProvisioning(ts, t.token, 'Fuzz', { sendEnrollmentEmails: false });
      const u = (await scim.post('/Users', { schemas: [USER], userName: 'fuzz@x.test' })).body.id as string;
      const g = (await scim.post('/Groups', { schemas: [GROUP], displayName: 'Fuzz' })).body.id as string;

      expectScimError(await scim.post('/Users', '{"userName": '), 400, 'invalidSyntax');
      expectScimError(await scim.post('/Users', []), 400, 'invalidSyntax');
      expectScimError(await scim.post('/Users', { schemas: ['urn:wrong'], userName: 'a' }), 400, 'invalidSyntax');
      for (const body of [
        {},
        { userName: 5 },
        { userName: '   ' },
        { userName: 'a\u0000b' },
        { userName: 'a', emails: 'x' },
        { userName: 'a', emails: [{ value: 'not-an-email' }] },
        { userName: 'a', emails: [5] },
        { userName: 'a', active: 'maybe' },
        { userName: 'a', name: 'x' },
        { userName: 'a', name: { givenName: 5 } },
        { userName: 'x'.repeat(300) },
      ]) {
        expectScimError(await scim.post('/Users', { schemas: [USER], ...body }), 400, 'invalidValue');
      }
      expectScimError(await scim.post('/Groups', { schemas: [GROUP] }), 400, 'invalidValue');
      expectScimError(
        await scim.post('/Groups', { schemas: [GROUP], displayName: 'X', members: [{ value: 'nope' }] }),
        400,
        'invalidValue',
      );
      expectScimError(await scim.post('/Groups', { schemas: [GROUP], displayName: 'X', members: 'nope' }), 400, 'invalidValue');

      for (const filter of [
        'userName eq',
        'userName xx "a"',
        '((',
        'foo eq "a"',
        'active co "x"',
        'active eq "yes"',
        'meta.created gt "nope"',
        'userName eq "a" or',
        'userName eq 5',
        'emails[type eq "work"',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
        'x'.repeat(5000),
      ]) {
        expectScimError(await scim.get('/Users?filter=' + encodeURIComponent(filter)), 400, 'invalidFilter');
      }
      expectScimError(await scim.get('/Groups?filter=' + encodeURIComponent('members co "x"')), 400, 'invalidFilter');
      expectScimError(await scim.get('/Users?filter=a&filter=b'), 400, 'invalidFilter');
      expectScimError(await scim.get('/Users?startIndex=abc'), 400, 'invalidValue');
      expectScimError(await scim.get('/Users?count=1e3'), 400, 'invalidValue');
      // Out-of-range paging is clamped, as RFC 7644 says; count is capped at the announced maximum.
      const clamped = await scim.get('/Users?startIndex=-4&count=100000');
      expect(clamped.status).toBe(200);
      expect(clamped.body.startIndex).toBe(1);
      expect((await scim.get('/Users?count=0')).body).toMatchObject({ totalResults: 1, itemsPerPage: 0 });
      expect((await scim.get('/Users?startIndex=5')).body).toMatchObject({ totalResults: 1, itemsPerPage: 0, startIndex: 5 });
      // Filters that parse but match nothing, and LIKE metacharacters taken literally.
      expect((await scim.get('/Users?filter=' + encodeURIComponent('userName co "%"'))).body.totalResults).toBe(0);
      expect((await scim.get('/Users?filter=' + encodeURIComponent('id eq "not-a-uuid"'))).body.totalResults).toBe(0);
      expect((await scim.get('/Users?filter=' + encodeURIComponent('userName sw "FUZZ" and not (emails pr)'))).body.totalResults).toBe(1);

      for (const [body, type] of [
        [{}, 'invalidSyntax'],
        [{ schemas: [PATCH_OP], Operations: [] }, 'invalidSyntax'],
        [{ schemas: [PATCH_OP], Operations: 'x' }, 'invalidSyntax'],
        [{ schemas: [PATCH_OP], Operations: [5] }, 'invalidSyntax'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'frob', path: 'userName', value: 'x' }] }, 'invalidSyntax'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'remove' }] }, 'noTarget'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName' }] }, 'invalidValue'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName', value: 5 }] }, 'invalidValue'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'nope' }] }, 'invalidValue'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name.givenName', value: { x: 1 } }] }, 'invalidValue'],
        [{ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: 'x' }] }, 'invalidValue'],
        [{ schemas: ['urn:wrong'], Operations: [{ op: 'replace', path: 'userName', value: 'y' }] }, 'invalidSyntax'],
      ] as const) {
        expectScimError(await scim.patch(`/Users/${u}`, body), 400, type);
      }
      for (const path of ['emails[type eq', 'emails[type eq "work"].', '[[', 'a..b']) {
        const r = await scim.patch(`/Users/${u}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path, value: 'x' }] });
        expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(200);
        expect(r.status).toBeLessThan(500);
      }
      for (const [op, type] of [
        [{ op: 'add', path: 'members[value eq "x"]', value: [{ value: 'x' }] }, 'invalidPath'],
        [{ op: 'remove', path: 'members[display eq "x"]' }, 'invalidPath'],
        [{ op: 'remove', path: 'members[value eq' }, 'invalidPath'],
        [{ op: 'replace', path: 'nickName', value: 'x' }, 'invalidPath'],
        [{ op: 'remove', path: 'displayName' }, 'invalidValue'],
        [{ op: 'add', path: 'members', value: [{ nope: 1 }] }, 'invalidValue'],
      ] as const) {
        expectScimError(await scim.patch(`/Groups/${g}`, { schemas: [PATCH_OP], Operations: [op] }), 400, type);
      }
      expectScimError(await scim.get('/Users/not-a-uuid'), 404);
      expectScimError(await scim.put('/Users/00000000-0000-4000-8000-000000000000', { schemas: [USER], userName: 'q' }), 404);
      expectScimError(await scim.get('/Nope'), 404);
      expectScimError(await scim.get('/Schemas/urn:nope'), 404);
      // If-Match with a stale version.
      expectScimError(await scim.put(`/Users/${u}`, { schemas: [USER], userName: 'fuzz@x.test' }, { 'if-match': 'W/"stale"' }), 412);
      const current = await scim.get(`/Users/${u}`);
      expect(
        (await scim.put(`/Users/${u}`, { schemas: [USER], userName: 'fuzz@x.test' }, { 'if-match': current.headers.get('etag')! })).status,
      ).toBe(200);
      // attributes / excludedAttributes.
      const slim = await scim.get(`/Users/${u}?attributes=userName,name.givenName`);
      expect(Object.keys(slim.body).sort()).toEqual(['id', 'name', 'schemas', 'userName']);
      const noMeta = await scim.get(`/Users/${u}?excludedAttributes=meta,groups`);
      expect(noMeta.body.meta).toBeUndefined();
      expect(noMeta.body.userName).toBe('fuzz@x.test');
    },
    180_000,
  );
});
