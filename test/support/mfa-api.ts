import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import type { RosterClient } from '../../client/src/index.js';
import { type TestServer } from './harness.js';
import { tokenOf, waitForMailLink } from './directory-api.js';

/**
 * An HOTP/TOTP generator written here from RFC 4226 §5.3 and RFC 6238 §4, independent of the
 * server's code (which uses the `otpauth` package): HMAC-SHA-1 of the 8-byte big-endian
 * counter, dynamic truncation, modulo 10^digits.
 */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', key).update(msg).digest();
  const o = h[h.length - 1]! & 0x0f;
  const bin = ((h[o]! & 0x7f) << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

export const stepOf = (ms = Date.now()) => Math.floor(ms / 30_000);

/** RFC 4648 base32 decoding (the secret in an otpauth URI). */
export function base32Decode(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A 6-digit code that is none of the codes within ±2 steps of now (a surely wrong code). */
export function wrongCode(key: Buffer): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => hotp(key, stepOf() + d)));
  for (let n = 0; ; n++) {
    const c = String(n).padStart(6, '0');
    if (!near.has(c)) return c;
  }
}

/**
 * A MANUAL MFA user with an email, enrolled with a TOTP app through the enrolment link (begin,
 * confirm with the current code). Returns the key the "app" holds and the step it used.
 */
export async function enrolTotpUser(ts: TestServer, admin: RosterClient, anon: RosterClient, username: string) {
  const email = `${username}@mfa.test`;
  const created = (await admin.createMfaUser({ input: { username, email, sendEnrollmentEmail: true } })).createMfaUser;
  expect(created.errors).toEqual([]);
  const token = tokenOf(await waitForMailLink(ts, email));
  const begun = (await anon.beginTotpEnrollment({ input: { token, deviceName: 'Phone' } })).beginTotpEnrollment;
  expect(begun.errors).toEqual([]);
  const key = base32Decode(new URL(begun.otpauthUri!).searchParams.get('secret')!);
  const step = stepOf();
  const confirmed = (await anon.confirmTotpEnrollment({ input: { token, code: hotp(key, step) } })).confirmTotpEnrollment;
  expect(confirmed.errors).toEqual([]);
  return { mfaUserId: created.mfaUser!.id, deviceId: confirmed.deviceId!, key, step, token, email, begun };
}
