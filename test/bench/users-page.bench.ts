import { seededBenchDatabase } from './support/bench-database.js';
import { ensureAnchorsInstalled } from './support/anchors.js';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startServer } from '../../server/app.js';
import { type Database } from '../../server/shared/db.js';
import { createLogger } from '../../server/shared/logger.js';
import { seedTenant, testEnv, type TestServer } from '../support/harness.js';
import { load, startProcess, type BenchProcess, type LoadResult } from './support/load.js';

const quick = process.env.BENCH_QUICK === 'true';
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? (quick ? 4 : 8));
const ROUNDS = quick ? 1 : 2;
const CONNECTIONS = 10;
const USERS = 1000;
const DEPTS = 150;

/** A list page measured on Roster, the bare Apollo anchor and (PostgreSQL) PostGraphile 5. */
interface Page {
  name: string;
  /** The selection, as printed. */
  shape: string;
  roster: string;
  pick: (data: any) => unknown[];
  /** PostGraphile's query for the same rows, from the field and order names its schema has. */
  postgraphile: (ready: Record<string, unknown>) => string | null;
  pglPick: (data: any) => unknown[];
}

const relation = (fields: unknown, prefix: string) => (fields as string[]).find((f) => f.startsWith(prefix));
const orderBy = (orders: unknown, value: string) => ((orders as string[]).includes(value) ? `, orderBy: ${value}` : '');

const PAGES: Page[] = [
  {
    name: 'users page',
    shape: `users(first: 100) { groups { id name } directory { id name } }, ${USERS} users × 5 groups`,
    roster: `query UsersPage { users(first: 100) { nodes { id email groups { id name } directory { id name } } } }`,
    pick: (d) => d.users.nodes,
    postgraphile: (r) =>
      `query UsersPage { allUsers(first: 100, orderBy: EMAIL_ASC) { nodes { id email ${relation(r['userFields'], 'groupsBy')} { nodes { id name } } ${relation(r['userFields'], 'directoryBy')} { id name } } } }`,
    pglPick: (d) => d.allUsers.nodes,
  },
  {
    name: 'groups page',
    shape: `groups(first: 100) { id name memberCount }, ${DEPTS} groups of 6 members`,
    roster: `query GroupsPage { groups(first: 100) { nodes { id name memberCount } } }`,
    pick: (d) => d.groups.nodes,
    postgraphile: (r) => {
      const members = relation(r['groupFields'], 'groupMembershipsByGroupId');
      return members
        ? `query GroupsPage { allGroups(first: 100${orderBy(r['groupOrders'], 'NAME_ASC')}) { nodes { id name ${members} { totalCount } } } }`
        : null;
    },
    pglPick: (d) => d.allGroups.nodes,
  },
  {
    name: 'mfaUsers page',
    shape: `mfaUsers(first: 100) { id username devices { id name } }, ${USERS} MFA users × 1 device`,
    roster: `query MfaUsersPage { mfaUsers(first: 100) { nodes { id username devices { id name } } } }`,
    pick: (d) => d.mfaUsers.nodes,
    postgraphile: (r) => {
      const devices = relation(r['mfaUserFields'], 'mfaDevicesByMfaUserId');
      return devices
        ? `query MfaUsersPage { allMfaUsers(first: 100${orderBy(r['mfaUserOrders'], 'USERNAME_ASC')}) { nodes { id username ${devices} { nodes { id name } } } } }`
        : null;
    },
    pglPick: (d) => d.allMfaUsers.nodes,
  },
];

