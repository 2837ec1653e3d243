import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { RequestClient } from '../../shared/client.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, type UserError } from '../../shared/errors.js';
import { checkName } from '../../shared/validation.js';
import type { MfaFactorStore } from './mfa-factor.store.js';
import type { MfaWebauthnStore } from './mfa-webauthn.store.js';
import { MAX_DEVICES_PER_USER, type MfaService } from './mfa.service.js';

export interface WebauthnConfig {
  rpId: string;
  rpName: string;
  /** Origins a response may come from (the portal's). */
  origins: () => string[];
  challengeTtlMs: number;
}

const CHALLENGE_TTL_MS = 5 * 60_000;
export const defaultChallengeTtlMs = CHALLENGE_TTL_MS;

function parseJson<T>(text: string, field: string): T {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object') return v as T;
  } catch {
    // reported below
  }
  throw DomainError.of(ErrorCode.INVALID_INPUT, 'Not a WebAuthn response (JSON, as the browser API returns it).', ['input', field]);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/**
 * Security keys and passkeys (WebAuthn, `@simplewebauthn/server`). Registration from an
 * enrolment link (options, then the browser's response), authentication options for a user,
 * and the assertion check `verifyMfa` uses. Challenges are stored server-side, single-use and
 * expiring; the signature counter must move forward.
 */
export class MfaWebauthnService {
  constructor(
    private readonly db: Db,
    private readonly mfa: MfaService,
    private readonly factors: MfaFactorStore,
    private readonly store: MfaWebauthnStore,
    private readonly config: WebauthnConfig,
  ) {}

  /** Creation options for `navigator.credentials.create` (as JSON), for the link's user. */
  async beginRegistration(client: RequestClient, input: { token: string; deviceName?: string | null }): Promise<{ optionsJson: string }> {
    const errors: UserError[] = [];
    const deviceName = checkName(input.deviceName ?? 'Security key', 'Device name', ['input', 'deviceName'], errors);
    if (errors.length) throw new DomainError(errors);
    const t = await this.mfa.redeemToken(client, input.token, async (found) => ({ ok: true, value: found }));
    if ((await this.factors.deviceCount(t.mfaUserId)) >= MAX_DEVICES_PER_USER)
      throw DomainError.of(ErrorCode.INVALID_STATE, `At most ${MAX_DEVICES_PER_USER} devices per user.`);
    const existing = await this.store.credentialsOf(t.mfaUserId);
    const options = await generateRegistrationOptions({
      rpName: this.config.rpName,
      rpID: this.config.rpId,
      userName: t.username,
      userID: new TextEncoder().encode(t.mfaUserId),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.credentialId })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.store.insertChallenge({
      tenantId: t.tenantId,
      mfaUserId: t.mfaUserId,
      purpose: 'REGISTER',
      challenge: options.challenge,
      enrollmentTokenId: t.id,
      deviceName,
      expiresAt: new Date(Date.now() + this.config.challengeTtlMs),
    });
    return { optionsJson: JSON.stringify(options) };
  }

