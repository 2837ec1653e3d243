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
import { PlanAction, type KeyRange } from './sync-plan.js';
import { inRange, name, names, parseJsonList, uuidArray } from '../../shared/sql.js';

/**
 * Apply SQL: each method applies one key range of a phase of the staged plan with a handful of
 * INSERT … SELECT / UPDATE … FROM / DELETE … USING statements, in the caller's transaction
 * (the chunk that also checkpoints). Every statement re-checks the current state (ON CONFLICT
 * DO NOTHING, "still owned", "still MANUAL"), so repeating a chunk after a crash changes
 * nothing twice.
 */

const g = alias(groups, 'g');
const gm = alias(groupMemberships, 'gm');
const u = alias(users, 'u');
const o = alias(mfaUsers, 'o');
const x = alias(mfaUsers, 'x');
const mm = alias(mfaGroupMemberships, 'mm');
const mg = alias(mfaGroups, 'mg');
const mx = alias(mfaGroups, 'mx');
const dv = alias(mfaDevices, 'dv');
const s = alias(syncRunDesired, 's');
const rm = alias(syncRunRemovals, 'rm');

interface Target {
  tenantId: string;
  provisioningId: string;
}

/** An MFA user a chunk claimed (for the audit trail). */
export interface AppliedUser {
  id: string;
  username: string;
}

/** An MFA user a chunk updated: each changed field's [before, after]. */
export interface UpdatedUser {
  id: string;
  fields: Record<string, [unknown, unknown]>;
}

/** An MFA user a chunk removed, with the number of enrolled devices that went with it. */
export interface RemovedUser {
  id: string;
  username: string;
  email: string | null;
  devices: number;
}

/** An MFA user a chunk created, as its enrolment email needs it. */
export interface CreatedUser {
  id: string;
  email: string | null;
  firstName: string;
}

/** A desired user the run could not apply. */
export interface ApplyFailure {
  userId: string;
  username: string;
}

/** The staged users of `action` with ids in `range`, as a CTE `c` with the columns the apply statements read. */
function chunkCte(runId: string, action: PlanAction, range: KeyRange): SQL {
  return sql`c as materialized (
    select ${s.userId} as user_id, ${s.username} as username, ${s.email} as email, ${s.firstName} as first_name, ${s.lastName} as last_name, ${s.mfaUserId} as mfa_user_id
    from ${syncRunDesired} ${s} where ${s.runId} = ${runId}::uuid and ${inRange(s.userId, range)} and ${s.action} = ${action})`;
}

/**
 * Inserts the MFA memberships that follow the directory memberships of `owners`, a relation of
 * the statement with the MFA user's `id` and its `directory_user_id`, in the provisioning's
 * groups (after the GROUPS phase, the owned groups are exactly the target groups).
 */
function ownedMembershipsInsert(a: Target, owners: 'ow' | 'ins'): SQL {
  const from = sql.raw(owners);
  return sql`insert into ${mfaGroupMemberships} (${names(mfaGroupMemberships.mfaGroupId, mfaGroupMemberships.mfaUserId, mfaGroupMemberships.tenantId)})
      select ${mg.id}, ${from}.id, ${a.tenantId}::uuid
      from ${from}
      join ${groupMemberships} ${gm} on ${gm.userId} = ${from}.directory_user_id
      join ${mfaGroups} ${mg} on ${mg.provisioningId} = ${a.provisioningId}::uuid and ${mg.directoryGroupId} = ${gm.groupId}
      on conflict do nothing`;
}

