import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A server of the load benchmarks in its own process (Roster or an anchor), driven over IPC. */
export interface BenchProcess {
  name: string;
  url: string;
  child: ChildProcess;
  ready: Record<string, unknown>;
  /** SQL statements the process has issued so far (null when it does not count them). */
  statements(): Promise<number | null>;
  /** Sends `{ type, ...payload }` over IPC and resolves with the process's answer of the same type (null after `timeoutMs`). */
  ask(type: string, payload?: Record<string, unknown>, timeoutMs?: number): Promise<any>;
  rssMb(): number | null;
  /** The process's peak resident set so far (VmHWM), in MB. */
  peakRssMb(): number | null;
  /** CPU time (user + system) the process has used, in ms: per request it is robust to a busy machine. */
  cpuMs(): number | null;
  /**
   * CPU time of the process's main thread alone, in ms: without the thread pool (argon2,
   * file I/O) and V8's helper threads, the JavaScript a request runs (and the garbage
   * collection done on that thread).
   */
  mainThreadCpuMs(): number | null;
  stop(): Promise<void>;
}

/**
 * The node flags `npm start` runs the server with (package.json's `start` script, e.g. the heap
 * limit), so a Roster process of the benchmarks is the server as deployed, not a default node.
 */
function startFlags(packageJson: string): string[] {
  const start = (JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: Record<string, string> }).scripts['start'] ?? '';
  const flags = /\bnode\s+((?:--\S+\s+)*)dist\/server\/main\.js/.exec(start)?.[1];
  if (flags === undefined) throw new Error(`package.json's start script does not run dist/server/main.js: ${start}`);
  return flags.split(/\s+/).filter(Boolean);
}

/** Forks `support/<script>` with `env` and waits for its `{ type: 'ready', port }` message. */
export async function startProcess(name: string, script: string, env: Record<string, string | undefined>): Promise<BenchProcess> {
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each process, written when it stops.
  const prof = process.env.BENCH_CPU_PROF;
  const file = path.resolve(here, script);
  // Roster's process (the checkout it belongs to: an A/B run may start another's) gets npm start's flags.
  const flags = path.basename(file) === 'roster-process.mjs' ? startFlags(path.resolve(path.dirname(file), '../../../package.json')) : [];
  const child = fork(file, [], {
    env: { ...process.env, ...env },
    execArgv: [
      ...flags,
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof, '--cpu-prof-name', `${name.replace(/\W+/g, '-')}.cpuprofile`] : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 120 s`)), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready`));
    });
    child.on('message', (m: any) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
  const ask = (type: string, payload: Record<string, unknown> = {}, timeoutMs = 5000) =>
    new Promise<any>((resolve) => {
      const onMessage = (m: any) => {
        if (m?.type === type) {
          child.off('message', onMessage);
          clearTimeout(timer);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.send({ ...payload, type });
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        resolve(null);
      }, timeoutMs);
      timer.unref();
    });
  const statusMb = (field: 'VmRSS' | 'VmHWM') => {
    try {
      const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
      const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1];
      return kb ? Number(kb) / 1024 : null;
    } catch {
      return null;
    }
  };
  return {
    name,
    url: `http://127.0.0.1:${String(ready['port'])}/graphql`,
    child,
    ready,
    async statements() {
      const m = await ask('statements');
      return typeof m?.count === 'number' ? m.count : null;
    },
    ask,
    rssMb: () => statusMb('VmRSS'),
    peakRssMb: () => statusMb('VmHWM'),
    cpuMs: () => procCpu(String(child.pid))?.ms ?? null,
    // The main thread's id is the process's.
    mainThreadCpuMs: () => procCpu(`${String(child.pid)}/task/${String(child.pid)}`)?.ms ?? null,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * utime + stime of a process (or of one thread: `<pid>/task/<tid>`) in ms, from its stat file
 * (fields 14 and 15, 100 ticks a second), with its command name.
 */
function procCpu(pid: string): { comm: string; ms: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(') ');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ms: (Number(fields[11]) + Number(fields[12])) * 10 };
  } catch {
    return null;
  }
}

/** utime + stime of any process of this machine in ms (a bench's client processes), null once it is gone. */
export function processCpuMs(pid: number | undefined): number | null {
  return pid === undefined ? null : (procCpu(String(pid))?.ms ?? null);
}

/**
 * CPU ms of every PostgreSQL server process on this machine (backends, WAL writer, …): the
 * database's share of a load run, which runs on the same cores. Counts other users' queries
 * too, so it means something on a quiet machine only. Backends that exit during the run take
 * their CPU with them (the bench's pools keep theirs open).
 */
export function postgresCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const c = procCpu(pid);
    if (c?.comm === 'postgres') ms += c.ms;
  }
  return ms;
}

