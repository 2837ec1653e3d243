import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Executor } from '../../shared/db.js';

/**
 * The sync diff as set-based SQL. Every step is a bulk statement over the run's
 * materialised desired set (`sync_run_desired`), bounded by `limit` so a chunk is one short
 * transaction. Steps are idempotent: re-running any of them after a crash finds nothing
 * left to do for rows already handled.
 */
const CHUNK = 2000;

function uuidArray(ids: string[]): SQL {
  return ids.length ? sql`array[${sql.join(ids.map((i) => sql`${i}`), sql`, `)}]::uuid[]` : sql`array[]::uuid[]`;
}

/** A directory user matched by a MANUAL MFA user: same username, or same email. */
function manualMatch(tenantId: string): SQL {
  return sql`m.tenant_id = ${tenantId} and m.provisioning_id is null
    and (lower(m.username) = lower(d.username) or (d.email is not null and lower(m.email) = lower(d.email)))`;
}

export class SyncStore {
  // Every method runs inside the caller's transaction (a chunk), so it takes `tx` explicitly.

  /** Materialises the desired set: users of the enabled groups (all in the tenant), not disabled. */
  async stageDesired(tx: Executor, runId: string, tenantId: string, groupIds: string[]): Promise<number> {
    await tx.execute(sql`delete from sync_run_desired where run_id = ${runId}`);
    const rows = await queryRows<{ n: number }>(
      tx,
      sql`with ins as (
            insert into sync_run_desired (run_id, user_id, username, email, first_name, last_name)
            select distinct on (u.id) ${runId}::uuid, u.id, coalesce(u.username, u.email, u.id::text), u.email, u.first_name, u.last_name
            from group_memberships gm
            join groups g on g.id = gm.group_id and g.tenant_id = ${tenantId}
            join users u on u.id = gm.user_id and u.tenant_id = ${tenantId} and u.status <> 'DISABLED'
            where gm.tenant_id = ${tenantId} and gm.group_id = any(${uuidArray(groupIds)})
            on conflict do nothing
            returning 1)
          select count(*)::int as n from ins`,
    );
    return rows[0]?.n ?? 0;
  }

  /** The desired set as a CTE, for the read-only preview. */
  private desiredCte(tenantId: string, groupIds: string[]): SQL {
    return sql`desired as not materialized (
      select distinct on (u.id) u.id as user_id, coalesce(u.username, u.email, u.id::text) as username, u.email, u.first_name, u.last_name
      from group_memberships gm
      join groups g on g.id = gm.group_id and g.tenant_id = ${tenantId}
      join users u on u.id = gm.user_id and u.tenant_id = ${tenantId} and u.status <> 'DISABLED'
      where gm.tenant_id = ${tenantId} and gm.group_id = any(${uuidArray(groupIds)}))`;
  }

  private stagedCte(runId: string): SQL {
    return sql`desired as not materialized (select user_id, username, email, first_name, last_name from sync_run_desired where run_id = ${runId})`;
  }

  /**
   * The plan, from either the staged set (a run) or a live CTE (preview): identical SQL, so a
   * preview equals what a run then does.
   */
  async plan(
    tx: Executor,
    p: { tenantId: string; provisioningId: string; includeManual: boolean; source: { runId: string } | { groupIds: string[] }; listLimit: number },
  ) {
    const desired = 'runId' in p.source ? this.stagedCte(p.source.runId) : this.desiredCte(p.tenantId, p.source.groupIds);
    const base = sql`with ${desired},
      unowned as (select d.* from desired d
                  where not exists (select 1 from mfa_users o where o.provisioning_id = ${p.provisioningId} and o.directory_user_id = d.user_id)),
      manual as (select distinct on (d.user_id) d.*, m.id as mfa_id from unowned d join mfa_users m on ${manualMatch(p.tenantId)} order by d.user_id, m.id),
      creates as (select d.* from unowned d where not exists (select 1 from manual x where x.user_id = d.user_id)
                    and not exists (select 1 from mfa_users x where x.tenant_id = ${p.tenantId} and lower(x.username) = lower(d.username))),
      failures as (select d.* from unowned d where not exists (select 1 from manual x where x.user_id = d.user_id)
                    and exists (select 1 from mfa_users x where x.tenant_id = ${p.tenantId} and lower(x.username) = lower(d.username))),
      updates as (select o.id as mfa_id, d.* from mfa_users o join desired d on d.user_id = o.directory_user_id
                    where o.provisioning_id = ${p.provisioningId}
                      and (o.email is distinct from d.email or o.first_name <> d.first_name or o.last_name <> d.last_name)),
      removals as (select o.id as mfa_id, o.directory_user_id as user_id, o.username, o.email,
                    (select count(*)::int from mfa_devices dv where dv.mfa_user_id = o.id) as devices
                   from mfa_users o where o.tenant_id = ${p.tenantId} and o.provisioning_id = ${p.provisioningId}
                     and (o.directory_user_id is null or not exists (select 1 from desired d where d.user_id = o.directory_user_id)))`;
    const [counts] = await queryRows<{
      creates: number;
      updates: number;
      manual: number;
      removals: number;
      devices: number;
      owned: number;
      failures: number;
    }>(
      tx,
      sql`${base} select (select count(*)::int from creates) as creates, (select count(*)::int from updates) as updates,
            (select count(*)::int from manual) as manual, (select count(*)::int from removals) as removals,
            (select coalesce(sum(devices), 0)::int from removals) as devices, (select count(*)::int from mfa_users o where o.tenant_id = ${p.tenantId} and o.provisioning_id = ${p.provisioningId}) as owned,
            (select count(*)::int from failures) as failures`,
    );
    const list = async (cte: string, cols: SQL) =>
      p.listLimit > 0
        ? queryRows<{ user_id: string | null; mfa_id: string | null; username: string; email: string | null; devices: number }>(
            tx,
            sql`${base} select ${cols} from ${sql.raw(cte)} order by username limit ${p.listLimit}`,
          )
        : [];
    return {
      counts: counts!,
      toCreate: await list('creates', sql`user_id, null::uuid as mfa_id, username, email, 0 as devices`),
      toUpdate: await list('updates', sql`user_id, mfa_id, username, email, 0 as devices`),
      toClaim: p.includeManual ? await list('manual', sql`user_id, mfa_id, username, email, 0 as devices`) : [],
      toRemove: await list('removals', sql`user_id, mfa_id, username, email, devices`),
      failures: await queryRows<{ user_id: string; username: string }>(tx, sql`${base} select user_id, username from failures order by username limit 1000`),
    };
  }

