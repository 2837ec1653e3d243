import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { GROUP, PATCH_OP, USER, scimProvisioning, expectScimError } from './support/scim-api.js';

const test = rosterTest();

/**
 * Okta's SCIM 2.0 provisioning sequence, transcribed from Okta's published "SCIM 2.0 protocol
 * reference" (developer.okta.com, "Build a SCIM provisioning integration"): a pre-check GET
 * with a userName filter before every create, POST, GET by id, PUT with the full profile,
 * deactivation by PATCH `{"op":"replace","value":{"active":false}}`, reactivation, Group Push
 * (POST group, PATCH members add/remove, PATCH rename), DELETE group.
 */
describe('SCIM: Okta', () => {
  test.concurrent(
    'create with pre-check, read, update, deactivate, reactivate',
    async ({ server: ts, tenant: t }) => {
      const { scim, publicBase } = await scimProvisioning(ts, t.token, 'Okta', { sendEnrollmentEmails: false });

      // Discovery.
      const spc = await scim.get('/ServiceProviderConfig');
      expect(spc.status).toBe(200);
      expect(spc.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(spc.body.patch.supported).toBe(true);
      expect(spc.body.filter).toEqual({ supported: true, maxResults: 200 });
      expect((await scim.get('/ResourceTypes')).body.Resources.map((r: { id: string }) => r.id)).toEqual(['User', 'Group']);
      expect((await scim.get('/Schemas')).body.totalResults).toBe(3);

      // Pre-check: does the user exist?
      const pre = await scim.get(
        '/Users?filter=' + encodeURIComponent('userName eq "dade.murphy@example.com"') + '&startIndex=1&count=100',
      );
      expect(pre.status).toBe(200);
      expect(pre.body).toEqual({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: 0,
        startIndex: 1,
        itemsPerPage: 0,
        Resources: [],
      });

      // Create (Okta's documented request body).
      const created = await scim.post('/Users', {
        schemas: [USER],
        userName: 'dade.murphy@example.com',
        name: { givenName: 'Dade', familyName: 'Murphy' },
        emails: [{ primary: true, value: 'dade.murphy@example.com', type: 'work' }],
        displayName: 'Dade Murphy',
        locale: 'en-US',
        externalId: '00ujl29u0le5T6Aj10h7',
        groups: [],
        password: '1mz050nq',
        active: true,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id as string;
      expect(created.headers.get('location')).toBe(`${publicBase}/Users/${id}`);
      expect(created.body).toMatchObject({
        schemas: [USER],
        userName: 'dade.murphy@example.com',
        externalId: '00ujl29u0le5T6Aj10h7',
        active: true,
        name: { givenName: 'Dade', familyName: 'Murphy' },
        emails: [{ value: 'dade.murphy@example.com', primary: true, type: 'work' }],
        meta: { resourceType: 'User', location: `${publicBase}/Users/${id}` },
      });
      expect(created.body.password).toBeUndefined();
      expect(created.headers.get('etag')).toBe(created.body.meta.version);

      // The pre-check now finds it, ignoring case.
      const found = await scim.get(
        '/Users?filter=' + encodeURIComponent('userName eq "DADE.Murphy@example.com"') + '&startIndex=1&count=100',
      );
      expect(found.body.totalResults).toBe(1);
      expect(found.body.Resources[0].id).toBe(id);

      // A second create of the same userName: 409 uniqueness.
      expectScimError(await scim.post('/Users', { schemas: [USER], userName: 'Dade.Murphy@example.com' }), 409, 'uniqueness');

      // GET by id; PUT with the whole profile (Okta updates this way).
      expect((await scim.get(`/Users/${id}`)).body.userName).toBe('dade.murphy@example.com');
      const put = await scim.put(`/Users/${id}`, {
        schemas: [USER],
        id,
        userName: 'dade.murphy@example.com',
        name: { givenName: 'Crash', familyName: 'Override' },
        emails: [{ primary: true, value: 'crash.override@example.com', type: 'work' }],
        displayName: 'Crash Override',
        externalId: '00ujl29u0le5T6Aj10h7',
        active: true,
        meta: { resourceType: 'User' },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        name: { givenName: 'Crash', familyName: 'Override' },
        emails: [{ value: 'crash.override@example.com' }],
      });

      // Deactivate, as Okta does.
      const off = await scim.patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
      expect(off.status).toBe(200);
      expect(off.body.active).toBe(false);
      const inactive = await scim.get('/Users?filter=' + encodeURIComponent('active eq false'));
      expect(inactive.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);

      // Reactivate.
      const on = await scim.patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
      expect(on.body.active).toBe(true);
    },
    180_000,
  );

  test.concurrent(
    'Group Push: create, members add/remove, rename, delete',
    async ({ server: ts, tenant: t }) => {
      const { scim, publicBase } = await scimProvisioning(ts, t.token, 'Okta groups', { sendEnrollmentEmails: false });
      const ids: string[] = [];
      for (const n of ['a', 'b', 'c']) {
        const r = await scim.post('/Users', { schemas: [USER], userName: `${n}@example.com`, name: { givenName: n, familyName: 'X' } });
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      // Okta checks for the group by displayName first.
      expect(
        (await scim.get('/Groups?filter=' + encodeURIComponent('displayName eq "Test SCIMv2"') + '&startIndex=1&count=100')).body
          .totalResults,
      ).toBe(0);
      const g = await scim.post('/Groups', { schemas: [GROUP], displayName: 'Test SCIMv2', members: [] });
      expect(g.status).toBe(201);
      const gid = g.body.id as string;
      expect(g.body).toMatchObject({
        displayName: 'Test SCIMv2',
        members: [],
        meta: { resourceType: 'Group', location: `${publicBase}/Groups/${gid}` },
      });

      // Okta's membership PATCH: add with path "members", remove with a value filter path.
      const add = await scim.patch(`/Groups/${gid}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value, display: 'x' })) }],
      });
      expect(add.status).toBe(204);
      expect((await scim.get(`/Groups/${gid}`)).body.members.map((m: { value: string }) => m.value).sort()).toEqual([...ids].sort());
      const remove = await scim.patch(`/Groups/${gid}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'remove', path: `members[value eq "${ids[0]}"]` }],
      });
      expect(remove.status).toBe(204);
      // Rename (Okta sends id and displayName in a path-less replace).
      const rename = await scim.patch(`/Groups/${gid}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', value: { id: gid, displayName: 'Test SCIMv2 renamed' } }],
      });
      expect(rename.status).toBe(204);
      const after = await scim.get(`/Groups/${gid}`);
      expect(after.body.displayName).toBe('Test SCIMv2 renamed');
      expect(after.body.members.map((m: { value: string }) => m.value).sort()).toEqual(ids.slice(1).sort());
      // The user shows its group.
      expect((await scim.get(`/Users/${ids[1]}`)).body.groups).toEqual([
        { value: gid, display: 'Test SCIMv2 renamed', $ref: `${publicBase}/Groups/${gid}` },
      ]);
      // members filter, and excludedAttributes as Okta asks.
      const byMember = await scim.get(
        '/Groups?filter=' + encodeURIComponent(`members[value eq "${ids[1]}"]`) + '&excludedAttributes=members',
      );
      expect(byMember.body.Resources).toEqual([expect.objectContaining({ id: gid, displayName: 'Test SCIMv2 renamed' })]);
      expect(byMember.body.Resources[0].members).toBeUndefined();

      expect((await scim.delete(`/Groups/${gid}`)).status).toBe(204);
      expectScimError(await scim.get(`/Groups/${gid}`), 404);
      // Users stay.
      expect((await scim.get(`/Users/${ids[1]}`)).status).toBe(200);
      // Delete a user.
      expect((await scim.delete(`/Users/${ids[1]}`)).status).toBe(204);
      expectScimError(await scim.get(`/Users/${ids[1]}`), 404);
    },
    180_000,
  );
});
