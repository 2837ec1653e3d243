import { and, asc, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { mfaGroupMemberships, mfaGroups, mfaUsers, provisionings, scimTokens, tenants } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { pgErrorInfo } from '../../shared/errors.js';
import { uniqueness } from './scim.errors.js';
import type { GroupRowLike, UserRowLike } from './scim-resources.js';

/** A user row with the columns SCIM resources are built from (scim-resources.ts) and its owner. */
export interface ScimUserRow extends UserRowLike {
  tenantId: string;
  provisioningId: string | null;
}

export interface ScimGroupRow extends GroupRowLike {
  tenantId: string;
  provisioningId: string | null;
}

/** Who holds a userName or displayName: null provisioning = MANUAL. */
export interface Holder {
  id: string;
  provisioningId: string | null;
  ownerName: string | null;
  ownerKind: string | null;
}

export interface TokenPrincipal {
  tokenId: string;
  tenantId: string;
  provisioningId: string;
  provisioningName: string;
  tenantName: string;
  draft: unknown;
  count: number;
  retryAfter: number;
}

const userCols = {
  id: mfaUsers.id,
  tenantId: mfaUsers.tenantId,
  provisioningId: mfaUsers.provisioningId,
  username: mfaUsers.username,
  email: mfaUsers.email,
  firstName: mfaUsers.firstName,
  lastName: mfaUsers.lastName,
  externalId: mfaUsers.externalId,
  displayName: mfaUsers.displayName,
  suspendedAt: mfaUsers.suspendedAt,
  createdAt: mfaUsers.createdAt,
  updatedAt: mfaUsers.updatedAt,
};

const groupCols = {
  id: mfaGroups.id,
  tenantId: mfaGroups.tenantId,
  provisioningId: mfaGroups.provisioningId,
  name: mfaGroups.name,
  externalId: mfaGroups.externalId,
  createdAt: mfaGroups.createdAt,
  updatedAt: mfaGroups.updatedAt,
};

function mapUnique(err: unknown, what: string): unknown {
  const c = pgErrorInfo(err).constraint;
  if (c === 'uniq_mfa_users_tenant_username' || c === 'uniq_mfa_groups_tenant_name')
    return uniqueness(`${what} is already taken in this tenant.`);
  return err;
}

/** SQL of the SCIM module: its tokens, and the MFA users and groups a SCIM provisioning owns. */
export class ScimStore {
  constructor(private readonly db: Db) {}

  async insertToken(row: { tenantId: string; provisioningId: string; tokenHash: string }, tx: Executor = this.db): Promise<void> {
    await tx.insert(scimTokens).values(row);
  }

  /** Ends the grace of every token of the provisioning still valid after `until` at `until`. */
  async expireTokens(provisioningId: string, until: Date, tx: Executor): Promise<void> {
    await tx
      .update(scimTokens)
      .set({ expiresAt: until })
      .where(
        and(
          eq(scimTokens.provisioningId, provisioningId),
          or(isNull(scimTokens.expiresAt), sql`${scimTokens.expiresAt} > ${until.toISOString()}::timestamptz`),
        ),
      );
  }

  /**
   * One statement per request: finds the live token of this provisioning by hash and counts the
   * request in the token's rate window (a fixed window of `windowSeconds`, shared by replicas).
   */
  async authenticate(provisioningId: string, tokenHash: string, windowSeconds: number): Promise<TokenPrincipal | null> {
    const t = scimTokens;
    const fresh = sql`(${t.rateWindowStart} is null or ${t.rateWindowStart} <= now() - make_interval(secs => ${windowSeconds}))`;
    const [r] = await queryRows<TokenPrincipal>(
      this.db,
      sql`update ${t} set
            rate_count = case when ${fresh} then 1 else ${t.rateCount} + 1 end,
            rate_window_start = case when ${fresh} then now() else ${t.rateWindowStart} end,
            last_used_at = now()
          from ${provisionings} p join ${tenants} tn on tn.id = p.tenant_id
          where ${t.tokenHash} = ${tokenHash} and ${t.provisioningId} = ${provisioningId}::uuid and p.id = ${t.provisioningId}
            and p.kind = 'SCIM' and (${t.expiresAt} is null or ${t.expiresAt} > now())
          returning ${t.id} as "tokenId", ${t.tenantId} as "tenantId", ${t.provisioningId} as "provisioningId",
            p.name as "provisioningName", tn.name as "tenantName", p.draft as "draft", ${t.rateCount} as "count",
            greatest(1, ceil(extract(epoch from (${t.rateWindowStart} + make_interval(secs => ${windowSeconds}) - now()))))::int as "retryAfter"`,
    );
    return r ?? null;
  }

  // ---- users ----

  private userScope(tenantId: string, provisioningId: string): SQL {
    return and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.provisioningId, provisioningId))!;
  }

  async user(tenantId: string, provisioningId: string, id: string, tx: Executor = this.db, lock = false): Promise<ScimUserRow | null> {
    const q = tx
      .select(userCols)
      .from(mfaUsers)
      .where(and(this.userScope(tenantId, provisioningId), eq(mfaUsers.id, id)));
    const [u] = lock ? await q.for('update') : await q;
    return u ?? null;
  }

  /** Any MFA user of the tenant (a claim reads the MANUAL user it takes over). */
  async userById(tenantId: string, id: string, tx: Executor): Promise<ScimUserRow | null> {
    const [u] = await tx
      .select(userCols)
      .from(mfaUsers)
      .where(and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.id, id)));
    return u ?? null;
  }

  async userPage(tenantId: string, provisioningId: string, where: SQL | undefined, offset: number, limit: number): Promise<ScimUserRow[]> {
    return this.db
      .select(userCols)
      .from(mfaUsers)
      .where(and(this.userScope(tenantId, provisioningId), where))
      .orderBy(asc(mfaUsers.createdAt), asc(mfaUsers.id))
      .offset(offset)
      .limit(limit);
  }

  async userCount(tenantId: string, provisioningId: string, where: SQL | undefined): Promise<number> {
    const [r] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaUsers)
      .where(and(this.userScope(tenantId, provisioningId), where));
    return r?.n ?? 0;
  }

  /** The MFA user holding a username (any source), locked, with its owner's name and kind. */
  async userHolder(tenantId: string, username: string, tx: Executor): Promise<Holder | null> {
    const [h] = await tx
      .select({ id: mfaUsers.id, provisioningId: mfaUsers.provisioningId, ownerName: provisionings.name, ownerKind: provisionings.kind })
      .from(mfaUsers)
      .leftJoin(provisionings, eq(provisionings.id, mfaUsers.provisioningId))
      .where(and(eq(mfaUsers.tenantId, tenantId), sql`lower(${mfaUsers.username}) = ${username.toLowerCase()}`))
      .for('update', { of: mfaUsers });
    return h ?? null;
  }

  async insertUser(row: Omit<ScimUserRow, 'id' | 'createdAt' | 'updatedAt'>, tx: Executor): Promise<ScimUserRow> {
    try {
      const [u] = await tx.insert(mfaUsers).values(row).returning(userCols);
      return u!;
    } catch (err) {
      throw mapUnique(err, 'This userName');
    }
  }

  async updateUser(
    tenantId: string,
    id: string,
    patch: Partial<Omit<ScimUserRow, 'id' | 'tenantId' | 'createdAt' | 'updatedAt'>>,
    tx: Executor,
  ): Promise<ScimUserRow> {
    try {
      const [u] = await tx
        .update(mfaUsers)
        .set({ ...patch, updatedAt: sql`clock_timestamp()` })
        .where(and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.id, id)))
        .returning(userCols);
      return u!;
    } catch (err) {
      throw mapUnique(err, 'This userName');
    }
  }

  /** Deletes the user; its devices, links and memberships go by foreign-key cascade. */
  async deleteUser(tenantId: string, id: string, tx: Executor): Promise<void> {
    await tx.delete(mfaUsers).where(and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.id, id)));
  }

  async groupsOfUsers(tenantId: string, userIds: readonly string[]): Promise<{ userId: string; id: string; name: string }[]> {
    if (!userIds.length) return [];
    return this.db
      .select({ userId: mfaGroupMemberships.mfaUserId, id: mfaGroups.id, name: mfaGroups.name })
      .from(mfaGroupMemberships)
      .innerJoin(mfaGroups, eq(mfaGroups.id, mfaGroupMemberships.mfaGroupId))
      .where(and(eq(mfaGroupMemberships.tenantId, tenantId), inArray(mfaGroupMemberships.mfaUserId, [...userIds])))
      .orderBy(asc(mfaGroups.name));
  }

  // ---- groups ----

  private groupScope(tenantId: string, provisioningId: string): SQL {
    return and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.provisioningId, provisioningId))!;
  }

  async group(tenantId: string, provisioningId: string, id: string, tx: Executor = this.db, lock = false): Promise<ScimGroupRow | null> {
    const q = tx
      .select(groupCols)
      .from(mfaGroups)
      .where(and(this.groupScope(tenantId, provisioningId), eq(mfaGroups.id, id)));
    const [g] = lock ? await q.for('update') : await q;
    return g ?? null;
  }

  async groupPage(
    tenantId: string,
    provisioningId: string,
    where: SQL | undefined,
    offset: number,
    limit: number,
  ): Promise<ScimGroupRow[]> {
    return this.db
      .select(groupCols)
      .from(mfaGroups)
      .where(and(this.groupScope(tenantId, provisioningId), where))
      .orderBy(asc(mfaGroups.createdAt), asc(mfaGroups.id))
      .offset(offset)
      .limit(limit);
  }

  async groupCount(tenantId: string, provisioningId: string, where: SQL | undefined): Promise<number> {
    const [r] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaGroups)
      .where(and(this.groupScope(tenantId, provisioningId), where));
    return r?.n ?? 0;
  }

  async groupHolder(tenantId: string, name: string, tx: Executor): Promise<Holder | null> {
    const [h] = await tx
      .select({ id: mfaGroups.id, provisioningId: mfaGroups.provisioningId, ownerName: provisionings.name, ownerKind: provisionings.kind })
      .from(mfaGroups)
      .leftJoin(provisionings, eq(provisionings.id, mfaGroups.provisioningId))
      .where(and(eq(mfaGroups.tenantId, tenantId), sql`lower(${mfaGroups.name}) = ${name.toLowerCase()}`))
      .for('update', { of: mfaGroups });
    return h ?? null;
  }

  async insertGroup(
    row: { tenantId: string; provisioningId: string; name: string; externalId: string | null },
    tx: Executor,
  ): Promise<ScimGroupRow> {
    try {
      const [g] = await tx.insert(mfaGroups).values(row).returning(groupCols);
      return g!;
    } catch (err) {
      throw mapUnique(err, 'This displayName');
    }
  }

  async updateGroup(
    tenantId: string,
    id: string,
    patch: Partial<{ provisioningId: string; name: string; externalId: string | null }>,
    tx: Executor,
  ): Promise<ScimGroupRow> {
    try {
      const [g] = await tx
        .update(mfaGroups)
        .set({ ...patch, updatedAt: sql`clock_timestamp()` })
        .where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.id, id)))
        .returning(groupCols);
      return g!;
    } catch (err) {
      throw mapUnique(err, 'This displayName');
    }
  }

  async deleteGroup(tenantId: string, id: string, tx: Executor): Promise<void> {
    await tx.delete(mfaGroups).where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.id, id)));
  }

  async membersOf(
    tenantId: string,
    groupIds: readonly string[],
    tx: Executor = this.db,
  ): Promise<{ groupId: string; id: string; username: string }[]> {
    if (!groupIds.length) return [];
    return tx
      .select({ groupId: mfaGroupMemberships.mfaGroupId, id: mfaUsers.id, username: mfaUsers.username })
      .from(mfaGroupMemberships)
      .innerJoin(mfaUsers, eq(mfaUsers.id, mfaGroupMemberships.mfaUserId))
      .where(and(eq(mfaGroupMemberships.tenantId, tenantId), inArray(mfaGroupMemberships.mfaGroupId, [...groupIds])))
      .orderBy(asc(mfaUsers.username));
  }

  /** The ids among `ids` that are users of this provisioning (members may only be those). */
  async ownedUserIds(tenantId: string, provisioningId: string, ids: readonly string[], tx: Executor): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await tx
      .select({ id: mfaUsers.id })
      .from(mfaUsers)
      .where(and(this.userScope(tenantId, provisioningId), inArray(mfaUsers.id, [...ids])));
    return new Set(rows.map((r) => r.id));
  }

  async clearMembers(groupId: string, tx: Executor): Promise<void> {
    await tx.delete(mfaGroupMemberships).where(eq(mfaGroupMemberships.mfaGroupId, groupId));
  }

  async addMembers(tenantId: string, groupId: string, userIds: readonly string[], tx: Executor): Promise<void> {
    if (!userIds.length) return;
    await tx
      .insert(mfaGroupMemberships)
      .values(userIds.map((mfaUserId) => ({ tenantId, mfaGroupId: groupId, mfaUserId })))
      .onConflictDoNothing();
  }

  async removeMembers(groupId: string, userIds: readonly string[], tx: Executor): Promise<void> {
    if (!userIds.length) return;
    await tx
      .delete(mfaGroupMemberships)
      .where(and(eq(mfaGroupMemberships.mfaGroupId, groupId), inArray(mfaGroupMemberships.mfaUserId, [...userIds])));
  }
}
