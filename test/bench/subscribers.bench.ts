import { seededBenchDatabase } from './support/bench-database.js';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startServer } from '../../server/app.js';
import { type Database } from '../../server/shared/db.js';
import { fromGlobalId } from '../../server/shared/ids.js';
import { createLogger } from '../../server/shared/logger.js';
import { STREAM_END_STATUSES } from '../../server/modules/sync-run/sync-run.types.js';
import { seedTenant, testEnv, type TestServer } from '../support/harness.js';
import { ROOT } from '../support/process.js';
import { papi, seedDeployedProvisioning } from '../support/provisioning-api.js';
import { processCpuMs, startProcess, type BenchProcess } from './support/load.js';

const quick = process.env.BENCH_QUICK === 'true';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? (quick ? 200 : 1000));
/** Client processes the subscribers are spread over (neither this process nor a server's). */
const CLIENT_PROCESSES = 2;
/** Directory users of the synced group: enough for a first sync of several seconds on either engine. */
const USERS = Number(process.env.BENCH_SUBSCRIBERS_USERS ?? 10_000);

const PROGRESS = `subscription SyncRunProgress($id: ID!) { syncRunProgress(runId: $id) { status phase percent created updated removed planned } }`;

interface Seeded {
  token: string;
  provisioningId: string;
}

/** A tenant whose deployed provisioning syncs one group of USERS directory users (set-based seed, as in sync.bench.ts). */
async function seedTenantWithProvisioning(ts: TestServer): Promise<Seeded> {
  const t = await seedTenant(ts);
  const { provisioningId } = await seedDeployedProvisioning(ts, t, USERS);
  return { token: t.token, provisioningId };
}

async function seed(database: Database, dataDir: string, tenants: number): Promise<Seeded[]> {
  const env = testEnv({ WORKERS: 'false', DATA_DIR: dataDir });
  const server = await startServer({ env, database, log: createLogger('silent') });
  const ts = { server, database, url: server.url, wsUrl: server.wsUrl } as TestServer;
  try {
    const out: Seeded[] = [];
    for (let i = 0; i < tenants; i++) out.push(await seedTenantWithProvisioning(ts));
    await database.db.execute(sql`analyze`);
    return out;
  } finally {
    await server.close();
  }
}

interface Received {
  at: number;
  sub: number;
  data?: { syncRunProgress: ProgressEvent } | null;
  failed?: string;
}
interface ProgressEvent {
  status: string;
  phase: string;
  created: number;
  updated: number;
  removed: number;
  planned: number;
}

/**
 * `count` subscribers in one client process (test/support/watch-process.mjs, as sync.bench.ts
 * uses it): connected at once, subscribed on `subscribe(runId)`.
 */
function clientProcess(server: BenchProcess, token: string, count: number) {
  const wsUrl = server.url.replace(/^http/, 'ws');
  const child = spawn(process.execPath, [path.join(ROOT, 'test/support/watch-process.mjs'), wsUrl, server.url, token, String(count)], {
    cwd: ROOT,
  });
  const events: Received[] = [];
  const firstOf = new Set<number>();
  let connected = false;
  let retries = 0;
  let dropped = 0;
  let done = false;
  let cpuAtDone: number | null = null;
  let buffered = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      const m = JSON.parse(line) as Received & { connected?: number; done?: boolean };
      if (m.connected !== undefined) {
        connected = true;
        retries = (m as { retries?: number }).retries ?? 0;
      }
      if (m.done) {
        dropped = (m as { dropped?: number }).dropped ?? 0;
        done = true;
        // Read now: the process closes its sockets and exits right after this line.
        cpuAtDone = processCpuMs(child.pid);
      }
      if (m.sub !== undefined) {
        events.push(m);
        firstOf.add(m.sub);
      }
    }
    for (const l of listeners) l();
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const until = (cond: () => boolean, what: string, ms = 120_000) =>
    new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const timer = setTimeout(() => reject(new Error(`client process: ${what} not within ${ms / 1000} s`)), ms);
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
    });
  return {
    child,
    events,
    retries: () => retries,
    dropped: () => dropped,
    connected: () => until(() => connected, 'all connected'),
    subscribe(runId: string) {
      child.stdin.write(JSON.stringify({ query: PROGRESS, variables: { id: runId } }) + '\n');
      child.stdin.end();
    },
    /** Every subscriber has its first event (the run's state when it subscribed). */
    subscribed: () => until(() => firstOf.size === count, 'every first event'),
    /** CPU ms of the process now, and when its `done` line came. */
    cpuMs: () => processCpuMs(child.pid),
    cpuAtDone: () => cpuAtDone,
    /** Every subscription has ended (the client's `done` line, printed before it closes its sockets). */
    ended: () => until(() => done, 'every subscription ended', 180_000),
    finished: () =>
      Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('subscribers did not finish')), 180_000))]),
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  };
}

