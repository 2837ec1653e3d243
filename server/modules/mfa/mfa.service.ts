import type { Viewer } from '../../shared/viewer.js';
import type { RequestClient } from '../../shared/client.js';
import type { Db, Executor } from '../../shared/db.js';
import { isValidEmail, normalizeEmail } from '../../shared/email.js';
import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { keysetPage, sortValueAndIdKey, type ConnectionShape } from '../../shared/pagination.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import { checkName } from '../../shared/validation.js';
import { actorOf, diff, endUserActor, type AuditService } from '../audit/audit.service.js';
import type { MailMessage, MailService } from '../mail/mail.service.js';
import type { CheckOutcome, SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import type { MfaGroupFilter, MfaStore, MfaUserFilter } from './mfa.store.js';
import type { MfaDeviceRow, MfaGroupRow, MfaUserRow } from './mfa.types.js';

export const MAX_DEVICES_PER_USER = 5;

/** An enrolment link as found by its token (the token itself is never stored). */
export type EnrollmentToken = NonNullable<Awaited<ReturnType<MfaStore['tokenByHash']>>>;

/** The MFA directory: manual users, enrolment links and device enrolment. */
export class MfaService {
  constructor(
    private readonly db: Db,
    private readonly store: MfaStore,
    private readonly mail: MailService,
    private readonly tenants: TenantStore,
    private readonly limits: SignInLimitService,
    private readonly opts: { portalBaseUrl: () => string; ttlMs: number },
    private readonly audit: AuditService,
  ) {}

  /**
   * `devices`: the page's rows carry their devices (read in the page's statement). `keys` /
   * `deviceKeys`: the row properties the caller reads (unset: all; see `MfaStore.page`).
   */
  async list(
    viewer: Viewer,
    args: {
      first?: number | null;
      after?: string | null;
      filter: MfaUserFilter;
      devices?: boolean;
      keys?: readonly (keyof MfaUserRow)[];
      deviceKeys?: readonly (keyof MfaDeviceRow)[];
    },
  ): Promise<ConnectionShape<MfaUserRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) =>
        this.store.page(viewer.tenantId, args.filter, limit, after, {
          devices: args.devices,
          keys: args.keys,
          deviceKeys: args.deviceKeys,
        }),
      cursorOf: (r) => [r.username.toLowerCase(), r.id],
      count: () => this.store.count(viewer.tenantId, args.filter),
    });
  }

  async listGroups(
    viewer: Viewer,
    args: { first?: number | null; after?: string | null; filter: MfaGroupFilter },
  ): Promise<ConnectionShape<MfaGroupRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) => this.store.groupPage(viewer.tenantId, args.filter, limit, after),
      cursorOf: (r) => [r.name.toLowerCase(), r.id],
      count: () => this.store.groupCount(viewer.tenantId, args.filter),
    });
  }

  async createManual(
    viewer: Viewer,
    input: {
      username: string;
      email?: string | null;
      firstName?: string | null;
      lastName?: string | null;
      sendEnrollmentEmail?: boolean | null;
    },
  ): Promise<MfaUserRow> {
    const errors: UserError[] = [];
    const username = checkName(input.username, 'Username', ['input', 'username'], errors);
    const email = input.email ? normalizeEmail(input.email) : null;
    if (email && !isValidEmail(email)) errors.push(userError(ErrorCode.INVALID_INPUT, 'Not a valid email address.', ['input', 'email']));
    if (input.sendEnrollmentEmail && !email) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'An enrolment email needs an email address.', ['input', 'sendEnrollmentEmail']));
    }
    const firstName = checkName(input.firstName, 'First name', ['input', 'firstName'], errors, false);
    const lastName = checkName(input.lastName, 'Last name', ['input', 'lastName'], errors, false);
    if (errors.length) throw new DomainError(errors);
    return this.db.transaction(async (tx) => {
      const u = await this.store.insertManual({ tenantId: viewer.tenantId, username, email, firstName, lastName }, tx);
      if (input.sendEnrollmentEmail) await this.sendEnrollment(tx, viewer.tenantId, await this.tenantName(viewer.tenantId, tx), [u]);
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'mfa.create_user',
        targetType: 'MfaUser',
        targetId: u.id,
        targetName: u.username,
        changes: diff(null, { ...u, enrollmentEmailSent: !!input.sendEnrollmentEmail }, [
          'username',
          'email',
          'firstName',
          'lastName',
          'enrollmentEmailSent',
        ]),
      });
      return u;
    });
  }

  /** Enrolment tokens and emails for many users in the caller's transaction (users without email are skipped). */
  async sendEnrollment(
    tx: Executor,
    tenantId: string,
    tenantName: string,
    users: Pick<MfaUserRow, 'id' | 'email' | 'firstName'>[],
  ): Promise<number> {
    const withEmail = users.filter((u) => u.email);
    if (!withEmail.length) return 0;
    const expiresAt = new Date(Date.now() + this.opts.ttlMs);
    const tokens = withEmail.map((u) => ({ u, token: newToken('mfa') }));
    await this.store.insertTokens(
      tokens.map(({ u, token }) => ({ tenantId, mfaUserId: u.id, tokenHash: hashToken(token), expiresAt })),
      tx,
    );
    const base = this.opts.portalBaseUrl().replace(/\/+$/, '');
    const messages: MailMessage[] = tokens.map(({ u, token }) => ({
      tenantId,
      to: u.email!,
      reference: `mfa-enrollment:${u.id}`,
      template: 'mfa-enrollment',
      vars: { firstName: u.firstName, tenantName, link: `${base}/mfa/enroll?token=${token}`, expiresAt },
    }));
    await this.mail.queueMany(tx, messages);
    return messages.length;
  }

  /**
   * The audit event of a device enrolled from a link, in the enrolment's transaction. The end
   * user is the actor, named by username (`actor.id` is for admin Users, so it stays null).
   */
  recordEnrolled(
    tx: Executor,
    client: RequestClient,
    t: EnrollmentToken,
    device: { id: string | null; name: string | null; kind: string },
  ) {
    return this.audit.record(tx, t.tenantId, endUserActor(null, t.username, client.address), {
      action: 'mfa.enroll_device',
      targetType: 'MfaUser',
      targetId: t.mfaUserId,
      targetName: t.username,
      changes: { device: { before: null, after: device } },
    });
  }

  /**
   * The one way an enrolment link is checked (device enrolment, TOTP begin and confirm, the
   * portal's pages): behind the sign-in limits, an unknown token is a failed credential check
   * (per address and token); a used or expired link is refused with its own code. `then`
   * checks whatever else the step needs (a TOTP code): its `{ ok: false }` counts against the
   * link too, so a code cannot be guessed through one link.
   */
  async redeemToken<T>(client: RequestClient, token: string, then: (t: EnrollmentToken) => Promise<CheckOutcome<T>>): Promise<T> {
    const raw = token.trim();
    return this.limits.guard<T>(
      client,
      async () => ({ subject: `mfa-enrollment:${hashToken(raw)}`, tenantId: null, countFirst: false }),
      {
        code: ErrorCode.TOKEN_INVALID,
        message: 'This enrolment link is not valid (it is void once its user is removed).',
        field: ['input', 'token'],
      },
      async () => {
        const t = /^mfa_[A-Za-z0-9_-]{43}$/.test(raw) ? await this.store.tokenByHash(hashToken(raw)) : null;
        if (!t) return { ok: false };
        if (t.usedAt)
          throw DomainError.of(ErrorCode.TOKEN_USED, 'This enrolment link was already used or has been replaced; ask for a new one.', [
            'input',
            'token',
          ]);
        if (t.expiresAt.getTime() <= Date.now())
          throw DomainError.of(ErrorCode.TOKEN_EXPIRED, 'This enrolment link has expired; ask for a new one.', ['input', 'token']);
        return then(t);
      },
    );
  }

  /** MFA users of the tenant by id (bulk operations read them in their chunk's transaction). */
  byIdsFor(tenantId: string, ids: readonly string[], tx: Executor): Promise<MfaUserRow[]> {
    return this.store.byIds(tenantId, ids, tx);
  }

  /** Ids of the tenant's MFA users matching a filter, in username order, at most `limit` (a bulk operation's list). */
  async idsMatching(tenantId: string, filter: MfaUserFilter, limit: number): Promise<string[]> {
    return (await this.store.page(tenantId, filter, limit, null)).map((u) => u.id);
  }

  /** New enrolment links for many users with an email (voiding their unused ones), set-based, in the caller's transaction. */
  async resendEnrollmentMany(tx: Executor, tenantId: string, users: MfaUserRow[]): Promise<number> {
    if (!users.length) return 0;
    await this.store.voidTokensMany(
      tenantId,
      users.map((u) => u.id),
      tx,
    );
    return this.sendEnrollment(tx, tenantId, await this.tenantName(tenantId, tx), users);
  }

  /** Emails a new enrolment link (voiding unused earlier ones), e.g. for a second device. */
  async resendEnrollment(viewer: Viewer, mfaUserId: string): Promise<MfaUserRow> {
    return this.db.transaction(async (tx) => {
      const u = await this.store.lockUser(viewer.tenantId, mfaUserId, tx);
      if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such MFA user.', ['input', 'mfaUserId']);
      if (!u.email)
        throw DomainError.of(ErrorCode.INVALID_STATE, 'This MFA user has no email address to send the link to.', ['input', 'mfaUserId']);
      await this.store.voidTokens(viewer.tenantId, u.id, tx);
      await this.sendEnrollment(tx, viewer.tenantId, await this.tenantName(viewer.tenantId, tx), [u]);
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'mfa.send_enrollment',
        targetType: 'MfaUser',
        targetId: u.id,
        targetName: u.username,
      });
      return u;
    });
  }

  async tenantName(tenantId: string, tx: Executor = this.db): Promise<string> {
    return (await this.tenants.byId(tenantId, tx))?.name ?? 'your organisation';
  }
}
