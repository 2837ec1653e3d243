import { sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import {
  groupMemberships,
  groups,
  mfaDevices,
  mfaGroupMemberships,
  mfaGroups,
  mfaUsers,
  syncRunDesired,
  syncRunRemovals,
  users,
} from '../../../drizzle/schema/index.js';
import { queryRows, type Executor } from '../../shared/db.js';
import { ErrorCode } from '../../shared/errors.js';
import { PlanAction, type CollisionCandidate, type KeyRange, type PlanListRow } from './sync-plan.js';
import { inRange, name, names, parseJson, parseJsonList, textArray, uuidArray } from '../../shared/sql.js';

/**
 * Planning SQL: the classification of desired users, the staged plan of a run
 * (`sync_run_desired`, `sync_run_removals`) and the read-only preview. Set-based, one key range
 * per call; every method runs in the caller's transaction (one chunk), so it takes `tx`.
 */

const u = alias(users, 'u');
const gm = alias(groupMemberships, 'gm');
const m = alias(mfaUsers, 'm');
const o = alias(mfaUsers, 'o');
const x = alias(mfaUsers, 'x');
const mm = alias(mfaGroupMemberships, 'mm');
const mg = alias(mfaGroups, 'mg');
const dv = alias(mfaDevices, 'dv');
const s = alias(syncRunDesired, 's');
const rm = alias(syncRunRemovals, 'rm');

export interface ClassifyOptions {
  tenantId: string;
  provisioningId: string;
  /** Directory groups whose members make up the desired set. */
  groupIds: readonly string[];
  /** Directory groups that have (or, after the GROUPS phase, will have) an owned MFA group. */
  targetGroupIds: readonly string[];
  includeManual: boolean;
  /** Users that lose a username collision (`collisionLosers`): CREATE becomes FAIL. */
  losers?: readonly string[];
}

/** The username a directory user has in the MFA directory: its username, else its email, else its id. */
function usernameOf(t: typeof u): SQL {
  return sql`coalesce(${t.username}, ${t.email}, ${t.id}::text)`;
}

/** Desired users (members of the groups, ids in `range`) as a CTE `ids(user_id)`. */
function desiredIds(groupIds: readonly string[], range: KeyRange): SQL {
  return sql`ids as (select distinct ${gm.userId} as user_id from ${groupMemberships} ${gm} where ${gm.groupId} = any(${uuidArray(groupIds)}) and ${inRange(gm.userId, range)})`;
}

/**
 * Which owned MFA users a removal check reads: those whose directory user's id is in a key
 * range (read with that range's desired users: one index range), those whose directory user
 * is gone (`unlinked`), or, for runs planned before removals went with the desired users,
 * those whose own id is in a key range.
 */
export type OwnedScope = { user: KeyRange } | { owner: KeyRange } | 'unlinked';

function ownedIn(scope: OwnedScope): SQL {
  if (scope === 'unlinked') return sql`${o.directoryUserId} is null`;
  return 'user' in scope ? inRange(o.directoryUserId, scope.user) : inRange(o.id, scope.owner);
}

/**
 * The owned users of CTE `ow` (in `scope`) that are not desired: their directory user is gone,
 * or in no selected group. For a key range of directory users, the range's memberships are
 * read once (one index range, hashed) rather than probed per owned user.
 */
function undesired(scope: OwnedScope, groupIds: readonly string[]): SQL {
  if (scope !== 'unlinked' && 'user' in scope) {
    return sql`ow.directory_user_id not in (
      select ${gm.userId} from ${groupMemberships} ${gm} where ${gm.groupId} = any(${uuidArray(groupIds)}) and ${inRange(gm.userId, scope.user)})`;
  }
  return sql`(ow.directory_user_id is null or not exists (
    select 1 from ${groupMemberships} ${gm} where ${gm.userId} = ow.directory_user_id and ${gm.groupId} = any(${uuidArray(groupIds)})))`;
}

/**
 * CTEs `d` (desired users among `ids`) and `c` (each with its action and MFA user), given a
 * CTE `ids(user_id)`. The single definition of "what a sync does to a user", shared by the
 * preview and by planning, so a preview equals what the run then does.
 *
 * - owned by this provisioning and the directory user disabled (still selected) → UPDATE
 *   (suspend: PROVISIONING_DISABLED, devices kept) unless already suspended, then KEEP;
 * - owned by this provisioning → UPDATE if suspended (resume), or if email, names, username
 *   (when free) or the set of target-group memberships differ, else KEEP;
 * - a disabled directory user without an owned MFA user is not desired (nothing is created);
 * - else a MANUAL MFA user linked to the directory user, or with the same username, or the
 *   same email (ignoring case, in that order of preference) → CLAIM or SKIP;
 * - else username already used in the MFA directory, or lost to another selected user
 *   (`losers`, see `collisionLosers`) → FAIL (USERNAME_TAKEN);
 * - else CREATE.
 */
function classifyCtes(c: ClassifyOptions, range?: KeyRange): SQL {
  const t = c.tenantId;
  const p = c.provisioningId;
  const targets = uuidArray(c.targetGroupIds);
  // Memberships are compared as sets, once per chunk: `moved` holds the users with a directory
  // membership in a target group that their MFA user lacks in the owned group, or the
  // reverse (a full join, unmatched on either side). Two sorted array aggregates per owned user
  // were half the classification's time. The directory side of a key range is one index
  // range; listed ids (collision candidates, losers) probe by user.
  const directoryMemberships = range
    ? sql`select ${gm.userId} as user_id, ${gm.groupId} as group_id from ${groupMemberships} ${gm} where ${gm.groupId} = any(${targets}) and ${inRange(gm.userId, range)}`
    : sql`select ids.user_id, ${gm.groupId} as group_id from ids join ${groupMemberships} ${gm} on ${gm.userId} = ids.user_id and ${gm.groupId} = any(${targets})`;
  const manualAction = c.includeManual ? PlanAction.CLAIM : PlanAction.SKIP;
  // LATERAL lookups by key (LIMIT 1 keeps the planner from flattening them into joins):
  // statistics lag behind bulk loads (PGlite never auto-analyzes), and a misestimated hash
  // join would scan the whole tenant once per chunk. The owned users' MFA memberships are
  // probed the same way (OFFSET 0 is the fence: a user has several): as a join, PostgreSQL
  // with fresh statistics hashed every membership of the tenant for each chunk (100k rows),
  // so a chunk's work grew with the directory, not with the chunk. At 100k users, with JIT
  // off, the two plans took the same time; larger directories were not measured.
  return sql`
    d as materialized (
      select ${u.id} as user_id, ${usernameOf(u)} as username, ${u.email} as email, ${u.firstName} as first_name, ${u.lastName} as last_name,
        ${u.status} = 'DISABLED' as disabled
      from ids cross join lateral (
        select * from ${users} ${u} where ${u.id} = ids.user_id and ${u.tenantId} = ${t}::uuid limit 1) ${u}),
    dm as materialized (
      select d.*, ${o.id} as owned_id, ${o.username} as o_username, ${o.email} as o_email, ${o.firstName} as o_first_name, ${o.lastName} as o_last_name,
        ${o.suspendedAt} is not null as o_suspended,
        case when ${o.id} is null then coalesce(
          (select ${m.id} from ${mfaUsers} ${m} where ${m.directoryUserId} = d.user_id and ${m.provisioningId} is null and ${m.tenantId} = ${t}::uuid order by ${m.id} limit 1),
          (select ${m.id} from ${mfaUsers} ${m} where ${m.tenantId} = ${t}::uuid and lower(${m.username}) = lower(d.username) and ${m.provisioningId} is null limit 1),
          (select ${m.id} from ${mfaUsers} ${m} where d.email is not null and ${m.tenantId} = ${t}::uuid and lower(${m.email}) = lower(d.email) and ${m.provisioningId} is null order by ${m.id} limit 1))
        end as manual_id
      from d left join lateral (
        select * from ${mfaUsers} ${o} where ${o.provisioningId} = ${p}::uuid and ${o.directoryUserId} = d.user_id limit 1) ${o} on true),
    dg as materialized (${directoryMemberships}),
    og as materialized (
      select dm.user_id, ${mg.directoryGroupId} as group_id from dm
      cross join lateral (
        select ${mm.mfaGroupId} as mfa_group_id from ${mfaGroupMemberships} ${mm} where ${mm.mfaUserId} = dm.owned_id offset 0) ${mm}
      join ${mfaGroups} ${mg} on ${mg.id} = ${mm.mfaGroupId} and ${mg.provisioningId} = ${p}::uuid),
    moved as materialized (
      select coalesce(dg.user_id, og.user_id) as user_id from dg full join og on og.user_id = dg.user_id and og.group_id = dg.group_id
      where dg.user_id is null or og.user_id is null),
    c0 as materialized (
      select dm.user_id, dm.username, dm.email, dm.first_name, dm.last_name,
        case
          when dm.owned_id is not null and dm.disabled then
            case when dm.o_suspended then ${PlanAction.KEEP} else ${PlanAction.UPDATE} end
          when dm.owned_id is not null then
            case when dm.o_suspended or dm.o_email is distinct from dm.email or dm.o_first_name <> dm.first_name or dm.o_last_name <> dm.last_name
                   or (dm.o_username <> dm.username and not exists (
                         select 1 from ${mfaUsers} ${x} where ${x.tenantId} = ${t}::uuid and lower(${x.username}) = lower(dm.username) and ${x.id} <> dm.owned_id))
                   or dm.user_id in (select user_id from moved)
                 then ${PlanAction.UPDATE} else ${PlanAction.KEEP} end
          when dm.manual_id is not null then ${manualAction}
          when exists (select 1 from ${mfaUsers} ${x} where ${x.tenantId} = ${t}::uuid and lower(${x.username}) = lower(dm.username)) then ${PlanAction.FAIL}
          else ${PlanAction.CREATE}
        end as action,
        coalesce(dm.owned_id, dm.manual_id) as mfa_user_id
      from dm
      -- A disabled user is desired only to keep (suspended) the MFA user it already has.
      where not dm.disabled or dm.owned_id is not null),
    c as materialized (
      select c0.user_id, c0.username, c0.email, c0.first_name, c0.last_name, c0.mfa_user_id,
        case when c0.action = ${PlanAction.CREATE} and c0.user_id = any(${uuidArray(c.losers ?? [])}) then ${PlanAction.FAIL} else c0.action end as action
      from c0)`;
}

export class SyncPlanStore {
  /** The enabled groups that exist in the associated directories, by id. */
  async enabledGroups(tx: Executor, tenantId: string, groupIds: readonly string[], directoryIds: readonly string[]) {
    if (!groupIds.length) return [];
    const g = alias(groups, 'g');
    return queryRows<{ id: string; name: string }>(
      tx,
      sql`select ${g.id} as id, ${g.name} as name from ${groups} ${g} where ${g.tenantId} = ${tenantId}::uuid and ${g.id} = any(${uuidArray(groupIds)})
            and ${g.directoryId} = any(${uuidArray(directoryIds)}) order by ${g.id}`,
    );
  }

  /** MFA groups owned by the provisioning or named like one of `lowerNames`. */
  async mfaGroupsFor(tx: Executor, tenantId: string, provisioningId: string, lowerNames: readonly string[]) {
    return queryRows<{ id: string; provisioningId: string | null; directoryGroupId: string | null; name: string }>(
      tx,
      sql`select ${mg.id} as id, ${mg.provisioningId} as "provisioningId", ${mg.directoryGroupId} as "directoryGroupId", ${mg.name} as name from ${mfaGroups} ${mg}
          where ${mg.tenantId} = ${tenantId}::uuid and (${mg.provisioningId} = ${provisioningId}::uuid or lower(${mg.name}) = any(${textArray(lowerNames)}))`,
    );
  }

  /**
   * The size of the desired set, and the users in it whose lower-cased username another one
   * shares (the collision rule needs the whole set, since chunks are key ranges). One
   * aggregate over the set collects each shared key's users (`array_agg … having count(*) > 1`),
   * with no join back to the set for the planner to get wrong: joined back (hash aggregate ⋈
   * CTE), both engines sometimes ran it as a nested loop rescanning the aggregate once per
   * desired user (29 s for 10k users on PGlite, 13–19 s of a 10k sync's planning on
   * PostgreSQL, instead of 0.1 s); `k in (select k … having …)` was a nested-loop semi join
   * too, and a window count (`count(*) over (partition by k)`) sorts every key.
   */
  async desiredSummary(tx: Executor, tenantId: string, groupIds: readonly string[]): Promise<{ total: number; contested: string[] }> {
    if (!groupIds.length) return { total: 0, contested: [] };
    const [r] = await queryRows<{ total: number; contested: string[] | string | null }>(
      tx,
      sql`with ds as materialized (
            select ${u.id} as id, lower(${usernameOf(u)}) as k from ${users} ${u}
            where ${u.tenantId} = ${tenantId}::uuid and ${u.status} <> 'DISABLED'
              and exists (select 1 from ${groupMemberships} ${gm} where ${gm.userId} = ${u.id} and ${gm.groupId} = any(${uuidArray(groupIds)})))
          select (select count(*)::int from ds) as total,
                 (select json_agg(id) from (select unnest(array_agg(id)) as id from ds group by k having count(*) > 1) dup) as contested`,
    );
    return { total: r?.total ?? 0, contested: parseJsonList(r?.contested) };
  }

  /** The classification (before the collision rule) of the given desired users, keyed by lower-cased username. */
  async collisionCandidates(tx: Executor, c: ClassifyOptions, userIds: readonly string[]): Promise<CollisionCandidate[]> {
    if (!userIds.length) return [];
    return queryRows<CollisionCandidate>(
      tx,
      sql`with ids as (select unnest(${uuidArray(userIds)}) as user_id), ${classifyCtes({ ...c, losers: [] })}
          select user_id as "userId", lower(username) as key, action from c`,
    );
  }

  /**
   * Stages the desired users whose id falls in `range` (or, with `only`, just those users),
   * with their planned actions, except KEEP: nothing applies them or lists them, and staging
   * them made a resync of 100k unchanged users write (and later delete) 100k rows for nothing.
   * Rows already staged stay (ON CONFLICT DO NOTHING): the collision losers are staged first,
   * as FAIL. Returns how many desired users it added to the plan, KEEPs included (the run's
   * `staged` counter, so the KEEP count is `staged` less the staged rows).
   */
  async stage(tx: Executor, runId: string, c: ClassifyOptions, range: KeyRange | { only: readonly string[] }): Promise<number> {
    if (!c.groupIds.length) return 0;
    const ids = 'only' in range ? sql`ids as (select unnest(${uuidArray(range.only)}) as user_id)` : desiredIds(c.groupIds, range);
    const t = syncRunDesired;
    const [r] = await queryRows<{ n: number }>(
      tx,
      sql`with ${ids},
          ${classifyCtes(c, 'only' in range ? undefined : range)},
          ins as (
            insert into ${t} (${names(t.runId, t.userId, t.username, t.email, t.firstName, t.lastName, t.action, t.mfaUserId, t.errorCode)})
            select ${runId}::uuid, user_id, username, email, first_name, last_name, action, mfa_user_id,
                   case when action = ${PlanAction.FAIL} then ${ErrorCode.USERNAME_TAKEN} end
            from c where action <> ${PlanAction.KEEP}
            on conflict do nothing
            returning 1)
          select (select count(*)::int from ins) + (select count(*)::int from c where action = ${PlanAction.KEEP}) as n`,
    );
    return r?.n ?? 0;
  }

  async countOwned(tx: Executor, provisioningId: string): Promise<number> {
    const [r] = await queryRows<{ n: number }>(
      tx,
      sql`select count(*)::int as n from ${mfaUsers} ${o} where ${o.provisioningId} = ${provisioningId}::uuid`,
    );
    return r?.n ?? 0;
  }

  /**
   * Adds to the run's removal set the owned users in `scope` that are not in its desired
   * set, with their enrolled-device counts. Also reports how many owned users it saw. An owned
   * user is desired exactly when its directory user is a member of a selected group (disabled
   * ones too: they are kept, suspended), so that is what is checked; KEEP rows are not staged.
   */
  async planRemovals(tx: Executor, runId: string, provisioningId: string, groupIds: readonly string[], scope: OwnedScope) {
    const t = syncRunRemovals;
    const [r] = await queryRows<{ scanned: number; n: number; devices: number }>(
      tx,
      sql`with ow as materialized (
            select ${o.id} as id, ${o.directoryUserId} as directory_user_id from ${mfaUsers} ${o}
            where ${o.provisioningId} = ${provisioningId}::uuid and ${ownedIn(scope)}),
          ins as (
            insert into ${t} (${names(t.runId, t.mfaUserId, t.devices)})
            select ${runId}::uuid, ow.id, (select count(*)::int from ${mfaDevices} ${dv} where ${dv.mfaUserId} = ow.id) from ow
            where ${undesired(scope, groupIds)}
            on conflict do nothing
            returning ${name(t.devices)})
          select (select count(*)::int from ow) as scanned,
                 (select count(*)::int from ins) as n, (select coalesce(sum(devices), 0)::int from ins) as devices`,
    );
    return { scanned: r?.scanned ?? 0, removals: r?.n ?? 0, devices: r?.devices ?? 0 };
  }

  /** Totals of a staged plan (KEEPs are not staged: `listed` is every staged desired user). */
  async stagedCounts(tx: Executor, runId: string) {
    const rows = await queryRows<{ action: PlanAction; n: number }>(
      tx,
      sql`select ${s.action} as action, count(*)::int as n from ${syncRunDesired} ${s} where ${s.runId} = ${runId}::uuid group by ${s.action}`,
    );
    const [x] = await queryRows<{ n: number; devices: number }>(
      tx,
      sql`select count(*)::int as n, coalesce(sum(${rm.devices}), 0)::int as devices from ${syncRunRemovals} ${rm} where ${rm.runId} = ${runId}::uuid`,
    );
    const by = (a: PlanAction) => rows.find((r) => r.action === a)?.n ?? 0;
    return {
      creates: by(PlanAction.CREATE),
      updates: by(PlanAction.UPDATE),
      claims: by(PlanAction.CLAIM),
      skips: by(PlanAction.SKIP),
      fails: by(PlanAction.FAIL),
      removals: x?.n ?? 0,
      devices: x?.devices ?? 0,
      listed: rows.reduce((sum, r) => sum + r.n, 0),
    };
  }

  /** Users the plan could not provision (for the run's error list). */
  async stagedFailures(tx: Executor, runId: string, limit: number) {
    return queryRows<{ userId: string; username: string; errorCode: ErrorCode | null }>(
      tx,
      sql`select ${s.userId} as "userId", ${s.username} as username, ${s.errorCode} as "errorCode" from ${syncRunDesired} ${s}
          where ${s.runId} = ${runId}::uuid and ${s.action} = ${PlanAction.FAIL} order by ${s.userId} limit ${limit}`,
    );
  }

  /** The stored plan's users of one action (first `limit` by username), for `SyncRun.plan`. */
  async stagedList(tx: Executor, runId: string, action: PlanAction | 'REMOVE', limit: number): Promise<PlanListRow[]> {
    if (action === 'REMOVE') {
      return queryRows<PlanListRow>(
        tx,
        sql`select ${o.directoryUserId} as "userId", ${o.id} as "mfaUserId", ${o.username} as username, ${o.email} as email, ${rm.devices} as devices
            from ${syncRunRemovals} ${rm} join ${mfaUsers} ${o} on ${o.id} = ${rm.mfaUserId}
            where ${rm.runId} = ${runId}::uuid order by lower(${o.username}) collate "C", ${o.id} limit ${limit}`,
      );
    }
    return queryRows<PlanListRow>(
      tx,
      sql`select ${s.userId} as "userId", ${s.mfaUserId} as "mfaUserId", ${s.username} as username, ${s.email} as email, 0 as devices from ${syncRunDesired} ${s}
          where ${s.runId} = ${runId}::uuid and ${s.action} = ${action} order by lower(${s.username}) collate "C", ${s.userId} limit ${limit}`,
    );
  }

  /** Deletes up to `limit` staging rows of an ended run; returns how many it deleted. */
  async clearStagingChunk(tx: Executor, runId: string, limit: number): Promise<number> {
    const [a] = await queryRows<{ n: number }>(
      tx,
      sql`with gone as (delete from ${syncRunDesired} where ${syncRunDesired.runId} = ${runId}::uuid and ${syncRunDesired.userId} in (
            select ${s.userId} from ${syncRunDesired} ${s} where ${s.runId} = ${runId}::uuid limit ${limit}) returning 1)
          select count(*)::int as n from gone`,
    );
    const [b] = await queryRows<{ n: number }>(
      tx,
      sql`with gone as (delete from ${syncRunRemovals} where ${syncRunRemovals.runId} = ${runId}::uuid and ${syncRunRemovals.mfaUserId} in (
            select ${rm.mfaUserId} from ${syncRunRemovals} ${rm} where ${rm.runId} = ${runId}::uuid limit ${limit}) returning 1)
          select count(*)::int as n from gone`,
    );
    return (a?.n ?? 0) + (b?.n ?? 0);
  }

  /**
   * One key range of the plan computed without writing anything: the same classification as
   * `stage`. Counts per action, and each action's first `listLimit` users by username.
   */
  async previewDesired(tx: Executor, c: ClassifyOptions, range: KeyRange, listLimit: number) {
    if (!c.groupIds.length) return { counts: {} as Record<string, number>, lists: {} as Record<string, PlanListRow[]> };
    const [r] = await queryRows<{ counts: Record<string, number> | string | null; lists: Record<string, PlanListRow[]> | string | null }>(
      tx,
      sql`with ${desiredIds(c.groupIds, range)},
          ${classifyCtes(c, range)},
          ranked as (
            select c.*, row_number() over (partition by action order by lower(username) collate "C", user_id) as rn from c
            where action <> ${PlanAction.KEEP})
          select (select json_object_agg(action, n) from (select action, count(*)::int as n from c group by action) a) as counts,
                 (select json_object_agg(action, xs) from (
                    select action, json_agg(json_build_object('userId', user_id, 'mfaUserId', mfa_user_id, 'username', username, 'email', email, 'devices', 0)) as xs
                    from ranked where rn <= ${listLimit} group by action) l) as lists`,
    );
    return { counts: parseJson(r?.counts) ?? {}, lists: parseJson(r?.lists) ?? {} };
  }

  /** The owned users in `scope` a sync would remove now, with their device counts (read-only). */
  async previewRemovals(tx: Executor, c: { provisioningId: string; groupIds: readonly string[] }, scope: OwnedScope, listLimit: number) {
    const [r] = await queryRows<{ owned: number; removals: number; devices: number; list: PlanListRow[] | string | null }>(
      tx,
      sql`with ow as materialized (
            select ${o.id} as id, ${o.directoryUserId} as directory_user_id, ${o.username} as username, ${o.email} as email from ${mfaUsers} ${o}
            where ${o.provisioningId} = ${c.provisioningId}::uuid and ${ownedIn(scope)}),
          gone as materialized (
            select ow.directory_user_id as "userId", ow.id as "mfaUserId", ow.username, ow.email,
                   (select count(*)::int from ${mfaDevices} ${dv} where ${dv.mfaUserId} = ow.id) as devices
            from ow
            -- Memberships go with their user (foreign key, cascade): no need to look the user up.
            where ${undesired(scope, c.groupIds)})
          select (select count(*)::int from ow) as owned, (select count(*)::int from gone) as removals,
                 (select coalesce(sum(devices), 0)::int from gone) as devices,
                 (select json_agg(z) from (select * from gone order by lower(username) collate "C", "mfaUserId" limit ${listLimit}) z) as list`,
    );
    return { owned: r?.owned ?? 0, removals: r?.removals ?? 0, devices: r?.devices ?? 0, list: parseJsonList(r?.list) };
  }
}
