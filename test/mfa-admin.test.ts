import { describe, expect, vi } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { base32Decode, enrolTotpUser, hotp, stepOf } from './support/mfa-api.js';
import { spawnNode } from './support/process.js';

const test = rosterTest();
// Each test waits for enrolment emails; on a loaded machine that takes a while.
vi.setConfig({ testTimeout: 180_000 });
const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

describe('MFA admin device operations', () => {
  test.concurrent(
    'disable → DEVICES_DISABLED and verification refused (no attempt); enable → ACTIVE; remove → UNENROLLED',
    async ({ server: ts, admin, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'dee');
      const disabled = (await admin.disableMfaDevice({ input: { deviceId: e.deviceId } })).disableMfaDevice;
      expect(disabled.errors).toEqual([]);
      expect(disabled.mfaUser).toMatchObject({ status: 'DEVICES_DISABLED' });
      expect(disabled.mfaUser!.devices.map((d) => d.status)).toEqual(['DISABLED']);
      expect((await admin.mfaUsers({ filter: { status: 'DEVICES_DISABLED' } })).mfaUsers.nodes.map((u) => u.username)).toEqual(['dee']);

      const code = hotp(e.key, e.step + 1);
      expect(codes((await admin.verifyMfa({ input: { user: 'dee', code } })).verifyMfa.errors)).toEqual(['INVALID_STATE']);
      expect(codes((await admin.verifyMfa({ input: { user: 'dee', code, deviceId: e.deviceId } })).verifyMfa.errors)).toEqual([
        'INVALID_STATE',
      ]);
      const none = (await admin.mfaUserVerifications({ id: e.mfaUserId })).node;
      if (none?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect(none.verifications.totalCount).toBe(0);

      // Idempotent, and enabling brings the same device back without re-enrolling.
      expect((await admin.disableMfaDevice({ input: { deviceId: e.deviceId } })).disableMfaDevice.errors).toEqual([]);
      const enabled = (await admin.enableMfaDevice({ input: { deviceId: e.deviceId } })).enableMfaDevice;
      expect(enabled.mfaUser).toMatchObject({ status: 'ACTIVE' });
      expect((await admin.verifyMfa({ input: { user: 'dee', code, deviceId: e.deviceId } })).verifyMfa.result).toBe('VERIFIED');

      const removed = (await admin.removeMfaDevice({ input: { deviceId: e.deviceId } })).removeMfaDevice;
      expect(removed.mfaUser).toMatchObject({ status: 'UNENROLLED', devices: [] });
      expect(codes((await admin.removeMfaDevice({ input: { deviceId: e.deviceId } })).removeMfaDevice.errors)).toEqual(['NOT_FOUND']);
    },
  );

  test.concurrent('another tenant’s devices and users are not found, and nothing changes', async ({ server: ts, admin, clientFor }) => {
    const e = await enrolTotpUser(ts, admin, clientFor(), 'ten');
    const other = clientFor((await seedTenant(ts)).token);
    expect(codes((await other.disableMfaDevice({ input: { deviceId: e.deviceId } })).disableMfaDevice.errors)).toEqual(['NOT_FOUND']);
    expect(codes((await other.removeMfaDevice({ input: { deviceId: e.deviceId } })).removeMfaDevice.errors)).toEqual(['NOT_FOUND']);
    expect(codes((await other.resetMfaFactors({ input: { mfaUserId: e.mfaUserId } })).resetMfaFactors.errors)).toEqual(['NOT_FOUND']);
    expect(codes((await other.unlockMfaUser({ input: { mfaUserId: e.mfaUserId } })).unlockMfaUser.errors)).toEqual(['NOT_FOUND']);
    expect(codes((await other.createMfaBypassCodes({ input: { mfaUserId: e.mfaUserId, count: 1 } })).createMfaBypassCodes.errors)).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes((await admin.disableMfaDevice({ input: { deviceId: e.mfaUserId } })).disableMfaDevice.errors)).toEqual(['NOT_FOUND']);
    const u = (await admin.mfaUsers({ filter: { search: 'ten' } })).mfaUsers.nodes[0]!;
    expect(u.status).toBe('ACTIVE');
    expect(u.devices.map((d) => d.status)).toEqual(['ACTIVE']);
  });

  test.concurrent(
    'bypass codes: shown once, each usable once, expiring, bounded; a reset voids them',
    async ({ server: ts, admin, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'bob');
      expect(
        codes((await admin.createMfaBypassCodes({ input: { mfaUserId: e.mfaUserId, count: 11 } })).createMfaBypassCodes.errors),
      ).toEqual(['INVALID_INPUT']);
      expect(
        codes(
          (await admin.createMfaBypassCodes({ input: { mfaUserId: e.mfaUserId, count: 1, expiresInMinutes: 0 } })).createMfaBypassCodes
            .errors,
        ),
      ).toEqual(['INVALID_INPUT']);
      const made = (await admin.createMfaBypassCodes({ input: { mfaUserId: e.mfaUserId, count: 3, expiresInMinutes: 60 } }))
        .createMfaBypassCodes;
      expect(made.errors).toEqual([]);
      expect(made.codes).toHaveLength(3);
      for (const c of made.codes!) expect(c).toMatch(/^\d{5}-\d{5}$/);
      expect(new Set(made.codes).size).toBe(3);

      const [first, second, third] = made.codes!;
      const byCode = async (bypassCode: string) => (await admin.verifyMfa({ input: { user: 'bob', bypassCode } })).verifyMfa;
      expect(await byCode(first!)).toMatchObject({ result: 'VERIFIED', deviceId: null });
      expect((await byCode(first!)).result).toBe('REJECTED');
      expect((await byCode(second!.replace('-', ''))).result).toBe('VERIFIED');
      const page = (await admin.mfaUserVerifications({ id: e.mfaUserId })).node;
      if (page?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect(page.verifications.nodes.map((n) => [n.method, n.result])).toEqual([
        ['BYPASS_CODE', 'VERIFIED'],
        ['BYPASS_CODE', 'REJECTED'],
        ['BYPASS_CODE', 'VERIFIED'],
      ]);

      // A disabled device does not stop a bypass code (that is what they are for).
      await admin.disableMfaDevice({ input: { deviceId: e.deviceId } });
      const reset = (await admin.resetMfaFactors({ input: { mfaUserId: e.mfaUserId } })).resetMfaFactors;
      expect(reset.errors).toEqual([]);
      expect(reset).toMatchObject({ devicesRemoved: 1, enrollmentEmailSent: true, mfaUser: { status: 'UNENROLLED', devices: [] } });
      expect((await byCode(third!)).result).toBe('REJECTED');
      // The old link is void; the new email's link enrols a new app.
      expect(codes((await clientFor().beginTotpEnrollment({ input: { token: e.token } })).beginTotpEnrollment.errors)).toEqual([
        'TOKEN_USED',
      ]);
      const token = tokenOf(await waitForMailLink(ts, e.email, 2));
      const anon = clientFor();
      const key = base32Decode((await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment.secret!);
      expect((await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, stepOf()) } })).confirmTotpEnrollment.success).toBe(true);
      expect((await admin.mfaUsers({ filter: { search: 'bob' } })).mfaUsers.nodes[0]!.status).toBe('ACTIVE');
    },
  );

  test.concurrent(
    'roster mfa: disable, enable, bypass codes, verify, reset through the CLI',
    async ({ server: ts, tenant: t, admin, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'cli');
      const env = { ROSTER_URL: ts.url, ROSTER_TOKEN: t.token };
      const cli = async (...args: string[]) => {
        const run = spawnNode('client/dist/cli.js', ['mfa', ...args, '--json'], env);
        const code = await run.exited;
        return { code, out: run.stdout(), err: run.stderr() };
      };
      expect(JSON.parse((await cli('disable', e.deviceId)).out)).toMatchObject({ status: 'DEVICES_DISABLED' });
      expect(JSON.parse((await cli('enable', e.deviceId)).out)).toMatchObject({ status: 'ACTIVE' });
      const codes = JSON.parse((await cli('bypass-codes', 'cli', '--count', '2')).out) as { codes: string[] };
      expect(codes.codes).toHaveLength(2);
      const ok = await cli('verify', 'cli', '--bypass-code', codes.codes[0]!);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ result: 'VERIFIED' });
      expect((await cli('verify', 'cli', '--bypass-code', codes.codes[0]!)).code).toBe(1);
      expect(JSON.parse((await cli('reset', 'cli')).out)).toMatchObject({ devicesRemoved: 1, enrollmentEmailSent: true });
      const bad = await cli('disable', e.deviceId);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/NOT_FOUND/);
    },
    // Seven CLI processes, each a node start-up: slow on a loaded machine.
    400_000,
  );
});
