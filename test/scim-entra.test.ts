import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { countRows, papi } from './support/provisioning-api.js';
import { ENTERPRISE, GROUP, PATCH_OP, USER, expectScimError, scimProvisioning } from './support/scim-api.js';

const test = rosterTest();

/**
 * Microsoft Entra ID's provisioning sequence, transcribed from "Tutorial: Develop and plan
 * provisioning for a SCIM endpoint in Microsoft Entra ID" (learn.microsoft.com, "Understand the
 * Microsoft Entra SCIM implementation", request/response examples): GET by userName filter,
 * POST with the enterprise extension, GET by externalId-less filter, PATCH with capitalised
 * `op` and "False" strings, `active` replaced without a path, group create, membership PATCHes
 * in batches, DELETE.
 */
describe('SCIM: Microsoft Entra ID', () => {
  test.concurrent(
    'user lifecycle in Entra’s dialect',
    async ({ server: ts, tenant: t }) => {
      const { scim, id: provisioningId } = await scimProvisioning(ts, t.token, 'Entra ID', { sendEnrollmentEmails: false });
      // "Get User by query" before the create.
      const q = await scim.get('/Users?filter=' + encodeURIComponent('userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"'));
      expect(q.body.totalResults).toBe(0);
      const created = await scim.post('/Users', {
        schemas: [USER, ENTERPRISE],
        externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
        userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1',
        active: true,
        emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com' }],
        meta: { resourceType: 'User' },
        name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
        roles: [],
        [ENTERPRISE]: { department: 'sales', employeeNumber: '12' },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body.id as string;
      expect(created.body.emails[0].value).toBe('test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com');

      // "Get User by query - Zero results" with a different attribute, then by externalId.
      const byExt = await scim.get('/Users?filter=' + encodeURIComponent('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'));
      expect(byExt.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
      // externalId is caseExact.
      expect(
        (await scim.get('/Users?filter=' + encodeURIComponent('externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"'))).body.totalResults,
      ).toBe(0);

      // "Update User [Multi-valued properties]": capitalised op, value filter path.
      const multi = await scim.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
          { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        ],
      });
      expect(multi.status, JSON.stringify(multi.body)).toBe(200);
      expect(multi.body).toMatchObject({
        emails: [{ value: 'updatedemail@microsoft.com' }],
        name: { familyName: 'updatedFamilyName', givenName: 'givenName' },
      });

      // "Update User [Single-valued properties]".
      const single = await scim.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'userName', value: '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com' }],
      });
      expect(single.body.userName).toBe('5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com');

      // "Disable User": Entra sends the string "False", with a path …
      const off = await scim.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      expect(off.body.active).toBe(false);
      const suspended = await countRows(
        ts,
        sql`select count(*)::int as n from mfa_users where id = ${id}::uuid and suspended_at is not null`,
      );
      expect(suspended).toBe(1);
      // … or, in its older dialect, without one.
      const on = await scim.patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', value: { active: 'True' } }] });
      expect(on.body.active).toBe(true);
      const off2 = await scim.patch(`/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
      expect(off2.body.active).toBe(false);

      // Enterprise extension attributes are accepted (nothing of them is stored).
      const ext = await scim.patch(`/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Add', path: `${ENTERPRISE}:department`, value: 'eng' },
          { op: 'Add', value: { [ENTERPRISE]: { manager: { value: 'x' } } } },
        ],
      });
      expect(ext.status).toBe(200);

      // "Delete User".
      expect((await scim.delete(`/Users/${id}`)).status).toBe(204);
      expectScimError(await scim.get(`/Users/${id}`), 404);
      expectScimError(await scim.delete(`/Users/${id}`), 404);

      // The activity log shows what the IdP did.
      const activity = await scimActivity(ts, t.token, provisioningId);
      expect(activity.map((a) => `${a.method} ${a.status}`)).toContain('POST 201');
      expect(activity[0]).toMatchObject({ method: 'DELETE', status: 404 });
    },
    180_000,
  );

  test.concurrent(
    'groups: create, membership batches, rename, delete',
    async ({ server: ts, tenant: t }) => {
      const { scim } = await scimProvisioning(ts, t.token, 'Entra groups', { sendEnrollmentEmails: false });
      const users: string[] = [];
      for (let i = 0; i < 12; i++) {
        const r = await scim.post('/Users', { schemas: [USER], userName: `member${i}@contoso.test`, externalId: `ext-${i}` });
        expect(r.status).toBe(201);
        users.push(r.body.id);
      }
      // "Create Group".
      const g = await scim.post('/Groups', {
        schemas: [GROUP, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      });
      expect(g.status, JSON.stringify(g.body)).toBe(201);
      const gid = g.body.id as string;
      // "Get Group by displayName" with excludedAttributes=members.
      const byName = await scim.get('/Groups?excludedAttributes=members&filter=' + encodeURIComponent('displayName eq "displayName"'));
      expect(byName.body.Resources).toEqual([expect.objectContaining({ id: gid })]);
      expect(byName.body.Resources[0].members).toBeUndefined();

      // Membership in batches (Entra sends several members per PATCH, and several operations).
      const batch1 = await scim.patch(`/Groups/${gid}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Add', path: 'members', value: users.slice(0, 8).map((value) => ({ value })) }],
      });
      expect(batch1.status, JSON.stringify(batch1.body)).toBe(204);
      const batch2 = await scim.patch(`/Groups/${gid}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Add', path: 'members', value: users.slice(8).map((value) => ({ value })) },
          { op: 'Remove', path: 'members', value: users.slice(0, 3).map((value) => ({ value })) },
        ],
      });
      expect(batch2.status).toBe(204);
      // Adding a member already there is not an error.
      expect(
        (
          await scim.patch(`/Groups/${gid}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: 'Add', path: 'members', value: [{ value: users[5] }] }],
          })
        ).status,
      ).toBe(204);
      const members = (await scim.get(`/Groups/${gid}`)).body.members.map((m: { value: string }) => m.value).sort();
      expect(members).toEqual(users.slice(3).sort());
      // Filter membership as Entra does to check one member.
      const check = await scim.get(
        `/Groups?filter=${encodeURIComponent(`id eq "${gid}" and members[value eq "${users[4]}"]`)}&attributes=id`,
      );
      expect(check.body.totalResults).toBe(1);
      expect(Object.keys(check.body.Resources[0]).sort()).toEqual(['id', 'schemas']);
      const notIn = await scim.get(
        `/Groups?filter=${encodeURIComponent(`id eq "${gid}" and members[value eq "${users[0]}"]`)}&attributes=id`,
      );
      expect(notIn.body.totalResults).toBe(0);

      // "Update Group [Non-member attributes]".
      expect(
        (
          await scim.patch(`/Groups/${gid}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: 'Replace', path: 'displayName', value: '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName' }],
          })
        ).status,
      ).toBe(204);
      expect((await scim.get(`/Groups/${gid}`)).body.displayName).toBe('1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');
      // Remove all members.
      expect((await scim.patch(`/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members' }] })).status).toBe(
        204,
      );
      expect((await scim.get(`/Groups/${gid}`)).body.members).toEqual([]);
      // A member that is not a user of this provisioning.
      expectScimError(
        await scim.patch(`/Groups/${gid}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Add', path: 'members', value: [{ value: '00000000-0000-4000-8000-000000000000' }] }],
        }),
        400,
        'invalidValue',
      );
      // "Delete Group".
      expect((await scim.delete(`/Groups/${gid}`)).status).toBe(204);
      expectScimError(await scim.get(`/Groups/${gid}`), 404);
    },
    180_000,
  );
});

async function scimActivity(ts: { url: string }, token: string, id: string) {
  const r = await papi(ts, token).client.scimActivity({ id, first: 50 });
  return r.provisioning!.scimActivity.edges.map((e) => e.node);
}
