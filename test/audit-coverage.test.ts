import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { describe, expect, test as plain } from 'vitest';
import type { AuditEventFieldsFragment, RosterClient } from '../client/src/index.js';
import { changesOf, toId } from './support/audit-api.js';
import { rosterTest } from './support/fixtures.js';
import { ok } from './support/directory-api.js';
import { papi } from './support/provisioning-api.js';

/**
 * Every mutation writes an audit event (or is exempt for a stated reason). The list below is
 * checked against the committed schema, so a new mutation fails `npm test` until it is audited
 * and listed here, or exempted with its reason. The tests after it exercise the entries.
 */
const AUDITED: Record<string, string> = {
  addGroupMembers: 'group.add_member',
  approveSyncRun: 'sync.approve',
  bulkAddUsersToGroups: 'bulk.start',
  bulkDeleteUsers: 'bulk.start',
  bulkReinviteUsers: 'bulk.start',
  bulkSendMfaEnrollment: 'bulk.start',
  bulkUploadUsers: 'bulk.start',
  cancelBulkOperation: 'bulk.cancel',
  cancelSyncRun: 'sync.cancel',
  completeAccountSetup: 'portal.activate',
  confirmTotpEnrollment: 'mfa.enroll_device',
  createApiToken: 'api_token.create',
  createDirectory: 'directory.create',
  createGroup: 'group.create',
  createIdentityProvider: 'identity_provider.create',
  createMfaBypassCodes: 'mfa.create_bypass_codes',
  createMfaUser: 'mfa.create_user',
  createProvisioning: 'provisioning.create',
  createUser: 'user.create',
  deleteGroup: 'group.delete',
  deleteProvisioning: 'provisioning.delete',
  deleteUser: 'user.delete',
  deployProvisioning: 'provisioning.deploy',
  disableMfaDevice: 'mfa.disable_device',
  enableMfaDevice: 'mfa.enable_device',
  finishWebAuthnRegistration: 'mfa.enroll_device',
  inviteUser: 'user.invite',
  login: 'auth.sign_in',
  logout: 'auth.sign_out',
  reinviteUser: 'user.invite',
  removeGroupMembers: 'group.remove_member',
  removeMfaDevice: 'mfa.remove_device',
  resetMfaFactors: 'mfa.reset_factors',
  revokeApiToken: 'api_token.revoke',
  rotateApiToken: 'api_token.rotate',
  rotateScimToken: 'provisioning.rotate_scim_token',
  sendMfaEnrollment: 'mfa.send_enrollment',
  setProvisioningDirectories: 'provisioning.set_directories',
  setProvisioningGroups: 'provisioning.set_groups',
  syncProvisioning: 'sync.request',
  unlockMfaUser: 'mfa.unlock',
  unlockUser: 'user.unlock',
  updateGroup: 'group.update',
  updateProvisioning: 'provisioning.update',
  updateUser: 'user.update',
};

/** Mutations that change nothing worth an event, and why. */
const EXEMPT: Record<string, string> = {
  beginTotpEnrollment: 'stores a pending secret only; the device is audited when confirmed (mfa.enroll_device)',
  beginWebAuthnRegistration: 'issues a challenge only; the key is audited when registered (mfa.enroll_device)',
  verifyMfa: "a check, not a change: every attempt is kept in the MFA user's own verification history",
  webAuthnAuthenticationOptions: 'issues a challenge only',
};

