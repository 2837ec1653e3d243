import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { directories, sessions, tenants, users } from '../../../drizzle/schema/index.js';
import type { TenantRow } from '../tenant/tenant.types.js';
import { userColumns } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import type { Db, Executor } from '../../shared/db.js';
import { queryRows } from '../../shared/db.js';
import { fixedQuery } from '../../shared/prepared.js';
import { fromRow, rowFields, uuidArray } from '../../shared/sql.js';

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

/** The user's columns (never the hash) as `RETURNING` names them, mapped back as drizzle maps them. */
const USER_FIELDS = rowFields(userColumns, (k) => k);
const USER_RETURNING = sql.join(
  Object.entries(userColumns).map(([k, c]) => sql`${sql.identifier(c.name)} as ${sql.identifier(k)}`),
  sql`, `,
);

const IS_ADMIN = (userAlias: string) =>
  sql.raw(`(${userAlias}.status = 'ACTIVE' and exists (
  select 1 from group_memberships m join groups g on g.id = m.group_id
  where m.user_id = ${userAlias}.id and g.built_in = 'ADMINS'))`);

const loginTargetQuery = fixedQuery((db) => {
  const u = candidates;
  return db
    .select({ tenant: tenants, id: u.id, passwordHash: u.passwordHash, isAdmin: sql<boolean | null>`${IS_ADMIN('u')}` })
    .from(tenants)
    .leftJoin(
      u,
      and(
        eq(u.tenantId, tenants.id),
        sql`lower(${u.email}) = ${sql.placeholder('email')}`,
        sql`exists (select 1 from ${directories} d where d.id = ${u.directoryId} and d.kind = 'CLOUD')`,
      ),
    )
    .where(eq(tenants.slug, sql.placeholder('slug')))
    .limit(1);
});

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
    const [r] = await loginTargetQuery(tx, { slug, email });
    if (!r) return null;
    return { tenant: r.tenant, candidate: r.id ? { id: r.id, passwordHash: r.passwordHash, isAdmin: r.isAdmin === true } : null };
  }

  /**
   * A sign-in's writes in one statement, so they commit together without a transaction around
   * them (one round trip, one commit): the session, the user's `lastSignInAt` (the user is
   * returned as it now is, for the sign-in's answer), and the audit event with its live-feed
   * notification (`audit`: the audit trail's CTE and announcement; null when auditing is off).
   */
  async openSession(
    v: { tenantId: string; userId: string; tokenHash: string; expiresAt: Date },
    event: { action: string; targetType: string; targetId: string | null; targetName: string | null },
    audit: { cte: (rows: SQL) => SQL; announce: SQL | null } | null,
    tx: Executor = this.db,
  ): Promise<{ sessionId: string; user: UserRow } | null> {
    const eventRow = sql`select ${event.action}::text as action, ${event.targetType}::text as target_type, ${event.targetId}::uuid as target_id,
                                ${event.targetName}::text as target_name, null::json as changes, null::uuid as source_id`;
    const rows = await queryRows<Record<string, unknown>>(
      tx,
      sql`with s as (insert into ${sessions} (tenant_id, user_id, token_hash, expires_at)
                     values (${v.tenantId}::uuid, ${v.userId}::uuid, ${v.tokenHash}, ${v.expiresAt.toISOString()}::timestamptz) returning id),
               u as (update ${users} set last_sign_in_at = ${new Date().toISOString()}::timestamptz
                     where id = ${v.userId}::uuid and tenant_id = ${v.tenantId}::uuid returning ${USER_RETURNING})
               ${audit ? sql`, ${audit.cte(eventRow)}` : sql``}
          select s.id as "sessionId", u.*${audit?.announce ? sql`, ${audit.announce} as announced` : sql``} from s, u`,
    );
    const r = rows[0];
    if (!r) return null;
    return { sessionId: String(r['sessionId']), user: fromRow<UserRow>(r, USER_FIELDS) };
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
