import { it } from 'vitest';
import { sql, type SQL } from 'drizzle-orm';
import { seedTenant, startTestServer } from '../support/harness.js';
import { queryRows } from '../../server/shared/db.js';
import { fromGlobalId } from '../../server/shared/ids.js';
import { seedDeployedProvisioning } from '../support/provisioning-api.js';
import { desiredCte, rawSync } from './support/raw-sync.js';
import { SyncPlanStore } from '../../server/modules/sync-run/sync-plan.store.js';
import { keySlice } from '../../server/modules/sync-run/sync-plan.js';

/**
 * Where a sync's database time goes, and what this engine and machine allow at all.
 *
 * 1. A first sync's writes: the raw-SQL anchor's creating statement
 *    (`test/bench/support/raw-sync.ts`) taken apart. Each line is one statement over the same
 *    100k desired users, in its own transaction that is rolled back (so every line starts from
 *    the same empty MFA directory). Tables `LIKE mfa_users` are created in that transaction to
 *    remove one thing at a time: the foreign keys, the secondary indexes, the write-ahead log.
 * 2. A no-op resync's reads, once the 100k users are synced (the anchor's sync, committed) and
 *    the statistics fresh (as autovacuum keeps them on PostgreSQL): the whole diff as one hash
 *    join for users and one for memberships, beside Roster's own classification statement over
 *    the key ranges a run walks, and (PostgreSQL) the same with JIT compilation on.
 *
 * Figures only, no assertions on time. `BENCH_QUICK=true`: 10k users.
 */

class Rollback extends Error {}

