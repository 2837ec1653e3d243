import { spawn } from 'node:child_process';
import path from 'node:path';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { seedTenant, startTestServer, type TestServer } from '../support/harness.js';
import { ROOT } from '../support/process.js';
import { rawSync } from './support/raw-sync.js';
import { fromGlobalId } from '../../server/shared/ids.js';
import { papi, seedDeployedProvisioning } from '../support/provisioning-api.js';

/**
 * Sync throughput on the engine selected by TEST_DATABASE_URL (PGlite by default): the first
 * sync of N users, a no-op resync, and a resync with 1 % of the users changed. Directory users
 * are seeded set-based (the bench measures the sync, not user creation). A graphql-ws
 * subscriber in its own process (as a real client) watches every run — events, events per
 * second and the longest gap between two events are printed — and meanwhile sends a small
 * query every 100 ms, whose latency shows how responsive the API stays during the sync.
 * Figures only, no assertions on time.
 */

interface Watched {
  events: { at: number; run: any }[];
  latencies: number[];
}

/** Starts the watcher process now (connected, warm); `watch(runId)` subscribes and resolves when the run ends. */
function watcher(ts: TestServer, token: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/support/watch-process.mjs'), ts.wsUrl, ts.url, token], { cwd: ROOT });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    async watch(runId: string): Promise<Watched> {
      child.stdin.write(
        JSON.stringify({
          query: `subscription($id: ID!) { syncRunProgress(runId: $id) { status phase percent created updated removed planned startedAt plannedAt finishedAt } }`,
          variables: { id: runId },
          pollQuery: `query($id: ID!) { syncRun(id: $id) { status } }`,
        }) + '\n',
      );
      child.stdin.end();
      await exited;
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { at?: number; data?: any; done?: boolean; latencies?: number[] });
      return {
        events: lines.filter((l) => l.data).map((l) => ({ at: l.at!, run: l.data.syncRunProgress })),
        latencies: lines.find((l) => l.done)?.latencies ?? [],
      };
    },
  };
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** A tenant with `n` directory users in one group, a deployed provisioning of that group. */
async function setUp(ts: TestServer, n: number, opts: { emails: boolean }) {
  const t = await seedTenant(ts);
  const p = papi(ts, t.token);
  const { groupId: g, provisioningId: id } = await seedDeployedProvisioning(ts, t, n, { sendEnrollmentEmails: opts.emails });
  return { t, p, id, groupId: fromGlobalId(g, 'Group')!, provisioningId: fromGlobalId(id, 'Provisioning')! };
}

/** Marks 1 % of a tenant's bench users changed (a new last name). */
async function change1pct(ts: TestServer, tenantId: string, n: number) {
  await ts.database.db.execute(sql`
    update users set last_name = last_name || '-x' where id in (
      select id from users where tenant_id = ${tenantId}::uuid and email like 'b%@bench.test' order by id limit ${Math.ceil(n / 100)})`);
}

async function secondsOf<T>(f: () => Promise<T>): Promise<{ secs: number; out: T }> {
  const start = performance.now();
  const out = await f();
  return { secs: (performance.now() - start) / 1000, out };
}

/** Goals of issue 15 on PostgreSQL (PGlite: within 2× of these). */
const GOALS: Record<string, number> = { 'first sync': 3, 'no-op resync': 0.8, 'resync with 1% changed': 0.9, previewSync: 0.6 };

