import { randomInt } from 'node:crypto';
import type { Db } from '../../shared/db.js';
import { actorOf, type AuditService } from '../audit/audit.service.js';
import type { AuditActor } from '../audit/audit.types.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { keysetPage, sortValueAndIdKey, type ConnectionShape } from '../../shared/pagination.js';
import type { Viewer } from '../../shared/viewer.js';
import type { SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import type { MfaFactorStore } from './mfa-factor.store.js';
import type { VerificationRow } from './mfa-factor.types.js';
import { factorSubject, hashBypassCode } from './mfa-verify.service.js';
import type { MfaService } from './mfa.service.js';
import type { MfaStore } from './mfa.store.js';
import type { MfaUserRow } from './mfa.types.js';

export const MAX_BYPASS_CODES = 10;
export const MAX_BYPASS_MINUTES = 30 * 24 * 60;

/**
 * An administrator's device operations (the help-desk cases): disable, enable and remove a
 * device, reset a user's factors (everything removed, a new enrolment email), one-time bypass
 * codes, and the verification lock and history. Every operation is scoped to the viewer's
 * tenant: another tenant's id is "not found".
 */
/** An MFA user as an audit target (a device is named in the changes). */
function mfaUserTarget(u: MfaUserRow) {
  return { type: 'MfaUser', id: u.id, name: u.username };
}

export class MfaDeviceService {
  constructor(
    private readonly db: Db,
    private readonly mfa: MfaService,
    private readonly users: MfaStore,
    private readonly store: MfaFactorStore,
    private readonly limits: SignInLimitService,
    private readonly audit: AuditService,
  ) {}

  /** Disables or enables a device; a disabled device is kept but refused by verification. */
  async setDeviceStatus(viewer: Viewer, deviceId: string, status: 'ACTIVE' | 'DISABLED'): Promise<MfaUserRow> {
    return this.db.transaction(async (tx) => {
      const d = await this.store.lockDevice(viewer.tenantId, deviceId, tx);
      if (!d) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA device.', ['input', 'deviceId']);
      if (d.status !== status) {
        await this.store.setDeviceStatus(d.id, status, tx);
        await this.store.refreshStatus(d.mfaUserId, tx);
      }
      const u = (await this.users.lockUser(viewer.tenantId, d.mfaUserId, tx))!;
      if (d.status !== status)
        await this.audit.change(tx, viewer, status === 'ACTIVE' ? 'mfa.enable_device' : 'mfa.disable_device', mfaUserTarget(u), {
          [`device:${d.id}`]: { before: d.status, after: status },
        });
      return u;
    });
  }

  async removeDevice(viewer: Viewer, deviceId: string): Promise<MfaUserRow> {
    return this.removeDeviceOf(viewer.tenantId, deviceId, null, actorOf(viewer));
  }

  /**
   * Removes a device of the tenant; with `owner`, only a device of that MFA user (an end user
   * removing one of their own devices in the portal): anyone else's is "not found". `actor` is
   * who the audit trail names (the admin or token, or the end user).
   */
  async removeDeviceOf(tenantId: string, deviceId: string, owner: string | null, actor: AuditActor): Promise<MfaUserRow> {
    return this.db.transaction(async (tx) => {
      const d = await this.store.lockDevice(tenantId, deviceId, tx);
      if (!d || (owner !== null && d.mfaUserId !== owner))
        throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA device.', ['input', 'deviceId']);
      await this.store.deleteDevice(d.id, tx);
      await this.store.refreshStatus(d.mfaUserId, tx);
      const u = (await this.users.lockUser(tenantId, d.mfaUserId, tx))!;
      const t = mfaUserTarget(u);
      await this.audit.record(tx, tenantId, actor, {
        action: 'mfa.remove_device',
        targetType: t.type,
        targetId: t.id,
        targetName: t.name,
        changes: { [`device:${d.id}`]: { before: d.status, after: null } },
      });
      return u;
    });
  }

  /**
   * A lost or compromised authenticator: every device, unused enrolment link and unused bypass
   * code goes, the verification lock ends, and (when the user has an email) a new enrolment
   * link is emailed, all in one transaction.
   */
  async resetFactors(viewer: Viewer, mfaUserId: string): Promise<{ mfaUser: MfaUserRow; devicesRemoved: number; emailSent: boolean }> {
    const out = await this.db.transaction(async (tx) => {
      const u = await this.users.lockUser(viewer.tenantId, mfaUserId, tx);
      if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA user.', ['input', 'mfaUserId']);
      const devicesRemoved = await this.store.deleteDevicesOf(u.id, tx);
      await this.users.voidTokens(viewer.tenantId, u.id, tx);
      await this.store.voidBypassCodes(u.id, tx);
      await this.store.refreshStatus(u.id, tx);
      const sent = await this.mfa.sendEnrollment(tx, viewer.tenantId, await this.mfa.tenantName(viewer.tenantId, tx), [u]);
      await this.audit.change(tx, viewer, 'mfa.reset_factors', mfaUserTarget(u), {
        devicesRemoved: { before: null, after: devicesRemoved },
        enrollmentEmailSent: { before: null, after: sent > 0 },
      });
      return { mfaUser: (await this.users.lockUser(viewer.tenantId, u.id, tx))!, devicesRemoved, emailSent: sent > 0 };
    });
    await this.limits.clear(factorSubject(out.mfaUser.id));
    return out;
  }

  /**
   * `count` one-time codes (10 digits, shown once here, stored as SHA-256), each accepted once
   * by `verifyMfa` until `expiresInMinutes` from now.
   */
  async createBypassCodes(
    viewer: Viewer,
    input: { mfaUserId: string; count: number; expiresInMinutes: number },
  ): Promise<{ codes: string[]; expiresAt: Date; mfaUser: MfaUserRow }> {
    if (!Number.isInteger(input.count) || input.count < 1 || input.count > MAX_BYPASS_CODES)
      throw DomainError.of(ErrorCode.INVALID_INPUT, `Between 1 and ${MAX_BYPASS_CODES} codes.`, ['input', 'count']);
    if (!Number.isInteger(input.expiresInMinutes) || input.expiresInMinutes < 1 || input.expiresInMinutes > MAX_BYPASS_MINUTES)
      throw DomainError.of(ErrorCode.INVALID_INPUT, `Codes expire within 1 to ${MAX_BYPASS_MINUTES} minutes (30 days).`, [
        'input',
        'expiresInMinutes',
      ]);
    const expiresAt = new Date(Date.now() + input.expiresInMinutes * 60_000);
    const codes = Array.from({ length: input.count }, () => {
      const digits = Array.from({ length: 10 }, () => randomInt(10)).join('');
      return `${digits.slice(0, 5)}-${digits.slice(5)}`;
    });
    const mfaUser = await this.db.transaction(async (tx) => {
      const u = await this.users.lockUser(viewer.tenantId, input.mfaUserId, tx);
      if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA user.', ['input', 'mfaUserId']);
      await this.store.insertBypassCodes(
        codes.map((c) => ({ tenantId: viewer.tenantId, mfaUserId: u.id, codeHash: hashBypassCode(c), expiresAt })),
        tx,
      );
      // How many and until when; never the codes.
      await this.audit.change(tx, viewer, 'mfa.create_bypass_codes', mfaUserTarget(u), {
        bypassCodes: { before: null, after: input.count },
        expiresAt: { before: null, after: expiresAt.toISOString() },
      });
      return u;
    });
    return { codes, expiresAt, mfaUser };
  }

  /** Ends the user's verification lock and forgets its failures. */
  async unlock(viewer: Viewer, mfaUserId: string): Promise<MfaUserRow> {
    const [u] = await this.users.byIds(viewer.tenantId, [mfaUserId]);
    if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA user.', ['input', 'mfaUserId']);
    await this.db.transaction((tx) => this.audit.change(tx, viewer, 'mfa.unlock', mfaUserTarget(u)));
    await this.limits.clear(factorSubject(u.id));
    return u;
  }

  /** Failed verifications still counted and a running lock, per user (a loader batches these). */
  lockStates(mfaUserIds: readonly string[]) {
    return this.limits.factorStates(mfaUserIds.map(factorSubject));
  }

  /** A user's verification attempts, newest first. */
  verifications(
    viewer: Viewer,
    mfaUserId: string,
    args: { first?: number | null; after?: string | null },
  ): Promise<ConnectionShape<VerificationRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) => this.store.verificationPage(viewer.tenantId, mfaUserId, limit, after),
      cursorOf: (r) => [r.sortKey, r.id],
      count: () => this.store.verificationCount(viewer.tenantId, mfaUserId),
    });
  }
}
