import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Executor } from '../../shared/db.js';

/**
 * The sync engine's SQL. Everything is set-based: a plan is computed and an apply phase
 * runs as a handful of INSERT … SELECT / UPDATE … FROM / DELETE … USING statements over one
 * chunk of the run's staged plan (`sync_run_desired`, `sync_run_removals`), walked in key
 * order from a cursor the caller checkpoints in the same transaction. Every statement also
 * re-checks the current state (ON CONFLICT DO NOTHING, "still owned", "still MANUAL"), so
 * repeating a chunk after a crash changes nothing twice.
 */

/**
 * A slice of the uuid key space: `[lo, hi)`, or `[lo, ∞)` for the last one. Chunks walk key
 * ranges rather than "the next N keys after a cursor": ids are random (v4), so `k` equal
 * ranges hold about `total / k` rows each, and a range condition is an index range whatever
 * the planner's statistics say (after a bulk load they lag, and a LIMIT-after-cursor plan
 * can turn into sorting everything that follows the cursor, once per chunk).
 */
export interface KeyRange {
  lo: string;
  hi: string | null;
}

/** Size of the key space chunks walk: the first 32 bits of a uuid. */
export const KEY_SPACE = 2 ** 32;

/** The keys whose first 32 bits are in `[from, from + width)`. */
export function keySpan(from: number, width: number): KeyRange {
  const at = (j: number) => `${j.toString(16).padStart(8, '0')}-0000-0000-0000-000000000000`;
  return { lo: at(from), hi: from + width >= KEY_SPACE ? null : at(from + width) };
}

/** Range `i` of `k` equal slices of the key space. */
export function keySlice(i: number, k: number): KeyRange {
  const from = Math.floor((i * KEY_SPACE) / k);
  return keySpan(from, Math.floor(((i + 1) * KEY_SPACE) / k) - from);
}

/** How many ranges give about `chunk` rows each for `total` rows. */
export function rangeCount(total: number, chunk: number): number {
  return Math.max(1, Math.min(2 ** 20, Math.ceil(total / chunk)));
}

function inRange(column: SQL, r: KeyRange): SQL {
  return r.hi ? sql`${column} >= ${r.lo}::uuid and ${column} < ${r.hi}::uuid` : sql`${column} >= ${r.lo}::uuid`;
}

/** Actions a plan gives a desired directory user. */
export type PlanAction = 'CREATE' | 'UPDATE' | 'KEEP' | 'CLAIM' | 'SKIP' | 'FAIL';