export class SyncApplyStore {
  /** Applies a group plan: removes deselected owned groups, then claims, renames and creates. */
  async applyGroups(tx: Executor, a: Target & { targetGroupIds: string[]; includeManual: boolean }): Promise<void> {
    const t = a.tenantId;
    const p = a.provisioningId;
    const targets = uuidArray(a.targetGroupIds);
    await tx.execute(sql`
      delete from ${mfaGroups} where ${mfaGroups.tenantId} = ${t}::uuid and ${mfaGroups.provisioningId} = ${p}::uuid
        and (${mfaGroups.directoryGroupId} is null or not (${mfaGroups.directoryGroupId} = any(${targets})))`);
    if (!a.targetGroupIds.length) return;
    const notOwnedYet = sql`not exists (select 1 from ${mfaGroups} ${mx} where ${mx.provisioningId} = ${p}::uuid and ${mx.directoryGroupId} = ${g.id})`;
    if (a.includeManual) {
      await tx.execute(sql`
        update ${mfaGroups} ${mg} set ${name(mfaGroups.provisioningId)} = ${p}::uuid, ${name(mfaGroups.directoryGroupId)} = ${g.id}
        from ${groups} ${g}
        where ${g.id} = any(${targets}) and ${g.tenantId} = ${t}::uuid and ${mg.tenantId} = ${t}::uuid
          and ${mg.provisioningId} is null and lower(${mg.name}) = lower(${g.name}) and ${notOwnedYet}`);
    }
    await tx.execute(sql`
      update ${mfaGroups} ${mg} set ${name(mfaGroups.name)} = ${g.name}
      from ${groups} ${g}
      where ${mg.provisioningId} = ${p}::uuid and ${mg.directoryGroupId} = ${g.id} and ${mg.name} <> ${g.name}
        and not exists (select 1 from ${mfaGroups} ${mx} where ${mx.tenantId} = ${t}::uuid and lower(${mx.name}) = lower(${g.name}) and ${mx.id} <> ${mg.id})`);
    await tx.execute(sql`
      insert into ${mfaGroups} (${names(mfaGroups.tenantId, mfaGroups.provisioningId, mfaGroups.directoryGroupId, mfaGroups.name)})
      select ${t}::uuid, ${p}::uuid, ${g.id}, ${g.name} from ${groups} ${g}
      where ${g.id} = any(${targets}) and ${g.tenantId} = ${t}::uuid and ${notOwnedYet}
      order by ${g.id}
      on conflict do nothing`);
  }

  /**
   * Memberships of the owned MFA users of a claimed or updated chunk follow their directory
   * memberships in the owned groups: missing ones added, extra ones dropped. (A CREATE chunk
   * adds its users' memberships in its own statement.)
   */
  private async syncMemberships(tx: Executor, runId: string, a: Target, action: PlanAction.CLAIM | PlanAction.UPDATE, range: KeyRange) {
    const p = a.provisioningId;
    const owned = sql`
      select ${o.id} as id, ${o.directoryUserId} as directory_user_id from ${syncRunDesired} ${s}
      cross join lateral (
        select * from ${mfaUsers} ${o} where ${o.provisioningId} = ${p}::uuid and ${o.directoryUserId} = ${s.userId} limit 1) ${o}
      where ${s.runId} = ${runId}::uuid and ${inRange(s.userId, range)} and ${s.action} = ${action}`;
    await tx.execute(sql`with ow as materialized (${owned}) ${ownedMembershipsInsert(a, 'ow')}`);
    await tx.execute(sql`
      with ow as materialized (${owned})
      delete from ${mfaGroupMemberships} ${mm} using ${mfaGroups} ${mg}, ow
      where ${mm.mfaGroupId} = ${mg.id} and ${mm.mfaUserId} = ow.id and ${mg.provisioningId} = ${p}::uuid
        and not exists (select 1 from ${groupMemberships} ${gm} where ${gm.groupId} = ${mg.directoryGroupId} and ${gm.userId} = ow.directory_user_id)`);
  }

  /** Claims a chunk of MANUAL users: source, link and directory fields change; devices stay; no email. */
  async claimChunk(
    tx: Executor,
    runId: string,
    a: Target,
    range: KeyRange,
  ): Promise<{ claimed: number; users: AppliedUser[]; failed: ApplyFailure[] }> {
    const t = a.tenantId;
    const p = a.provisioningId;
    const mu = alias(mfaUsers, 'mu');
    const [r] = await queryRows<{ claimed: number; users: AppliedUser[] | string | null; failed: ApplyFailure[] | string | null }>(
      tx,
      sql`with ${chunkCte(runId, PlanAction.CLAIM, range)},
          upd as (
            update ${mfaUsers} ${mu} set ${name(mfaUsers.provisioningId)} = ${p}::uuid, ${name(mfaUsers.directoryUserId)} = c.user_id, ${name(mfaUsers.email)} = c.email,
              ${name(mfaUsers.firstName)} = c.first_name, ${name(mfaUsers.lastName)} = c.last_name, ${name(mfaUsers.updatedAt)} = now(),
              ${name(mfaUsers.username)} = case when lower(${mu.username}) = lower(c.username)
                                or (not exists (select 1 from ${mfaUsers} ${x} where ${x.tenantId} = ${t}::uuid and lower(${x.username}) = lower(c.username) and ${x.id} <> ${mu.id})
                                    and not exists (select 1 from c c2 where lower(c2.username) = lower(c.username) and c2.user_id <> c.user_id))
                              then c.username else ${mu.username} end
            from c
            where ${mu.id} = c.mfa_user_id and ${mu.provisioningId} is null and ${mu.tenantId} = ${t}::uuid
              and not exists (select 1 from ${mfaUsers} ${x} where ${x.provisioningId} = ${p}::uuid and ${x.directoryUserId} = c.user_id)
            returning c.user_id, ${mu.id} as id, ${mu.username} as username)
          select (select count(*)::int from upd) as claimed,
                 (select json_agg(json_build_object('id', upd.id, 'username', upd.username)) from upd) as users,
                 (select json_agg(json_build_object('userId', c.user_id, 'username', c.username)) from c
                  where not exists (select 1 from upd where upd.user_id = c.user_id)
                    and not exists (select 1 from ${mfaUsers} ${x} where ${x.provisioningId} = ${p}::uuid and ${x.directoryUserId} = c.user_id)) as failed`,
    );
    if (r?.claimed) await this.syncMemberships(tx, runId, a, PlanAction.CLAIM, range);
    return { claimed: r?.claimed ?? 0, users: parseJsonList(r?.users), failed: parseJsonList(r?.failed) };
  }

