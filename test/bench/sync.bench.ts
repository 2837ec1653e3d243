import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { seedTenant, startTestServer, type TestServer } from '../support/harness.js';
import { papi } from '../support/provisioning-api.js';

/**
 * Sync throughput on the engine selected by TEST_DATABASE_URL: first sync of N users, a
 * no-op resync, a resync with 1 % changed. Users are seeded with one INSERT … SELECT (the
 * bench measures the sync, not user creation). Progress events are counted from a live
 * graphql-ws subscriber.
 */
async function scenario(ts: TestServer, n: number) {
  const t = await seedTenant(ts);
  const p = papi(ts, t.token);
  const dir = await p.cloudDirectoryId();
  const g = (await p.createGroup('Everyone MFA')).group!.id;
  const groupUuid = Buffer.from(g, 'base64url').toString().split(':')[1]!;
  await ts.database.db.execute(sql`
    with u as (
      insert into users (tenant_id, directory_id, email, username, first_name, last_name, status)
      select ${t.tenantId}, ${t.directoryId}, 'b' || i || '@bench.test', 'b' || i || '@bench.test', 'First' || i, 'Last' || i, 'ACTIVE'
      from generate_series(1, ${n}) i
      returning id)
    insert into group_memberships (group_id, user_id, tenant_id) select ${groupUuid}::uuid, id, ${t.tenantId} from u`);
  const id = (await p.create()).provisioning!.id;
  await p.configure(id, dir, [g], { sendEnrollmentEmails: false, removalGuardMaxPercent: 100 });
  await p.deploy(id);

  const timed = async (label: string) => {
    const start = Date.now();
    const run = (await p.sync(id)).syncRun;
    let events = 0;
    const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: t.token } });
    const watching = (async () => {
      for await (const _ of client.iterate({ query: `subscription($id: ID!) { syncRunProgress(runId: $id) { status percent } }`, variables: { id: run.id } })) events++;
    })();
    const done = await p.waitRun(run.id, ['COMPLETED', 'FAILED'], 30 * 60_000);
    await watching.catch(() => undefined);
    await client.dispose();
    const secs = (Date.now() - start) / 1000;
    const touched = done.created + done.updated + done.removed;
    console.log(
      `[bench sync/${ts.database.engine}] ${label} (${n} users): ${secs.toFixed(2)} s, ${(n / secs).toFixed(0)} users/s, ` +
        `changes ${touched}, ${events} progress events (${(events / secs).toFixed(1)}/s), status ${done.status}`,
    );
  };
  await timed('first sync');
  await timed('no-op resync');
  await ts.database.db.execute(sql`
    update users set last_name = last_name || '-x' where id in (
      select id from users where tenant_id = ${t.tenantId} and email like 'b%@bench.test' order by id limit ${Math.ceil(n / 100)})`);
  await timed('resync with 1% changed');
}

it('sync: 10k users', async () => {
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 10_000);
  } finally {
    await ts.close();
  }
});

it('sync: 100k users', async () => {
  if (process.env.BENCH_QUICK === 'true') return;
  const ts = await startTestServer({ JOB_POLL_MS: '50' });
  try {
    await scenario(ts, 100_000);
  } finally {
    await ts.close();
  }
});
