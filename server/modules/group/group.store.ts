import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { groupMemberships, groups, users } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import { userColumns } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import type { GroupRow } from './group.types.js';

export interface GroupFilter {
  directoryId?: string;
  search?: string;
}

export class GroupStore {
  constructor(private readonly db: Db) {}

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<GroupRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), inArray(groups.id, [...ids])));
  }

  async builtIn(tenantId: string, directoryId: string, kind: 'USERS' | 'ADMINS', tx: Executor = this.db): Promise<GroupRow | null> {
    const [g] = await tx
      .select()
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), eq(groups.directoryId, directoryId), eq(groups.builtIn, kind)));
    return g ?? null;
  }

  private where(tenantId: string, f: GroupFilter): SQL | undefined {
    const q = f.search?.trim().toLowerCase();
    return and(
      eq(groups.tenantId, tenantId),
      f.directoryId ? eq(groups.directoryId, f.directoryId) : undefined,
      q ? sql`lower(${groups.name}) like ${q.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'}` : undefined,
    );
  }

  /** Keyset page ordered by (lower(name), id). */
  async page(tenantId: string, f: GroupFilter, limit: number, after: [string, string] | null, tx: Executor = this.db) {
    const key = sql`lower(${groups.name})`;
    return tx
      .select()
      .from(groups)
      .where(and(this.where(tenantId, f), after ? sql`(${key}, ${groups.id}) > (${after[0]}, ${after[1]}::uuid)` : undefined))
      .orderBy(asc(key), asc(groups.id))
      .limit(limit);
  }

  async count(tenantId: string, f: GroupFilter, tx: Executor = this.db): Promise<number> {
    const [r] = await tx.select({ n: sql<number>`count(*)::int` }).from(groups).where(this.where(tenantId, f));
    return r?.n ?? 0;
  }

  async memberCounts(tenantId: string, groupIds: readonly string[], tx: Executor = this.db): Promise<Map<string, number>> {
    if (!groupIds.length) return new Map();
    const rows = await tx
      .select({ id: groupMemberships.groupId, n: sql<number>`count(*)::int` })
      .from(groupMemberships)
      .where(and(eq(groupMemberships.tenantId, tenantId), inArray(groupMemberships.groupId, [...groupIds])))
      .groupBy(groupMemberships.groupId);
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  /** Members of one group, keyset-paged by (email, id). */
  async members(
    tenantId: string,
    groupId: string,
    limit: number,
    after: [string, string] | null,
    tx: Executor = this.db,
  ): Promise<UserRow[]> {
    const key = sql`coalesce(${users.email}, '')`;
    return tx
      .select(userColumns)
      .from(groupMemberships)
      .innerJoin(users, eq(users.id, groupMemberships.userId))
      .where(
        and(
          eq(groupMemberships.tenantId, tenantId),
          eq(groupMemberships.groupId, groupId),
          after ? sql`(${key}, ${users.id}) > (${after[0]}, ${after[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(asc(key), asc(users.id))
      .limit(limit);
  }
}

export class GroupWriteStore {
  constructor(private readonly db: Db) {}

  async insert(
    row: { tenantId: string; directoryId: string; name: string; description: string | null; builtIn?: string | null },
    tx: Executor = this.db,
  ): Promise<GroupRow> {
    try {
      const [g] = await tx.insert(groups).values(row).returning();
      return g!;
    } catch (err) {
      throw mapGroupConstraint(err);
    }
  }

  async update(tenantId: string, id: string, patch: { name?: string; description?: string | null }, tx: Executor = this.db) {
    try {
      const [g] = await tx
        .update(groups)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(groups.tenantId, tenantId), eq(groups.id, id)))
        .returning();
      return g ?? null;
    } catch (err) {
      throw mapGroupConstraint(err);
    }
  }

  async delete(tenantId: string, id: string, tx: Executor = this.db): Promise<boolean> {
    const rows = await tx
      .delete(groups)
      .where(and(eq(groups.tenantId, tenantId), eq(groups.id, id)))
      .returning({ id: groups.id });
    return rows.length === 1;
  }

  /** Every (group, user) pair in one INSERT; existing memberships are left as they are. */
  async addMemberships(tenantId: string, pairs: { groupId: string; userId: string }[], tx: Executor = this.db): Promise<void> {
    for (let i = 0; i < pairs.length; i += 5000) {
      const chunk = pairs.slice(i, i + 5000);
      if (chunk.length) {
        await tx
          .insert(groupMemberships)
          .values(chunk.map((p) => ({ ...p, tenantId })))
          .onConflictDoNothing();
      }
    }
  }

  async removeMemberships(tenantId: string, groupId: string, userIds: readonly string[], tx: Executor = this.db): Promise<number> {
    if (!userIds.length) return 0;
    const rows = await tx
      .delete(groupMemberships)
      .where(and(eq(groupMemberships.tenantId, tenantId), eq(groupMemberships.groupId, groupId), inArray(groupMemberships.userId, [...userIds])))
      .returning({ userId: groupMemberships.userId });
    return rows.length;
  }
}

function mapGroupConstraint(err: unknown): unknown {
  if (pgErrorInfo(err).constraint === 'uniq_groups_directory_name') {
    return DomainError.of(ErrorCode.NAME_TAKEN, 'A group with this name already exists in the directory.', ['input', 'name']);
  }
  return err;
}
