import type { RequestClient } from '../../shared/client.js';
import type { Db, Executor } from '../../shared/db.js';
import { normalizeEmail } from '../../shared/email.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { checkPasswordPolicy, passwordIdentities } from '../../shared/password-policy.js';
import { hashPassword, verifyPassword } from '../../shared/passwords.js';
import type { SecretBox } from '../../shared/secret-key.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import { hasControlCharacters } from '../../shared/validation.js';
import type { AuthService } from '../auth/auth.service.js';
import type { MfaPortalService, PortalFactor } from '../mfa/mfa-portal.service.js';
import type { VerificationResult } from '../mfa/mfa-verify.service.js';
import { endUserActor, type AuditService } from '../audit/audit.service.js';
import { loginSubject, type SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import type { EndUserProfile, EndUserSessionStore, PortalRow } from './end-user-session.store.js';

export type Portal = PortalRow;

/** A signed-in end user on one portal. Never a `Viewer`: it authorises nothing on the admin API. */
export interface EndUserViewer {
  sessionId: string;
  tenantId: string;
  userId: string;
  identityProviderId: string;
}

/**
 * `ACTIVE` once every factor is checked. A user whose MFA user has an ACTIVE device gets a
 * `PENDING_SECOND_FACTOR` session after the right password: `resolve` refuses it (no account
 * page), only `resolvePending` (the second-factor page) accepts it, until the factor verifies.
 */
export type SessionStage = 'ACTIVE' | 'PENDING_SECOND_FACTOR';

/** A session waiting for its second factor, with what the user can present. */
export interface PendingSecondFactor extends EndUserViewer {
  factor: PortalFactor;
}

/** How long a password-only sign-in waits for its second factor. */
export const SECOND_FACTOR_TTL_MS = 10 * 60_000;

export const SIGN_IN_FAILED = 'Email or password is wrong.';

const notChosen = (err: unknown): null => {
  if (err instanceof DomainError) return null;
  throw err;
};
const LINK_GRANT_CONTEXT = 'portal-link-grant';
const TOKEN_SHAPE = /^eus_[A-Za-z0-9_-]{43}$/;

/**
 * End-user portal sessions: sign-in against the directory behind a portal's IdP (any active
 * user, not only Admins), the cookie's session, password change, and the link grants that
 * keep a link's secret out of URLs after its first request.
 */
export class EndUserSessionService {
  constructor(
    private readonly db: Db,
    private readonly store: EndUserSessionStore,
    private readonly limits: SignInLimitService,
    private readonly auth: AuthService,
    private readonly box: SecretBox,
    private readonly factors: MfaPortalService,
    private readonly opts: { sessionTtlMs: number; linkGrantTtlMs: number },
    private readonly audit: AuditService,
  ) {}

  /** The portal named in a URL; `ambiguous` when several tenants name an IdP alike and no tenant was given. */
  async portal(idpName: string, tenantSlug?: string | null): Promise<{ portal: Portal } | { ambiguous: true } | null> {
    const slug = tenantSlug?.trim().toLowerCase() || null;
    if (hasControlCharacters(idpName) || (slug && hasControlCharacters(slug)) || idpName.length > 63) return null;
    const found = await this.store.portalsByName(idpName, slug);
    if (found.length === 1) return { portal: found[0]! };
    return found.length > 1 ? { ambiguous: true } : null;
  }

  /**
   * Username or email and password. One answer for every failure (unknown account, wrong
   * password, not active), behind the sign-in limits, counted on the same account key as the
   * admin sign-in when the login names a user with an email.
   */
  async signIn(
    client: RequestClient,
    portal: Portal,
    input: { login: string; password: string },
  ): Promise<{ token: string; expiresAt: Date; stage: SessionStage }> {
    const login = normalizeEmail(input.login);
    let candidate: Awaited<ReturnType<EndUserSessionStore['candidate']>> = null;
    return this.limits.guard<{ token: string; expiresAt: Date; stage: SessionStage }>(
      client,
      async () => {
        candidate = hasControlCharacters(login) || !login ? null : await this.store.candidate(portal.directoryId, login);
        const email = candidate?.email ?? login;
        return { subject: loginSubject({ id: portal.tenantId }, email), tenantId: portal.tenantId, countFirst: true };
      },
      { code: ErrorCode.INVALID_CREDENTIALS, message: SIGN_IN_FAILED },
      async () => {
        const c = candidate as Awaited<ReturnType<EndUserSessionStore['candidate']>>;
        const ok = await verifyPassword(c?.passwordHash ?? null, input.password);
        const signInEvent = (action: string) => ({ action, targetType: 'User', targetId: c?.id ?? null, targetName: c?.email ?? login });
        const actor = endUserActor(c?.id ?? null, c?.email ?? login, client.address);
        if (!c || !ok || !c.active) {
          // Only a login that names an account of this portal: other text is not recorded.
          if (c) await this.db.transaction((tx) => this.audit.record(tx, portal.tenantId, actor, signInEvent('portal.sign_in_failed')));
          return { ok: false };
        }
        const token = newToken('eus');
        // The password was right; a user with an enrolled factor is not signed in until it verifies.
        const factor = await this.factors.factorOf(portal.tenantId, c);
        const stage: SessionStage = factor ? 'PENDING_SECOND_FACTOR' : 'ACTIVE';
        const expiresAt = new Date(Date.now() + (factor ? SECOND_FACTOR_TTL_MS : this.opts.sessionTtlMs));
        await this.db.transaction(async (tx) => {
          await this.store.create(
            {
              tenantId: portal.tenantId,
              userId: c.id,
              identityProviderId: portal.identityProviderId,
              tokenHash: hashToken(token),
              stage,
              expiresAt,
            },
            tx,
          );
          // With a second factor to come, the sign-in is recorded once that verifies.
          if (!factor) {
            await this.store.touchLastSignIn(c.id, tx);
            await this.audit.record(tx, portal.tenantId, actor, signInEvent('portal.sign_in'));
          }
        });
        return { ok: true, value: { token, expiresAt, stage } };
      },
    );
  }

  /** The cookie's session on this portal: live, fully signed in, the user still active. */
  async resolve(token: string | undefined, portal: Portal): Promise<EndUserViewer | null> {
    return this.sessionAt('ACTIVE', token, portal);
  }

  /**
   * The cookie's session on this portal while it waits for its second factor, with the factor
   * the user holds now. Null when there is none, or when the user's last active device went
   * meanwhile (then a new sign-in decides afresh).
   */
  async resolvePending(token: string | undefined, portal: Portal): Promise<PendingSecondFactor | null> {
    const viewer = await this.sessionAt('PENDING_SECOND_FACTOR', token, portal);
    if (!viewer) return null;
    const profile = await this.store.profile(viewer.tenantId, viewer.userId);
    // A factor that cannot be chosen any more (see `factorOf`) ends this attempt like a missing one.
    const factor = profile ? await this.factors.factorOf(viewer.tenantId, profile).catch(notChosen) : null;
    return factor ? { ...viewer, factor } : null;
  }

  private async sessionAt(stage: SessionStage, token: string | undefined, portal: Portal): Promise<EndUserViewer | null> {
    if (!token || !TOKEN_SHAPE.test(token)) return null;
    const s = await this.store.byTokenHash(hashToken(token));
    if (!s || s.revoked || !s.userActive || s.stage !== stage || s.expiresAt.getTime() <= Date.now()) return null;
    if (s.identityProviderId !== portal.identityProviderId) return null;
    return { sessionId: s.id, tenantId: s.tenantId, userId: s.userId, identityProviderId: s.identityProviderId };
  }

  /**
   * The second step of a sign-in: the code, bypass code or security-key assertion goes through
   * the MFA verification service (its per-user lock, replay refusal and attempt record apply).
   * Verified: the session becomes fully signed in under a new token, which the caller sets as
   * the cookie. Otherwise the outcome, and how long a lock lasts.
   */
  async completeSecondFactor(
    pending: PendingSecondFactor,
    input: { code?: string | null; bypassCode?: string | null; webauthnResponse?: string | null },
  ): Promise<
    { result: 'VERIFIED'; token: string; expiresAt: Date } | { result: Exclude<VerificationResult, 'VERIFIED'>; retryAfter: number | null }
  > {
    const outcome = await this.factors.verify(pending.tenantId, pending.factor.mfaUserId, input);
    if (outcome.result !== 'VERIFIED') return { result: outcome.result, retryAfter: outcome.retryAfter };
    const token = newToken('eus');
    const expiresAt = new Date(Date.now() + this.opts.sessionTtlMs);
    const promoted = await this.db.transaction(async (tx) => {
      if (!(await this.store.promote(pending.sessionId, hashToken(token), expiresAt, tx))) return false;
      await this.store.touchLastSignIn(pending.userId, tx);
      await this.audit.record(tx, pending.tenantId, endUserActor(pending.userId, null, null), {
        action: 'portal.sign_in',
        targetType: 'User',
        targetId: pending.userId,
        targetName: null,
        changes: { secondFactor: { before: null, after: 'verified' } },
      });
      return true;
    });
    if (!promoted) throw DomainError.of(ErrorCode.TOKEN_INVALID, 'This sign-in is no longer waiting for a second factor. Sign in again.');
    return { result: 'VERIFIED', token, expiresAt };
  }

  /** Security-key options for a pending sign-in (a stored, single-use challenge). */
  webauthnOptions(pending: PendingSecondFactor): Promise<{ optionsJson: string }> {
    return this.factors.authenticationOptions(pending.tenantId, pending.factor.mfaUserId);
  }

  async signOut(viewer: EndUserViewer): Promise<void> {
    await this.store.revoke(viewer.tenantId, viewer.sessionId);
  }

  async profile(viewer: EndUserViewer): Promise<EndUserProfile> {
    const p = await this.store.profile(viewer.tenantId, viewer.userId);
    if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.');
    return p;
  }

  /**
   * Old and new password. The old one is a credential check (throttled like a sign-in); the
   * new one meets the same policy as every other path. Every other session of the user (admin
   * API and portal) ends in the same transaction; this one stays signed in.
   */
  async changePassword(
    client: RequestClient,
    viewer: EndUserViewer,
    input: { currentPassword: string; newPassword: string },
    owner: { tenantSlug: string },
  ): Promise<void> {
    const profile = await this.profile(viewer);
    await this.limits.guard<undefined>(
      client,
      async () => ({
        subject: loginSubject({ id: viewer.tenantId }, profile.email ?? `user:${viewer.userId}`),
        tenantId: viewer.tenantId,
        countFirst: true,
      }),
      { code: ErrorCode.INVALID_CREDENTIALS, message: 'The current password is wrong.', field: ['input', 'currentPassword'] },
      async () => {
        const ok = await verifyPassword(await this.store.passwordHash(viewer.tenantId, viewer.userId), input.currentPassword);
        if (!ok) return { ok: false };
        const policy = checkPasswordPolicy(
          input.newPassword,
          passwordIdentities({
            email: profile.email,
            username: profile.username,
            userId: viewer.userId,
            tenantId: viewer.tenantId,
            tenantSlug: owner.tenantSlug,
          }),
          ['input', 'newPassword'],
        );
        if (policy.length) throw new DomainError(policy);
        const hash = await hashPassword(input.newPassword);
        await this.db.transaction(async (tx) => {
          await this.store.setPassword(viewer.tenantId, viewer.userId, hash, tx);
          await this.auth.revokeUserSessions(tx, viewer.tenantId, [viewer.userId]);
          await this.store.revokeForUsers(viewer.tenantId, [viewer.userId], viewer.sessionId, tx);
          const name = profile.email ?? profile.username;
          await this.audit.record(tx, viewer.tenantId, endUserActor(viewer.userId, name, client.address), {
            action: 'portal.change_password',
            targetType: 'User',
            targetId: viewer.userId,
            targetName: name,
            changes: { password: { before: '[redacted]', after: '[redacted]' } },
          });
        });
        return { ok: true, value: undefined };
      },
    );
    await this.auth.announceEnded({ tenantId: viewer.tenantId, userIds: [viewer.userId] });
  }

  /**
   * Ends every session of these users, admin API and portal alike, in the caller's transaction
   * (disable, a new password from a link). The caller announces after the commit.
   */
  async endAllSessions(tx: Executor, tenantId: string, userIds: readonly string[]): Promise<void> {
    await this.auth.revokeUserSessions(tx, tenantId, userIds);
    await this.store.revokeForUsers(tenantId, userIds, null, tx);
  }

  /**
   * A link's token sealed with the server key and a short expiry: the portal keeps it in an
   * httpOnly cookie and redirects, so the link's secret leaves the address bar (and any
   * Referer or history entry) after the first request.
   */
  sealLinkGrant(linkToken: string): string {
    const body = JSON.stringify({ t: linkToken, e: Date.now() + this.opts.linkGrantTtlMs });
    return this.box.seal(body, LINK_GRANT_CONTEXT).toString('base64url');
  }

  /** The link token of a grant still within its lifetime, else null (tampered, foreign, expired). */
  openLinkGrant(grant: string | undefined): string | null {
    if (!grant || grant.length > 1000) return null;
    try {
      const body = JSON.parse(this.box.open(Buffer.from(grant, 'base64url'), LINK_GRANT_CONTEXT).toString('utf8')) as {
        t?: unknown;
        e?: unknown;
      };
      return typeof body.t === 'string' && typeof body.e === 'number' && body.e > Date.now() ? body.t : null;
    } catch {
      return null;
    }
  }

  purgeExpired(): Promise<void> {
    return this.store.purgeExpired();
  }
}