  /**
   * Creates a chunk of MFA users (UNENROLLED, no devices) with their memberships, in one
   * statement: the memberships are inserted for the rows the insert returned (a user created
   * by an earlier attempt got its memberships in that attempt's transaction). With `audit`
   * (the audit module's CTE), each created user's `sync.create` event is written by the same
   * statement, and its seq range returned. With `users`, the created users come back for
   * enrolment emails; otherwise only their count does.
   */
  async createChunk(
    tx: Executor,
    runId: string,
    a: Target,
    range: KeyRange,
    opts: { audit?: ((rows: SQL) => SQL) | null; users: boolean },
  ): Promise<{
    created: number;
    users: CreatedUser[];
    failed: ApplyFailure[];
    auditedRange: { from: number | string | null; to: number | string | null };
  }> {
    const t = mfaUsers;
    const audited = opts.audit
      ? sql`, ${opts.audit(sql`select 'sync.create' as action, 'MfaUser' as target_type, id as target_id, username as target_name,
              json_build_object('username', json_build_array(null, username), 'email', json_build_array(null, email),
                                'firstName', json_build_array(null, "firstName"), 'lastName', json_build_array(null, "lastName")) as changes,
              ${runId}::uuid as source_id from ins`)}`
      : sql``;
    const [r] = await queryRows<{
      created: number;
      users: CreatedUser[] | string | null;
      failed: ApplyFailure[] | string | null;
      seqFrom: number | string | null;
      seqTo: number | string | null;
    }>(
      tx,
      sql`with ${chunkCte(runId, PlanAction.CREATE, range)},
          ins as (
            insert into ${t} (${names(t.tenantId, t.provisioningId, t.directoryUserId, t.username, t.email, t.firstName, t.lastName)})
            select ${a.tenantId}::uuid, ${a.provisioningId}::uuid, user_id, username, email, first_name, last_name from c order by user_id
            on conflict do nothing
            returning ${name(t.id)} as id, ${name(t.directoryUserId)} as directory_user_id, ${name(t.email)} as email,
                      ${name(t.firstName)} as "firstName", ${name(t.lastName)} as "lastName", ${name(t.username)} as username),
          mem as (${ownedMembershipsInsert(a, 'ins')})
          ${audited}
          select (select count(*)::int from ins) as created,
                 ${opts.users ? sql`(select json_agg(json_build_object('id', id, 'email', email, 'firstName', "firstName")) from ins)` : sql`null`} as users,
                 -- Not created now and not ours before (the snapshot predates the insert): the username was taken meanwhile.
                 -- (A probe per row, LATERAL … LIMIT 1: as an anti join, stale statistics planned a
                 -- scan of all the provisioning's MFA users per row.)
                 (select json_agg(json_build_object('userId', c.user_id, 'username', c.username))
                  from c left join lateral (
                    select true as owned from ${mfaUsers} ${x}
                    where ${x.provisioningId} = ${a.provisioningId}::uuid and ${x.directoryUserId} = c.user_id limit 1) ow on true
                  where ow.owned is null and c.user_id not in (select directory_user_id from ins)) as failed,
                 ${opts.audit ? sql`(select min(seq) from audited)` : sql`null`} as "seqFrom",
                 ${opts.audit ? sql`(select max(seq) from audited)` : sql`null`} as "seqTo"`,
    );
    return {
      created: r?.created ?? 0,
      users: parseJsonList(r?.users),
      failed: parseJsonList(r?.failed),
      auditedRange: { from: r?.seqFrom ?? null, to: r?.seqTo ?? null },
    };
  }

