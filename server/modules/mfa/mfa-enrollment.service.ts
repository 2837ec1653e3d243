import { randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import type { RequestClient } from '../../shared/client.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, type UserError } from '../../shared/errors.js';
import type { SecretBox } from '../../shared/secret-key.js';
import { checkName } from '../../shared/validation.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import type { MfaFactorStore } from './mfa-factor.store.js';
import { MAX_DEVICES_PER_USER, type MfaService } from './mfa.service.js';
import { isTotpCode, matchTotp, newTotpSecret, totpUri } from './totp.js';

/** The context a TOTP secret is sealed under: a sealed value copied to another device does not open. */
export const totpContext = (deviceId: string) => `totp:${deviceId}`;

export interface TotpEnrollmentStart {
  /** `otpauth://totp/<issuer>:<username>?secret=…` for authenticator apps. */
  otpauthUri: string;
  /** The same URI as a QR code, a `data:image/png;base64,…` URL. */
  qrCodeDataUrl: string;
  /** The base32 secret, for typing into an app that cannot scan (shown during enrolment only). */
  secret: string;
  username: string;
  deviceName: string;
}

/**
 * TOTP enrolment from an emailed enrolment link, in two steps, callable from GraphQL and from
 * the portal's pages alike (plain arguments, the request's client for the sign-in limits):
 * `beginTotp` hands out a fresh secret held on a PENDING device; `confirmTotp` makes that device
 * ACTIVE only after a correct code, using the link. The secret is sealed with the server key
 * before it is stored and is never returned again.
 */
export class MfaEnrollmentService {
  constructor(
    private readonly db: Db,
    private readonly mfa: MfaService,
    private readonly store: MfaFactorStore,
    private readonly tenants: TenantStore,
    private readonly box: SecretBox,
  ) {}

  async beginTotp(client: RequestClient, input: { token: string; deviceName?: string | null }): Promise<TotpEnrollmentStart> {
    const errors: UserError[] = [];
    const deviceName = checkName(input.deviceName ?? 'Authenticator app', 'Device name', ['input', 'deviceName'], errors);
    if (errors.length) throw new DomainError(errors);
    const t = await this.mfa.redeemToken(client, input.token, async (found) => ({ ok: true, value: found }));
    const secret = newTotpSecret();
    const deviceId = randomUUID();
    await this.db.transaction(async (tx) => {
      if ((await this.store.deviceCount(t.mfaUserId, tx)) >= MAX_DEVICES_PER_USER)
        throw DomainError.of(ErrorCode.INVALID_STATE, `At most ${MAX_DEVICES_PER_USER} devices per user.`);
      const secretSealed = this.box.seal(secret, totpContext(deviceId)).toString('base64');
      await this.store.replacePending(t, { id: deviceId, name: deviceName, secretSealed }, tx);
    });
    const issuer = (await this.tenants.byId(t.tenantId))?.name ?? 'Roster';
    const otpauthUri = totpUri({ issuer, label: t.username, secret });
    const qrCodeDataUrl = await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
    return { otpauthUri, qrCodeDataUrl, secret, username: t.username, deviceName };
  }

  /**
   * Checks the link and the code together: a wrong code counts against the link in the sign-in
   * limits (a 6-digit code is guessable, the link is not), a right one uses the link.
   */
  async confirmTotp(
    client: RequestClient,
    input: { token: string; code: string },
  ): Promise<{ username: string; mfaUserId: string; deviceId: string }> {
    const code = input.code.replace(/\s+/g, '');
    if (!isTotpCode(code)) throw DomainError.of(ErrorCode.INVALID_INPUT, 'A code is 6 digits.', ['input', 'code']);
    const now = Date.now();
    const { t, device, step } = await this.mfa.redeemToken(client, input.token, async (t) => {
      const device = await this.store.pendingOf(t.id);
      if (!device)
        throw DomainError.of(ErrorCode.INVALID_STATE, 'Start the enrolment first (beginTotpEnrollment) with this link.', [
          'input',
          'token',
        ]);
      const secret = this.box.open(Buffer.from(device.secretSealed, 'base64'), totpContext(device.id)).toString('utf8');
      const step = matchTotp(secret, code, now, null);
      if (step === null)
        return {
          ok: false,
          refusal: { code: ErrorCode.CODE_INVALID, message: 'The code is wrong or out of date.', field: ['input', 'code'] },
        };
      return { ok: true, value: { t, device, step } };
    });
    await this.db.transaction(async (tx) => {
      const outcome = await this.store.confirmPending(t, device.id, step, MAX_DEVICES_PER_USER, tx);
      if (outcome === 'USED')
        throw DomainError.of(ErrorCode.TOKEN_USED, 'This enrolment link was already used or has been replaced; ask for a new one.', [
          'input',
          'token',
        ]);
      if (outcome === 'TOO_MANY') throw DomainError.of(ErrorCode.INVALID_STATE, `At most ${MAX_DEVICES_PER_USER} devices per user.`);
      if (outcome === 'GONE')
        throw DomainError.of(ErrorCode.INVALID_STATE, 'This enrolment was restarted meanwhile; use the newest code.', ['input', 'code']);
      await this.mfa.recordEnrolled(tx, client, t, { id: device.id, name: null, kind: 'TOTP' });
    });
    return { username: t.username, mfaUserId: t.mfaUserId, deviceId: device.id };
  }
}