it('sync floor: a first sync and a no-op resync taken apart', async () => {
  const n = process.env.BENCH_QUICK === 'true' ? 10_000 : 100_000;
  const ts = await startTestServer({});
  try {
    const db = ts.database.db;
    const t0 = await seedTenant(ts);
    const { groupId: g, provisioningId: pid } = await seedDeployedProvisioning(ts, t0, n);
    const t = sql`${t0.tenantId}::uuid`;
    const p = sql`${fromGlobalId(pid, 'Provisioning')!}::uuid`;
    const groups = sql`${`{${fromGlobalId(g, 'Group')!}}`}::uuid[]`;
    await db.execute(sql`analyze`);
    const label = `[bench sync-floor/${ts.database.engine}] ${n} users`;
    const desired = desiredCte(t, groups);
    const cols = sql`tenant_id, provisioning_id, directory_user_id, username, email, first_name, last_name`;
    const vals = sql`${t}, ${p}, d.id, d.username, d.email, d.first_name, d.last_name`;
    const insertInto = (table: SQL) => sql`with ${desired}, ins as (insert into ${table} (${cols}) select ${vals} from d returning id)
      select count(*)::int as n from ins`;
    const audit = sql`with ${desired}, ins as (
        insert into audit_events (tenant_id, actor_kind, action, target_type, target_id, target_name, changes, source_id)
        select ${t}, 'SCHEDULER', 'sync.create', 'MfaUser', gen_random_uuid(), d.username,
          json_build_object('username', json_build_array(null, d.username), 'email', json_build_array(null, d.email),
                            'firstName', json_build_array(null, d.first_name), 'lastName', json_build_array(null, d.last_name)), null
        from d returning 1)
      select count(*)::int as n from ins`;
    const cases: { name: string; setup?: SQL[]; q: SQL }[] = [
      { name: 'read the desired users only', q: sql`with ${desired} select count(*)::int as n from d` },
      { name: 'mfa_users as it is (7 indexes, 3 foreign keys)', q: insertInto(sql`mfa_users`) },
      {
        name: 'the same, without its 3 foreign keys',
        setup: [sql`create table f_idx (like mfa_users including defaults including indexes)`],
        q: insertInto(sql`f_idx`),
      },
      {
        name: 'the same, primary key only, no foreign key',
        setup: [sql`create table f_pk (like mfa_users including defaults)`, sql`alter table f_pk add primary key (id)`],
        q: insertInto(sql`f_pk`),
      },
      {
        name: 'no index, no foreign key (the heap)',
        setup: [sql`create table f_heap (like mfa_users including defaults)`],
        q: insertInto(sql`f_heap`),
      },
      {
        name: 'the heap, unlogged (no write-ahead log)',
        setup: [sql`create unlogged table f_unlogged (like mfa_users including defaults)`],
        q: insertInto(sql`f_unlogged`),
      },
      { name: 'audit_events: one event per user', q: audit },
    ];
    const rows: { name: string; secs: number[]; n: number }[] = [];
    const record = (name: string, secs: number, n: number) => {
      const row = rows.find((x) => x.name === name);
      if (row) row.secs.push(secs);
      else rows.push({ name, secs: [secs], n });
    };
    const rounds = ts.database.engine === 'postgres' ? 3 : 1;
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        let got = 0;
        let secs = 0;
        await db
          .transaction(async (tx) => {
            for (const s of c.setup ?? []) await tx.execute(s);
            const start = performance.now();
            const [r] = await queryRows<{ n: number }>(tx, c.q);
            secs = (performance.now() - start) / 1000;
            got = r!.n;
            throw new Rollback();
          })
          .catch((e) => {
            if (!(e instanceof Rollback)) throw e;
          });
        // The rolled-back rows are dead tuples and index entries: clear them so each round starts alike.
        await db.execute(sql`vacuum mfa_users`);
        await db.execute(sql`vacuum audit_events`);
        record(c.name, secs, got);
      }
    }
    // The diff of a resync: the MFA directory now holds the 100k users and their memberships
    // (the raw-SQL anchor's own sync, committed), so every line below finds nothing to change.
    const mg = sql`(select id from mfa_groups where provisioning_id = ${p} and directory_group_id = any(${groups}))`;
    // The anchor's sync in one transaction, with sequential scans off. After the rolled-back
    // inserts and their vacuums the statistics describe an empty `mfa_users`, and the creating
    // statement ran for 209 s instead of seconds: its per-user probe rescanned the rows it had
    // inserted so far, as a sequential scan of an "empty" table (turning those off cured it).
    const anchor = rawSync(ts, {
      tenantId: t0.tenantId,
      provisioningId: fromGlobalId(pid, 'Provisioning')!,
      groupId: fromGlobalId(g, 'Group')!,
    });
    const anchorStart = performance.now();
    await db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      for (const st of anchor.statements) await tx.execute(st.q);
    });
    console.log(`${label}: the anchor's sync (to reach the no-op state) took ${((performance.now() - anchorStart) / 1000).toFixed(1)} s`);
    await db.execute(sql`analyze`);
    const owned = sql`o as materialized (select * from mfa_users where provisioning_id = ${p})`;
    const diffs: { name: string; q?: SQL; run?: () => Promise<number> }[] = [
      {
        name: 'users: one hash full join, counts per action',
        q: sql`with ${desired}, ${owned}
          select (count(*) filter (where o.id is null or d.id is null
                    or o.email is distinct from d.email or o.first_name <> d.first_name or o.last_name <> d.last_name
                    or o.username <> d.username or o.suspended_at is not null))::int as n
          from d full join o on o.directory_user_id = d.id`,
      },
      {
        name: 'memberships: one hash full join',
        q: sql`with ${desired},
          want as (select mg.id as g, o.id as u from d join group_memberships gm on gm.user_id = d.id
                   join mfa_groups mg on mg.provisioning_id = ${p} and mg.directory_group_id = gm.group_id
                   join mfa_users o on o.provisioning_id = ${p} and o.directory_user_id = d.id),
          have as (select mm.mfa_group_id as g, mm.mfa_user_id as u from mfa_group_memberships mm where mm.mfa_group_id in ${mg})
          select count(*)::int as n from want full join have on have.g = want.g and have.u = want.u where want.g is null or have.g is null`,
      },
    ];
    // Roster's own classification of the same no-op: its planning statement (`stage`) over the
    // key ranges a run would walk, each range in its own transaction as in a run; and the same
    // with PostgreSQL's JIT compilation on, as it was before Roster's sessions turned it off.
    const gid = fromGlobalId(g, 'Group')!;
    const cls = {
      tenantId: t0.tenantId,
      provisioningId: fromGlobalId(pid, 'Provisioning')!,
      groupIds: [gid],
      targetGroupIds: [gid],
      includeManual: false,
    };
    const k = Math.ceil(n / 4000);
    const noRun = '00000000-0000-0000-0000-000000000000'; // a no-op stages nothing: every user is KEEP
    const classify = (jit: boolean) => async () => {
      let kept = 0;
      for (let i = 0; i < k; i++) {
        await db.transaction(async (tx) => {
          if (jit) await tx.execute(sql`set local jit = on`);
          kept += await new SyncPlanStore().stage(tx, noRun, cls, keySlice(i, k));
        });
      }
      return kept;
    };
    diffs.push({ name: `Roster's classification, ${k} key ranges`, run: classify(false) });
    if (ts.database.engine === 'postgres') diffs.push({ name: `the same with JIT compilation on`, run: classify(true) });
    for (let round = 0; round < rounds; round++) {
      for (const c of diffs) {
        const start = performance.now();
        const got = c.run ? await c.run() : (await queryRows<{ n: number }>(db, c.q!))[0]!.n;
        const secs = (performance.now() - start) / 1000;
        record(c.name, secs, got);
      }
    }
    for (const r of rows) {
      const s = [...r.secs].sort((a, b) => a - b);
      console.log(
        `${label}: ${r.name.padEnd(48)} ${s[Math.floor(s.length / 2)]!.toFixed(2).padStart(6)} s (median of ${s.length}: ${s.map((x) => x.toFixed(2)).join(', ')}), ${r.n} rows`,
      );
    }
  } finally {
    await ts.close();
  }
});
