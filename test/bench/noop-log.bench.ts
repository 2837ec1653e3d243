import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { seedTenant, startTestServer } from '../support/harness.js';
import { papi, seedDeployedProvisioning } from '../support/provisioning-api.js';

const N = Number(process.env.EXP_N ?? 100_000);
it('no-op resync statement log', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  const db = ts.database.db;
  try {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const { provisioningId: id } = await seedDeployedProvisioning(ts, t, N, {});
    await p.waitRun((await p.sync(id)).syncRun!.id, undefined, 600_000);
    await new Promise((r) => setTimeout(r, 1000));
    await db.execute(sql`alter system set log_min_duration_statement = 0`);
    await db.execute(sql`select pg_reload_conf()`);
    await new Promise((r) => setTimeout(r, 500));
    const s = performance.now();
    await db.execute(sql`select 'NOOP-START'`);
    await p.waitRun((await p.sync(id)).syncRun!.id, undefined, 600_000);
    await db.execute(sql`select 'NOOP-END'`);
    console.log(`no-op ${((performance.now() - s) / 1000).toFixed(2)} s`);
    if (process.env.EXP_PREVIEW) {
      await db.execute(sql`select 'PREVIEW-START'`);
      const s2 = performance.now();
      await p.preview(id, { limit: 100 });
      console.log(`preview ${((performance.now() - s2) / 1000).toFixed(2)} s`);
      await db.execute(sql`select 'PREVIEW-END'`);
    }
  } finally {
    await db.execute(sql`alter system reset log_min_duration_statement`);
    await db.execute(sql`select pg_reload_conf()`);
    await ts.close();
  }
});