  /** Records the exact removal set a guarded run stopped on. */
  async saveRemovalSet(tx: Executor, runId: string, tenantId: string, provisioningId: string): Promise<void> {
    await tx.execute(sql`delete from sync_run_removals where run_id = ${runId}`);
    await tx.execute(sql`
      insert into sync_run_removals (run_id, mfa_user_id)
      select ${runId}::uuid, o.id from mfa_users o
      where o.tenant_id = ${tenantId} and o.provisioning_id = ${provisioningId}
        and (o.directory_user_id is null or not exists (select 1 from sync_run_desired d where d.run_id = ${runId} and d.user_id = o.directory_user_id))`);
  }

  /** Creates/claims/renames the MFA groups of the enabled directory groups; drops owned ones no longer enabled. */
  async syncGroups(tx: Executor, tenantId: string, provisioningId: string, groupIds: string[], includeManual: boolean): Promise<void> {
    const enabled = uuidArray(groupIds);
    if (includeManual) {
      await tx.execute(sql`
        update mfa_groups mg set provisioning_id = ${provisioningId}, directory_group_id = g.id
        from groups g
        where g.id = any(${enabled}) and g.tenant_id = ${tenantId} and mg.tenant_id = ${tenantId}
          and mg.provisioning_id is null and lower(mg.name) = lower(g.name)
          and not exists (select 1 from mfa_groups x where x.provisioning_id = ${provisioningId} and x.directory_group_id = g.id)`);
    }
    await tx.execute(sql`
      update mfa_groups mg set name = g.name
      from groups g
      where mg.provisioning_id = ${provisioningId} and mg.directory_group_id = g.id and mg.name <> g.name
        and not exists (select 1 from mfa_groups x where x.tenant_id = ${tenantId} and lower(x.name) = lower(g.name) and x.id <> mg.id)`);
    await tx.execute(sql`
      insert into mfa_groups (tenant_id, provisioning_id, directory_group_id, name)
      select ${tenantId}, ${provisioningId}, g.id, g.name from groups g
      where g.id = any(${enabled}) and g.tenant_id = ${tenantId}
        and not exists (select 1 from mfa_groups x where x.provisioning_id = ${provisioningId} and x.directory_group_id = g.id)
      on conflict do nothing`);
    await tx.execute(sql`
      delete from mfa_groups where tenant_id = ${tenantId} and provisioning_id = ${provisioningId}
        and (directory_group_id is null or not (directory_group_id = any(${enabled})))`);
  }

