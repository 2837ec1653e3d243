import { and, asc, eq, getTableColumns, inArray, sql, type SQL } from 'drizzle-orm';
import { groupMemberships, groups, users } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import { fixedQuery } from '../../shared/prepared.js';
import { fromRow, projections, uuidArrayLiteral } from '../../shared/sql.js';
import { userColumns } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import type { GroupRow } from './group.types.js';

export interface GroupFilter {
  directoryId?: string;
  search?: string;
}

/** Each group with the users (of those given) who are its members; one row per group. */
const groupsOfUsersQuery = fixedQuery((db) =>
  db
    .select({ group: groups, members: sql<string>`string_agg(${groupMemberships.userId}::text, ',')` })
    .from(groupMemberships)
    .innerJoin(groups, eq(groups.id, groupMemberships.groupId))
    .where(
      and(
        eq(groupMemberships.tenantId, sql.placeholder('tenantId')),
        sql`${groupMemberships.userId} = any(${sql.placeholder('userIds')}::uuid[])`,
      ),
    )
    .groupBy(groups.id),
);

/** What a page reads of a group: the columns asked for, the id and name always (its cursor). */
const groupProjection = projections(getTableColumns(groups), { table: 'groups', always: ['id', 'name'] });

export class GroupStore {
  constructor(private readonly db: Db) {}

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<GroupRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), inArray(groups.id, [...ids])));
  }

  /**
   * The groups of each of these users, each list sorted by name, in one statement: one row per
   * group holding the ids of its members among `userIds`, not one row per membership. A users
   * page of 100 users in 5 groups maps 5 group rows instead of 500 copies of them (their
   * timestamps each a Date): that mapping and its garbage were a fifth of the page's CPU.
   */
  async ofUsers(tenantId: string, userIds: readonly string[], tx: Executor = this.db): Promise<Map<string, GroupRow[]>> {
    const out = new Map<string, GroupRow[]>();
    if (!userIds.length) return out;
    const rows = await groupsOfUsersQuery(tx, { tenantId, userIds: uuidArrayLiteral(userIds) });
    rows.sort((a, b) => a.group.name.localeCompare(b.group.name));
    for (const r of rows) {
      for (const userId of r.members.split(',')) {
        const list = out.get(userId);
        if (list) list.push(r.group);
        else out.set(userId, [r.group]);
      }
    }
    return out;
  }

  async builtIn(tenantId: string, directoryId: string, kind: 'USERS' | 'ADMINS', tx: Executor = this.db): Promise<GroupRow | null> {
    const [g] = await tx
      .select()
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), eq(groups.directoryId, directoryId), eq(groups.builtIn, kind)));
    return g ?? null;
  }

  /** Every group of one directory (names compare ignoring case). */
  async inDirectory(tenantId: string, directoryId: string, tx: Executor = this.db): Promise<GroupRow[]> {
    return tx
      .select()
      .from(groups)
      .where(and(eq(groups.tenantId, tenantId), eq(groups.directoryId, directoryId)));
  }

  /** The active members of the tenant's Admins groups. */
  async activeAdminIds(tenantId: string, tx: Executor = this.db): Promise<Set<string>> {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`select distinct u.id from group_memberships m
          join groups g on g.id = m.group_id and g.built_in = 'ADMINS'
          join users u on u.id = m.user_id and u.status = 'ACTIVE'
          where m.tenant_id = ${tenantId}`,
    );
    return new Set(rows.map((r) => r.id));
  }

  /** How many active admins the tenant has (the last-admin rule). */
  async activeAdminCount(tenantId: string, tx: Executor = this.db): Promise<number> {
    const rows = await queryRows<{ n: number }>(
      tx,
      sql`select count(*)::int as n from group_memberships m
          join groups g on g.id = m.group_id and g.built_in = 'ADMINS'
          join users u on u.id = m.user_id and u.status = 'ACTIVE'
          where m.tenant_id = ${tenantId}`,
    );
    return rows[0]?.n ?? 0;
  }

  private where(tenantId: string, f: GroupFilter): SQL | undefined {
    const q = f.search?.trim().toLowerCase();
    return and(
      eq(groups.tenantId, tenantId),
      f.directoryId ? eq(groups.directoryId, f.directoryId) : undefined,
      q ? sql`lower(${groups.name}) like ${q.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'}` : undefined,
    );
  }

  /**
   * Keyset page ordered by (lower(name), id). With `memberCount` each row carries its member
   * count from the same statement (a correlated count on the membership key), so a groups page
   * showing counts is one statement, not two. `keys`: the properties the caller reads (unset:
   * all; see `projections`).
   */
  async page(
    tenantId: string,
    f: GroupFilter,
    limit: number,
    after: [string, string] | null,
    opts: { memberCount?: boolean; keys?: readonly (keyof GroupRow)[] } = {},
    tx: Executor = this.db,
  ): Promise<GroupRow[]> {
    const p = groupProjection(opts.keys);
    // Written as SQL and decoded by the column list: drizzle's select builder rebuilt this
    // statement and mapped each row column by column on every page, 12 % of the groups page's
    // CPU in the users-page bench's profile.
    const keyset = after ? sql` and (lower(${groups.name}), ${groups.id}) > (${after[0]}, ${after[1]}::uuid)` : sql``;
    const memberCount = opts.memberCount
      ? sql`, (select count(*)::int from ${groupMemberships} m where m.tenant_id = ${tenantId} and m.group_id = ${groups.id}) as "memberCount"`
      : sql``;
    const rows = await queryRows<Record<string, unknown>>(
      tx,
      sql`select ${p.select}${memberCount} from ${groups} where ${this.where(tenantId, f)}${keyset}
          order by lower(${groups.name}), ${groups.id} limit ${limit}`,
    );
    return rows.map((r) => {
      const g = fromRow<GroupRow>(r, p.fields);
      if (opts.memberCount) g.memberCount = r['memberCount'] as number;
      return g;
    });
  }

  async count(tenantId: string, f: GroupFilter, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(groups)
      .where(this.where(tenantId, f));
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

/** A SELECT of `(group_id, user_id)` rows, passed from the user store through the group service. */
export type MembershipPairsSql = SQL;

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

  /**
   * Every (group, user) pair in one INSERT, the pairs as one JSON parameter (as users'
   * `insertMany`); existing memberships are left as they are (ON CONFLICT DO NOTHING). Used by
   * addGroupMembers and the bulk operations; new users get theirs through `membershipsCte`.
   */
  async addMemberships(tx: Executor, tenantId: string, pairs: readonly { groupId: string; userId: string }[]): Promise<void> {
    if (!pairs.length) return;
    const json = JSON.stringify(pairs.map((p) => ({ g: p.groupId, u: p.userId })));
    await tx.execute(sql`
      insert into group_memberships (group_id, user_id, tenant_id)
      select x.g, x.u, ${tenantId}::uuid from jsonb_to_recordset(${json}::jsonb) as x(g uuid, u uuid)
      on conflict do nothing`);
  }

  /**
   * `addMemberships` as a CTE (`memberships`) for another store's statement: `pairs` is a
   * SELECT of `(group_id, user_id)` rows computed in that statement (the users it inserts), so
   * the pairs never travel as a JSON document of their own.
   */
  membershipsCte(tenantId: string, pairs: MembershipPairsSql): SQL {
    return sql`memberships as (
      insert into group_memberships (group_id, user_id, tenant_id)
      select p.group_id, p.user_id, ${tenantId}::uuid from (${pairs}) p
      on conflict do nothing)`;
  }

  /** New groups of one directory by name; a name taken meanwhile (ignoring case) is left as it is. */
  async insertNames(tx: Executor, tenantId: string, directoryId: string, names: readonly string[]): Promise<void> {
    if (!names.length) return;
    await tx
      .insert(groups)
      .values(names.map((name) => ({ tenantId, directoryId, name })))
      .onConflictDoNothing();
  }

  /**
   * Serialises every transaction that can reduce the tenant's active admins (a per-tenant
   * advisory transaction lock), so two of them cannot both pass a count that the other makes stale.
   */
  async lockAdmins(tx: Executor, tenantId: string): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`roster:admins:${tenantId}`}))`);
  }

  async removeMemberships(tenantId: string, groupId: string, userIds: readonly string[], tx: Executor = this.db): Promise<number> {
    if (!userIds.length) return 0;
    const rows = await tx
      .delete(groupMemberships)
      .where(
        and(eq(groupMemberships.tenantId, tenantId), eq(groupMemberships.groupId, groupId), inArray(groupMemberships.userId, [...userIds])),
      )
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