/** 1,000 users, each in 5 groups (the built-in Users group and 4 more), in the tenant's Cloud Directory. */
async function seed(database: Database, dataDir: string): Promise<{ token: string }> {
  const env = testEnv({ WORKERS: 'false', DATA_DIR: dataDir });
  const server = await startServer({ env, database, log: createLogger('silent') });
  try {
    const t = await seedTenant({ server, url: server.url } as TestServer);
    await database.db.execute(sql`
      insert into groups (tenant_id, directory_id, name)
      select ${t.tenantId}, ${t.directoryId}, 'Team ' || g from generate_series(1, 4) g`);
    await database.db.execute(sql`
      insert into users (tenant_id, directory_id, email, username, first_name, last_name, status)
      select ${t.tenantId}, ${t.directoryId}, 'user' || lpad(g::text, 5, '0') || '@bench.test', 'user' || lpad(g::text, 5, '0') || '@bench.test',
             'First' || g, 'Last' || g, 'ACTIVE'
      from generate_series(1, ${USERS - 1}) g`);
    await database.db.execute(sql`
      insert into group_memberships (tenant_id, group_id, user_id)
      select ${t.tenantId}, g.id, u.id from users u cross join groups g
      where u.tenant_id = ${t.tenantId} and g.tenant_id = ${t.tenantId} and g.directory_id = ${t.directoryId}
        and (g.built_in is null or g.built_in = 'USERS')
      on conflict do nothing`);
    // The groups page: 150 more groups of 6 members each, drawn from the users after the first
    // page (so the users page keeps its 5 groups per user).
    await database.db.execute(sql`
      insert into groups (tenant_id, directory_id, name)
      select ${t.tenantId}, ${t.directoryId}, 'Dept ' || lpad(g::text, 3, '0') from generate_series(1, ${DEPTS}) g`);
    await database.db.execute(sql`
      insert into group_memberships (tenant_id, group_id, user_id)
      select ${t.tenantId}, g.id, u.id
      from (select id, row_number() over (order by email) as n from users where tenant_id = ${t.tenantId} and email like 'user%') u
      join (select id, row_number() over (order by name) as n from groups where tenant_id = ${t.tenantId} and name like 'Dept %') g
        on g.n = 1 + (u.n % ${DEPTS})
      where u.n > 100`);
    // The mfaUsers page: 1,000 MFA users with one enrolled app each.
    await database.db.execute(sql`
      insert into mfa_users (tenant_id, username, email, first_name, last_name, status)
      select ${t.tenantId}, 'mfa' || lpad(g::text, 5, '0'), 'mfa' || lpad(g::text, 5, '0') || '@bench.test', 'First' || g, 'Last' || g, 'ENROLLED'
      from generate_series(1, ${USERS}) g`);
    await database.db.execute(sql`
      insert into mfa_devices (tenant_id, mfa_user_id, name, kind, status)
      select ${t.tenantId}, id, 'Phone', 'TOTP', 'ACTIVE' from mfa_users where tenant_id = ${t.tenantId}`);
    await database.db.execute(sql`analyze`);
    return { token: t.token };
  } finally {
    await server.close();
  }
}

function line(tag: string, name: string, r: LoadResult, anchors: [string, LoadResult | null][]): string {
  const stmts = r.statementsPerRequest === null ? '' : `  ${r.statementsPerRequest.toFixed(2)} statements/request`;
  const cpu = r.cpuMsPerRequest === null ? '' : `  ${r.cpuMsPerRequest.toFixed(2)} CPU ms/request`;
  // Where a request's CPU goes on the shared cores: the database's processes and the load generator.
  const others = `${r.dbCpuMsPerRequest === null ? '' : ` + database ${r.dbCpuMsPerRequest.toFixed(2)}`} + load generator ${r.loadCpuMsPerRequest.toFixed(2)}`;
  const ratios = anchors
    .filter((a): a is [string, LoadResult] => a[1] !== null)
    .map(([n, a]) => {
      const cpuRatio = r.cpuMsPerRequest && a.cpuMsPerRequest ? `, CPU/request ${(r.cpuMsPerRequest / a.cpuMsPerRequest).toFixed(2)}×` : '';
      return `  (${(r.rps / a.rps).toFixed(2)}× ${n} rps${cpuRatio})`;
    })
    .join('');
  const failures = r.failures ? `  (${r.failures} failed requests!)` : '';
  return `[bench ${tag}] ${name.padEnd(14)} ${r.rps.toFixed(1).padStart(7)} rps  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms${stmts}${cpu}${others}${ratios}${failures}`;
}