const keyOf = (e: ProgressEvent) => `${e.status}|${e.phase}|${e.created}|${e.updated}|${e.removed}|${e.planned}`;

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const mb = (v: number | null) => (v === null ? '?' : `${v.toFixed(0)} MB`);

/**
 * One scenario: a run created (QUEUED, the worker's job queue held), SUBSCRIBERS subscribed to
 * its progress from CLIENT_PROCESSES client processes through `via`, then the worker's jobs
 * released and the run followed to its end.
 *
 * Latency: `worker` (test/bench/support/roster-process.mjs with BENCH_RECORD_EVENTS) records the
 * time each progress event is handed to its bus (Date.now()); each client records the time
 * graphql-ws hands it the event (Date.now()). Both are the same host clock. A subscriber's
 * events after its first (the state when it subscribed, read from the database) are the
 * worker's publishes in order, so they are matched by position from the end of the run and
 * checked by content (status, phase, counts); mismatches are counted, not used.
 */
async function scenario(opts: {
  label: string;
  worker: BenchProcess;
  via: BenchProcess;
  seeded: Seeded;
  /** Processes whose memory is reported (the one serving the subscribers first). */
  watched: BenchProcess[];
}) {
  const { label, worker, via, seeded } = opts;
  const rssBefore = opts.watched.map((p) => p.rssMb());
  const api = papi({ url: via.url }, seeded.token);
  const run = (await api.sync(seeded.provisioningId)).syncRun!;
  const runUuid = fromGlobalId(run.id, 'SyncRun')!;
  const per = Math.ceil(SUBSCRIBERS / CLIENT_PROCESSES);
  const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) =>
    clientProcess(via, seeded.token, Math.min(per, SUBSCRIBERS - i * per)),
  );
  try {
    const t0 = Date.now();
    await Promise.all(clients.map((c) => c.connected()));
    const connectSecs = (Date.now() - t0) / 1000;
    for (const c of clients) c.subscribe(run.id);
    await Promise.all(clients.map((c) => c.subscribed()));
    const subscribeSecs = (Date.now() - t0) / 1000 - connectSecs;
    const rssSubscribed = opts.watched.map((p) => p.rssMb());
    const cpuBefore = opts.watched.map((p) => p.cpuMs());
    const clientsCpu = (at: (c: (typeof clients)[number]) => number | null) => {
      let sum = 0;
      for (const c of clients) {
        const ms = at(c);
        if (ms === null) return null;
        sum += ms;
      }
      return sum;
    };
    const clientsBefore = clientsCpu((c) => c.cpuMs());
    const started = await worker.ask('startJobs', {}, 60_000);
    if (!started) throw new Error('the worker did not start its jobs');
    await Promise.all(clients.map((c) => c.ended()));
    // CPU to the last delivery (the clients have not closed their sockets yet), and with the
    // thousand sockets' closing: that is per subscriber, not per delivery.
    const cpuDelivered = opts.watched.map((p) => p.cpuMs());
    const clientsAfter = clientsCpu((c) => c.cpuAtDone());
    await Promise.all(clients.map((c) => c.finished()));
    const since = (now: (number | null)[]) =>
      opts.watched.map((_, i) => {
        const [a, b] = [cpuBefore[i], now[i]];
        return a === null || a === undefined || b === null || b === undefined ? null : b - a;
      });
    const cpuToLast = since(cpuDelivered);
    const cpuUsed = since(opts.watched.map((p) => p.cpuMs()));
    const published = ((await worker.ask('published', { id: runUuid }, 30_000))?.events ?? []) as {
      at: number;
      payload: ProgressEvent;
    }[];
    // What the run published after the jobs were released (its QUEUED event came before anyone
    // subscribed), up to its first final state: a subscription ends there, and the run may still
    // publish after it (its staging rows cleared).
    const pubs = published.filter((p) => p.at >= started.at);
    const end = pubs.findIndex((p) => (STREAM_END_STATUSES as readonly string[]).includes(p.payload.status));
    if (end >= 0) pubs.splice(end + 1);
    const retries = clients.reduce((n, c) => n + c.retries(), 0);
    const dropped = clients.reduce((n, c) => n + c.dropped(), 0);
    const latencies: number[] = [];
    let mismatched = 0;
    let failed = 0;
    let complete = 0;
    const perEvent = new Map<number, number[]>();
    for (const c of clients) {
      const bySub = new Map<number, Received[]>();
      for (const e of c.events) {
        if (e.failed) failed++;
        if (!e.data) continue;
        let list = bySub.get(e.sub);
        if (!list) bySub.set(e.sub, (list = []));
        list.push(e);
      }
      for (const list of bySub.values()) {
        const later = list.slice(1);
        if (later.at(-1)?.data?.syncRunProgress.status === 'COMPLETED') complete++;
        later.forEach((e, i) => {
          const k = pubs.length - later.length + i;
          const p = pubs[k];
          if (!p || keyOf(p.payload) !== keyOf(e.data!.syncRunProgress)) {
            mismatched++;
            return;
          }
          latencies.push(e.at - p.at);
          let l = perEvent.get(k);
          if (!l) perEvent.set(k, (l = []));
          l.push(e.at);
        });
      }
    }
    latencies.sort((a, b) => a - b);
    const spreads = [...perEvent.values()].map((ats) => Math.max(...ats) - Math.min(...ats)).sort((a, b) => a - b);
    const runSecs = pubs.length ? (pubs.at(-1)!.at - pubs[0]!.at) / 1000 : 0;
    const last = pubs.at(-1)?.payload;
    console.log(
      [
        `${label}: ${SUBSCRIBERS} subscribers (${CLIENT_PROCESSES} client processes, one websocket each) connected in ${connectSecs.toFixed(1)} s, subscribed in ${subscribeSecs.toFixed(1)} s; ` +
          `the run: ${USERS} users, ${last?.status ?? '?'} in ${runSecs.toFixed(1)} s, ${pubs.length} progress events published`,
        `${label}: delivery latency (client receipt − server publish, same host clock) p50 ${pct(latencies, 50)} ms, p90 ${pct(latencies, 90)} ms, ` +
          `p99 ${pct(latencies, 99)} ms (goal < 100 ms), max ${latencies.at(-1) ?? NaN} ms over ${latencies.length} deliveries; ` +
          `first-to-last subscriber per event p50 ${pct(spreads, 50)} ms, max ${spreads.at(-1) ?? NaN} ms; ` +
          `${complete}/${SUBSCRIBERS} saw COMPLETED${retries ? `, ${retries} connection retries` : ''}${dropped ? `, ${dropped} sockets dropped!` : ''}${mismatched ? `, ${mismatched} deliveries unmatched!` : ''}${failed ? `, ${failed} subscribers failed!` : ''}`,
        ...opts.watched.map(
          (p, i) =>
            `${label}: ${p.name} RSS before ${mb(rssBefore[i]!)}, with subscribers ${mb(rssSubscribed[i]!)}, after the run ${mb(p.rssMb())}, peak (VmHWM) ${mb(p.peakRssMb())}`,
        ),
        // CPU of each process from the jobs' release to the last subscriber's end: on one
        // replica it includes the sync itself; a subscribers-only replica spends it delivering.
        ...opts.watched.map((p, i) => {
          const [ms, toLast] = [cpuUsed[i], cpuToLast[i]];
          if (ms === null || ms === undefined || toLast === null || toLast === undefined)
            return `${label}: ${p.name} CPU during the run: ?`;
          const per = (v: number) => (latencies.length ? ` = ${((1000 * v) / latencies.length).toFixed(0)} µs per delivery` : '');
          return (
            `${label}: ${p.name} CPU during the run to the last delivery ${(toLast / 1000).toFixed(2)} s${per(toLast)}; ` +
            `with the sockets' closing ${(ms / 1000).toFixed(2)} s${per(ms)}`
          );
        }),
        // The other side of the fan-out: the two client processes (on the same cores) read, parse
        // and hand over every frame; the first-to-last spread includes their work.
        clientsBefore === null || clientsAfter === null || !latencies.length
          ? `${label}: client processes CPU: ?`
          : `${label}: client processes CPU to the last delivery ${((clientsAfter - clientsBefore) / 1000).toFixed(2)} s = ${((1000 * (clientsAfter - clientsBefore)) / latencies.length).toFixed(0)} µs per delivery`,
      ].join('\n'),
    );
  } finally {
    for (const c of clients) c.kill();
  }
}

