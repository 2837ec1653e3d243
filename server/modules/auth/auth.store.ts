import { and, eq, isNull, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { directories, sessions, tenants, users } from '../../../drizzle/schema/index.js';
import type { TenantRow } from '../tenant/tenant.types.js';
import { userColumns } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import type { Db, Executor } from '../../shared/db.js';
import { queryRows } from '../../shared/db.js';
import { uuidArray } from '../../shared/sql.js';

export interface SessionLookup {
  id: string;
  tenantId: string;
  userId: string;
  expiresAt: Date;
  revoked: boolean;
  /** Active member of the tenant's Admins group right now (checked on every request). */
  isAdmin: boolean;
}

export interface LoginCandidate {
  id: string;
  passwordHash: string | null;
  isAdmin: boolean;
}

/** The tenant named at sign-in, and the account that may sign in there with the email given (if any). */
export interface LoginTarget {
  tenant: TenantRow;
  candidate: LoginCandidate | null;
}

const candidates = alias(users, 'u');

const IS_ADMIN = (userAlias: string) =>
  sql.raw(`(${userAlias}.status = 'ACTIVE' and exists (
  select 1 from group_memberships m join groups g on g.id = m.group_id
  where m.user_id = ${userAlias}.id and g.built_in = 'ADMINS'))`);

export class AuthStore {
  constructor(private readonly db: Db) {}

  async sessionByTokenHash(tokenHash: string, tx: Executor = this.db): Promise<SessionLookup | null> {
    const rows = await queryRows<{
      id: string;
      tenant_id: string;
      user_id: string;
      expires_at: string | Date;
      revoked: boolean;
      is_admin: boolean;
    }>(
      tx,
      sql`select s.id, s.tenant_id, s.user_id, s.expires_at, s.revoked_at is not null as revoked, ${IS_ADMIN('u')} as is_admin
          from ${sessions} s join ${users} u on u.id = s.user_id
          where s.token_hash = ${tokenHash}`,
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id: r.id,
      tenantId: r.tenant_id,
      userId: r.user_id,
      expiresAt: new Date(r.expires_at),
      revoked: r.revoked,
      isAdmin: r.is_admin,
    };
  }

  /**
   * The tenant by slug and, in the same statement, the Cloud Directory user who may sign in
   * there with this email (selected with its hash for verification only). Null for an unknown
   * tenant. The tenant row serves the sign-in's answer too (its viewer), so it is read once.
   */
  async loginTarget(slug: string, email: string, tx: Executor = this.db): Promise<LoginTarget | null> {
    const u = candidates;
    const [r] = await tx
      .select({ tenant: tenants, id: u.id, passwordHash: u.passwordHash, isAdmin: sql<boolean | null>`${IS_ADMIN('u')}` })
      .from(tenants)
      .leftJoin(
        u,
        and(
          eq(u.tenantId, tenants.id),
          sql`lower(${u.email}) = ${email}`,
          sql`exists (select 1 from ${directories} d where d.id = ${u.directoryId} and d.kind = 'CLOUD')`,
        ),
      )
      .where(eq(tenants.slug, slug))
      .limit(1);
    if (!r) return null;
    return { tenant: r.tenant, candidate: r.id ? { id: r.id, passwordHash: r.passwordHash, isAdmin: r.isAdmin === true } : null };
  }

  async createSession(
    v: { tenantId: string; userId: string; tokenHash: string; expiresAt: Date },
    tx: Executor = this.db,
  ): Promise<{ id: string }> {
    const [row] = await tx.insert(sessions).values(v).returning({ id: sessions.id });
    return row!;
  }

  /**
   * `User.lastSignInAt`: the admin API's sign-ins count as much as the portal's. Returns the
   * user as it now is (the sign-in's answer shows it without reading it again).
   */
  async touchLastSignIn(tenantId: string, userId: string, tx: Executor = this.db): Promise<UserRow | null> {
    const [row] = await tx
      .update(users)
      .set({ lastSignInAt: new Date() })
      .where(and(eq(users.id, userId), eq(users.tenantId, tenantId)))
      .returning(userColumns);
    return row ?? null;
  }

  async revoke(tenantId: string, sessionId: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.id, sessionId), eq(sessions.tenantId, tenantId), isNull(sessions.revokedAt)));
  }

  /** Revokes every live session of these users (in the caller's transaction). */
  async revokeForUsers(tenantId: string, userIds: readonly string[], tx: Executor = this.db): Promise<void> {
    if (!userIds.length) return;
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.tenantId, tenantId), sql`${sessions.userId} = any(${uuidArray(userIds)})`, isNull(sessions.revokedAt)));
  }

  async expiresAt(sessionId: string, tx: Executor = this.db): Promise<Date | null> {
    const [r] = await tx.select({ e: sessions.expiresAt }).from(sessions).where(eq(sessions.id, sessionId));
    return r?.e ?? null;
  }

  /** Housekeeping: sessions past expiry or revoked more than a day ago. */
  async purgeExpired(tx: Executor = this.db): Promise<void> {
    await tx
      .delete(sessions)
      .where(sql`${sessions.expiresAt} < now() - interval '1 day' or ${sessions.revokedAt} < now() - interval '1 day'`);
  }
}
