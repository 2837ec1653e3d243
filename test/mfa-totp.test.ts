import { sql } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { matchTotp, totpCodeAt, totpStep } from '../server/modules/mfa/totp.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { queryRows } from '../server/shared/db.js';
import { rosterTest } from './support/fixtures.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { base32Decode, enrolTotpUser, hotp, stepOf, wrongCode } from './support/mfa-api.js';

const test = rosterTest();
// Each test waits for enrolment emails; on a loaded machine that takes a while.
vi.setConfig({ testTimeout: 180_000 });
const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

// RFC 6238 Appendix B, SHA-1 rows: the key is the ASCII "12345678901234567890".
const RFC_KEY = Buffer.from('12345678901234567890', 'ascii');
const RFC_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [number, string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP (RFC 6238)', () => {
  it('the test generator reproduces the RFC 6238 SHA-1 vectors (8 digits)', () => {
    expect(base32Decode(RFC_BASE32)).toEqual(RFC_KEY);
    for (const [t, code] of RFC_VECTORS) expect(hotp(RFC_KEY, Math.floor(t / 30), 8)).toBe(code);
  });

  it("the server's codes are the vectors' last 6 digits, and match only within ±1 step, after the last used step", () => {
    for (const [t, code] of RFC_VECTORS) {
      expect(totpCodeAt(RFC_BASE32, totpStep(t * 1000))).toBe(code.slice(2));
      expect(matchTotp(RFC_BASE32, code.slice(2), t * 1000, null)).toBe(Math.floor(t / 30));
      // One step either side is accepted; two are not.
      expect(matchTotp(RFC_BASE32, code.slice(2), t * 1000 + 30_000, null)).toBe(Math.floor(t / 30));
      expect(matchTotp(RFC_BASE32, code.slice(2), t * 1000 - 30_000, null)).toBe(Math.floor(t / 30));
      expect(matchTotp(RFC_BASE32, code.slice(2), t * 1000 + 60_000, null)).toBeNull();
      // Replay: the step was used (or a later one).
      expect(matchTotp(RFC_BASE32, code.slice(2), t * 1000, Math.floor(t / 30))).toBeNull();
    }
    expect(matchTotp(RFC_BASE32, '28708', 59_000, null)).toBeNull();
    expect(matchTotp(RFC_BASE32, 'abcdef', 59_000, null)).toBeNull();
  });
});