/** One PostgreSQL array parameter (not one parameter per element): `'{a,b}'::uuid[]`. */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${`{${ids.join(',')}}`}::uuid[]`;
}

/** A text[] parameter, quoted for PostgreSQL's array literal syntax. */
export function textArray(values: readonly string[]): SQL {
  return sql`${`{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`}::text[]`;
}

export interface ClassifyOptions {
  tenantId: string;
  provisioningId: string;
  /** Directory groups whose members make up the desired set. */
  groupIds: readonly string[];
  /** Directory groups that have (or, after the GROUPS phase, will have) an owned MFA group. */
  targetGroupIds: readonly string[];
  includeManual: boolean;
}

/**
 * CTEs `d` (desired users among `ids`) and `c` (each with its action and MFA user), given a
 * CTE `ids(user_id)`. The single definition of "what a sync does to a user", shared by the
 * preview and by planning, so a preview equals what the run then does.
 *
 * - owned by this provisioning → UPDATE if email, names, username (when free) or the set of
 *   target-group memberships differ, else KEEP;
 * - else a MANUAL MFA user linked to the directory user, or with the same username, or the
 *   same email (ignoring case, in that order of preference) → CLAIM or SKIP;
 * - else username already used in the MFA directory → FAIL (USERNAME_TAKEN);
 * - else CREATE.
 */
function classifyCtes(o: ClassifyOptions): SQL {
  const t = o.tenantId;
  const p = o.provisioningId;
  const targets = uuidArray(o.targetGroupIds);
  const manualAction = o.includeManual ? 'CLAIM' : 'SKIP';
  // LATERAL lookups by key (LIMIT 1 keeps the planner from flattening them into joins):
  // statistics lag behind bulk loads (PGlite never auto-analyzes), and a misestimated hash
  // join would scan the whole tenant once per chunk.
  return sql`
    d as materialized (
      select u.id as user_id, coalesce(u.username, u.email, u.id::text) as username, u.email, u.first_name, u.last_name
      from ids cross join lateral (
        select * from users u where u.id = ids.user_id and u.tenant_id = ${t}::uuid and u.status <> 'DISABLED' limit 1) u),
    dm as materialized (
      select d.*, o.id as owned_id, o.username as o_username, o.email as o_email, o.first_name as o_first_name, o.last_name as o_last_name,
        case when o.id is null then coalesce(
          (select m.id from mfa_users m where m.directory_user_id = d.user_id and m.provisioning_id is null and m.tenant_id = ${t}::uuid order by m.id limit 1),
          (select m.id from mfa_users m where m.tenant_id = ${t}::uuid and lower(m.username) = lower(d.username) and m.provisioning_id is null limit 1),
          (select m.id from mfa_users m where d.email is not null and m.tenant_id = ${t}::uuid and lower(m.email) = lower(d.email) and m.provisioning_id is null order by m.id limit 1))
        end as manual_id
      from d left join lateral (
        select x.id, x.username, x.email, x.first_name, x.last_name from mfa_users x
        where x.provisioning_id = ${p}::uuid and x.directory_user_id = d.user_id limit 1) o on true),
    c as materialized (
      select dm.user_id, dm.username, dm.email, dm.first_name, dm.last_name,
        case
          when dm.owned_id is not null then
            case when dm.o_email is distinct from dm.email or dm.o_first_name <> dm.first_name or dm.o_last_name <> dm.last_name
                   or (dm.o_username <> dm.username and not exists (
                         select 1 from mfa_users x where x.tenant_id = ${t}::uuid and lower(x.username) = lower(dm.username) and x.id <> dm.owned_id))
                   or coalesce((select array_agg(gm.group_id order by gm.group_id) from group_memberships gm
                                where gm.user_id = dm.user_id and gm.group_id = any(${targets})), '{}'::uuid[])
                      is distinct from
                      coalesce((select array_agg(mg.directory_group_id order by mg.directory_group_id) from mfa_group_memberships mm
                                join mfa_groups mg on mg.id = mm.mfa_group_id
                                where mm.mfa_user_id = dm.owned_id and mg.provisioning_id = ${p}::uuid), '{}'::uuid[])
                 then 'UPDATE' else 'KEEP' end
          when dm.manual_id is not null then ${manualAction}
          when exists (select 1 from mfa_users x where x.tenant_id = ${t}::uuid and lower(x.username) = lower(dm.username)) then 'FAIL'
          else 'CREATE'
        end as action,
        coalesce(dm.owned_id, dm.manual_id) as mfa_user_id
      from dm)`;
}

export interface GroupPlan {
  /** Enabled directory groups that exist in the associated directories. */
  groupIds: string[];
  /** Enabled groups that will have an owned MFA group. */
  targetGroupIds: string[];
  creates: number;
  claims: number;
  renames: number;
  removes: number;
  skips: number;
}

export interface PlanListRow {
  user_id: string | null;
  mfa_user_id: string | null;
  username: string;
  email: string | null;
  devices: number;
}

/** The order of plan lists (code-point order of the lower-cased username, then id), as `collate "C"` sorts. */
export function planOrder(key: 'user_id' | 'mfa_user_id') {
  return (a: PlanListRow, b: PlanListRow): number => {
    const x = a.username.toLowerCase();
    const y = b.username.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
    const i = a[key] ?? '';
    const j = b[key] ?? '';
    return i < j ? -1 : i > j ? 1 : 0;
  };
}

export interface PlanCounts {
  creates: number;
  updates: number;
  keeps: number;
  claims: number;
  skips: number;
  fails: number;
  removals: number;
  devices: number;
  owned: number;
  desired: number;
}

export class SyncStore {
  // Every method runs in the caller's transaction (one chunk), so it takes `tx` explicitly.

  /**
   * Which MFA groups the plan keeps, creates, claims, renames or removes. Groups are few, so
   * this is decided here once and stored with the run; the GROUPS phase applies it.
   */
  async groupPlan(
    tx: Executor,
    o: { tenantId: string; provisioningId: string; directoryIds: string[]; groupIds: string[]; includeManual: boolean },
  ): Promise<GroupPlan> {
    const enabled = o.groupIds.length
      ? await queryRows<{ id: string; name: string }>(
          tx,
          sql`select id, name from groups where tenant_id = ${o.tenantId}::uuid and id = any(${uuidArray(o.groupIds)})
                and directory_id = any(${uuidArray(o.directoryIds)}) order by id`,
        )
      : [];
    const lowerNames = enabled.map((g) => g.name.toLowerCase());
    const mfa = await queryRows<{ id: string; provisioning_id: string | null; directory_group_id: string | null; name: string }>(
      tx,
      sql`select id, provisioning_id, directory_group_id, name from mfa_groups
          where tenant_id = ${o.tenantId}::uuid and (provisioning_id = ${o.provisioningId}::uuid or lower(name) = any(${textArray(lowerNames)}))`,
    );
    const enabledIds = new Set(enabled.map((g) => g.id));
    const owned = mfa.filter((g) => g.provisioning_id === o.provisioningId);
    const ownedByDirGroup = new Map(owned.filter((g) => g.directory_group_id).map((g) => [g.directory_group_id!, g]));
    const removed = owned.filter((g) => !g.directory_group_id || !enabledIds.has(g.directory_group_id));
    const removedIds = new Set(removed.map((g) => g.id));
    // Names held after the GROUPS phase by groups it does not remove.
    const held = new Map<string, string>();
    for (const g of mfa) if (!removedIds.has(g.id)) held.set(g.name.toLowerCase(), g.id);
    const targets: string[] = [];
    let creates = 0;
    let claims = 0;
    let renames = 0;
    let skips = 0;
    for (const g of enabled) {
      const mine = ownedByDirGroup.get(g.id);
      if (!mine) continue;
      targets.push(g.id);
      const holder = held.get(g.name.toLowerCase());
      if (mine.name !== g.name && (!holder || holder === mine.id)) {
        held.delete(mine.name.toLowerCase());
        held.set(g.name.toLowerCase(), mine.id);
        renames++;
      }
    }
    for (const g of enabled) {
      if (ownedByDirGroup.has(g.id)) continue;
      const key = g.name.toLowerCase();
      const holderId = held.get(key);
      if (!holderId) {
        targets.push(g.id);
        held.set(key, `new:${g.id}`);
        creates++;
        continue;
      }
      // A MANUAL group of that name is claimed when asked; any other holder (an owned group,
      // or a group this plan creates or claims for another directory) makes it a skip.
      const holder = mfa.find((m) => m.id === holderId);
      if (holder && holder.provisioning_id === null && o.includeManual) {
        targets.push(g.id);
        held.set(key, `claimed:${g.id}`);
        claims++;
      } else {
        skips++;
      }
    }
    return { groupIds: enabled.map((g) => g.id), targetGroupIds: targets.sort(), creates, claims, renames, removes: removed.length, skips };
  }

  /** Size of the desired set (for progress while planning). */
  async countDesired(tx: Executor, tenantId: string, groupIds: readonly string[]): Promise<number> {
    if (!groupIds.length) return 0;
    const [r] = await queryRows<{ n: number }>(
      tx,
      sql`select count(*)::int as n from users u where u.tenant_id = ${tenantId}::uuid and u.status <> 'DISABLED'
            and exists (select 1 from group_memberships gm where gm.user_id = u.id and gm.group_id = any(${uuidArray(groupIds)}))`,
    );
    return r?.n ?? 0;
  }

  /** Stages the desired users whose id falls in `range`, with their planned actions. */
  async stageChunk(tx: Executor, runId: string, o: ClassifyOptions, range: KeyRange): Promise<number> {
    if (!o.groupIds.length) return 0;
    const [r] = await queryRows<{ n: number }>(
      tx,
      sql`with ids as (
            select distinct gm.user_id from group_memberships gm
            where gm.group_id = any(${uuidArray(o.groupIds)}) and ${inRange(sql`gm.user_id`, range)}),
          ${classifyCtes(o)},
          ins as (
            insert into sync_run_desired (run_id, user_id, username, email, first_name, last_name, action, mfa_user_id, error_code)
            select ${runId}::uuid, user_id, username, email, first_name, last_name, action, mfa_user_id,
                   case when action = 'FAIL' then 'USERNAME_TAKEN' end
            from c
            on conflict do nothing
            returning 1)
          select count(*)::int as n from ins`,
    );
    return r?.n ?? 0;
  }

  async countOwned(tx: Executor, provisioningId: string): Promise<number> {
    const [r] = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from mfa_users where provisioning_id = ${provisioningId}::uuid`);
    return r?.n ?? 0;
  }

  /**
   * Adds to the run's removal set the owned users (ids in `range`) that are not in its desired
   * set, with their enrolled-device counts. Also reports how many owned users it saw.
   */
  async planRemovalsChunk(tx: Executor, runId: string, provisioningId: string, range: KeyRange) {
    const [r] = await queryRows<{ scanned: number; n: number; devices: number }>(
      tx,
      sql`with o as materialized (
            select id, directory_user_id from mfa_users
            where provisioning_id = ${provisioningId}::uuid and ${inRange(sql`id`, range)}),
          ins as (
            insert into sync_run_removals (run_id, mfa_user_id, devices)
            select ${runId}::uuid, o.id, (select count(*)::int from mfa_devices dv where dv.mfa_user_id = o.id) from o
            where o.directory_user_id is null
               or not exists (select 1 from sync_run_desired s where s.run_id = ${runId}::uuid and s.user_id = o.directory_user_id)
            on conflict do nothing
            returning devices)
          select (select count(*)::int from o) as scanned,
                 (select count(*)::int from ins) as n, (select coalesce(sum(devices), 0)::int from ins) as devices`,
    );
    return { scanned: r?.scanned ?? 0, removals: r?.n ?? 0, devices: r?.devices ?? 0 };
  }

  /** Totals of a staged plan. */
  async stagedCounts(tx: Executor, runId: string): Promise<Omit<PlanCounts, 'owned'>> {
    const rows = await queryRows<{ action: string; n: number }>(
      tx,
      sql`select action, count(*)::int as n from sync_run_desired where run_id = ${runId}::uuid group by action`,
    );
    const [rm] = await queryRows<{ n: number; devices: number }>(
      tx,
      sql`select count(*)::int as n, coalesce(sum(devices), 0)::int as devices from sync_run_removals where run_id = ${runId}::uuid`,
    );
    const by = (a: string) => rows.find((r) => r.action === a)?.n ?? 0;
    return {
      creates: by('CREATE'),
      updates: by('UPDATE'),
      keeps: by('KEEP'),
      claims: by('CLAIM'),
      skips: by('SKIP'),
      fails: by('FAIL'),
      removals: rm?.n ?? 0,
      devices: rm?.devices ?? 0,
      desired: rows.reduce((s, r) => s + r.n, 0),
    };
  }

  /** Users the plan could not provision (for the run's error list). */
  async stagedFailures(tx: Executor, runId: string, limit: number) {
    return queryRows<{ user_id: string; username: string; error_code: string | null }>(
      tx,
      sql`select user_id, username, error_code from sync_run_desired where run_id = ${runId}::uuid and action = 'FAIL' order by user_id limit ${limit}`,
    );
  }

  /** The stored plan's users of one action (first `limit` by username), for `SyncRun.plan`. */
  async stagedList(tx: Executor, runId: string, action: PlanAction | 'REMOVE', limit: number): Promise<PlanListRow[]> {
    if (action === 'REMOVE') {
      return queryRows<PlanListRow>(
        tx,
        sql`select o.directory_user_id as user_id, o.id as mfa_user_id, o.username, o.email, s.devices
            from sync_run_removals s join mfa_users o on o.id = s.mfa_user_id
            where s.run_id = ${runId}::uuid order by lower(o.username) collate "C", o.id limit ${limit}`,
      );
    }
    return queryRows<PlanListRow>(
      tx,
      sql`select user_id, mfa_user_id, username, email, 0 as devices from sync_run_desired
          where run_id = ${runId}::uuid and action = ${action} order by lower(username) collate "C", user_id limit ${limit}`,
    );
  }

  /** Applies a group plan: removes deselected owned groups, then claims, renames and creates. */
  async applyGroups(tx: Executor, o: { tenantId: string; provisioningId: string; targetGroupIds: string[]; includeManual: boolean }): Promise<void> {
    const t = o.tenantId;
    const p = o.provisioningId;
    const targets = uuidArray(o.targetGroupIds);
    await tx.execute(sql`
      delete from mfa_groups where tenant_id = ${t}::uuid and provisioning_id = ${p}::uuid
        and (directory_group_id is null or not (directory_group_id = any(${targets})))`);
    if (!o.targetGroupIds.length) return;
    if (o.includeManual) {
      await tx.execute(sql`
        update mfa_groups mg set provisioning_id = ${p}::uuid, directory_group_id = g.id
        from groups g
        where g.id = any(${targets}) and g.tenant_id = ${t}::uuid and mg.tenant_id = ${t}::uuid
          and mg.provisioning_id is null and lower(mg.name) = lower(g.name)
          and not exists (select 1 from mfa_groups x where x.provisioning_id = ${p}::uuid and x.directory_group_id = g.id)`);
    }
    await tx.execute(sql`
      update mfa_groups mg set name = g.name
      from groups g
      where mg.provisioning_id = ${p}::uuid and mg.directory_group_id = g.id and mg.name <> g.name
        and not exists (select 1 from mfa_groups x where x.tenant_id = ${t}::uuid and lower(x.name) = lower(g.name) and x.id <> mg.id)`);
    await tx.execute(sql`
      insert into mfa_groups (tenant_id, provisioning_id, directory_group_id, name)
      select ${t}::uuid, ${p}::uuid, g.id, g.name from groups g
      where g.id = any(${targets}) and g.tenant_id = ${t}::uuid
        and not exists (select 1 from mfa_groups x where x.provisioning_id = ${p}::uuid and x.directory_group_id = g.id)
      order by g.id
      on conflict do nothing`);
  }

  /** The staged users of `action` with ids in `range`, as a CTE named `c`. */
  private chunkCte(runId: string, action: PlanAction, range: KeyRange): SQL {
    return sql`c as materialized (select * from sync_run_desired where run_id = ${runId}::uuid and ${inRange(sql`user_id`, range)} and action = ${action})`;
  }

  /**
   * Memberships of the owned MFA users of a chunk follow their directory memberships in the
   * owned groups (after the GROUPS phase, the owned groups are exactly the target groups).
   */
  private async syncMemberships(tx: Executor, runId: string, provisioningId: string, tenantId: string, action: PlanAction, range: KeyRange) {
    const p = provisioningId;
    const owned = sql`
      select o.id, o.directory_user_id from sync_run_desired c
      cross join lateral (
        select x.id, x.directory_user_id from mfa_users x
        where x.provisioning_id = ${p}::uuid and x.directory_user_id = c.user_id limit 1) o
      where c.run_id = ${runId}::uuid and ${inRange(sql`c.user_id`, range)} and c.action = ${action}`;
    await tx.execute(sql`
      with o as materialized (${owned})
      insert into mfa_group_memberships (mfa_group_id, mfa_user_id, tenant_id)
      select mg.id, o.id, ${tenantId}::uuid
      from o
      join group_memberships gm on gm.user_id = o.directory_user_id
      join mfa_groups mg on mg.provisioning_id = ${p}::uuid and mg.directory_group_id = gm.group_id
      on conflict do nothing`);
    // Users created by this chunk have no memberships to drop.
    if (action === 'CREATE') return;
    await tx.execute(sql`
      with o as materialized (${owned})
      delete from mfa_group_memberships mm using mfa_groups mg, o
      where mm.mfa_group_id = mg.id and mm.mfa_user_id = o.id and mg.provisioning_id = ${p}::uuid
        and not exists (select 1 from group_memberships gm where gm.group_id = mg.directory_group_id and gm.user_id = o.directory_user_id)`);
  }

  /** Claims a chunk of MANUAL users: source, link and directory fields change; devices stay; no email. */
  async claimChunk(tx: Executor, runId: string, o: { tenantId: string; provisioningId: string }, range: KeyRange) {
    const t = o.tenantId;
    const p = o.provisioningId;
    const [r] = await queryRows<{ claimed: number; failed: { user_id: string; username: string }[] | string | null }>(
      tx,
      sql`with ${this.chunkCte(runId, 'CLAIM', range)},
          upd as (
            update mfa_users m set provisioning_id = ${p}::uuid, directory_user_id = c.user_id, email = c.email,
              first_name = c.first_name, last_name = c.last_name, updated_at = now(),
              username = case when lower(m.username) = lower(c.username)
                                or (not exists (select 1 from mfa_users x where x.tenant_id = ${t}::uuid and lower(x.username) = lower(c.username) and x.id <> m.id)
                                    and not exists (select 1 from c c2 where lower(c2.username) = lower(c.username) and c2.user_id <> c.user_id))
                              then c.username else m.username end
            from c
            where m.id = c.mfa_user_id and m.provisioning_id is null and m.tenant_id = ${t}::uuid
              and not exists (select 1 from mfa_users x where x.provisioning_id = ${p}::uuid and x.directory_user_id = c.user_id)
            returning c.user_id)
          select (select count(*)::int from upd) as claimed,
                 (select json_agg(json_build_object('user_id', c.user_id, 'username', c.username)) from c
                  where not exists (select 1 from upd where upd.user_id = c.user_id)
                    and not exists (select 1 from mfa_users x where x.provisioning_id = ${p}::uuid and x.directory_user_id = c.user_id)) as failed`,
    );
    if (r?.claimed) await this.syncMemberships(tx, runId, p, t, 'CLAIM', range);
    return { claimed: r?.claimed ?? 0, failed: parseJsonList(r?.failed) };
  }

  /** Creates a chunk of MFA users (UNENROLLED, no devices) with their memberships; returns them for enrolment emails. */
  async createChunk(tx: Executor, runId: string, o: { tenantId: string; provisioningId: string }, range: KeyRange) {
    const t = o.tenantId;
    const p = o.provisioningId;
    const created = await queryRows<{ id: string; email: string | null; first_name: string }>(
      tx,
      sql`with ${this.chunkCte(runId, 'CREATE', range)}
          insert into mfa_users (tenant_id, provisioning_id, directory_user_id, username, email, first_name, last_name)
          select ${t}::uuid, ${p}::uuid, user_id, username, email, first_name, last_name from c order by user_id
          on conflict do nothing
          returning id, email, first_name`,
    );
    // Not created and not already ours (from an earlier attempt): the username was taken meanwhile.
    const [r] = await queryRows<{ failed: { user_id: string; username: string }[] | string | null }>(
      tx,
      sql`with ${this.chunkCte(runId, 'CREATE', range)}
          select (select json_agg(json_build_object('user_id', c.user_id, 'username', c.username)) from c
                  where not exists (select 1 from mfa_users x where x.provisioning_id = ${p}::uuid and x.directory_user_id = c.user_id)) as failed`,
    );
    if (created.length) await this.syncMemberships(tx, runId, p, t, 'CREATE', range);
    return { created, failed: parseJsonList(r?.failed) };
  }

  /** Applies a chunk of planned updates: directory fields, the username when free, memberships. */
  async updateChunk(tx: Executor, runId: string, o: { tenantId: string; provisioningId: string }, range: KeyRange) {
    const t = o.tenantId;
    const p = o.provisioningId;
    const [r] = await queryRows<{ updated: number }>(
      tx,
      sql`with ${this.chunkCte(runId, 'UPDATE', range)},
          upd as (
            update mfa_users o set email = c.email, first_name = c.first_name, last_name = c.last_name, updated_at = now(),
              username = case when o.username <> c.username
                                and not exists (select 1 from mfa_users x where x.tenant_id = ${t}::uuid and lower(x.username) = lower(c.username) and x.id <> o.id)
                                and not exists (select 1 from c c2 where lower(c2.username) = lower(c.username) and c2.user_id <> c.user_id)
                              then c.username else o.username end
            from c where o.provisioning_id = ${p}::uuid and o.directory_user_id = c.user_id
            returning o.id)
          select (select count(*)::int from upd) as updated`,
    );
    if (r?.updated) await this.syncMemberships(tx, runId, p, t, 'UPDATE', range);
    return { updated: r?.updated ?? 0 };
  }

  /**
   * Removes a chunk of the planned removal set, with devices (foreign-key cascade). A user is
   * removed only if it is still owned and still not selected, so an approved plan never
   * removes someone re-added to an enabled group since.
   */
  async removeChunk(tx: Executor, runId: string, o: { tenantId: string; provisioningId: string; groupIds: string[] }, range: KeyRange) {
    const [r] = await queryRows<{ removed: number; devices: number }>(
      tx,
      sql`with s as materialized (
            select mfa_user_id from sync_run_removals where run_id = ${runId}::uuid and ${inRange(sql`mfa_user_id`, range)}),
          v as (
            select o.id, (select count(*)::int from mfa_devices dv where dv.mfa_user_id = o.id) as devices
            from s cross join lateral (select * from mfa_users x where x.id = s.mfa_user_id limit 1) o
            where o.provisioning_id = ${o.provisioningId}::uuid and o.tenant_id = ${o.tenantId}::uuid
              and (o.directory_user_id is null or not exists (
                    select 1 from group_memberships gm join users u on u.id = gm.user_id
                    where gm.user_id = o.directory_user_id and gm.group_id = any(${uuidArray(o.groupIds)}) and u.status <> 'DISABLED'))),
          gone as (delete from mfa_users where id in (select id from v) returning id)
          select (select count(*)::int from gone) as removed,
                 (select coalesce(sum(v.devices), 0)::int from v where v.id in (select id from gone)) as devices`,
    );
    return { removed: r?.removed ?? 0, devices: r?.devices ?? 0 };
  }

  /** Deletes up to `limit` staging rows of an ended run; returns how many were left to delete. */
  async clearStagingChunk(tx: Executor, runId: string, limit: number): Promise<number> {
    const [a] = await queryRows<{ n: number }>(
      tx,
      sql`with gone as (delete from sync_run_desired where run_id = ${runId}::uuid and user_id in (
            select user_id from sync_run_desired where run_id = ${runId}::uuid limit ${limit}) returning 1)
          select count(*)::int as n from gone`,
    );
    const [b] = await queryRows<{ n: number }>(
      tx,
      sql`with gone as (delete from sync_run_removals where run_id = ${runId}::uuid and mfa_user_id in (
            select mfa_user_id from sync_run_removals where run_id = ${runId}::uuid limit ${limit}) returning 1)
          select count(*)::int as n from gone`,
    );
    return (a?.n ?? 0) + (b?.n ?? 0);
  }

  /**
   * One key range of the plan computed without writing anything: the same classification as
   * `stageChunk`. Counts per action, and each action's first `listLimit` users by username.
   */
  async previewDesiredChunk(tx: Executor, o: ClassifyOptions, range: KeyRange, listLimit: number) {
    if (!o.groupIds.length) return { counts: {} as Record<string, number>, lists: {} as Record<string, PlanListRow[]> };
    const [r] = await queryRows<{ counts: Record<string, number> | string | null; lists: Record<string, PlanListRow[]> | string | null }>(
      tx,
      sql`with ids as (
            select distinct gm.user_id from group_memberships gm
            where gm.group_id = any(${uuidArray(o.groupIds)}) and ${inRange(sql`gm.user_id`, range)}),
          ${classifyCtes(o)},
          ranked as (
            select c.*, row_number() over (partition by action order by lower(username) collate "C", user_id) as rn from c
            where action <> 'KEEP')
          select (select json_object_agg(action, n) from (select action, count(*)::int as n from c group by action) a) as counts,
                 (select json_object_agg(action, xs) from (
                    select action, json_agg(json_build_object('user_id', user_id, 'mfa_user_id', mfa_user_id, 'username', username, 'email', email, 'devices', 0)) as xs
                    from ranked where rn <= ${listLimit} group by action) l) as lists`,
    );
    const parse = <T>(v: T | string | null | undefined): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : (v ?? null));
    return { counts: parse(r?.counts) ?? {}, lists: parse(r?.lists) ?? {} };
  }

  /** One key range of the owned users a sync would remove now, with their device counts (read-only). */
  async previewRemovalsChunk(tx: Executor, o: { provisioningId: string; groupIds: readonly string[] }, range: KeyRange, listLimit: number) {
    const [r] = await queryRows<{ owned: number; removals: number; devices: number; list: PlanListRow[] | string | null }>(
      tx,
      sql`with o as materialized (
            select id, directory_user_id, username, email from mfa_users
            where provisioning_id = ${o.provisioningId}::uuid and ${inRange(sql`id`, range)}),
          rm as materialized (
            select o.directory_user_id as user_id, o.id as mfa_user_id, o.username, o.email,
                   (select count(*)::int from mfa_devices dv where dv.mfa_user_id = o.id) as devices
            from o
            where o.directory_user_id is null or not exists (
              select 1 from group_memberships gm join users u on u.id = gm.user_id
              where gm.user_id = o.directory_user_id and gm.group_id = any(${uuidArray(o.groupIds)}) and u.status <> 'DISABLED'))
          select (select count(*)::int from o) as owned, (select count(*)::int from rm) as removals,
                 (select coalesce(sum(devices), 0)::int from rm) as devices,
                 (select json_agg(x) from (select * from rm order by lower(username) collate "C", mfa_user_id limit ${listLimit}) x) as list`,
    );
    return { owned: r?.owned ?? 0, removals: r?.removals ?? 0, devices: r?.devices ?? 0, list: parseJsonList(r?.list) };
  }
}

function parseJsonList<T>(v: T[] | string | null | undefined): T[] {
  if (!v) return [];
  return typeof v === 'string' ? (JSON.parse(v) as T[]) : v;
}
