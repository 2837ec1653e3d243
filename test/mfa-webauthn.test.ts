import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { describe, expect, vi } from 'vitest';
import type { RosterClient } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import type { TestServer } from './support/harness.js';

// Many refused assertions in a row: a higher lock threshold keeps LOCKED out of the way.
const test = rosterTest({ MFA_VERIFY_MAX_FAILURES: '20', WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: 'http://localhost:4000' });
vi.setConfig({ testTimeout: 180_000 });
const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

const RP_ID = 'localhost';
const ORIGIN = 'http://localhost:4000';
const b64url = (b: Buffer) => b.toString('base64url');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

/** The few CBOR items (RFC 8949) an attestation object needs: integers, byte and text strings, maps. */
function cbor(v: unknown): Buffer {
  const head = (major: number, n: number) =>
    n < 24
      ? Buffer.from([(major << 5) | n])
      : n < 256
        ? Buffer.from([(major << 5) | 24, n])
        : Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === 'string') return Buffer.concat([head(3, Buffer.byteLength(v)), Buffer.from(v)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new Error('unsupported');
}

/** A software authenticator: one ES256 credential, 'none' attestation, a signature counter. */
class SoftKey {
  readonly credentialId = randomBytes(16);
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  counter = 0;
  constructor() {
    ({ privateKey: this.privateKey, publicKey: this.publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  }

  private coseKey(): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return cbor(
      new Map<number, unknown>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  register(challenge: string, o: { origin?: string; rpId?: string } = {}): string {
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge, origin: o.origin ?? ORIGIN, crossOrigin: false }));
    const len = Buffer.from([this.credentialId.length >> 8, this.credentialId.length & 0xff]);
    const authData = Buffer.concat([
      sha256(o.rpId ?? RP_ID),
      Buffer.from([0x45]), // UP | UV | AT
      Buffer.alloc(4),
      Buffer.alloc(16), // AAGUID
      len,
      this.credentialId,
      this.coseKey(),
    ]);
    const attestationObject = cbor(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    return JSON.stringify({
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key',
      response: { clientDataJSON: b64url(clientData), attestationObject: b64url(attestationObject), transports: ['usb'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'cross-platform',
    });
  }

  /** An assertion; `counter` overrides the next counter value (to replay an old one). */
  assert(challenge: string, o: { origin?: string; counter?: number; as?: SoftKey } = {}): string {
    const counter = o.counter ?? ++this.counter;
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: o.origin ?? ORIGIN, crossOrigin: false }));
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const authData = Buffer.concat([sha256(RP_ID), Buffer.from([0x05]), c]);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), (o.as ?? this).privateKey);
    return JSON.stringify({
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: 'public-key',
      response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature) },
      clientExtensionResults: {},
    });
  }
}

async function linkFor(ts: TestServer, admin: RosterClient, username: string) {
  const email = `${username}@wa.test`;
  const r = (await admin.createMfaUser({ input: { username, email, sendEnrollmentEmail: true } })).createMfaUser;
  expect(r.errors).toEqual([]);
  return { mfaUserId: r.mfaUser!.id, token: tokenOf(await waitForMailLink(ts, email)) };
}

async function registerKey(ts: TestServer, admin: RosterClient, anon: RosterClient, username: string) {
  const { mfaUserId, token } = await linkFor(ts, admin, username);
  const begun = (await anon.beginWebAuthnRegistration({ input: { token, deviceName: 'YubiKey' } })).beginWebAuthnRegistration;
  expect(begun.errors).toEqual([]);
  const options = JSON.parse(begun.optionsJson!) as { challenge: string; rp: { id: string } };
  const key = new SoftKey();
  const done = (await anon.finishWebAuthnRegistration({ input: { token, response: key.register(options.challenge) } }))
    .finishWebAuthnRegistration;
  expect(done.errors).toEqual([]);
  return { mfaUserId, token, key, deviceId: done.deviceId! };
}

async function challengeFor(admin: RosterClient, user: string): Promise<string> {
  const r = (await admin.webAuthnAuthenticationOptions({ input: { user } })).webAuthnAuthenticationOptions;
  expect(r.errors).toEqual([]);
  return (JSON.parse(r.optionsJson!) as { challenge: string }).challenge;
}

