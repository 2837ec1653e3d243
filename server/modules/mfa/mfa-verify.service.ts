import { DomainError, ErrorCode } from '../../shared/errors.js';
import { fromGlobalId } from '../../shared/ids.js';
import { hashToken } from '../../shared/tokens.js';
import type { SecretBox } from '../../shared/secret-key.js';
import type { SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import { totpContext } from './mfa-enrollment.service.js';
import type { FactorDevice, MfaFactorStore } from './mfa-factor.store.js';
import type { MfaWebauthnService } from './mfa-webauthn.service.js';
import { isTotpCode, matchTotp } from './totp.js';

export type VerificationResult = 'VERIFIED' | 'REJECTED' | 'LOCKED';
export type VerificationMethod = 'TOTP' | 'WEBAUTHN' | 'BYPASS_CODE';

export interface VerifyInput {
  /** Global id, username or email of the MFA user. */
  user: string;
  /** Optional: the one device (uuid) whose code this is. */
  deviceId?: string | null;
  code?: string | null;
  bypassCode?: string | null;
  /** A WebAuthn assertion (the browser's JSON) answering a challenge from `authenticationOptions`. */
  webauthnResponse?: string | null;
}

export interface VerifyOutcome {
  result: VerificationResult;
  mfaUserId: string;
  deviceId: string | null;
  method: VerificationMethod;
  /** Seconds until the user's factor can be verified again; set while (or once this attempt made it) locked. */
  retryAfter: number | null;
}

/** The limiter subject of a user's second factor (one per user, whatever the device). */
export const factorSubject = (mfaUserId: string) => `mfa-verify:${mfaUserId}`;

/** Bypass codes are stored as this digest; the code is normalised first so `1234-5678-90` works too. */
export const hashBypassCode = (code: string) => hashToken(`mfa-bypass:${code.replace(/[\s-]/g, '')}`);

/**
 * `verifyMfa`: a relying service (or an admin, or the portal's second-factor page) asks whether
 * a user's code is right. Outcomes are data (VERIFIED, REJECTED, LOCKED) and each is recorded;
 * a request that cannot be an attempt (no such user, a suspended user, a disabled device, a
 * malformed code) is a typed error and changes nothing.
 *
 * The lock counts per MFA user before the code is checked (codes are guessable, so a parallel
 * burst cannot slip past a stale count): `MFA_VERIFY_MAX_FAILURES` wrong attempts within
 * `MFA_VERIFY_LOCK_MINUTES` lock the factor for as long, and a right one resets the count.
 */
export class MfaVerifyService {
  constructor(
    private readonly store: MfaFactorStore,
    private readonly limits: SignInLimitService,
    private readonly box: SecretBox,
    private readonly webauthn: MfaWebauthnService,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(scope: { tenantId: string }, input: VerifyInput): Promise<VerifyOutcome> {
    const given = [input.code, input.bypassCode, input.webauthnResponse].filter((v) => v !== null && v !== undefined && v !== '');
    if (given.length !== 1)
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give exactly one of code, bypassCode or webauthnResponse.', ['input']);
    const code = input.code?.replace(/\s+/g, '') ?? null;
    if (code !== null && !isTotpCode(code)) throw DomainError.of(ErrorCode.INVALID_INPUT, 'A code is 6 digits.', ['input', 'code']);
    if (input.bypassCode && !/^[0-9\s-]{10,20}$/.test(input.bypassCode))
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'A bypass code is 10 digits.', ['input', 'bypassCode']);

    const u = await this.userOf(scope, input.user);

    const method: VerificationMethod = code !== null ? 'TOTP' : input.webauthnResponse ? 'WEBAUTHN' : 'BYPASS_CODE';
    let candidates: FactorDevice[] = [];
    if (code !== null) candidates = this.totpCandidates(await this.store.factorDevices(u.id), input.deviceId ?? null);
    const assertion = input.webauthnResponse ? await this.webauthn.deviceOf(u.id, input.webauthnResponse) : null;

    const subject = factorSubject(u.id);
    const admission = await this.limits.admitFactor(subject, scope.tenantId);
    const finish = async (result: VerificationResult, deviceId: string | null, retryAfter: number | null): Promise<VerifyOutcome> => {
      await this.store.recordVerification({ tenantId: scope.tenantId, mfaUserId: u.id, deviceId, method, result });
      return { result, mfaUserId: u.id, deviceId, method, retryAfter };
    };
    const named = assertion?.deviceId ?? input.deviceId ?? null;
    if (!admission.allowed) return finish('LOCKED', named, admission.retryAfter);

    let verified: { deviceId: string | null } | null = null;
    if (code !== null) {
      const nowMs = this.now();
      for (const d of candidates) {
        const secret = this.box.open(Buffer.from(d.secretSealed!, 'base64'), totpContext(d.id)).toString('utf8');
        const step = matchTotp(secret, code, nowMs, d.lastUsedStep);
        // The conditional UPDATE decides a race between two requests with the same code: one wins.
        if (step !== null && (await this.store.acceptStep(d.id, step))) {
          verified = { deviceId: d.id };
          break;
        }
      }
    } else if (assertion) {
      const deviceId = await this.webauthn.checkAssertion(u.id, assertion.response);
      if (deviceId) verified = { deviceId };
    } else if (await this.store.useBypassCode(u.id, hashBypassCode(input.bypassCode!))) {
      verified = { deviceId: null };
    }

    if (verified) {
      await this.limits.clear(subject);
      return finish('VERIFIED', verified.deviceId, null);
    }
    return finish('REJECTED', named, admission.retryAfter);
  }

  /** WebAuthn request options for a user named by id, username or email (the challenge is stored for `verify`). */
  async authenticationOptions(scope: { tenantId: string }, user: string): Promise<{ optionsJson: string }> {
    const u = await this.userOf(scope, user);
    return this.webauthn.authenticationOptions(scope, u.id);
  }

  private async userOf(scope: { tenantId: string }, user: string) {
    const ref = user.trim();
    const u = await this.store.findUser(scope.tenantId, { id: fromGlobalId(ref, 'MfaUser'), name: ref });
    if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA user (by id, username or email).', ['input', 'user']);
    if (u.suspendedAt)
      throw DomainError.of(ErrorCode.INVALID_STATE, 'This MFA user is suspended by its source (PROVISIONING_DISABLED).', ['input', 'user']);
    return u;
  }

  /** The ACTIVE TOTP devices a code may belong to; a disabled or foreign device is an error, not an attempt. */
  private totpCandidates(devices: FactorDevice[], deviceId: string | null): FactorDevice[] {
    const totp = devices.filter((d) => d.kind === 'TOTP' && d.secretSealed);
    if (deviceId) {
      const d = devices.find((x) => x.id === deviceId);
      if (!d) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such device of this MFA user.', ['input', 'deviceId']);
      if (d.status !== 'ACTIVE') throw DomainError.of(ErrorCode.INVALID_STATE, 'This device is disabled.', ['input', 'deviceId']);
      if (!totp.includes(d)) throw DomainError.of(ErrorCode.INVALID_INPUT, 'This device does not produce codes.', ['input', 'deviceId']);
      return [d];
    }
    const active = totp.filter((d) => d.status === 'ACTIVE');
    if (!active.length)
      throw DomainError.of(
        ErrorCode.INVALID_STATE,
        totp.length ? 'Every TOTP device of this MFA user is disabled.' : 'This MFA user has no TOTP device enrolled.',
        ['input', 'user'],
      );
    return active;
  }
}
