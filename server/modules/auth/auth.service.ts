import type { Viewer } from '../../shared/viewer.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { normalizeEmail } from '../../shared/email.js';
import { verifyPassword } from '../../shared/passwords.js';
import { hashToken, newToken } from '../../shared/tokens.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import type { AuthStore } from './auth.store.js';

export type ResolvedToken = { viewer: Viewer; problem: null } | { viewer: null; problem: 'invalid' | 'expired' };

export class AuthService {
  constructor(
    private readonly store: AuthStore,
    private readonly tenants: TenantStore,
    private readonly sessionTtlMs: number,
  ) {}

  /**
   * One answer for every failure (unknown tenant, unknown email, wrong password, not an
   * admin), and a password hash is checked in every case, so neither the message nor the
   * time taken tells which it was.
   */
  async login(input: { tenant: string; email: string; password: string }): Promise<{
    token: string;
    expiresAt: Date;
    viewer: Viewer;
  }> {
    const tenant = await this.tenants.bySlug(input.tenant.trim().toLowerCase());
    const candidate = tenant ? await this.store.loginCandidate(tenant.id, normalizeEmail(input.email)) : null;
    const passwordOk = await verifyPassword(candidate?.passwordHash ?? null, input.password);
    if (!tenant || !candidate || !passwordOk || !candidate.isAdmin) {
      throw DomainError.of(ErrorCode.INVALID_CREDENTIALS, 'The tenant, email or password is wrong, or the account may not sign in here.');
    }
    const token = newToken('rst');
    const expiresAt = new Date(Date.now() + this.sessionTtlMs);
    const session = await this.store.createSession({
      tenantId: tenant.id,
      userId: candidate.id,
      tokenHash: hashToken(token),
      expiresAt,
    });
    return { token, expiresAt, viewer: { tenantId: tenant.id, userId: candidate.id, sessionId: session.id } };
  }

  async logout(viewer: Viewer): Promise<void> {
    await this.store.revoke(viewer.tenantId, viewer.sessionId);
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
    return this.store.expiresAt(viewer.sessionId);
  }
}