describe('WebAuthn security keys', () => {
  test.concurrent(
    'registration: a right response makes an ACTIVE key; wrong challenge or origin is refused, nothing changed',
    async ({ server: ts, admin, clientFor }) => {
      const anon = clientFor();
      const { token } = await linkFor(ts, admin, 'reg');
      const begun = (await anon.beginWebAuthnRegistration({ input: { token } })).beginWebAuthnRegistration;
      const options = JSON.parse(begun.optionsJson!) as { challenge: string; rp: { id: string }; attestation: string };
      expect(options.rp.id).toBe(RP_ID);
      const key = new SoftKey();
      const finish = async (response: string) =>
        (await anon.finishWebAuthnRegistration({ input: { token, response } })).finishWebAuthnRegistration;
      expect(codes((await finish(key.register(b64url(randomBytes(32))))).errors)).toEqual(['CODE_INVALID']);
      expect(codes((await finish(key.register(options.challenge, { origin: 'https://evil.test' }))).errors)).toEqual(['CODE_INVALID']);
      expect(codes((await finish(key.register(options.challenge, { rpId: 'evil.test' }))).errors)).toEqual(['CODE_INVALID']);
      expect(codes((await finish('not json')).errors)).toEqual(['INVALID_INPUT']);
      expect((await admin.mfaUsers({ filter: { search: 'reg' } })).mfaUsers.nodes[0]).toMatchObject({ status: 'UNENROLLED', devices: [] });

      const ok = await finish(key.register(options.challenge));
      expect(ok.errors).toEqual([]);
      const u = (await admin.mfaUsers({ filter: { search: 'reg' } })).mfaUsers.nodes[0]!;
      expect(u.status).toBe('ACTIVE');
      expect(u.devices.map((d) => [d.id, d.kind, d.status])).toEqual([[ok.deviceId, 'WEBAUTHN', 'ACTIVE']]);
      // The link and the challenge are used.
      expect(codes((await finish(key.register(options.challenge))).errors)).toEqual(['TOKEN_USED']);
      expect(codes((await anon.beginWebAuthnRegistration({ input: { token } })).beginWebAuthnRegistration.errors)).toEqual(['TOKEN_USED']);
    },
  );

  test.concurrent(
    'verifyMfa with an assertion: VERIFIED once per challenge; replay, counter regression, wrong origin or challenge, another user’s key are REJECTED',
    async ({ server: ts, admin, clientFor }) => {
      const anon = clientFor();
      const a = await registerKey(ts, admin, anon, 'ann');
      const b = await registerKey(ts, admin, anon, 'ben');
      const verify = async (user: string, webauthnResponse: string) =>
        (await admin.verifyMfa({ input: { user, webauthnResponse } })).verifyMfa;

      let ch = await challengeFor(admin, 'ann');
      const first = a.key.assert(ch);
      expect(await verify('ann', first)).toMatchObject({ result: 'VERIFIED', deviceId: a.deviceId });
      // The same assertion again: its challenge is used.
      expect((await verify('ann', first)).result).toBe('REJECTED');

      ch = await challengeFor(admin, 'ann');
      expect((await verify('ann', a.key.assert(ch, { counter: 1 }))).result).toBe('REJECTED'); // counter did not move
      expect((await verify('ann', a.key.assert(ch, { origin: 'https://evil.test' }))).result).toBe('REJECTED');
      expect((await verify('ann', a.key.assert(b64url(randomBytes(32))))).result).toBe('REJECTED');
      // Ben's key answering Ann's challenge, and Ben's challenge answered by Ann's key for Ben.
      expect((await verify('ann', b.key.assert(ch))).result).toBe('REJECTED');
      const benCh = await challengeFor(admin, 'ben');
      expect((await verify('ben', a.key.assert(benCh))).result).toBe('REJECTED');
      // A signature by another key for Ann's credential.
      expect((await verify('ann', a.key.assert(ch, { as: b.key }))).result).toBe('REJECTED');
      // The challenge is still good for a right answer (none of the above used it).
      expect((await verify('ann', a.key.assert(ch))).result).toBe('VERIFIED');

      const list = (await admin.mfaUserVerifications({ id: a.mfaUserId })).node;
      if (list?.__typename !== 'MfaUser') throw new Error('not an MFA user');
      expect(list.verifications.nodes.every((n) => n.method === 'WEBAUTHN')).toBe(true);
      expect(list.verifications.nodes.filter((n) => n.result === 'VERIFIED')).toHaveLength(2);

      // A disabled key: a typed error, not an attempt.
      await admin.disableMfaDevice({ input: { deviceId: a.deviceId } });
      expect(codes((await verify('ann', a.key.assert(await challengeFor(admin, 'ben')))).errors)).toEqual(['INVALID_STATE']);
      expect(codes((await admin.webAuthnAuthenticationOptions({ input: { user: 'ann' } })).webAuthnAuthenticationOptions.errors)).toEqual([
        'INVALID_STATE',
      ]);
      expect(codes((await verify('ann', '{')).errors)).toEqual(['INVALID_INPUT']);
    },
  );
});