async function scenario(ts: TestServer, n: number, opts: { emails: boolean; anchor?: boolean }) {
  const seedStart = Date.now();
  const { t, p, id } = await setUp(ts, n, opts);
  // The anchor's own tenant, seeded the same way: its sync writes the same rows as Roster's.
  const a = opts.anchor ? await setUp(ts, n, opts) : null;
  const raw = a ? rawSync(ts, { tenantId: a.t.tenantId, provisioningId: a.provisioningId, groupId: a.groupId }) : null;
  const label0 = `[bench sync/${ts.database.engine}] ${n} users${opts.emails ? ' + enrolment emails' : ''}`;
  console.log(`${label0}: seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
  const figures: { label: string; roster: number; anchor: number | null; rawWork: string }[] = [];

  const timed = async (label: string) => {
    const w = watcher(ts, t.token);
    await new Promise((r) => setTimeout(r, 500)); // let it start and connect
    // Fresh statistics on PostgreSQL, as autovacuum will have gathered them between two
    // scheduled syncs (hours apart, not seconds as here); PGlite never analyzes on its own.
    if (ts.database.engine === 'postgres') await ts.database.db.execute(sql`analyze`);
    const start = Date.now();
    const run = (await p.sync(id)).syncRun!;
    const { events, latencies } = await w.watch(run.id);
    const last = events[events.length - 1]!.run;
    const end = events[events.length - 1]!.at;
    const secs = (end - start) / 1000;
    const gaps = events.slice(1).map((e, i) => e.at - events[i]!.at);
    const worst = gaps.indexOf(Math.max(...gaps, 0));
    const where =
      worst >= 0
        ? ` between ${events[worst]!.run.phase} ${events[worst]!.run.percent}% and ${events[worst + 1]!.run.phase} ${events[worst + 1]!.run.percent}%`
        : '';
    const planSecs = (new Date(last.plannedAt).getTime() - new Date(last.startedAt).getTime()) / 1000;
    const applySecs = (new Date(last.finishedAt).getTime() - new Date(last.plannedAt).getTime()) / 1000;
    console.log(
      `${label0}, ${label}: ${secs.toFixed(2)} s (plan ${planSecs.toFixed(2)} s, apply ${applySecs.toFixed(2)} s), ${(n / secs).toFixed(0)} users/s, ` +
        `${last.created + last.updated + last.removed} changes of ${last.planned} planned, ${last.status}; ` +
        `${events.length} progress events (${(events.length / secs).toFixed(1)}/s, longest gap ${gaps.length ? Math.max(...gaps) : 0} ms${where}); ` +
        `API latency meanwhile p50 ${pct(latencies, 50)} ms, p95 ${pct(latencies, 95)} ms, max ${pct(latencies, 100)} ms (${latencies.length} queries)`,
    );
    if (!raw) return;
    // The anchor right after, on the same engine, so both see the same machine load.
    const r = await secondsOf(() => raw.sync());
    figures.push({
      label,
      roster: secs,
      anchor: r.secs,
      rawWork: Object.entries(r.out)
        .map(([k, v]) => `${v.n} ${k} ${v.secs.toFixed(2)} s`)
        .join(', '),
    });
  };
  await timed('first sync');
  await timed('no-op resync');
  await change1pct(ts, t.tenantId, n);
  if (a) await change1pct(ts, a.t.tenantId, n);
  await timed('resync with 1% changed');
  if (ts.database.engine === 'postgres') await ts.database.db.execute(sql`analyze`);
  const previewStart = Date.now();
  const plan = (await p.preview(id, { limit: 100 }))!;
  const previewSecs = (Date.now() - previewStart) / 1000;
  console.log(`${label0}, previewSync (no change): ${previewSecs.toFixed(2)} s, desired ${plan.desiredCount}, keep ${plan.keepCount}`);
  if (raw) {
    const r = await secondsOf(() => raw.preview());
    figures.push({
      label: 'previewSync',
      roster: previewSecs,
      anchor: r.secs,
      rawWork: `${r.out.creates} create, ${r.out.updates} update, ${r.out.keeps} keep, ${r.out.removals} remove, memberships +${r.out.joins} −${r.out.leaves}`,
    });
  }
  // Each Roster figure beside its anchor from this run, one line each.
  for (const f of figures) {
    const goal = GOALS[f.label];
    console.log(
      `${label0}, ${f.label.padEnd(22)} Roster ${f.roster.toFixed(2).padStart(6)} s | raw SQL ${f.anchor!.toFixed(2).padStart(5)} s (${f.rawWork}) | ` +
        `Roster/raw ${(f.roster / f.anchor!).toFixed(1)}×${goal ? ` | goal (PostgreSQL) ≤ ${goal} s` : ''}`,
    );
  }
}

it('sync: 10k users', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 10_000, { emails: false, anchor: true });
  } finally {
    await ts.close();
  }
});

it('sync: 10k users with enrolment emails', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 10_000, { emails: true });
  } finally {
    await ts.close();
  }
});

it('sync: 100k users', async () => {
  if (process.env.BENCH_QUICK === 'true') return;
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 100_000, { emails: false, anchor: true });
  } finally {
    await ts.close();
  }
});
