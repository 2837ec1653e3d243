import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { base32Decode, hotp, stepOf } from './support/mfa-api.js';
import { papi } from './support/provisioning-api.js';

const test = rosterTest();
const T = 180_000;

describe('suspend instead of delete', () => {
  test.concurrent(
    'a disabled directory user still selected becomes PROVISIONING_DISABLED with its devices; re-enabled, ACTIVE again without re-enrolling; a deselected one is removed',
    async ({ server: ts, tenant: t, admin, clientFor }) => {
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('MFA')).group!.id;
      const [sue, rex] = await p.addUsers(g, 'sus', 2);
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: true, removalGuardMaxPercent: 100 });
      await p.deploy(id);
      expect((await p.syncAndWait(id)).status).toBe('COMPLETED');

      // sus0 enrols an authenticator app from the sync's enrolment email.
      const anon = clientFor();
      const token = tokenOf(await waitForMailLink(ts, 'sus0@x.test'));
      const key = base32Decode((await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment.secret!);
      const step = stepOf();
      expect((await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, step) } })).confirmTotpEnrollment.errors).toEqual([]);
      const before = (await p.mfaUsers({ search: 'sus0' })).nodes[0]!;
      expect(before.status).toBe('ACTIVE');

      expect((await p.updateUser({ id: sue!, disabled: true })).errors).toEqual([]);
      // The preview says nothing is removed: the disabled user is updated (suspended).
      const preview = await p.preview(id);
      expect(preview).toMatchObject({ removeCount: 0, devicesRemovedCount: 0, updateCount: 1 });
      const run = await p.syncAndWait(id);
      expect(run).toMatchObject({ status: 'COMPLETED', removed: 0, devicesRemoved: 0, updated: 1 });
      const suspended = (await p.mfaUsers({ search: 'sus0' })).nodes[0]!;
      expect(suspended.id).toBe(before.id);
      expect(suspended.status).toBe('PROVISIONING_DISABLED');
      expect(suspended.suspendedAt).not.toBeNull();
      expect(suspended.devices.map((d) => d.id)).toEqual(before.devices.map((d) => d.id));
      expect((await p.mfaUsers({ status: 'PROVISIONING_DISABLED' })).nodes.map((u) => u.username)).toEqual(['sus0@x.test']);
      // A suspended user is not verified (a typed error, no attempt).
      expect((await admin.verifyMfa({ input: { user: 'sus0@x.test', code: hotp(key, step + 1) } })).verifyMfa.errors[0]!.code).toBe(
        'INVALID_STATE',
      );
      // A second sync keeps it as it is.
      expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', updated: 0, removed: 0 });

      expect((await p.updateUser({ id: sue!, disabled: false })).errors).toEqual([]);
      expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', updated: 1, removed: 0 });
      const back = (await p.mfaUsers({ search: 'sus0' })).nodes[0]!;
      expect(back).toMatchObject({ id: before.id, status: 'ACTIVE', suspendedAt: null });
      expect(back.devices.map((d) => d.id)).toEqual(before.devices.map((d) => d.id));
      expect((await admin.verifyMfa({ input: { user: 'sus0@x.test', code: hotp(key, step + 1) } })).verifyMfa.result).toBe('VERIFIED');

      // Removed from the selected group: removed with its devices, as before.
      expect((await p.updateUser({ id: rex!, disabled: true })).errors).toEqual([]);
      expect((await admin.removeGroupMembers({ input: { groupId: g, userIds: [rex!] } })).removeGroupMembers.errors).toEqual([]);
      expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', removed: 1 });
      expect((await p.mfaUsers({ search: 'sus1' })).totalCount).toBe(0);
    },
    T,
  );

  test.concurrent(
    'a user disabled before its first sync is not created',
    async ({ server: ts, tenant: t }) => {
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('MFA')).group!.id;
      const [off] = await p.addUsers(g, 'off', 2);
      expect((await p.updateUser({ id: off!, disabled: true })).errors).toEqual([]);
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: false });
      await p.deploy(id);
      expect((await p.preview(id))!.createCount).toBe(1);
      expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', created: 1 });
      expect((await p.mfaUsers()).nodes.map((u) => u.username)).toEqual(['off1@x.test']);
    },
    T,
  );
});