  /** Claims up to CHUNK matching MANUAL users: source changes, devices stay. */
  async claimChunk(tx: Executor, runId: string, tenantId: string, provisioningId: string): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`with desired as (select * from sync_run_desired where run_id = ${runId}),
            pick as (
              select distinct on (m.id) m.id, d.user_id, d.email, d.first_name, d.last_name
              from desired d join mfa_users m on ${manualMatch(tenantId)}
              where not exists (select 1 from mfa_users o where o.provisioning_id = ${provisioningId} and o.directory_user_id = d.user_id)
              order by m.id, d.user_id
              limit ${CHUNK}),
            one_per_user as (select distinct on (user_id) * from pick order by user_id, id)
          update mfa_users mu set provisioning_id = ${provisioningId}, directory_user_id = c.user_id, email = c.email,
            first_name = c.first_name, last_name = c.last_name, updated_at = now()
          from one_per_user c where mu.id = c.id
          returning mu.id`,
    );
    return rows.length;
  }

  /** Counts desired users matched by MANUAL users that are not claimed (include-manual off). */
  async countSkipped(tx: Executor, runId: string, tenantId: string, provisioningId: string): Promise<number> {
    const [r] = await queryRows<{ n: number }>(
      tx,
      sql`with desired as (select * from sync_run_desired where run_id = ${runId})
          select count(distinct d.user_id)::int as n from desired d join mfa_users m on ${manualMatch(tenantId)}
          where not exists (select 1 from mfa_users o where o.provisioning_id = ${provisioningId} and o.directory_user_id = d.user_id)`,
    );
    return r?.n ?? 0;
  }

  /** Creates up to CHUNK missing users (UNENROLLED, no devices); returns them for enrolment emails. */
  async createChunk(tx: Executor, runId: string, tenantId: string, provisioningId: string) {
    return queryRows<{ id: string; email: string | null; first_name: string }>(
      tx,
      sql`with desired as (select * from sync_run_desired where run_id = ${runId}),
            todo as (
              select d.* from desired d
              where not exists (select 1 from mfa_users o where o.provisioning_id = ${provisioningId} and o.directory_user_id = d.user_id)
                and not exists (select 1 from mfa_users x where x.tenant_id = ${tenantId} and lower(x.username) = lower(d.username))
                and not exists (select 1 from mfa_users m where ${manualMatch(tenantId)})
              order by d.user_id limit ${CHUNK})
          insert into mfa_users (tenant_id, provisioning_id, directory_user_id, username, email, first_name, last_name)
          select ${tenantId}, ${provisioningId}, user_id, username, email, first_name, last_name from todo
          on conflict do nothing
          returning id, email, first_name`,
    );
  }

  async updateChanged(tx: Executor, runId: string, provisioningId: string): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`update mfa_users mu set email = d.email, first_name = d.first_name, last_name = d.last_name, updated_at = now()
          from sync_run_desired d
          where d.run_id = ${runId} and mu.provisioning_id = ${provisioningId} and mu.directory_user_id = d.user_id
            and (mu.email is distinct from d.email or mu.first_name <> d.first_name or mu.last_name <> d.last_name)
          returning mu.id`,
    );
    return rows.length;
  }

  /** Memberships of owned groups follow the directory memberships of owned users. */
  async syncMemberships(tx: Executor, tenantId: string, provisioningId: string): Promise<void> {
    await tx.execute(sql`
      insert into mfa_group_memberships (mfa_group_id, mfa_user_id, tenant_id)
      select mg.id, mu.id, ${tenantId}::uuid from group_memberships gm
      join mfa_groups mg on mg.provisioning_id = ${provisioningId} and mg.directory_group_id = gm.group_id
      join mfa_users mu on mu.provisioning_id = ${provisioningId} and mu.directory_user_id = gm.user_id
      where gm.tenant_id = ${tenantId}
      on conflict do nothing`);
    await tx.execute(sql`
      delete from mfa_group_memberships mm using mfa_groups mg, mfa_users mu
      where mm.mfa_group_id = mg.id and mm.mfa_user_id = mu.id and mg.provisioning_id = ${provisioningId}
        and not exists (select 1 from group_memberships gm where gm.group_id = mg.directory_group_id and gm.user_id = mu.directory_user_id)`);
  }

  /** Removes up to CHUNK owned users no longer desired (devices go with them). Approved runs remove only their saved set. */
  async removeChunk(tx: Executor, runId: string, tenantId: string, provisioningId: string, approvedSetOnly: boolean) {
    const [r] = await queryRows<{ users: number; devices: number }>(
      tx,
      sql`with victims as (
            select o.id from mfa_users o
            where o.tenant_id = ${tenantId} and o.provisioning_id = ${provisioningId}
              and (o.directory_user_id is null or not exists (select 1 from sync_run_desired d where d.run_id = ${runId} and d.user_id = o.directory_user_id))
              ${approvedSetOnly ? sql`and exists (select 1 from sync_run_removals s where s.run_id = ${runId} and s.mfa_user_id = o.id)` : sql``}
            limit ${CHUNK}),
          devices as (select count(*)::int as n from mfa_devices dv where dv.mfa_user_id in (select id from victims)),
          gone as (delete from mfa_users where id in (select id from victims) returning id)
          select (select count(*)::int from gone) as users, (select n from devices) as devices`,
    );
    return { users: r?.users ?? 0, devices: r?.devices ?? 0 };
  }

  async clearStage(tx: Executor, runId: string): Promise<void> {
    await tx.execute(sql`delete from sync_run_desired where run_id = ${runId}`);
    await tx.execute(sql`delete from sync_run_removals where run_id = ${runId}`);
  }
}