describe('audit coverage', () => {
  plain('every mutation of the schema is audited or exempt with a reason', () => {
    const schema = buildSchema(readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8'));
    const mutations = Object.keys(schema.getMutationType()!.getFields()).sort();
    const listed = new Set([...Object.keys(AUDITED), ...Object.keys(EXEMPT)]);
    expect(
      mutations.filter((m) => !listed.has(m)),
      'mutations without an audit event: audit them and add them to AUDITED, or to EXEMPT with a reason',
    ).toEqual([]);
    // And nothing listed that no longer exists.
    expect([...listed].filter((m) => !mutations.includes(m))).toEqual([]);
  });
});

// No workers: runs and bulk operations stay QUEUED, so cancelling them is deterministic.
const test = rosterTest({ WORKERS: 'false' });

async function trailOf(admin: RosterClient, actor: string): Promise<AuditEventFieldsFragment[]> {
  const out: AuditEventFieldsFragment[] = [];
  let after: string | null | undefined = null;
  do {
    const page: Awaited<ReturnType<RosterClient['auditEvents']>> = await admin.auditEvents({ filter: { actor }, first: 100, after });
    out.push(...page.auditEvents.nodes);
    after = page.auditEvents.pageInfo.hasNextPage ? page.auditEvents.pageInfo.endCursor : null;
  } while (after);
  return out.reverse();
}

describe('audit of configuration, syncs and bulk work', () => {
  test('a service token configures a directory, an IdP and a provisioning, syncs and cancels: each change names the token', async ({
    server,
    admin,
    tenant,
    clientFor,
  }) => {
    const created = ok(
      (
        await admin.createApiToken({
          input: {
            name: 'provisioner',
            scopes: ['DIRECTORY_READ', 'DIRECTORY_WRITE', 'PROVISIONING_READ', 'PROVISIONING_WRITE', 'BULK_WRITE'],
          },
        })
      ).createApiToken,
    );
    const tokenId = created.apiToken!.id;
    const service = clientFor(created.secret!);
    const p = papi(server, created.secret!);

    const dir = ok((await service.createDirectory({ input: { name: 'LDAP east', kind: 'LDAP' } })).createDirectory).directory!;
    ok((await service.createIdentityProvider({ input: { name: 'east', directoryId: dir.id } })).createIdentityProvider);
    const prov = ok(await p.create('Nightly')).provisioning!;
    ok(await p.update(prov.id, { name: 'Nightly MFA', syncIntervalMinutes: 120 }));
    ok(await p.setDirectories(prov.id, [toId('Directory', tenant.directoryId)]));
    ok(await p.setGroups(prov.id, toId('Directory', tenant.directoryId), [toId('Group', tenant.usersGroupId)]));
    await p.deploy(prov.id);
    const run = ok(await p.sync(prov.id)).syncRun!;
    expect(run.startedBy).toEqual({ kind: 'API_TOKEN', id: tokenId });
    ok((await service.cancelSyncRun({ input: { runId: run.id } })).cancelSyncRun);
    const bulk = ok(
      (await service.bulkDeleteUsers({ input: { userIds: [toId('User', tenant.adminUserId)] } })).bulkDeleteUsers,
    ).bulkOperation!;
    expect(bulk.startedBy).toEqual({ kind: 'API_TOKEN', id: tokenId });
    ok((await service.cancelBulkOperation({ input: { id: bulk.id } })).cancelBulkOperation);
    ok((await service.deleteProvisioning({ input: { id: prov.id, ownedUsers: 'REMOVE' } })).deleteProvisioning);

    const trail = await trailOf(admin, tokenId);
    expect(trail.map((e) => e.action)).toEqual([
      'directory.create',
      'identity_provider.create',
      'provisioning.create',
      'provisioning.update',
      'provisioning.set_directories',
      'provisioning.set_groups',
      'provisioning.deploy',
      'sync.request',
      'sync.cancel',
      'bulk.start',
      'bulk.cancel',
      'provisioning.delete',
    ]);
    for (const e of trail) {
      expect(e.actor).toEqual({ kind: 'API_TOKEN', id: tokenId, name: 'provisioner' });
      expect(e.requestId).toBeTruthy();
      expect(e.clientAddress).toBeTruthy();
    }
    const byAction = Object.fromEntries(trail.map((e) => [e.action, e]));
    expect(byAction['directory.create']!.target).toEqual({ type: 'Directory', id: dir.id, name: 'LDAP east' });
    expect(changesOf(byAction['provisioning.update']!)).toEqual({
      name: ['"Nightly"', '"Nightly MFA"'],
      syncIntervalMinutes: ['360', '120'],
    });
    expect(byAction['provisioning.deploy']!.changes.find((c) => c.field === 'deployedVersion')).toEqual({
      field: 'deployedVersion',
      before: '0',
      after: '1',
    });
    expect(byAction['sync.cancel']!.target).toMatchObject({ type: 'SyncRun', id: run.id, name: null });
    expect(changesOf(byAction['sync.cancel']!)).toEqual({ status: ['"QUEUED"', '"CANCELLED"'] });
    expect(byAction['bulk.cancel']!.target).toMatchObject({ type: 'BulkOperation', id: bulk.id });
  });
});
