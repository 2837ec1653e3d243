import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { gql, seedTenant, startTestServer, type TestServer } from '../support/harness.js';
import { startCsvUpload } from '../support/bulk-api.js';
import { papi, seedDeployedProvisioning } from '../support/provisioning-api.js';

/**
 * What the audit trail costs: a CSV upload of N rows and a first sync of N users, each on a
 * fresh server with AUDIT_ENABLED=false and =true, side by side, with the overhead in percent
 * (the goal is at most 25 %) and the events written. Each pair runs the off and on servers
 * twice in alternating order (off, on, on, off) and keeps each side's better time, so a
 * warm-up or a neighbour's burst does not decide the figure. Engine: TEST_DATABASE_URL
 * (PGlite by default). `BENCH_QUICK=true` uses 10,000 instead of 100,000. Figures only.
 */
const N = process.env.BENCH_QUICK === 'true' ? 10_000 : 100_000;
const ORDER = [false, true, true, false];

async function withServer<T>(audit: boolean, fn: (ts: TestServer) => Promise<T>): Promise<T> {
  const ts = await startTestServer({ JOB_POLL_MS: '50', AUDIT_ENABLED: String(audit) });
  try {
    return await fn(ts);
  } finally {
    await ts.close();
  }
}

async function auditRows(ts: TestServer, tenantId: string): Promise<number> {
  const r = await ts.database.db.execute(sql`select count(*)::int as n from audit_events where tenant_id = ${tenantId}::uuid`);
  const rows = (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as { n: number }[];
  return Number(rows[0]?.n ?? 0);
}

/** POST /uploads, bulkUploadUsers, polled until it ends: seconds from the upload to COMPLETED. */
async function uploadOnce(audit: boolean) {
  return withServer(audit, async (ts) => {
    const t = await seedTenant(ts);
    const csv = [
      'email,first_name,last_name,password,groups',
      ...Array.from({ length: N }, (_, i) => `u${i}@bench.test,First${i},Last${i},,users`),
    ].join('\n');
    const start = Date.now();
    const id = await startCsvUpload(ts, t.token, csv);
    for (;;) {
      const s = await gql<any>(ts.url, `query($id: ID!) { bulkOperation(id: $id) { status succeeded } }`, { id }, t.token);
      const op = s.data.bulkOperation;
      if (!['QUEUED', 'RUNNING'].includes(op.status)) {
        if (op.status !== 'COMPLETED' || op.succeeded !== N) throw new Error(`upload ended ${JSON.stringify(op)}`);
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    return { secs: (Date.now() - start) / 1000, events: await auditRows(ts, t.tenantId), engine: ts.database.engine };
  });
}

/** The first sync of N seeded directory users (no enrolment emails): seconds from the request to COMPLETED. */
async function syncOnce(audit: boolean) {
  return withServer(audit, async (ts) => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const { provisioningId: id } = await seedDeployedProvisioning(ts, t, N);
    const before = await auditRows(ts, t.tenantId);
    const start = Date.now();
    const run = (await p.sync(id)).syncRun!;
    const done = await p.waitRun(run.id, undefined, 30 * 60_000);
    if (done.status !== 'COMPLETED' || done.created !== N) throw new Error(`sync ended ${JSON.stringify(done)}`);
    return { secs: (Date.now() - start) / 1000, events: (await auditRows(ts, t.tenantId)) - before, engine: ts.database.engine };
  });
}

async function compare(label: string, once: (audit: boolean) => Promise<{ secs: number; events: number; engine: string }>) {
  const best: Record<'off' | 'on', { secs: number; events: number; engine: string } | null> = { off: null, on: null };
  for (const audit of ORDER) {
    const r = await once(audit);
    const side = audit ? 'on' : 'off';
    if (!best[side] || r.secs < best[side]!.secs) best[side] = r;
  }
  const off = best.off!;
  const on = best.on!;
  const overhead = ((on.secs - off.secs) / off.secs) * 100;
  console.log(
    `[bench audit/${on.engine}] ${label}, ${N} rows: auditing off ${off.secs.toFixed(2)} s (${(N / off.secs).toFixed(0)}/s), ` +
      `on ${on.secs.toFixed(2)} s (${(N / on.secs).toFixed(0)}/s, ${on.events} audit events): overhead ${overhead.toFixed(1)} % (goal ≤ 25 %)`,
  );
}

it(`audit overhead: CSV upload of ${N} rows`, async () => {
  await compare('CSV upload (no passwords)', uploadOnce);
});

it(`audit overhead: first sync of ${N} users`, async () => {
  await compare('first sync', syncOnce);
});
