import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant, startReplica, type TestServer } from './support/harness.js';
import { papi } from './support/provisioning-api.js';

/**
 * Two replicas on one database, each ticking every 100 ms: every due provisioning must get
 * exactly one scheduled run per interval.
 */
const ENV = { SYNC_TICK_MS: '100', JOB_POLL_MS: '50' };
const test = rosterTest(ENV).extend<{ replica: TestServer }>({
  replica: [
    async ({ server }, use) => {
      const replica = await startReplica(server, ENV);
      try {
        await use(replica);
      } finally {
        await replica.close();
      }
    },
    // Ticking from the start of the file, whether or not a test names it.
    { scope: 'file', auto: true },
  ],
});

async function scheduledProvisioning(ts: TestServer, prefix: string) {
  const t = await seedTenant(ts);
  const p = papi(ts, t.token);
  const dir = await p.cloudDirectoryId();
  const g = (await p.createGroup('Sched')).group!.id;
  await p.addUsers(g, prefix, 2);
  const id = (await p.create()).provisioning!.id;
  await p.configure(id, dir, [g], { syncIntervalMinutes: 1, sendEnrollmentEmails: false });
  await p.deploy(id);
  return { t, p, id };
}

async function waitForRuns(p: ReturnType<typeof papi>, id: string, n: number) {
  const end = Date.now() + 30_000;
  for (;;) {
    const runs = (await p.runs(id)).nodes;
    if (runs.filter((r) => r.status === 'COMPLETED').length >= n) return runs;
    if (Date.now() > end) throw new Error(`expected ${n} completed runs, have ${JSON.stringify(runs)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('schedule', () => {
  test('a due provisioning syncs exactly once per interval with two replicas ticking', async ({ server: ts }) => {
    const provisionings = await Promise.all(['qa', 'qb', 'qc'].map((prefix) => scheduledProvisioning(ts, prefix)));
    for (const { p, id } of provisionings) {
      const before = (await p.provisioning(id))!;
      // Deploying starts the schedule: the first automatic sync is one interval away.
      expect(new Date(before.nextSyncAt!).getTime()).toBeGreaterThan(Date.now() + 50_000);
      expect((await p.runs(id)).totalCount).toBe(0);
    }
    // Make them all due now (instead of waiting a minute).
    await ts.database.db.execute(
      sql`update provisionings set next_sync_at = now() - interval '1 second' where tenant_id in (${sql.join(
        provisionings.map((x) => sql`${x.t.tenantId}::uuid`),
        sql`, `,
      )})`,
    );
    for (const { p, id } of provisionings) await waitForRuns(p, id, 1);
    // Many more ticks on both replicas.
    await new Promise((r) => setTimeout(r, 1000));
    for (const { p, id } of provisionings) {
      const runs = await p.runs(id);
      expect(runs.nodes.map((r) => [r.trigger, r.status])).toEqual([['SCHEDULED', 'COMPLETED']]);
      const after = (await p.provisioning(id))!;
      expect(new Date(after.nextSyncAt!).getTime()).toBeGreaterThan(Date.now() + 50_000);
      expect(after.lastRun).toMatchObject({ trigger: 'SCHEDULED', status: 'COMPLETED' });
      expect((await p.mfaUsers()).totalCount).toBe(2);
    }

    // The next interval elapses: one more run each, again exactly one.
    const [{ t, p, id }] = provisionings;
    await ts.database.db.execute(sql`update provisionings set next_sync_at = now() - interval '1 second' where tenant_id = ${t.tenantId}`);
    await waitForRuns(p, id, 2);
    await new Promise((r) => setTimeout(r, 600));
    expect((await p.runs(id)).nodes.map((r) => r.trigger)).toEqual(['SCHEDULED', 'SCHEDULED']);
  });

  test('a provisioning that was never deployed is never scheduled', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const id = (await p.create()).provisioning!.id;
    await ts.database.db.execute(sql`update provisionings set next_sync_at = now() - interval '1 second' where tenant_id = ${t.tenantId}`);
    await new Promise((r) => setTimeout(r, 500));
    expect((await p.runs(id)).totalCount).toBe(0);
  });
});
