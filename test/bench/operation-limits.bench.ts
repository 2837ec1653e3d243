import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { getOperationAST, parse } from 'graphql';
import { gql, seedTenant, startTestServer } from '../support/harness.js';
import { getSchema } from '../../server/schema.js';
import { measureOperation } from '../../server/http/operation-cost.js';
import { DEFAULT_MAX_COST } from '../../server/http/operation-limits.js';

/**
 * The worst operations the default limits still allow, on the engine selected by
 * TEST_DATABASE_URL: how long each takes and how long /healthz waits meanwhile (the event-loop
 * stall PGlite's budget is meant to keep near a second).
 */
it('operation limits: worst allowed operations', async () => {
  const override = process.env.BENCH_MAX_COST;
  const ts = await startTestServer(override ? { GRAPHQL_MAX_COST: override } : {});
  try {
    const t = await seedTenant(ts);
    const engine = ts.database.engine;
    const budget = override ? Number(override) : DEFAULT_MAX_COST[engine];
    const schema = await getSchema();
    // 300 users, 30 groups; every user in 10 of them (the cost model's estimate for a plain list).
    await ts.database.db.execute(sql`
      insert into users (tenant_id, directory_id, email, first_name, last_name, status)
      select ${t.tenantId}, ${t.directoryId}, 'u' || g || '@bench.test', 'First' || g, 'Last' || g, 'ACTIVE'
      from generate_series(1, 300) g`);
    await ts.database.db.execute(sql`
      insert into groups (tenant_id, directory_id, name) select ${t.tenantId}, ${t.directoryId}, 'g' || g from generate_series(1, 30) g`);
    await ts.database.db.execute(sql`
      insert into group_memberships (group_id, user_id, tenant_id)
      select g.id, u.id, ${t.tenantId} from users u join groups g on g.tenant_id = u.tenant_id and g.built_in is null
      where u.tenant_id = ${t.tenantId} and (abs(hashtext(u.email || g.name)) % 3 = 0)`);

    const costOf = (q: string) => {
      const doc = parse(q);
      return measureOperation(schema, doc, getOperationAST(doc)!, {}).cost;
    };
    // The largest k (1–100) whose operation fits the budget.
    const largest = (make: (k: number) => string) => {
      let k = 1;
      while (k < 100 && costOf(make(k + 1)) <= budget) k++;
      return make(k);
    };
    const aliased = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    const shapes: Record<string, string> = {
      'users → groups → member pages': largest(
        (k) => `{ users(first: ${k}) { nodes { id groups { id members(first: 1) { totalCount nodes { id email } } } } } }`,
      ),
      '20 aliases × groups → member pages': largest((k) =>
        aliased(20, `groups(first: ${k}) { nodes { id memberCount members(first: 1) { totalCount nodes { id } } } }`),
      ),
      '20 root fields × users with groups': largest((k) =>
        aliased(20, `users(first: ${k}) { totalCount nodes { id email groups { name } directory { name } } }`),
      ),
      'users(first: k) with groups, invitations, directory': largest(
        (k) =>
          `{ users(first: ${k}) { nodes { id email groups { id name memberCount } directory { name } invitations { status emailDelivery { status } } } } }`,
      ),
      'users → groups → members → groups (depth 8)': largest(
        (k) => `{ users(first: ${k}) { nodes { groups { members(first: ${k}) { nodes { groups { name } } } } } } }`,
      ),
    };

    console.log(`\n[bench] operation limits on ${engine}: cost budget ${budget}`);
    for (const [name, query] of Object.entries(shapes)) {
      let worstMs = 0;
      let worstStall = 0;
      for (let i = 0; i < 3; i++) {
        let done = false;
        const probes: Promise<void>[] = [];
        const probe = async () => {
          while (!done) {
            const t0 = performance.now();
            await fetch(ts.url.replace('/graphql', '/healthz'));
            worstStall = Math.max(worstStall, performance.now() - t0);
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        probes.push(probe());
        const t0 = performance.now();
        const res = await gql(ts.url, query, {}, t.token);
        worstMs = Math.max(worstMs, performance.now() - t0);
        done = true;
        await Promise.all(probes);
        if (res.errors) throw new Error(`${name}: ${JSON.stringify(res.errors[0])}`);
      }
      console.log(
        `[bench]   ${name.padEnd(44)} cost ${String(costOf(query)).padStart(5)}  ${worstMs.toFixed(0).padStart(5)} ms  /healthz waited up to ${worstStall.toFixed(0)} ms`,
      );
    }
  } finally {
    await ts.close();
  }
});
