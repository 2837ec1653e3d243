import type { RequestClient } from '../../shared/client.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { checkPasswordPolicy, passwordIdentities } from '../../shared/password-policy.js';
import { hashPassword } from '../../shared/passwords.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import type { AuthService } from '../auth/auth.service.js';
import type { EndUserSessionService } from '../end-user-session/end-user-session.service.js';
import type { MailMessage, MailService } from '../mail/mail.service.js';
import type { SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import { endUserActor, type AuditService } from '../audit/audit.service.js';
import type { InvitationStore } from './invitation.store.js';
import { InvitationStatus, type InvitationRow } from './invitation.types.js';

export type LinkKind = 'INVITATION' | 'PASSWORD_RESET';

export interface IssueItem {
  userId: string;
  /** Explicit IdP; null/undefined = the user's current one, else the tenant default. */
  identityProviderId?: string | null;
  kind: LinkKind;
}

export type IssueResult = { ok: true; invitationId: string } | { ok: false; error: UserError };

const CHUNK = 500;

/** What a link is for and whether it can still be used (never the token itself). */
export interface LinkPreview {
  state: 'VALID' | 'USED' | 'EXPIRED' | 'DISABLED';
  kind: LinkKind;
  email: string | null;
  username: string | null;
  tenantId: string;
  tenantSlug: string;
  identityProviderId: string | null;
  expiresAt: Date;
}

export function invitationStatus(i: InvitationRow, now = new Date()): InvitationStatus {
  if (i.acceptedAt) return InvitationStatus.ACCEPTED;
  if (i.revokedAt) return InvitationStatus.REVOKED;
  if (i.expiresAt.getTime() <= now.getTime()) return InvitationStatus.EXPIRED;
  return InvitationStatus.PENDING;
}

/**
 * Single-use links: issue (set-based, in the caller's transaction, with their emails through
 * the outbox) and redeem. Tokens are 256 random bits; only their SHA-256 is stored.
 */
export class InvitationService {
  constructor(
    private readonly db: Db,
    private readonly store: InvitationStore,
    private readonly mail: MailService,
    private readonly auth: AuthService,
    private readonly sessions: EndUserSessionService,
    private readonly limits: SignInLimitService,
    private readonly opts: { portalBaseUrl: () => string; ttlMs: number },
    private readonly audit: AuditService,
  ) {}

  private link(idpName: string, kind: LinkKind, token: string): string {
    const base = this.opts.portalBaseUrl().replace(/\/+$/, '');
    const action = kind === 'INVITATION' ? 'activate' : 'reset-password';
    return `${base}/${encodeURIComponent(idpName)}/${action}?token=${token}`;
  }

  /**
   * Issues links for many users at once. Previous usable links of the same kind are voided,
   * so only the newest works. Per-user failures (unknown user, no email, IdP rules) are
   * returned, not thrown, so bulk callers can report them row by row.
   */
  async issueMany(
    tx: Executor,
    tenantId: string,
    items: IssueItem[],
    actorUserId: string | null = null,
  ): Promise<Map<string, IssueResult>> {
    const results = new Map<string, IssueResult>();
    for (let i = 0; i < items.length; i += CHUNK) {
      await this.issueChunk(tx, tenantId, items.slice(i, i + CHUNK), actorUserId, results);
    }
    return results;
  }

  private async issueChunk(
    tx: Executor,
    tenantId: string,
    items: IssueItem[],
    actorUserId: string | null,
    results: Map<string, IssueResult>,
  ): Promise<void> {
    const { tenant, idps } = await this.store.tenantAndIdps(tenantId, tx);
    const defaultIdp = idps.find((i) => i.isDefault)!;
    const idpById = new Map(idps.map((i) => [i.id, i]));
    const selection = tenant.features.includes('IDP_SELECTION_FOR_INVITES');
    const targets = new Map(
      (
        await this.store.targets(
          tenantId,
          items.map((i) => i.userId),
          tx,
        )
      ).map((t) => [t.id, t]),
    );
    const expiresAt = new Date(Date.now() + this.opts.ttlMs);

    const planned: { item: IssueItem; token: string; idp: { id: string; name: string }; email: string; firstName: string }[] = [];
    for (const item of items) {
      const u = targets.get(item.userId);
      if (!u) {
        results.set(item.userId, { ok: false, error: userError(ErrorCode.NOT_FOUND, 'No such user.', ['userIds']) });
        continue;
      }
      if (!u.email) {
        results.set(item.userId, {
          ok: false,
          error: userError(ErrorCode.INVALID_STATE, 'The user has no email address to send a link to.'),
        });
        continue;
      }
      if (u.status === 'DISABLED') {
        results.set(item.userId, { ok: false, error: userError(ErrorCode.INVALID_STATE, 'The user is disabled; enable them first.') });
        continue;
      }
      let idp = defaultIdp;
      if (item.identityProviderId) {
        const chosen = idpById.get(item.identityProviderId);
        if (!chosen) {
          results.set(item.userId, {
            ok: false,
            error: userError(ErrorCode.NOT_FOUND, 'No such identity provider.', ['input', 'identityProviderId']),
          });
          continue;
        }
        if (!chosen.isDefault && !selection) {
          results.set(item.userId, {
            ok: false,
            error: userError(
              ErrorCode.FEATURE_DISABLED,
              'Choosing an identity provider other than the default needs the IDP_SELECTION_FOR_INVITES feature.',
              ['input', 'identityProviderId'],
            ),
          });
          continue;
        }
        // A portal signs users in against its own directory: a link to another directory's
        // portal would activate an account that portal can never sign in.
        if (chosen.directoryId !== u.directoryId) {
          results.set(item.userId, {
            ok: false,
            error: userError(ErrorCode.INVALID_INPUT, 'The identity provider belongs to another directory than the user.', [
              'input',
              'identityProviderId',
            ]),
          });
          continue;
        }
        idp = chosen;
      } else if (
        u.identityProviderId &&
        idpById.has(u.identityProviderId) &&
        idpById.get(u.identityProviderId)!.directoryId === u.directoryId &&
        (selection || idpById.get(u.identityProviderId)!.isDefault)
      ) {
        idp = idpById.get(u.identityProviderId)!;
      }
      planned.push({ item, token: newToken('inv'), idp, email: u.email, firstName: u.firstName });
    }
    if (!planned.length) return;

    for (const kind of ['INVITATION', 'PASSWORD_RESET'] as const) {
      await this.store.revokePending(
        tenantId,
        planned.filter((p) => p.item.kind === kind).map((p) => p.item.userId),
        kind,
        tx,
      );
    }
    const inserted = await this.store.insertMany(
      planned.map((p) => ({
        tenantId,
        userId: p.item.userId,
        identityProviderId: p.idp.id,
        kind: p.item.kind,
        tokenHash: hashToken(p.token),
        expiresAt,
        createdBy: actorUserId,
      })),
      tx,
    );
    const idByUser = new Map(inserted.map((r) => [r.userId, r.id]));
    await this.store.markInvited(
      tenantId,
      planned.map((p) => ({ userId: p.item.userId, identityProviderId: p.item.kind === 'INVITATION' ? p.idp.id : null })),
      tx,
    );
    const messages: MailMessage[] = planned.map((p) => {
      const link = this.link(p.idp.name, p.item.kind, p.token);
      const reference = `invitation:${idByUser.get(p.item.userId)}`;
      return p.item.kind === 'INVITATION'
        ? {
            tenantId,
            to: p.email,
            reference,
            template: 'invitation',
            vars: { firstName: p.firstName, tenantName: tenant.name, link, expiresAt, idpName: p.idp.name },
          }
        : {
            tenantId,
            to: p.email,
            reference,
            template: 'password-reset',
            vars: { firstName: p.firstName, tenantName: tenant.name, link, expiresAt },
          };
    });
    await this.mail.queueMany(tx, messages);
    for (const p of planned) results.set(p.item.userId, { ok: true, invitationId: idByUser.get(p.item.userId)! });
  }

  /**
   * Public: redeem a link by setting a password. Exactly one of concurrent attempts wins.
   * Behind the sign-in limits: an unknown token counts as a failed credential check for the
   * client address (and the token), and a locked one is answered TOKEN_INVALID with `retryAfter`.
   */
  async completeAccountSetup(
    client: RequestClient,
    input: {
      token: string;
      password: string;
    },
  ): Promise<{ email: string | null; idpName: string | null; tenantSlug: string }> {
    const token = input.token.trim();
    return this.limits.guard<{ email: string | null; idpName: string | null; tenantSlug: string }>(
      client,
      async () => ({ subject: `account-setup:${hashToken(token)}`, tenantId: null, countFirst: false }),
      {
        code: ErrorCode.TOKEN_INVALID,
        message: 'This link is not valid. Ask your administrator for a new one.',
        field: ['input', 'token'],
      },
      async () => {
        const found = /^inv_[A-Za-z0-9_-]{43}$/.test(token) ? await this.store.byTokenHash(hashToken(token)) : null;
        if (!found) return { ok: false };
        return { ok: true, value: await this.redeem(found, input.password, client) };
      },
    );
  }

  private async redeem(
    found: NonNullable<Awaited<ReturnType<InvitationStore['byTokenHash']>>>,
    password: string,
    client: RequestClient,
  ): Promise<{ email: string | null; idpName: string | null; tenantSlug: string }> {
    if (found.acceptedAt || found.revokedAt) {
      throw DomainError.of(ErrorCode.TOKEN_USED, 'This link was already used or has been replaced by a newer one.', ['input', 'token']);
    }
    if (found.expiresAt.getTime() <= Date.now()) {
      throw DomainError.of(ErrorCode.TOKEN_EXPIRED, 'This link has expired. Ask your administrator to send a new one.', ['input', 'token']);
    }
    if (found.userStatus === 'DISABLED') {
      throw DomainError.of(ErrorCode.INVALID_STATE, 'This account is disabled. Contact your administrator.');
    }
    const policy = checkPasswordPolicy(
      password,
      passwordIdentities({
        email: found.userEmail,
        username: found.username,
        userId: found.userId,
        tenantId: found.tenantId,
        tenantSlug: found.tenantSlug,
      }),
    );
    if (policy.length) throw new DomainError(policy);
    const hash = await hashPassword(password);
    await this.db.transaction(async (tx) => {
      if (!(await this.store.accept(found.id, tx))) {
        throw DomainError.of(ErrorCode.TOKEN_USED, 'This link was already used or has been replaced by a newer one.', ['input', 'token']);
      }
      await this.store.setPassword(found.userId, hash, tx);
      // Any other outstanding link for this account is now pointless: void it.
      await this.store.revokePending(found.tenantId, [found.userId], null, tx);
      // A new password (a reset, typically after a suspected compromise) ends every session
      // signed in with the old one, admin API and portal alike. Nobody is signed in here: this
      // is a public, link-based call.
      await this.sessions.endAllSessions(tx, found.tenantId, [found.userId]);
      const name = found.userEmail ?? found.username;
      await this.audit.record(tx, found.tenantId, endUserActor(found.userId, name, client.address), {
        // An invitation link activates the account; a reset link sets a new password.
        action: found.kind === 'INVITATION' ? 'portal.activate' : 'portal.reset_password',
        targetType: 'User',
        targetId: found.userId,
        targetName: name,
        changes: { password: { before: found.kind === 'INVITATION' ? null : '[redacted]', after: '[redacted]' } },
      });
    });
    await this.auth.announceEnded({ tenantId: found.tenantId, userIds: [found.userId] });
    return { email: found.userEmail, idpName: found.idpName, tenantSlug: found.tenantSlug };
  }

  /**
   * Public: what a link is for, without redeeming it (the portal's activate and reset pages
   * show who is being activated, or why the link no longer works). A token that names no link
   * counts as a failed credential check, like `completeAccountSetup`.
   */
  async inspectLink(client: RequestClient, token: string): Promise<LinkPreview> {
    const t = token.trim();
    return this.limits.guard<LinkPreview>(
      client,
      async () => ({ subject: `account-setup:${hashToken(t)}`, tenantId: null, countFirst: false }),
      { code: ErrorCode.TOKEN_INVALID, message: 'This link is not valid. Ask your administrator for a new one.' },
      async () => {
        const found = /^inv_[A-Za-z0-9_-]{43}$/.test(t) ? await this.store.byTokenHash(hashToken(t)) : null;
        if (!found) return { ok: false };
        const state: LinkPreview['state'] =
          found.acceptedAt || found.revokedAt
            ? 'USED'
            : found.expiresAt.getTime() <= Date.now()
              ? 'EXPIRED'
              : found.userStatus === 'DISABLED'
                ? 'DISABLED'
                : 'VALID';
        return {
          ok: true,
          value: {
            state,
            kind: found.kind as LinkKind,
            email: found.userEmail,
            username: found.username,
            tenantId: found.tenantId,
            tenantSlug: found.tenantSlug,
            identityProviderId: found.identityProviderId,
            expiresAt: found.expiresAt,
          },
        };
      },
    );
  }

  byUsers(tenantId: string, userIds: readonly string[]): Promise<InvitationRow[]> {
    return this.store.byUsers(tenantId, userIds);
  }
}
