import { endUserActor } from '../audit/audit.service.js';
import type { RequestClient } from '../../shared/client.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import type { MfaDeviceService } from './mfa-device.service.js';
import type { MfaFactorStore } from './mfa-factor.store.js';
import type { MfaVerifyService, VerifyOutcome } from './mfa-verify.service.js';
import type { MfaWebauthnService } from './mfa-webauthn.service.js';
import type { MfaService } from './mfa.service.js';
import type { MfaStore } from './mfa.store.js';

/** A directory user as the portal knows them: what maps them to an MFA user. */
export interface PortalUser {
  id: string;
  username: string | null;
  email: string | null;
}

/** The second factor a portal user must present at sign-in. */
export interface PortalFactor {
  mfaUserId: string;
  /** Suspended by its source (PROVISIONING_DISABLED): verification refuses it, so sign-in cannot finish. */
  suspended: boolean;
  totp: boolean;
  webauthn: boolean;
}

/** One of the user's own devices, as the account page lists it (never a secret). */
export interface PortalDevice {
  /** Global id (`MfaDevice`), what the page's remove form posts back. */
  id: string;
  name: string;
  kind: string;
  status: string;
  enrolledAt: Date;
  lastUsedAt: Date | null;
}

/** Who an enrolment link is for, or why it cannot be used. */
export type EnrollmentLinkView =
  | {
      state: 'OK';
      tenantName: string;
      username: string;
      email: string | null;
      firstName: string;
      lastName: string;
    }
  | { state: 'USED' | 'EXPIRED' | 'INVALID'; message: string };

/**
 * The end user's own factors, for the login portal: which MFA user a directory user is, the
 * second factor at sign-in (checked by `MfaVerifyService`, so its lock, replay and recording
 * rules apply unchanged), their devices on the account page, and what an enrolment link shows.
 * Enrolment itself is `MfaEnrollmentService` / `MfaWebauthnService`, called by the pages as by
 * GraphQL.
 */
export class MfaPortalService {
  constructor(
    private readonly mfa: MfaService,
    private readonly users: MfaStore,
    private readonly factors: MfaFactorStore,
    private readonly verifier: MfaVerifyService,
    private readonly devices: MfaDeviceService,
    private readonly webauthn: MfaWebauthnService,
  ) {}

  /**
   * The factor this user must present, or null: no MFA user, or none of its devices ACTIVE.
   * When only an email names the user and several MFA users have it, none can be chosen: if
   * any of them has an active device the sign-in is refused (INVALID_STATE) rather than let
   * through on the password alone.
   */
  async factorOf(tenantId: string, user: PortalUser): Promise<PortalFactor | null> {
    const { chosen: u, others } = await this.mfaUserOf(tenantId, user);
    if (!u && others.some((o) => o.activeKinds.length))
      throw DomainError.of(
        ErrorCode.INVALID_STATE,
        'Your account matches several users of the MFA directory, so its second factor cannot be chosen. Ask your administrator.',
      );
    if (!u || !u.activeKinds.length) return null;
    return {
      mfaUserId: u.id,
      suspended: u.suspended,
      totp: u.activeKinds.includes('TOTP'),
      webauthn: u.activeKinds.includes('WEBAUTHN'),
    };
  }

  /** One attempt through `verifyMfa`'s service: counted, locked after repeated failures, recorded. */
  verify(
    tenantId: string,
    mfaUserId: string,
    input: { code?: string | null; bypassCode?: string | null; webauthnResponse?: string | null },
  ): Promise<VerifyOutcome> {
    return this.verifier.verify({ tenantId }, { user: toGlobalId('MfaUser', mfaUserId), ...input });
  }

  /** `navigator.credentials.get` options for the user's security keys (a stored, single-use challenge). */
  authenticationOptions(tenantId: string, mfaUserId: string): Promise<{ optionsJson: string }> {
    return this.webauthn.authenticationOptions({ tenantId }, mfaUserId);
  }

  /** The user's devices (null: the user has no MFA user, so there is nothing to list). */
  async devicesOf(tenantId: string, user: PortalUser): Promise<PortalDevice[] | null> {
    const u = (await this.mfaUserOf(tenantId, user)).chosen;
    if (!u) return null;
    const rows = await this.users.devicesByUsers(tenantId, [u.id]);
    return rows.map((d) => ({
      id: toGlobalId('MfaDevice', d.id),
      name: d.name,
      kind: d.kind,
      status: d.status,
      enrolledAt: d.enrolledAt,
      lastUsedAt: d.lastUsedAt,
    }));
  }

  /** Removes one of the user's own devices (the administrators' rule, limited to this owner). */
  async removeDevice(tenantId: string, user: PortalUser, deviceGlobalId: string): Promise<void> {
    const u = (await this.mfaUserOf(tenantId, user)).chosen;
    if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA device.', ['deviceId']);
    await this.devices.removeDeviceOf(
      tenantId,
      idOrNoMatch(deviceGlobalId, 'MfaDevice'),
      u.id,
      endUserActor(user.id, user.username ?? user.email, null),
    );
  }

  /** The MFA user a portal user is (linked, else named, else the only one with the email), and the candidates otherwise. */
  private async mfaUserOf(tenantId: string, user: PortalUser) {
    const rows = await this.factors.candidatesOfDirectoryUser(tenantId, user);
    const first = rows[0];
    const chosen = first && (first.linked || first.named || rows.length === 1) ? first : null;
    return { chosen, others: chosen ? [] : rows };
  }

  /** Checks an enrolment link (behind the sign-in limits, like every use of it) and says who it is for. */
  async inspectLink(client: RequestClient, token: string): Promise<EnrollmentLinkView> {
    let t;
    try {
      t = await this.mfa.redeemToken(client, token, async (found) => ({ ok: true, value: found }));
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const e = err.errors[0]!;
      const state = e.code === ErrorCode.TOKEN_USED ? 'USED' : e.code === ErrorCode.TOKEN_EXPIRED ? 'EXPIRED' : 'INVALID';
      return { state, message: e.message };
    }
    const [u] = await this.users.byIds(t.tenantId, [t.mfaUserId]);
    if (!u) return { state: 'INVALID', message: 'This enrolment link is not valid.' };
    return {
      state: 'OK',
      tenantName: await this.mfa.tenantName(t.tenantId),
      username: u.username,
      email: u.email,
      firstName: u.firstName,
      lastName: u.lastName,
    };
  }
}
