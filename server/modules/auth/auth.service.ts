import type { Executor } from '../../shared/db.js';
import type { Logger } from '../../shared/logger.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { SessionViewer, Viewer } from '../../shared/viewer.js';
import type { RequestClient } from '../../shared/client.js';
import { ErrorCode } from '../../shared/errors.js';
import { hasControlCharacters } from '../../shared/validation.js';
import { loginSubject, type SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import { normalizeEmail } from '../../shared/email.js';
import { verifyPassword } from '../../shared/passwords.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import { AuditActorKind } from '../audit/audit.types.js';
import { actorOf, type AuditService } from '../audit/audit.service.js';
import type { Db } from '../../shared/db.js';
import type { TenantRow } from '../tenant/tenant.types.js';
import type { UserRow } from '../user/user.types.js';
import { SESSIONS_ENDED_TOPIC_ID, type SessionsEndedEvent } from './auth.events.js';
import type { AuthStore, LoginTarget } from './auth.store.js';

/**
 * A sign-in: the session's token and viewer, and the tenant and user as the sign-in left them
 * (lastSignInAt included), so its answer needs not read them again.
 */
export interface SignedIn {
  token: string;
  expiresAt: Date;
  viewer: SessionViewer;
  tenant: TenantRow;
  user: UserRow;
}

export type ResolvedToken = { viewer: Viewer; problem: null } | { viewer: null; problem: 'invalid' | 'expired' };

export class AuthService {
  constructor(
    private readonly store: AuthStore,
    private readonly limits: SignInLimitService,
    private readonly sessionTtlMs: number,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    private readonly db: Db,
    private readonly audit: AuditService,
  ) {}

  /** Audits a sign-in attempt on a known tenant (the claimed email as the actor's name; never the password). */
  private signInEvent(
    tenantId: string,
    client: RequestClient,
    requestId: string | null,
    email: string,
    userId: string | null,
    ok: boolean,
  ) {
    return {
      actor: { kind: AuditActorKind.ADMIN, id: userId, name: email, requestId, address: client.address },
      entry: { action: ok ? 'auth.sign_in' : 'auth.sign_in_failed', targetType: 'User', targetId: userId, targetName: email },
      tenantId,
    };
  }

  /**
   * One answer for every failure (unknown tenant, unknown email, wrong password, not an
   * admin), and a password hash is checked in every case, so neither the message nor the
   * time taken tells which it was. Behind the sign-in limits (`SignInLimitService.guard`):
   * a locked account or address gets the same answer with `retryAfter`, unchecked.
   */
  async login(
    client: RequestClient,
    input: { tenant: string; email: string; password: string },
    requestId: string | null = null,
  ): Promise<SignedIn> {
    const slug = input.tenant.trim().toLowerCase();
    const email = normalizeEmail(input.email);
    let target: LoginTarget | null = null;
    return this.limits.guard<SignedIn>(
      client,
      async () => {
        // No slug or email holds a control character: such text names no account, so it is
        // looked up nowhere (PostgreSQL refuses NUL in text) and answered like an unknown tenant.
        // The account is read with its tenant, before the attempt is counted; its password is
        // checked only after (in the check below).
        target = hasControlCharacters(slug) || hasControlCharacters(email) ? null : await this.store.loginTarget(slug, email);
        return { subject: loginSubject(target?.tenant ?? { slug }, email), tenantId: target?.tenant.id ?? null, countFirst: true };
      },
      { code: ErrorCode.INVALID_CREDENTIALS, message: 'The tenant, email or password is wrong, or the account may not sign in here.' },
      async () => {
        const t = (target as LoginTarget | null)?.tenant ?? null;
        const candidate = (target as LoginTarget | null)?.candidate ?? null;
        const passwordOk = await verifyPassword(candidate?.passwordHash ?? null, input.password);
        if (!t || !candidate || !passwordOk || !candidate.isAdmin) {
          if (t) {
            const e = this.signInEvent(t.id, client, requestId, email, candidate?.id ?? null, false);
            await this.db.transaction((tx) => this.audit.record(tx, e.tenantId, e.actor, e.entry));
          }
          return { ok: false };
        }
        const token = newToken('rst');
        const expiresAt = new Date(Date.now() + this.sessionTtlMs);
        // The session, its audit event and lastSignInAt: one statement, one commit.
        const e = this.signInEvent(t.id, client, requestId, email, candidate.id, true);
        const signedIn = await this.store.openSession(
          { tenantId: t.id, userId: candidate.id, tokenHash: hashToken(token), expiresAt },
          e.entry,
          this.audit.inStatement(e.tenantId, e.actor),
        );
        if (!signedIn) throw new Error('signed-in user vanished');
        return {
          ok: true,
          value: {
            token,
            expiresAt,
            viewer: { tenantId: t.id, userId: candidate.id, sessionId: signedIn.sessionId },
            tenant: t,
            user: signedIn.user,
          },
        };
      },
    );
  }

  async logout(viewer: Viewer): Promise<void> {
    // `logout` is for sessions only (an API token is revoked by an admin instead).
    if (!viewer.sessionId) return;
    const sessionId = viewer.sessionId;
    await this.db.transaction(async (tx) => {
      await this.store.revoke(viewer.tenantId, sessionId, tx);
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'auth.sign_out',
        targetType: 'User',
        targetId: viewer.userId,
        targetName: null,
      });
    });
    await this.announceEnded({ tenantId: viewer.tenantId, sessionIds: [viewer.sessionId] });
  }

  /**
   * Ends every session of these users inside the caller's transaction (removal from Admins,
   * disabling, a new password): a token that stopped working must not come back when the user
   * is re-added or re-enabled. After the commit the caller calls `announceEnded`.
   */
  revokeUserSessions(tx: Executor, tenantId: string, userIds: readonly string[]): Promise<void> {
    return this.store.revokeForUsers(tenantId, userIds, tx);
  }

  /**
   * Tells every replica (after the commit) that these sessions ended, so each closes its
   * websockets on them at once. Long id lists go out in several events (NOTIFY's size limit).
   * Never throws: the change is committed, and sockets that miss the event are still refused
   * at their next operation and closed by their periodic session re-check.
   */
  async announceEnded(ended: { tenantId: string; sessionIds?: readonly string[]; userIds?: readonly string[] }): Promise<void> {
    const per = 100;
    const events: SessionsEndedEvent[] = [];
    const sessionIds = [...new Set(ended.sessionIds ?? [])];
    const userIds = [...new Set(ended.userIds ?? [])];
    for (let i = 0; i < sessionIds.length; i += per)
      events.push({ tenantId: ended.tenantId, sessionIds: sessionIds.slice(i, i + per), userIds: [] });
    for (let i = 0; i < userIds.length; i += per)
      events.push({ tenantId: ended.tenantId, sessionIds: [], userIds: userIds.slice(i, i + per) });
    for (const event of events) {
      try {
        await this.pubsub.publish('sessionsEnded', SESSIONS_ENDED_TOPIC_ID, event);
      } catch (err) {
        this.log.warn({ err, tenantId: ended.tenantId }, 'announcing ended sessions failed');
      }
    }
  }

  /** Every `announceEnded` event from any replica, until `signal` aborts (the websocket server listens). */
  endedSessions(signal: AbortSignal): AsyncIterableIterator<SessionsEndedEvent> {
    return this.pubsub.subscribe('sessionsEnded', SESSIONS_ENDED_TOPIC_ID, signal);
  }

  /** Token → viewer, checking expiry, revocation and current admin membership. */
  async resolveToken(token: string | null | undefined): Promise<ResolvedToken | null> {
    if (!token) return null;
    if (token.length > 200 || !/^rst_[A-Za-z0-9_-]{43}$/.test(token)) return { viewer: null, problem: 'invalid' };
    const s = await this.store.sessionByTokenHash(hashToken(token));
    if (!s || s.revoked || !s.isAdmin) return { viewer: null, problem: 'invalid' };
    if (s.expiresAt.getTime() <= Date.now()) return { viewer: null, problem: 'expired' };
    return { viewer: { tenantId: s.tenantId, userId: s.userId, sessionId: s.id }, problem: null };
  }

  /** Housekeeping: expired and revoked sessions are of no further use. */
  async purgeExpiredSessions(): Promise<void> {
    await this.store.purgeExpired();
  }

  sessionExpiresAt(viewer: Viewer): Promise<Date | null> {
    return viewer.sessionId ? this.store.expiresAt(viewer.sessionId) : Promise.resolve(null);
  }
}
