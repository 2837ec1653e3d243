import { spawn } from 'node:child_process';
import path from 'node:path';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { seedTenant, startTestServer, type TestServer } from '../support/harness.js';
import { ROOT } from '../support/process.js';
import { papi, seedGroupMembers } from '../support/provisioning-api.js';

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

async function scenario(ts: TestServer, n: number, opts: { emails: boolean }) {
  const t = await seedTenant(ts);
  const p = papi(ts, t.token);
  const dir = await p.cloudDirectoryId();
  const g = (await p.createGroup('Everyone MFA')).group!.id;
  const seedStart = Date.now();
  await seedGroupMembers(ts, t, g, n);
  const id = (await p.create()).provisioning!.id;
  await p.configure(id, dir, [g], { sendEnrollmentEmails: opts.emails, removalGuardMaxPercent: 100 });
  await p.deploy(id);
  const label0 = `[bench sync/${ts.database.engine}] ${n} users${opts.emails ? ' + enrolment emails' : ''}`;
  console.log(`${label0}: seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  const timed = async (label: string) => {
    const w = watcher(ts, t.token);
    await new Promise((r) => setTimeout(r, 500)); // let it start and connect
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
  };
  await timed('first sync');
  await timed('no-op resync');
  await ts.database.db.execute(sql`
    update users set last_name = last_name || '-x' where id in (
      select id from users where tenant_id = ${t.tenantId} and email like 'b%@bench.test' order by id limit ${Math.ceil(n / 100)})`);
  await timed('resync with 1% changed');
  const previewStart = Date.now();
  const plan = (await p.preview(id, { limit: 100 }))!;
  console.log(
    `${label0}, previewSync (no change): ${((Date.now() - previewStart) / 1000).toFixed(2)} s, desired ${plan.desiredCount}, keep ${plan.keepCount}`,
  );
}

it('sync: 10k users', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 10_000, { emails: false });
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
    await scenario(ts, 100_000, { emails: false });
  } finally {
    await ts.close();
  }
});