  /** Checks the browser's registration response against the link's newest challenge; right → an ACTIVE WEBAUTHN device. */
  async finishRegistration(
    client: RequestClient,
    input: { token: string; response: string },
  ): Promise<{ mfaUserId: string; deviceId: string }> {
    const response = parseJson<RegistrationResponseJSON>(input.response, 'response');
    const { t, challenge, info } = await this.mfa.redeemToken(client, input.token, async (t) => {
      const challenge = await this.store.registrationChallenge(t.id);
      if (!challenge)
        throw DomainError.of(ErrorCode.INVALID_STATE, 'Start the registration first (or again: its challenge expired).', [
          'input',
          'token',
        ]);
      const v = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.config.origins(),
        expectedRPID: this.config.rpId,
        requireUserVerification: false,
      }).catch(() => ({ verified: false as const }));
      if (!v.verified)
        return {
          ok: false,
          refusal: { code: ErrorCode.CODE_INVALID, message: 'The security key response does not verify.', field: ['input', 'response'] },
        };
      return { ok: true, value: { t, challenge, info: v.registrationInfo } };
    });
    const deviceId = await this.db.transaction(async (tx) => {
      const r = await this.store.register(
        t,
        challenge.id,
        {
          name: challenge.deviceName ?? 'Security key',
          credentialId: info.credential.id,
          publicKey: b64url(info.credential.publicKey),
          signCount: info.credential.counter,
        },
        MAX_DEVICES_PER_USER,
        (x) => this.factors.deviceCount(t.mfaUserId, x),
        tx,
      );
      if (r.outcome === 'USED')
        throw DomainError.of(ErrorCode.TOKEN_USED, 'This enrolment link or its challenge was already used.', ['input', 'token']);
      if (r.outcome !== 'OK') throw DomainError.of(ErrorCode.INVALID_STATE, `At most ${MAX_DEVICES_PER_USER} devices per user.`);
      await this.factors.refreshStatus(t.mfaUserId, tx);
      await this.mfa.recordEnrolled(tx, client, t, { id: r.deviceId, name: challenge.deviceName ?? 'Security key', kind: 'WEBAUTHN' });
      return r.deviceId;
    });
    return { mfaUserId: t.mfaUserId, deviceId };
  }

  /** Request options for `navigator.credentials.get` (as JSON) for a user's ACTIVE security keys. */
  async authenticationOptions(scope: { tenantId: string }, mfaUserId: string): Promise<{ optionsJson: string }> {
    const creds = (await this.store.credentialsOf(mfaUserId)).filter((c) => c.status === 'ACTIVE');
    if (!creds.length) throw DomainError.of(ErrorCode.INVALID_STATE, 'This MFA user has no enabled security key.', ['input', 'user']);
    const options = await generateAuthenticationOptions({
      rpID: this.config.rpId,
      allowCredentials: creds.map((c) => ({ id: c.credentialId })),
      userVerification: 'preferred',
    });
    await this.store.insertChallenge({
      tenantId: scope.tenantId,
      mfaUserId,
      purpose: 'AUTHENTICATE',
      challenge: options.challenge,
      expiresAt: new Date(Date.now() + this.config.challengeTtlMs),
    });
    return { optionsJson: JSON.stringify(options) };
  }

  /**
   * The device a response claims to come from, before any attempt is counted: a malformed
   * response or a disabled key is a typed error; a credential that is not this user's is no
   * device (the attempt is then REJECTED).
   */
  async deviceOf(mfaUserId: string, responseJson: string): Promise<{ response: AuthenticationResponseJSON; deviceId: string | null }> {
    const response = parseJson<AuthenticationResponseJSON>(responseJson, 'webauthnResponse');
    if (typeof response.id !== 'string' || !response.response || typeof response.response.clientDataJSON !== 'string')
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Not a WebAuthn assertion.', ['input', 'webauthnResponse']);
    const d = (await this.store.credentialsOf(mfaUserId)).find((c) => c.credentialId === response.id);
    if (d && d.status !== 'ACTIVE')
      throw DomainError.of(ErrorCode.INVALID_STATE, 'This security key is disabled.', ['input', 'webauthnResponse']);
    return { response, deviceId: d?.id ?? null };
  }

  /** Checks an assertion: this user's challenge (used once), origin, RP id, signature, and a counter that moves forward. */
  async checkAssertion(mfaUserId: string, response: AuthenticationResponseJSON): Promise<string | null> {
    const d = (await this.store.credentialsOf(mfaUserId)).find((c) => c.credentialId === response.id && c.status === 'ACTIVE');
    if (!d) return null;
    let sent: string;
    try {
      sent = (JSON.parse(Buffer.from(response.response.clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown })
        .challenge as string;
    } catch {
      return null;
    }
    if (typeof sent !== 'string') return null;
    const challenge = await this.store.authenticationChallenge(mfaUserId, sent);
    if (!challenge) return null;
    const v = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: this.config.origins(),
      expectedRPID: this.config.rpId,
      credential: { id: d.credentialId, publicKey: Buffer.from(d.publicKey, 'base64url'), counter: d.signCount },
      requireUserVerification: false,
    }).catch(() => null);
    if (!v?.verified) return null;
    if (!(await this.store.useChallenge(challenge.id))) return null;
    return (await this.store.advanceCounter(d.id, d.signCount, v.authenticationInfo.newCounter)) ? d.id : null;
  }
}