  /** Applies a chunk of planned updates: directory fields, the username when free, memberships. */
  async updateChunk(tx: Executor, runId: string, a: Target, range: KeyRange): Promise<{ updated: number; users: UpdatedUser[] }> {
    const t = a.tenantId;
    const old = alias(mfaUsers, 'old');
    const [r] = await queryRows<{ updated: number; users: UpdatedUser[] | string | null }>(
      tx,
      sql`with ${chunkCte(runId, PlanAction.UPDATE, range)},
          upd as (
            update ${mfaUsers} ${o} set ${name(mfaUsers.email)} = c.email, ${name(mfaUsers.firstName)} = c.first_name, ${name(mfaUsers.lastName)} = c.last_name,
              ${name(mfaUsers.updatedAt)} = now(),
              -- Suspend instead of delete: the directory user's state now decides (devices stay either way).
              ${name(mfaUsers.suspendedAt)} = case when exists (select 1 from ${users} ${u} where ${u.id} = c.user_id and ${u.status} = 'DISABLED')
                                then coalesce(${o.suspendedAt}, now()) end,
              ${name(mfaUsers.username)} = case when ${o.username} <> c.username
                                and not exists (select 1 from ${mfaUsers} ${x} where ${x.tenantId} = ${t}::uuid and lower(${x.username}) = lower(c.username) and ${x.id} <> ${o.id})
                                and not exists (select 1 from c c2 where lower(c2.username) = lower(c.username) and c2.user_id <> c.user_id)
                              then c.username else ${o.username} end
            from c, ${mfaUsers} ${old}
            where ${o.provisioningId} = ${a.provisioningId}::uuid and ${o.directoryUserId} = c.user_id and ${old.id} = ${o.id}
            returning ${o.id} as id, json_build_object(
              'username', json_build_array(${old.username}, ${o.username}), 'email', json_build_array(${old.email}, ${o.email}),
              'firstName', json_build_array(${old.firstName}, ${o.firstName}), 'lastName', json_build_array(${old.lastName}, ${o.lastName})) as fields)
          select (select count(*)::int from upd) as updated, (select json_agg(json_build_object('id', upd.id, 'fields', upd.fields)) from upd) as users`,
    );
    if (r?.updated) await this.syncMemberships(tx, runId, a, PlanAction.UPDATE, range);
    return { updated: r?.updated ?? 0, users: parseJsonList(r?.users) };
  }

  /**
   * Removes a chunk of the planned removal set, with devices (foreign-key cascade). A user is
   * removed only if it is still owned and still not selected, so an approved plan never
   * removes someone put back in a selected group since. Selected as planning means it: a
   * member of a selected group, disabled or not (a disabled member is kept, suspended, by the
   * next run), so what an approval removes is what a plan made at that moment would.
   */
  async removeChunk(
    tx: Executor,
    runId: string,
    a: Target & { groupIds: string[] },
    range: KeyRange,
  ): Promise<{ removed: number; devices: number; users: RemovedUser[] }> {
    const [r] = await queryRows<{ removed: number; devices: number; users: RemovedUser[] | string | null }>(
      tx,
      sql`with sel as materialized (
            select ${rm.mfaUserId} as mfa_user_id from ${syncRunRemovals} ${rm} where ${rm.runId} = ${runId}::uuid and ${inRange(rm.mfaUserId, range)}),
          v as (
            select ${o.id} as id, ${o.username} as username, ${o.email} as email, (select count(*)::int from ${mfaDevices} ${dv} where ${dv.mfaUserId} = ${o.id}) as devices
            from sel cross join lateral (select * from ${mfaUsers} ${o} where ${o.id} = sel.mfa_user_id limit 1) ${o}
            where ${o.provisioningId} = ${a.provisioningId}::uuid and ${o.tenantId} = ${a.tenantId}::uuid
              and (${o.directoryUserId} is null or not exists (
                    select 1 from ${groupMemberships} ${gm}
                    where ${gm.userId} = ${o.directoryUserId} and ${gm.groupId} = any(${uuidArray(a.groupIds)})))),
          gone as (delete from ${mfaUsers} where ${mfaUsers.id} in (select id from v) returning ${mfaUsers.id} as id)
          select (select count(*)::int from gone) as removed,
                 (select coalesce(sum(v.devices), 0)::int from v where v.id in (select id from gone)) as devices,
                 (select json_agg(json_build_object('id', v.id, 'username', v.username, 'email', v.email, 'devices', v.devices))
                  from v where v.id in (select id from gone)) as users`,
    );
    return { removed: r?.removed ?? 0, devices: r?.devices ?? 0, users: parseJsonList(r?.users) };
  }
}
