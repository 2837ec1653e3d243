import { describe, expect } from 'vitest';
import type { AuditEventFieldsFragment, RosterClient } from '../client/src/index.js';
import { changesOf, toId } from './support/audit-api.js';
import { rosterTest } from './support/fixtures.js';
import { ok } from './support/directory-api.js';
import { enrolTotpUser } from './support/mfa-api.js';
import { GROUP, PATCH_OP, scimProvisioning, USER } from './support/scim-api.js';

/**
 * The audit trail of the MFA directory: administrators' device operations, bypass codes (never
 * the codes), the end user's enrolment, and every SCIM write with the SCIM provisioning as actor.
 */
const test = rosterTest();

async function events(admin: RosterClient, action: string): Promise<AuditEventFieldsFragment[]> {
  return (await admin.auditEvents({ filter: { action }, first: 100 })).auditEvents.nodes.reverse();
}

describe('audit of the MFA directory', () => {
  test('device operations, bypass codes, lock and reset are audited with the admin as actor; codes never appear', async ({
    server,
    admin,
    tenant,
    clientFor,
  }) => {
    const u = await enrolTotpUser(server, admin, clientFor(null), 'alice');
    ok((await admin.disableMfaDevice({ input: { deviceId: u.deviceId } })).disableMfaDevice);
    ok((await admin.enableMfaDevice({ input: { deviceId: u.deviceId } })).enableMfaDevice);
    const codes = ok(
      (await admin.createMfaBypassCodes({ input: { mfaUserId: u.mfaUserId, count: 2, expiresInMinutes: 60 } })).createMfaBypassCodes,
    ).codes!;
    ok((await admin.unlockMfaUser({ input: { mfaUserId: u.mfaUserId } })).unlockMfaUser);
    ok((await admin.sendMfaEnrollment({ input: { mfaUserId: u.mfaUserId } })).sendMfaEnrollment);
    ok((await admin.removeMfaDevice({ input: { deviceId: u.deviceId } })).removeMfaDevice);
    ok((await admin.resetMfaFactors({ input: { mfaUserId: u.mfaUserId } })).resetMfaFactors);

    const trail = await events(admin, 'mfa.');
    expect(trail.map((e) => e.action)).toEqual([
      'mfa.create_user',
      'mfa.enroll_device',
      'mfa.disable_device',
      'mfa.enable_device',
      'mfa.create_bypass_codes',
      'mfa.unlock',
      'mfa.send_enrollment',
      'mfa.remove_device',
      'mfa.reset_factors',
    ]);
    for (const e of trail) expect(e.target).toMatchObject({ type: 'MfaUser', id: u.mfaUserId, name: 'alice' });
    const byAction = Object.fromEntries(trail.map((e) => [e.action, e]));
    // The end user enrolled the device; everything else was the admin.
    expect(byAction['mfa.enroll_device']!.actor).toEqual({ kind: 'END_USER', id: null, name: 'alice' });
    expect(byAction['mfa.disable_device']!.actor).toMatchObject({ kind: 'ADMIN', id: toId('User', tenant.adminUserId) });
    expect(Object.values(changesOf(byAction['mfa.disable_device']!))).toEqual([['"ACTIVE"', '"DISABLED"']]);
    expect(changesOf(byAction['mfa.create_bypass_codes']!).bypassCodes).toEqual([null, '2']);
    const all = JSON.stringify(trail);
    for (const c of codes) {
      expect(all).not.toContain(c);
      expect(all).not.toContain(c.replace('-', ''));
    }
    expect(changesOf(byAction['mfa.reset_factors']!).devicesRemoved).toEqual([null, '0']);
  });

  test('SCIM writes are audited with the SCIM provisioning as actor, before/after values and the request id', async ({
    server,
    admin,
    tenant,
  }) => {
    const { id, scim } = await scimProvisioning(server, tenant.token, 'Okta');
    const created = await scim.post('/Users', { schemas: [USER], userName: 'bob@okta.test', name: { givenName: 'Bob', familyName: 'B' } });
    expect(created.status).toBe(201);
    const userId = created.body.id as string;
    expect(
      (await scim.patch(`/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })).status,
    ).toBe(200);
    expect(
      (await scim.put(`/Users/${userId}`, { schemas: [USER], userName: 'bob@okta.test', name: { givenName: 'Robert', familyName: 'B' } }))
        .status,
    ).toBe(200);
    const group = await scim.post('/Groups', { schemas: [GROUP], displayName: 'Okta admins', members: [{ value: userId }] });
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    const patched = await scim.patch(`/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'remove', path: `members[value eq "${userId}"]` }],
    });
    expect(patched.status).toBe(204);
    expect((await scim.delete(`/Groups/${groupId}`)).status).toBe(204);
    expect((await scim.delete(`/Users/${userId}`)).status).toBe(204);
    ok((await admin.rotateScimToken({ input: { id } })).rotateScimToken);

    const trail = await events(admin, 'scim.');
    expect(trail.map((e) => e.action)).toEqual([
      'scim.user.create',
      'scim.user.patch',
      'scim.user.replace',
      'scim.group.create',
      'scim.group.patch',
      'scim.group.delete',
      'scim.user.delete',
    ]);
    for (const e of trail) {
      expect(e.actor).toEqual({ kind: 'SCIM', id, name: 'Okta' });
      expect(e.requestId).toBeTruthy();
      expect(e.clientAddress).toBeTruthy();
    }
    const [create, deactivate, replace, groupCreate, groupPatch] = trail;
    expect(create!.target).toEqual({ type: 'MfaUser', id: toId('MfaUser', userId), name: 'bob@okta.test' });
    expect(changesOf(create!)).toMatchObject({ username: [null, '"bob@okta.test"'], firstName: [null, '"Bob"'] });
    expect(changesOf(deactivate!).suspendedAt![0]).toBeNull();
    expect(changesOf(deactivate!).suspendedAt![1]).toBeTruthy();
    expect(changesOf(replace!).firstName).toEqual(['"Bob"', '"Robert"']);
    expect(changesOf(groupCreate!)).toMatchObject({ name: [null, '"Okta admins"'], members: [null, '1'] });
    expect(changesOf(groupPatch!)).toEqual({ removedMemberIds: [null, JSON.stringify([userId])] });
    const rotated = await events(admin, 'provisioning.rotate_scim_token');
    expect(rotated[0]!.actor).toMatchObject({ kind: 'ADMIN' });
    expect(JSON.stringify(rotated)).not.toMatch(/scim_[A-Za-z0-9_-]{43}/);
  });
});