/**
 * SUBSCRIBERS graphql-ws subscribers following one running sync (`syncRunProgress`), from two
 * client processes, against Roster in its own process: delivery latency and server memory.
 * On PostgreSQL a second scenario puts the subscribers on a second replica (WORKERS=false) of
 * the same database while the first replica runs the sync: the events travel by
 * LISTEN/NOTIFY (server/shared/pubsub.ts). Figures only, no assertions on time.
 */
it('1,000 graphql-ws subscribers on one running sync', async () => {
  // Two tenants on PostgreSQL (the second for the two-replica scenario), one on PGlite.
  const db = await seededBenchDatabase((database, dataDir) => seed(database, dataDir, process.env.TEST_DATABASE_URL ? 2 : 1));
  const { seeded, url } = db;
  const label = `[bench subscribers/${db.engine}]`;
  console.log(`${label} seeded ${seeded.length} × ${USERS} directory users in ${db.seedSeconds.toFixed(1)} s`);
  // Each process its own DATA_DIR (its server key and mailbox), the data itself where the seed put it.
  const processEnv = (extra: Record<string, string>) => ({
    ...(url ? { DATABASE_URL: url, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'roster-bench-')) } : db.dbEnv),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...extra,
  });
  const worker = { WORKERS: 'true', BENCH_HOLD_JOBS: 'true', BENCH_RECORD_EVENTS: 'syncRun', JOB_POLL_MS: '200' };
  const procs: BenchProcess[] = [];
  try {
    const roster = await startProcess('Roster', 'roster-process.mjs', processEnv(worker));
    procs.push(roster);
    await scenario({ label: `${label} one replica`, worker: roster, via: roster, seeded: seeded[0]!, watched: [roster] });
    await roster.stop();
    if (url) {
      // The subscribers' replica first (no workers), then a fresh worker replica holding its jobs.
      const replica = await startProcess('subscribers replica', 'roster-process.mjs', processEnv({ WORKERS: 'false' }));
      procs.push(replica);
      const syncing = await startProcess('syncing replica', 'roster-process.mjs', processEnv(worker));
      procs.push(syncing);
      await scenario({
        label: `${label} two replicas (LISTEN/NOTIFY)`,
        worker: syncing,
        via: replica,
        seeded: seeded[1]!,
        watched: [replica, syncing],
      });
    }
  } finally {
    for (const p of procs) await p.stop();
    await db.drop();
  }
});
