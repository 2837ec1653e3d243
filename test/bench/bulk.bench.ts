import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { availableParallelism } from 'node:os';
import { bulkHashConcurrency } from '../../server/shared/passwords.js';
import { hashPassword } from '../../server/shared/passwords.js';
import { startCsvUpload } from '../support/bulk-api.js';
import { gql, seedTenant, startTestServer, type TestServer } from '../support/harness.js';

/**
 * CSV upload throughput on the engine selected by TEST_DATABASE_URL, end to end (POST
 * /uploads, bulkUploadUsers, until COMPLETED), beside the raw multi-row INSERT rate of the
 * same database; password rows beside the raw argon2id rate; peak RSS of the process.
 */
let peakRss = 0;
const sampler = () => setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

async function upload(ts: TestServer, token: string, csv: string) {
  const id = await startCsvUpload(ts, token, csv);
  // A live subscriber, as an admin console would have: count the progress events it receives.
  const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token } });
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

async function rawInsertRate(ts: TestServer, tenantId: string, directoryId: string, n: number) {
  const start = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const values = sql.join(
      Array.from(
        { length: Math.min(1000, n - i) },
        (_, k) => sql`(${tenantId}::uuid, ${directoryId}::uuid, ${`raw${i + k}@bench.test`}, 'R', 'R', 'INVITED')`,
      ),
      sql`, `,
    );
    await ts.database.db.execute(sql`insert into users (tenant_id, directory_id, email, first_name, last_name, status) values ${values}`);
  }
  return n / ((Date.now() - start) / 1000);
}

for (const n of [10_000, 100_000]) {
  it(`CSV upload without passwords: ${n} rows`, async () => {
    if (n > 10_000 && process.env.BENCH_QUICK === 'true') return;
    const ts = await startTestServer({ JOB_POLL_MS: '50' });
    const timer = sampler();
    try {
      const t = await seedTenant(ts);
      const csv = [
        'email,first_name,last_name,password,groups',
        ...Array.from({ length: n }, (_, i) => `u${i}@bench.test,First${i},Last${i},,users`),
      ].join('\n');
      const baseRss = process.memoryUsage().rss;
      peakRss = baseRss;
      const start = Date.now();
      const op = await upload(ts, t.token, csv);
      const secs = (Date.now() - start) / 1000;
      const raw = await rawInsertRate(ts, t.tenantId, t.directoryId, Math.min(n, 20_000));
      console.log(
        `[bench bulk/${ts.database.engine}] CSV ${n} rows, no passwords: ${secs.toFixed(2)} s, ${(n / secs).toFixed(0)} rows/s ` +
          `(succeeded ${op.succeeded}, ${op.events} progress events, ${(op.events / secs).toFixed(1)}/s); raw multi-row INSERT ${raw.toFixed(0)} rows/s; peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB, ${(baseRss / 1024 / 1024).toFixed(0)} MiB before the upload (server, client${ts.database.engine === 'pglite' ? ' and the in-memory PGlite database' : ''} in one process)`,
      );
    } finally {
      clearInterval(timer);
      await ts.close();
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