/** CPU ms of each of a process's threads, by thread id (BENCH_THREADS=true prints them per load run; Node 20 names them all "node"). */
function threadsCpuMs(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${String(pid)}/task`)) {
      const c = procCpu(`${String(pid)}/task/${tid}`);
      if (c) out.set(tid === String(pid) ? 'main' : tid, c.ms);
    }
  } catch {
    // The process is gone.
  }
  return out;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
  statementsPerRequest: number | null;
  /** Server CPU time per request (ms). */
  cpuMsPerRequest: number | null;
  /** The server's main thread's CPU time per request (ms). */
  mainThreadCpuMsPerRequest: number | null;
  /** CPU of the PostgreSQL server processes per request (ms), when `database` was asked for. */
  dbCpuMsPerRequest: number | null;
  /** CPU of this process (the load generator) per request (ms). */
  loadCpuMsPerRequest: number;
}

/**
 * `connections` clients POSTing one GraphQL request for `seconds` (after a warm-up), with
 * statements per request. `vary`, when given, is called for every request and replaces its body
 * and adds headers (e.g. another user and client address per sign-in); `accept` says whether a
 * 200 answer did what was asked (a GraphQL payload with errors is still HTTP 200): those it
 * refuses are counted as failures.
 */
export async function load(
  p: BenchProcess,
  body: unknown,
  opts: {
    connections: number;
    seconds: number;
    warmupSeconds: number;
    headers?: Record<string, string>;
    vary?: () => { body?: unknown; headers?: Record<string, string> };
    accept?: (responseBody: string) => boolean;
    /** Also measure the PostgreSQL server processes' CPU (the server under load uses PostgreSQL). */
    database?: boolean;
  },
): Promise<LoadResult> {
  const headers = { 'content-type': 'application/json', ...(opts.headers ?? {}) };
  const next = () => {
    const v = opts.vary?.() ?? {};
    return { body: JSON.stringify(v.body ?? body), headers: { ...headers, ...(v.headers ?? {}) } };
  };
  let refused = 0;
  const request = {
    url: p.url,
    method: 'POST' as const,
    headers,
    body: JSON.stringify(body),
    ...(opts.vary || opts.accept
      ? {
          requests: [
            {
              method: 'POST' as const,
              setupRequest: (req: any) => ({ ...req, ...next() }),
              onResponse: (status: number, responseBody: string) => {
                if (status === 200 && opts.accept && !opts.accept(responseBody)) refused++;
              },
            },
          ],
        }
      : {}),
  };
  if (opts.warmupSeconds > 0) await autocannon({ ...request, connections: opts.connections, duration: opts.warmupSeconds });
  refused = 0;
  const cpu0 = p.cpuMs();
  const main0 = p.mainThreadCpuMs();
  const threads0 = process.env.BENCH_THREADS === 'true' ? threadsCpuMs(p.child.pid) : null;
  const db0 = opts.database ? postgresCpuMs() : null;
  const own0 = process.cpuUsage();
  const r = await autocannon({ ...request, connections: opts.connections, duration: opts.seconds });
  const own = process.cpuUsage(own0);
  const db1 = opts.database ? postgresCpuMs() : null;
  const requests = r.requests.total;
  // Counted on requests one at a time: under load, requests cut off at the end of the run have
  // issued statements without being counted as requests; and the server may still be answering
  // requests autocannon no longer waits for.
  await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, Math.max(500, 2 * r.latency.max))));
  const cpu1 = p.cpuMs();
  const main1 = p.mainThreadCpuMs();
  if (threads0) {
    const per = [...threadsCpuMs(p.child.pid)]
      .map(([tid, ms]) => [tid, (ms - (threads0.get(tid) ?? 0)) / Math.max(1, requests)] as const)
      .filter(([, ms]) => ms > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([tid, ms]) => `${tid} ${ms.toFixed(2)}`);
    console.log(`[bench threads] ${p.name}: CPU ms per request by thread: ${per.join(', ')}`);
  }
  const before = await p.statements();
  const sequential = 10;
  for (let i = 0; i < sequential; i++) {
    const r = next();
    await fetch(request.url, { method: 'POST', headers: r.headers, body: r.body }).then((res) => res.text());
  }
  const after = await p.statements();
  return {
    rps: requests / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests,
    failures: r.non2xx + r.errors + r.timeouts + refused,
    cpuMsPerRequest: cpu0 !== null && cpu1 !== null && requests > 0 ? (cpu1 - cpu0) / requests : null,
    mainThreadCpuMsPerRequest: main0 !== null && main1 !== null && requests > 0 ? (main1 - main0) / requests : null,
    dbCpuMsPerRequest: db0 !== null && db1 !== null && requests > 0 ? (db1 - db0) / requests : null,
    loadCpuMsPerRequest: requests > 0 ? (own.user + own.system) / 1000 / requests : 0,
    statementsPerRequest: before !== null && after !== null ? (after - before) / sequential : null,
  };
}
