import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { endUserSessions, groupMemberships, groups, identityProviders, tenants, users } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { uuidArray } from '../../shared/sql.js';

/** A login portal: an identity provider with its tenant and the directory whose users sign in there. */
export interface PortalRow {
  identityProviderId: string;
  name: string;
  description: string | null;
  directoryId: string;
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
}

export interface EndUserSessionLookup {
  id: string;
  tenantId: string;
  userId: string;
  identityProviderId: string;
  stage: string;
  expiresAt: Date;
  revoked: boolean;
  userActive: boolean;
}

export interface PortalCandidate {
  id: string;
  email: string | null;
  username: string | null;
  passwordHash: string | null;
}

export interface EndUserProfile {
  id: string;
  email: string | null;
  username: string | null;
  firstName: string;
  lastName: string;
  lastSignInAt: Date | null;
  groups: string[];
}

export class EndUserSessionStore {
  constructor(private readonly db: Db) {}

  /** Every portal of that name (IdP names are unique per tenant only), optionally within one tenant. */
  async portalsByName(name: string, tenantSlug: string | null, tx: Executor = this.db): Promise<PortalRow[]> {
    return tx
      .select({
        identityProviderId: identityProviders.id,
        name: identityProviders.name,
        description: identityProviders.description,
        directoryId: identityProviders.directoryId,
        tenantId: tenants.id,
        tenantSlug: tenants.slug,
        tenantName: tenants.name,
      })
      .from(identityProviders)
      .innerJoin(tenants, eq(tenants.id, identityProviders.tenantId))
      .where(and(sql`lower(${identityProviders.name}) = ${name.toLowerCase()}`, tenantSlug ? eq(tenants.slug, tenantSlug) : undefined))
      .limit(10);
  }

  /**
   * The directory user a portal sign-in names: by email, else by login id (both unique per
   * directory ignoring case). Any status: the caller decides, after the password check.
   */
  async candidate(directoryId: string, login: string, tx: Executor = this.db): Promise<(PortalCandidate & { active: boolean }) | null> {
    const rows = await queryRows<{
      id: string;
      email: string | null;
      username: string | null;
      password_hash: string | null;
      status: string;
    }>(
      tx,
      sql`select u.id, u.email, u.username, u.password_hash, u.status from ${users} u
          where u.directory_id = ${directoryId} and (lower(u.email) = ${login} or lower(u.username) = ${login})
          order by (lower(u.email) = ${login}) desc nulls last limit 1`,
    );
    const r = rows[0];
    return r ? { id: r.id, email: r.email, username: r.username, passwordHash: r.password_hash, active: r.status === 'ACTIVE' } : null;
  }

  async create(
    v: { tenantId: string; userId: string; identityProviderId: string; tokenHash: string; stage: string; expiresAt: Date },
    tx: Executor = this.db,
  ): Promise<{ id: string }> {
    const [row] = await tx.insert(endUserSessions).values(v).returning({ id: endUserSessions.id });
    return row!;
  }

  async byTokenHash(tokenHash: string, tx: Executor = this.db): Promise<EndUserSessionLookup | null> {
    const [r] = await tx
      .select({
        id: endUserSessions.id,
        tenantId: endUserSessions.tenantId,
        userId: endUserSessions.userId,
        identityProviderId: endUserSessions.identityProviderId,
        stage: endUserSessions.stage,
        expiresAt: endUserSessions.expiresAt,
        revokedAt: endUserSessions.revokedAt,
        status: users.status,
      })
      .from(endUserSessions)
      .innerJoin(users, eq(users.id, endUserSessions.userId))
      .where(eq(endUserSessions.tokenHash, tokenHash));
    if (!r) return null;
    const { revokedAt, status, ...rest } = r;
    return { ...rest, revoked: revokedAt !== null, userActive: status === 'ACTIVE' };
  }

  /**
   * A session waiting for its second factor becomes fully signed in, under a new token (the
   * pending one stops working) and a new expiry. False when it was not pending any more (a
   * concurrent verification won, or it was revoked).
   */
  async promote(id: string, tokenHash: string, expiresAt: Date, tx: Executor = this.db): Promise<boolean> {
    const rows = await tx
      .update(endUserSessions)
      .set({ stage: 'ACTIVE', tokenHash, expiresAt })
      .where(and(eq(endUserSessions.id, id), eq(endUserSessions.stage, 'PENDING_SECOND_FACTOR'), isNull(endUserSessions.revokedAt)))
      .returning({ id: endUserSessions.id });
    return rows.length > 0;
  }

  async revoke(tenantId: string, id: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(endUserSessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(endUserSessions.id, id), eq(endUserSessions.tenantId, tenantId), isNull(endUserSessions.revokedAt)));
  }

  /** Revokes every live end-user session of these users, but `keep` (in the caller's transaction). */
  async revokeForUsers(tenantId: string, userIds: readonly string[], keep: string | null, tx: Executor = this.db): Promise<void> {
    if (!userIds.length) return;
    await tx
      .update(endUserSessions)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(endUserSessions.tenantId, tenantId),
          sql`${endUserSessions.userId} = any(${uuidArray(userIds)})`,
          isNull(endUserSessions.revokedAt),
          keep ? ne(endUserSessions.id, keep) : undefined,
        ),
      );
  }

  async touchLastSignIn(userId: string, tx: Executor = this.db): Promise<void> {
    await tx.update(users).set({ lastSignInAt: new Date() }).where(eq(users.id, userId));
  }

  async passwordHash(tenantId: string, userId: string, tx: Executor = this.db): Promise<string | null> {
    const [r] = await tx
      .select({ h: users.passwordHash })
      .from(users)
      .where(and(eq(users.id, userId), eq(users.tenantId, tenantId)));
    return r?.h ?? null;
  }

  async setPassword(tenantId: string, userId: string, passwordHash: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(users)
      .set({ passwordHash, updatedAt: new Date() })
      .where(and(eq(users.id, userId), eq(users.tenantId, tenantId)));
  }

  async profile(tenantId: string, userId: string, tx: Executor = this.db): Promise<EndUserProfile | null> {
    const [u] = await tx
      .select({
        id: users.id,
        email: users.email,
        username: users.username,
        firstName: users.firstName,
        lastName: users.lastName,
        lastSignInAt: users.lastSignInAt,
      })
      .from(users)
      .where(and(eq(users.id, userId), eq(users.tenantId, tenantId)));
    if (!u) return null;
    const gs = await tx
      .select({ name: groups.name })
      .from(groupMemberships)
      .innerJoin(groups, eq(groups.id, groupMemberships.groupId))
      .where(eq(groupMemberships.userId, userId))
      .orderBy(groups.name);
    return { ...u, groups: gs.map((g) => g.name) };
  }

  /** Housekeeping: sessions past expiry or revoked more than a day ago. */
  async purgeExpired(tx: Executor = this.db): Promise<void> {
    await tx
      .delete(endUserSessions)
      .where(sql`${endUserSessions.expiresAt} < now() - interval '1 day' or ${endUserSessions.revokedAt} < now() - interval '1 day'`);
  }
}