describe('TOTP enrolment', () => {
  test.concurrent(
    'begin hands out a URI and QR code; the device is ACTIVE only after a right code; the secret is sealed and never returned again',
    async ({ server: ts, admin, clientFor }) => {
      const anon = clientFor();
      const u = (await admin.createMfaUser({ input: { username: 'tia', email: 'tia@mfa.test', sendEnrollmentEmail: true } })).createMfaUser
        .mfaUser!;
      const token = tokenOf(await waitForMailLink(ts, 'tia@mfa.test'));
      const begun = (await anon.beginTotpEnrollment({ input: { token, deviceName: 'Pixel' } })).beginTotpEnrollment;
      expect(begun.errors).toEqual([]);
      const uri = new URL(begun.otpauthUri!);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toMatch(/:tia$/);
      expect(uri.searchParams.get('algorithm')).toBe('SHA1');
      expect(uri.searchParams.get('digits')).toBe('6');
      expect(uri.searchParams.get('period')).toBe('30');
      const secret = uri.searchParams.get('secret')!;
      expect(begun.secret).toBe(secret);
      expect(base32Decode(secret)).toHaveLength(20);
      const png = Buffer.from(begun.qrCodeDataUrl!.replace(/^data:image\/png;base64,/, ''), 'base64');
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

      // Begun is not enrolled.
      const before = (await admin.mfaUsers({ filter: { search: 'tia' } })).mfaUsers.nodes[0]!;
      expect(before.status).toBe('UNENROLLED');
      expect(before.devices).toEqual([]);

      // Sealed at rest: the stored value is neither the secret nor its bytes.
      const [row] = await queryRows<{ secret_sealed: string }>(
        ts.database.db,
        sql`select secret_sealed from mfa_devices where mfa_user_id = ${fromGlobalId(u.id, 'MfaUser')}::uuid`,
      );
      expect(row!.secret_sealed).not.toContain(secret);
      expect(Buffer.from(row!.secret_sealed, 'base64').includes(base32Decode(secret))).toBe(false);
      expect(Buffer.from(row!.secret_sealed, 'base64').includes(Buffer.from(secret))).toBe(false);

      const key = base32Decode(secret);
      const wrong = (await anon.confirmTotpEnrollment({ input: { token, code: wrongCode(key) } })).confirmTotpEnrollment;
      expect(wrong.success).toBe(false);
      expect(codes(wrong.errors)).toEqual(['CODE_INVALID']);
      expect(codes((await anon.confirmTotpEnrollment({ input: { token, code: '12ab56' } })).confirmTotpEnrollment.errors)).toEqual([
        'INVALID_INPUT',
      ]);
      expect((await admin.mfaUsers({ filter: { search: 'tia' } })).mfaUsers.nodes[0]!.status).toBe('UNENROLLED');

      const ok = (await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, stepOf()) } })).confirmTotpEnrollment;
      expect(ok.errors).toEqual([]);
      expect(ok.success).toBe(true);
      const after = (await admin.mfaUsers({ filter: { search: 'tia' } })).mfaUsers.nodes[0]!;
      expect(after.status).toBe('ACTIVE');
      expect(after.devices.map((d) => [d.id, d.name, d.kind, d.status])).toEqual([[ok.deviceId, 'Pixel', 'TOTP', 'ACTIVE']]);
      expect(after.devices[0]!.lastUsedAt).not.toBeNull();
      // Nothing in the API returns the secret after enrolment.
      expect(JSON.stringify(after)).not.toContain(secret);

      // The link is used up: neither step works again.
      expect(
        codes((await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, stepOf()) } })).confirmTotpEnrollment.errors),
      ).toEqual(['TOKEN_USED']);
      expect(codes((await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment.errors)).toEqual(['TOKEN_USED']);
    },
  );

  test.concurrent(
    'bad links: unknown, expired, not begun; a second begin replaces the first secret',
    async ({ server: ts, admin, clientFor }) => {
      const anon = clientFor();
      expect(codes((await anon.beginTotpEnrollment({ input: { token: 'mfa_' + 'x'.repeat(43) } })).beginTotpEnrollment.errors)).toEqual([
        'TOKEN_INVALID',
      ]);
      expect(codes((await anon.confirmTotpEnrollment({ input: { token: 'nope', code: '123456' } })).confirmTotpEnrollment.errors)).toEqual([
        'TOKEN_INVALID',
      ]);

      const u = (await admin.createMfaUser({ input: { username: 'exp', email: 'exp@mfa.test', sendEnrollmentEmail: true } })).createMfaUser
        .mfaUser!;
      const token = tokenOf(await waitForMailLink(ts, 'exp@mfa.test'));
      expect(codes((await anon.confirmTotpEnrollment({ input: { token, code: '123456' } })).confirmTotpEnrollment.errors)).toEqual([
        'INVALID_STATE',
      ]);
      const first = (await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment;
      const second = (await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment;
      expect(second.secret).not.toBe(first.secret);
      const firstKey = base32Decode(first.secret!);
      const secondKey = base32Decode(second.secret!);
      // The first secret is void.
      if (hotp(firstKey, stepOf()) !== hotp(secondKey, stepOf()))
        expect(
          codes((await anon.confirmTotpEnrollment({ input: { token, code: hotp(firstKey, stepOf()) } })).confirmTotpEnrollment.errors),
        ).toEqual(['CODE_INVALID']);

      await ts.database.db.execute(
        sql`update mfa_enrollment_tokens set expires_at = now() - interval '1 second' where mfa_user_id = ${fromGlobalId(u.id, 'MfaUser')}::uuid`,
      );
      expect(
        codes((await anon.confirmTotpEnrollment({ input: { token, code: hotp(secondKey, stepOf()) } })).confirmTotpEnrollment.errors),
      ).toEqual(['TOKEN_EXPIRED']);
      expect(codes((await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment.errors)).toEqual(['TOKEN_EXPIRED']);
      expect((await admin.mfaUsers({ filter: { search: 'exp' } })).mfaUsers.nodes[0]!.status).toBe('UNENROLLED');
    },
  );

  test.concurrent('wrong codes count against the link: the sign-in limits lock it', async ({ server: ts, admin, clientFor }) => {
    const anon = clientFor();
    await admin.createMfaUser({ input: { username: 'guess', email: 'guess@mfa.test', sendEnrollmentEmail: true } });
    const token = tokenOf(await waitForMailLink(ts, 'guess@mfa.test'));
    const key = base32Decode((await anon.beginTotpEnrollment({ input: { token } })).beginTotpEnrollment.secret!);
    let last: { code: string; retryAfter?: number | null }[] = [];
    for (let i = 0; i < 4; i++)
      last = (await anon.confirmTotpEnrollment({ input: { token, code: wrongCode(key) } })).confirmTotpEnrollment.errors;
    // The fourth failure (over SIGN_IN_DELAY_AFTER = 3) delays the next attempt.
    expect(last[0]!.code).toBe('CODE_INVALID');
    expect(last[0]!.retryAfter).toBeGreaterThan(0);
    const refused = (await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, stepOf()) } })).confirmTotpEnrollment;
    expect(refused.success).toBe(false);
    expect(refused.errors[0]!.retryAfter).toBeGreaterThan(0);
  });
});

