import { sql, type SQL } from 'drizzle-orm';
import { queryRows } from '../../../server/shared/db.js';
import type { TestServer } from '../../support/harness.js';

/** CTE `d`: the desired users, members of the selected groups (the bench has no disabled ones). */
export function desiredCte(tenant: SQL, groups: SQL): SQL {
  return sql`
    d as materialized (
      select u.id, coalesce(u.username, u.email, u.id::text) as username, u.email, u.first_name, u.last_name
      from users u
      where u.tenant_id = ${tenant} and u.status <> 'DISABLED'
        and exists (select 1 from group_memberships gm where gm.user_id = u.id and gm.group_id = any(${groups})))`;
}

/**
 * The raw-SQL anchor: what a sync must do, as the simplest set-based SQL against the same
 * tables (same indexes, same engine, one transaction per sync), with none of Roster's
 * machinery (no staging table, no key-range chunks, no checkpoints, no progress events, no
 * MANUAL-claim or username-collision rules, which find nothing here). It writes the rows a
 * Roster sync writes: the MFA group, the MFA users with their memberships, and one audit event
 * per user created or updated (in the statement of the change, as Roster does for creates).
 */
export function rawSync(ts: TestServer, a: { tenantId: string; provisioningId: string; groupId: string }) {
  const db = ts.database.db;
  const t = sql`${a.tenantId}::uuid`;
  const p = sql`${a.provisioningId}::uuid`;
  const groups = sql`${`{${a.groupId}}`}::uuid[]`;
  const desired = desiredCte(t, groups);
  const differs = sql`(o.email is distinct from d.email or o.first_name <> d.first_name or o.last_name <> d.last_name
                       or o.username <> d.username or o.suspended_at is not null)`;
  // An owned MFA user whose directory user is no longer desired (looked up by key, not by a scan of `d`).
  const undesired = sql`(o.directory_user_id is null or not exists (
    select 1 from group_memberships gm join users u on u.id = gm.user_id
    where gm.user_id = o.directory_user_id and gm.group_id = any(${groups}) and u.tenant_id = ${t} and u.status <> 'DISABLED'))`;
  const audit = (rows: SQL) => sql`
    insert into audit_events (tenant_id, actor_kind, action, target_type, target_id, target_name, changes, source_id)
    select ${t}, 'SCHEDULER', e.action, 'MfaUser', e.id, e.username, e.changes, null from (${rows}) e returning 1`;
  /** The statements of a sync, in order; those returning `n` count what they changed. */
  const statements: { name: 'groups' | 'created' | 'updated' | 'removed' | 'joined' | 'left'; q: SQL }[] = [
    {
      name: 'groups',
      q: sql`insert into mfa_groups (tenant_id, provisioning_id, directory_group_id, name)
             select ${t}, ${p}, g.id, g.name from groups g where g.id = any(${groups}) and g.tenant_id = ${t}
             on conflict do nothing`,
    },
    {
      name: 'created',
      q: sql`with ${desired},
             ins as (
               insert into mfa_users (tenant_id, provisioning_id, directory_user_id, username, email, first_name, last_name)
               select ${t}, ${p}, d.id, d.username, d.email, d.first_name, d.last_name from d
               -- A probe by key: as an anti join, both engines can plan an index scan on the
               -- provisioning alone that revisits every row this statement inserted (quadratic).
               left join lateral (select o.id from mfa_users o where o.provisioning_id = ${p} and o.directory_user_id = d.id limit 1) o on true
               where o.id is null
               on conflict do nothing
               returning id, username, email, first_name, last_name),
             audited as (${audit(sql`select 'sync.create' as action, id, username,
                 json_build_object('username', json_build_array(null, username), 'email', json_build_array(null, email),
                                    'firstName', json_build_array(null, first_name), 'lastName', json_build_array(null, last_name)) as changes
                 from ins`)})
             select count(*)::int as n from ins`,
    },
    {
      name: 'updated',
      q: sql`with ${desired},
             upd as (
               update mfa_users o set email = d.email, first_name = d.first_name, last_name = d.last_name, username = d.username,
                 suspended_at = null, updated_at = now()
               from d, mfa_users old
               where o.provisioning_id = ${p} and o.directory_user_id = d.id and old.id = o.id and ${differs}
               returning o.id, o.username, json_build_object(
                 'username', json_build_array(old.username, o.username), 'email', json_build_array(old.email, o.email),
                 'firstName', json_build_array(old.first_name, o.first_name), 'lastName', json_build_array(old.last_name, o.last_name)) as changes),
             audited as (${audit(sql`select 'sync.update' as action, id, username, changes from upd`)})
             select count(*)::int as n from upd`,
    },
    {
      name: 'removed',
      q: sql`with gone as (delete from mfa_users o where o.provisioning_id = ${p} and ${undesired} returning 1)
             select count(*)::int as n from gone`,
    },
    {
      // Memberships of the owned users follow their directory memberships in the owned groups.
      name: 'joined',
      q: sql`with ins as (
               insert into mfa_group_memberships (mfa_group_id, mfa_user_id, tenant_id)
               select mg.id, o.id, ${t} from mfa_users o
               join group_memberships gm on gm.user_id = o.directory_user_id
               join mfa_groups mg on mg.provisioning_id = ${p} and mg.directory_group_id = gm.group_id
               where o.provisioning_id = ${p}
               on conflict do nothing
               returning 1)
             select count(*)::int as n from ins`,
    },
    {
      name: 'left',
      q: sql`with gone as (
               delete from mfa_group_memberships mm using mfa_groups mg, mfa_users o
               where mm.mfa_group_id = mg.id and mg.provisioning_id = ${p} and o.id = mm.mfa_user_id and o.provisioning_id = ${p}
                 and not exists (select 1 from group_memberships gm where gm.group_id = mg.directory_group_id and gm.user_id = o.directory_user_id)
               returning 1)
             select count(*)::int as n from gone`,
    },
  ];
  const previewSql = sql`with ${desired},
      c as (select o.id is null as creates, o.id is not null and ${differs} as updates from d
            left join mfa_users o on o.provisioning_id = ${p} and o.directory_user_id = d.id)
      select count(*) filter (where creates)::int as creates, count(*) filter (where updates)::int as updates,
             count(*) filter (where not creates and not updates)::int as keeps,
             (select count(*)::int from mfa_users o where o.provisioning_id = ${p} and ${undesired}) as removals,
             (select count(*)::int from mfa_users o
                join group_memberships gm on gm.user_id = o.directory_user_id
                join mfa_groups mg on mg.provisioning_id = ${p} and mg.directory_group_id = gm.group_id
              where o.provisioning_id = ${p}
                and not exists (select 1 from mfa_group_memberships mm where mm.mfa_group_id = mg.id and mm.mfa_user_id = o.id)) as joins,
             (select count(*)::int from mfa_group_memberships mm
                join mfa_groups mg on mg.id = mm.mfa_group_id join mfa_users o on o.id = mm.mfa_user_id
              where mg.provisioning_id = ${p} and o.provisioning_id = ${p}
                and not exists (select 1 from group_memberships gm where gm.group_id = mg.directory_group_id and gm.user_id = o.directory_user_id)) as leaves
      from c`;
  return {
    statements,
    previewSql,
    /** Plan and apply in one transaction: what each statement changed, and its seconds. */
    async sync() {
      return db.transaction(async (tx) => {
        const out: Record<string, { n: number; secs: number }> = {};
        for (const s of statements) {
          const start = performance.now();
          const [r] = await queryRows<{ n?: number }>(tx, s.q);
          out[s.name] = { n: r?.n ?? 0, secs: (performance.now() - start) / 1000 };
        }
        return out;
      });
    },
    /** The preview: the same diff, read-only, as counts per action (memberships included, as Roster's classification compares them). */
    async preview() {
      const [r] = await queryRows<{ creates: number; updates: number; keeps: number; removals: number; joins: number; leaves: number }>(
        db,
        previewSql,
      );
      return r!;
    },
  };
}
