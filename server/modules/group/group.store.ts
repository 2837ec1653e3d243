import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { groupMemberships, groups, users } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
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