describe('verifyMfa with TOTP', () => {
  test.concurrent(
    'a fresh code verifies once; reused, old and wrong codes are REJECTED; every attempt is recorded',
    async ({ server: ts, admin, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'vic');
      const verify = async (code: string, user = 'vic') => (await admin.verifyMfa({ input: { user, code } })).verifyMfa;
      // The enrolment code is used: not accepted again.
      expect((await verify(hotp(e.key, e.step))).result).toBe('REJECTED');
      const next = hotp(e.key, e.step + 1);
      const v = await verify(next, 'VIC@mfa.test');
      expect(v.errors).toEqual([]);
      expect(v).toMatchObject({ result: 'VERIFIED', mfaUserId: e.mfaUserId, deviceId: e.deviceId });
      expect((await verify(next, e.mfaUserId)).result).toBe('REJECTED');
      // Older than the accepted step, though within the window.
      expect((await verify(hotp(e.key, e.step))).result).toBe('REJECTED');
      expect((await verify(hotp(e.key, stepOf() - 3))).result).toBe('REJECTED');

      const page = (await admin.mfaUserVerifications({ id: e.mfaUserId, first: 10 })).node;
      if (page?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect(page.verifications.totalCount).toBe(5);
      expect(page.verifications.nodes.map((n) => n.result)).toEqual(['REJECTED', 'REJECTED', 'REJECTED', 'VERIFIED', 'REJECTED']);
      expect(page.verifications.nodes[3]).toMatchObject({ method: 'TOTP', deviceId: e.deviceId });
      const p2 = (await admin.mfaUserVerifications({ id: e.mfaUserId, first: 2, after: null })).node;
      if (p2?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      const rest = (await admin.mfaUserVerifications({ id: e.mfaUserId, first: 10, after: p2.verifications.pageInfo.endCursor })).node;
      if (rest?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect([...p2.verifications.nodes, ...rest.verifications.nodes].map((n) => n.id)).toEqual(page.verifications.nodes.map((n) => n.id));
    },
  );

  test.concurrent(
    'five failures lock the factor; a right code is then LOCKED; the lock shows and unlockMfaUser clears it',
    async ({ server: ts, admin, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'lou');
      const verify = async (code: string) => (await admin.verifyMfa({ input: { user: 'lou', code } })).verifyMfa;
      for (let i = 1; i <= 4; i++) expect(await verify(wrongCode(e.key))).toMatchObject({ result: 'REJECTED', retryAfter: null });
      const fifth = await verify(wrongCode(e.key));
      expect(fifth.result).toBe('REJECTED');
      expect(fifth.retryAfter).toBeGreaterThan(800);
      const locked = await verify(hotp(e.key, e.step + 1));
      expect(locked.result).toBe('LOCKED');
      expect(locked.retryAfter).toBeGreaterThan(0);
      const u = (await admin.mfaUsers({ filter: { search: 'lou' } })).mfaUsers.nodes[0]!;
      expect(u.failedVerifications).toBe(5);
      expect(u.verificationLockedUntil).not.toBeNull();

      const unlocked = (await admin.unlockMfaUser({ input: { mfaUserId: e.mfaUserId } })).unlockMfaUser;
      expect(unlocked.errors).toEqual([]);
      expect(unlocked.mfaUser).toMatchObject({ failedVerifications: 0, verificationLockedUntil: null });
      // The LOCKED attempt did not use the code.
      expect((await verify(hotp(e.key, e.step + 1))).result).toBe('VERIFIED');
    },
  );

  test.concurrent(
    'bad input is a typed error and no attempt: unknown user, malformed code, two factors, another tenant',
    async ({ server: ts, admin, tenant, clientFor }) => {
      const e = await enrolTotpUser(ts, admin, clientFor(), 'bea');
      const v = async (input: Parameters<typeof admin.verifyMfa>[0]['input']) => (await admin.verifyMfa({ input })).verifyMfa;
      expect(codes((await v({ user: 'nobody', code: '123456' })).errors)).toEqual(['NOT_FOUND']);
      expect(codes((await v({ user: 'bea', code: '12345' })).errors)).toEqual(['INVALID_INPUT']);
      expect(codes((await v({ user: 'bea' })).errors)).toEqual(['INVALID_INPUT']);
      expect(codes((await v({ user: 'bea', code: '123456', bypassCode: '1234567890' })).errors)).toEqual(['INVALID_INPUT']);
      const { seedTenant } = await import('./support/harness.js');
      const other = await seedTenant(ts);
      const otherAdmin = clientFor(other.token);
      expect(codes((await otherAdmin.verifyMfa({ input: { user: e.mfaUserId, code: hotp(e.key, e.step + 1) } })).verifyMfa.errors)).toEqual(
        ['NOT_FOUND'],
      );
      expect(codes((await otherAdmin.verifyMfa({ input: { user: 'bea', code: hotp(e.key, e.step + 1) } })).verifyMfa.errors)).toEqual([
        'NOT_FOUND',
      ]);
      // Another user's device.
      const f = await enrolTotpUser(ts, admin, clientFor(), 'fay');
      expect(codes((await v({ user: 'bea', deviceId: f.deviceId, code: hotp(f.key, f.step + 1) })).errors)).toEqual(['NOT_FOUND']);
      const page = (await admin.mfaUserVerifications({ id: e.mfaUserId })).node;
      if (page?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect(page.verifications.totalCount).toBe(0);
      expect(tenant.token).toBeTruthy();
      // The code was not used by any of those.
      expect((await v({ user: 'bea', code: hotp(e.key, e.step + 1) })).result).toBe('VERIFIED');
    },
  );

  test.concurrent('concurrent verifications of one code: exactly one VERIFIED', async ({ server: ts, admin, clientFor }) => {
    const e = await enrolTotpUser(ts, admin, clientFor(), 'rac');
    const code = hotp(e.key, e.step + 1);
    const results = await Promise.all(
      Array.from({ length: 4 }, async () => (await admin.verifyMfa({ input: { user: 'rac', code } })).verifyMfa.result),
    );
    expect(results.filter((r) => r === 'VERIFIED')).toHaveLength(1);
  });
});