async function sanity(p: BenchProcess, body: unknown, headers: Record<string, string>, pick: (data: any) => any[]) {
  const res = await fetch(p.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { data?: unknown; errors?: unknown };
  const nodes = json.data ? pick(json.data) : [];
  if (nodes.length !== 100) throw new Error(`${p.name} answered ${JSON.stringify(json).slice(0, 500)}`);
}

/** The best of the rounds (the machine is shared: the least disturbed run is the truest). */
async function measure(
  p: BenchProcess,
  body: unknown,
  headers: Record<string, string>,
  results: Map<string, LoadResult>,
  database = false,
) {
  const r = await load(p, body, { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: 2, headers, database });
  const prev = results.get(p.name);
  if (!prev || r.rps > prev.rps) results.set(p.name, r);
}

/**
 * `users(first: 100)` with each user's groups and directory, 1,000 users × 5 groups, 10
 * connections (autocannon, in this process): Roster in its own process beside a bare Apollo
 * Server answering the same shape from memory and, on PostgreSQL, PostGraphile 5 over the same
 * tables. Rounds alternate the servers so a load spike on the shared machine hits all alike.
 */
it('list pages beside their anchors', async () => {
  const db = await seededBenchDatabase(seed);
  const { engine, dbEnv } = db;
  const { token } = db.seeded;
  const procs: BenchProcess[] = [];
  try {
    const roster = await startProcess('Roster', 'roster-process.mjs', {
      ...dbEnv,
      LOG_LEVEL: 'warn',
      WORKERS: 'false',
      NODE_ENV: 'production',
    });
    procs.push(roster);
    // Every server as in production: vitest sets NODE_ENV=test, which the forks would inherit,
    // and in it graphql-js checks every failed `instanceof` for a second copy of itself (16 % of
    // the bare Apollo anchor's CPU in a profile) and Grafast runs its development checks.
    const apollo = await startProcess('bare Apollo', 'apollo-anchor.mjs', { NODE_ENV: 'production' });
    procs.push(apollo);
    let pgl: BenchProcess | null = null;
    if (db.url) {
      try {
        pgl = await startProcess('PostGraphile 5', ensureAnchorsInstalled('postgraphile-anchor.mjs'), {
          DATABASE_URL: db.url,
          NODE_ENV: 'production',
        });
        procs.push(pgl);
      } catch (err) {
        console.log(`[bench users-page/${engine}] PostGraphile 5 anchor did not start: ${(err as Error).message}`);
      }
    }
    const auth = { authorization: `Bearer ${token}` };
    // BENCH_PAGES=groups,mfaUsers measures only those pages (e.g. to profile one).
    const only = process.env.BENCH_PAGES?.split(',');
    for (const page of PAGES.filter((p) => !only || only.some((o) => p.name.startsWith(o)))) {
      const tag = `${page.name.replace(' ', '-')}/${engine}`;
      const pglQuery = pgl ? page.postgraphile(pgl.ready) : null;
      await sanity(roster, { query: page.roster }, auth, page.pick);
      await sanity(apollo, { query: page.roster }, {}, page.pick);
      if (pgl && pglQuery) await sanity(pgl, { query: pglQuery }, {}, page.pglPick);

      const results = new Map<string, LoadResult>();
      for (let round = 0; round < ROUNDS; round++) {
        await measure(apollo, { query: page.roster }, {}, results);
        await measure(roster, { query: page.roster }, auth, results, engine === 'postgres');
        if (pgl && pglQuery) await measure(pgl, { query: pglQuery }, {}, results, true);
      }
      const a = results.get('bare Apollo')!;
      const g = pgl ? (results.get(pgl.name) ?? null) : null;
      console.log(
        [
          '',
          `[bench ${tag}] ${page.shape}, ${CONNECTIONS} connections, best of ${ROUNDS} × ${SECONDS} s`,
          line(tag, 'Roster', results.get('Roster')!, [
            ['bare Apollo', a],
            ['PostGraphile', g],
          ]),
          line(tag, 'bare Apollo', a, []),
          ...(g ? [line(tag, 'PostGraphile 5', g, [['bare Apollo', a]])] : []),
          `[bench ${tag}] RSS after load: ${procs.map((p) => `${p.name} ${p.rssMb()?.toFixed(0) ?? '?'} MB`).join(', ')}`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    for (const p of procs) await p.stop();
    await db.drop();
  }
});
