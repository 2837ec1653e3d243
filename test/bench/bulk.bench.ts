import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { availableParallelism } from 'node:os';
import { bulkHashConcurrency } from '../../server/shared/passwords.js';
import { hashPassword } from '../../server/shared/passwords.js';
import { startCsvUpload } from '../support/bulk-api.js';
import { startServer } from '../../server/app.js';
import { openDatabase, type Database } from '../../server/shared/db.js';
import { createLogger } from '../../server/shared/logger.js';
import { createTestDatabase, gql, seedTenant, startTestServer, testEnv, type TestServer } from '../support/harness.js';
import { startProcess, type BenchProcess } from './support/load.js';

/**
 * CSV upload throughput on the engine selected by TEST_DATABASE_URL, end to end (POST
 * /uploads, bulkUploadUsers, until COMPLETED), beside the raw multi-row INSERT rate of the
 * same database; password rows beside the raw argon2id rate. The uploads without passwords
 * run against the compiled server in its own process (as `npm start` runs it: PGlite in its
 * DATA_DIR), so the peak RSS printed is the server's alone: VmHWM of its /proc status, reset
 * (clear_refs 5) just before the upload, beside the file's size.
 */

async function upload(target: { url: string; wsUrl: string }, token: string, csv: string) {
  const id = await startCsvUpload(target, token, csv);
  // A live subscriber, as an admin console would have: count the progress events it receives.
  const client = createClient({ url: target.wsUrl, webSocketImpl: WebSocket, connectionParams: { token } });
  let events = 0;
  let last: any = null;
  for await (const e of client.iterate({
    query: `subscription($id: ID!) { bulkOperationProgress(id: $id) { status processed succeeded failed } }`,
    variables: { id },
  })) {
    events++;
    last = (e.data as any).bulkOperationProgress;
  }
  await client.dispose();
  return { ...last, events };
}

async function rawInsertRate(database: Database, tenantId: string, directoryId: string, n: number) {
  const start = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const values = sql.join(
      Array.from(
        { length: Math.min(1000, n - i) },
        (_, k) => sql`(${tenantId}::uuid, ${directoryId}::uuid, ${`raw${i + k}@bench.test`}, 'R', 'R', 'INVITED')`,
      ),
      sql`, `,
    );
    await database.db.execute(sql`insert into users (tenant_id, directory_id, email, first_name, last_name, status) values ${values}`);
  }
  return n / ((Date.now() - start) / 1000);
}

/** A process's memory figure from /proc/<pid>/status (VmRSS, VmHWM), in MB. */
function procMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

let built = false;

for (const n of [10_000, 100_000]) {
  it(`CSV upload without passwords: ${n} rows`, async () => {
    if (n > 10_000 && process.env.BENCH_QUICK === 'true') return;
    if (!built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
    built = true;
    const test = process.env.TEST_DATABASE_URL ? await createTestDatabase() : null;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'roster-bench-'));
    const secretKey = randomBytes(32).toString('base64');
    let database = test?.database ?? (await openDatabase({ dataDir }));
    const engine = database.engine;
    let roster: BenchProcess | null = null;
    try {
      // The tenant is made by a server in this process on the same database, then closed (PGlite
      // is one process's): the measured server starts on what it left.
      const seeding = await startServer({
        env: testEnv({ DATA_DIR: dataDir, ROSTER_SECRET_KEY: secretKey }),
        database,
        log: createLogger('silent'),
      });
      const t = await seedTenant({ server: seeding, url: seeding.url } as TestServer).finally(() => seeding.close());
      if (!test) await database.close();
      roster = await startProcess('Roster', 'roster-process.mjs', {
        ...(test?.url ? { DATABASE_URL: test.url } : {}),
        DATA_DIR: dataDir,
        ROSTER_SECRET_KEY: secretKey,
        LOG_LEVEL: 'warn',
        // As deployed: NODE_ENV=production, not vitest's test (which the fork would inherit), and
        // the default job poll (1 s; an enqueued job wakes the queue at once through NOTIFY). A
        // 50 ms poll here was 20 claim statements a second beside the upload, ~3 % of a PGlite
        // upload's time on its one connection.
        NODE_ENV: 'production',
      });
      const heapLimitMb = roster.ready['heapLimitMb'] as number;
      const target = { url: roster.url, wsUrl: roster.url.replace(/^http/, 'ws') };
      const csv = [
        'email,first_name,last_name,password,groups',
        ...Array.from({ length: n }, (_, i) => `u${i}@bench.test,First${i},Last${i},,users`),
      ].join('\n');
      const pid = roster.child.pid!;
      const before = procMb(pid, 'VmRSS');
      // Resets the peak to the current RSS: VmHWM is then the upload's peak, not start-up's.
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const cpuBefore = roster.cpuMs() ?? 0;
      const start = Date.now();
      const op = await upload(target, t.token, csv);
      const secs = (Date.now() - start) / 1000;
      const peak = procMb(pid, 'VmHWM');
      // The server's CPU per 1,000 rows: steadier than rows/s on a shared machine.
      const cpuPerK = (((roster.cpuMs() ?? 0) - cpuBefore) / n) * 1000;
      await roster.stop();
      roster = null;
      if (!test) database = await openDatabase({ dataDir });
      const raw = await rawInsertRate(database, t.tenantId, t.directoryId, Math.min(n, 20_000));
      const mb = Buffer.byteLength(csv) / 1024 / 1024;
      const goal = engine === 'pglite' ? 600 : 300;
      console.log(
        `[bench bulk/${engine}] CSV ${n} rows (${mb.toFixed(1)} MB), no passwords: ${secs.toFixed(2)} s, ${(n / secs).toFixed(0)} rows/s, server CPU ${cpuPerK.toFixed(0)} ms per 1,000 rows ` +
          `(succeeded ${op.succeeded}, ${op.events} progress events, ${(op.events / secs).toFixed(1)}/s); raw multi-row INSERT ${raw.toFixed(0)} rows/s; ` +
          `server peak RSS ${peak.toFixed(0)} MB for a ${mb.toFixed(1)} MB file (VmHWM of the server's own process, ${before.toFixed(0)} MB before the upload, JS heap limit ${String(heapLimitMb)} MB as npm start)` +
          (n === 100_000 ? `; goal ≤ ${goal} MB` : ''),
      );
    } finally {
      await roster?.stop();
      if (test) await test.drop();
      else await database.close().catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

/**
 * Median sign-in latency (ms) over `n` logins, or until `until` resolves. Paced (one every
 * 250 ms) so the sign-ins' own argon2 verifies barely compete with the upload being measured.
 */
async function loginLatency(
  ts: TestServer,
  t: { slug: string; adminEmail: string; adminPassword: string },
  n: number,
  until?: Promise<unknown>,
) {
  let done = false;
  void until?.then(() => (done = true));
  const times: number[] = [];
  while (times.length < n && !done) {
    const s = performance.now();
    const r = await gql<any>(ts.url, `mutation($i: LoginInput!) { login(input: $i) { token } }`, {
      i: { tenant: t.slug, email: t.adminEmail, password: t.adminPassword },
    });
    if (!r.data?.login.token) throw new Error('login failed');
    times.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, 250));
  }
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(times.length / 2)] ?? NaN, max: times[times.length - 1] ?? NaN, count: times.length };
}

it('CSV upload with passwords: 1000 rows', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    const t = await seedTenant(ts);
    const idle = await loginLatency(ts, t, 10);
    const csv = Array.from({ length: 1000 }, (_, i) => `p${i}@bench.test,P,${i},Bench!pass${i},`).join('\n');
    const start = Date.now();
    const running = upload(ts, t.token, csv);
    // Sign-ins while the upload hashes: they must stay usable (one libuv thread is kept free).
    const busy = await loginLatency(ts, t, 1000, running);
    const op = await running;
    const secs = (Date.now() - start) / 1000;
    const rawStart = Date.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => hashPassword(`Raw!pass${i}`)));
    const raw = 100 / ((Date.now() - rawStart) / 1000);
    console.log(
      `[bench bulk/${ts.database.engine}] CSV 1000 rows with passwords: ${secs.toFixed(2)} s, ${(1000 / secs).toFixed(1)} hashes/s ` +
        `(succeeded ${op.succeeded}, ${bulkHashConcurrency()} hashes in flight on ${availableParallelism()} cores); raw argon2id (100 at once on the libuv pool) ${raw.toFixed(1)} hashes/s; ` +
        `sign-in median ${idle.median.toFixed(0)} ms idle vs ${busy.median.toFixed(0)} ms (max ${busy.max.toFixed(0)} ms, ${busy.count} sign-ins) during the upload`,
    );
  } finally {
    await ts.close();
  }
});
