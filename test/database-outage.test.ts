import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect } from 'vitest';
import { jobs } from '../drizzle/schema/index.js';
import { JobQueue } from '../server/shared/jobs/queue.js';
import { createLogger } from '../server/shared/logger.js';
import { createPubSub } from '../server/shared/pubsub.js';
import { queryRows } from '../server/shared/db.js';
import { rosterTest } from './support/fixtures.js';
import { countRows, seedGroupMembers } from './support/provisioning-api.js';
import { fromGlobalId } from '../server/shared/ids.js';

/**
 * Issue 10, finding 1: PostgreSQL connections drop (a restart, a failover, a proxy blip) while
 * jobs run. Every backend of the server's database is terminated every 300 ms for a few
 * seconds, from a separate admin connection, while a CSV upload, a sync run and their progress
 * subscriptions run. The process stays up (nothing reaches its unhandled-rejection net), both
 * jobs finish exactly (every row once, exact counts), the subscriptions stream on to their
 * final event without resubscribing, LISTEN is re-established and readiness recovers.
 *
 * PostgreSQL only: PGlite runs inside the process, so there is no server connection to lose.
 */
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const test = rosterTest({ JOB_POLL_MS: '50' });

const UPLOAD_ROWS = 4000;
const SYNC_USERS = 20_000;
const KILL_EVERY_MS = 300;
const KILL_ROUNDS = 15;

describe.skipIf(!onPostgres)('a database that drops every connection, repeatedly (PostgreSQL only: PGlite has no server to lose)', () => {
  test('jobs finish exactly, progress streams to the end, the process stays up', async ({ server: ts, tenant, admin }) => {
    const caughtBefore = ts.processNet.caught;
    const seenBefore = ts.processNet.seen.length;
    const killer = postgres(ts.databaseUrl!, { max: 1, onnotice: () => {} });
    // A second bus on the server's database handle: it shares the server's LISTEN connection,
    // so it shows whether LISTEN comes back after its backend is terminated.
    const probeBus = await createPubSub(ts.database);
    let resyncs = 0;
    probeBus.onResync(() => resyncs++);
    try {
      // The sync: 20,000 directory users in a selected group.
      const dir = (await admin.directories()).directories.nodes.find((d) => d.kind === 'CLOUD')!.id;
      const everyone = (await admin.createGroup({ input: { name: 'Everyone' } })).createGroup.group!.id;
      await seedGroupMembers(ts, tenant, everyone, SYNC_USERS, 'b', 'blip.test');
      const prov = (await admin.createProvisioning({ input: { kind: 'EAA', name: 'Blip MFA' } })).createProvisioning.provisioning!.id;
      await admin.setProvisioningDirectories({ input: { id: prov, directoryIds: [dir] } });
      await admin.setProvisioningGroups({ input: { id: prov, directoryId: dir, groupIds: [everyone] } });
      await admin.updateProvisioning({ input: { id: prov, sendEnrollmentEmails: false } });
      await admin.deployProvisioning({ input: { id: prov } });

      // The upload: 4,000 rows, every tenth with a password (hashing keeps the job busy for a while).
      const rows = Array.from(
        { length: UPLOAD_ROWS },
        (_, i) => `u${i}@blip.test,First${i},Last${i},${i % 10 === 0 ? `Blip-${i}-pass!` : ''},users`,
      );
      const uploadId = await admin.uploadCsv(['email,first_name,last_name,password,groups', ...rows].join('\n'));
      const started = await admin.bulkUploadUsers({ input: { uploadId } });
      expect(started.bulkUploadUsers.errors).toEqual([]);
      const opId = started.bulkUploadUsers.bulkOperation!.id;
      const run = (await admin.syncProvisioning({ input: { id: prov } })).syncProvisioning.syncRun!;

      // Both subscriptions open before the outage and are followed to their end.
      const bulkEvents: { status: string; processed: number }[] = [];
      const syncEvents: { status: string; created: number }[] = [];
      const bulkStream = (async () => {
        for await (const e of admin.bulkOperationProgress({ id: opId })) bulkEvents.push(e.bulkOperationProgress);
      })();
      const syncStream = (async () => {
        for await (const e of admin.syncRunProgress({ runId: run.id })) syncEvents.push(e.syncRunProgress);
      })();
      const probe = probeBus.subscribe('bulkOperation', 'probe');

      // The outage starts once both jobs are under way.
      const until = async (ok: () => boolean) => {
        for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
      };
      await until(() => bulkEvents.some((e) => e.status === 'RUNNING') && syncEvents.some((e) => e.status === 'RUNNING'));
      let terminated = 0;
      const endedBefore = { bulk: false, sync: false };
      for (let round = 0; round < KILL_ROUNDS; round++) {
        const killed = await killer`select pg_terminate_backend(pid) as ok from pg_stat_activity
                                     where datname = current_database() and pid <> pg_backend_pid()`;
        terminated += killed.filter((k) => k.ok).length;
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
      }
      endedBefore.bulk = bulkEvents.some((e) => e.status === 'COMPLETED');
      endedBefore.sync = syncEvents.some((e) => e.status === 'COMPLETED');

      await Promise.all([bulkStream, syncStream]);

      // The outage is over: wait (bounded) until requests are answered again. A request that
      // lands on a pooled connection killed moments before can still fail once; the pool must
      // recover by itself, and a pool that never does fails here.
      let recovered = false;
      for (let i = 0; i < 100 && !recovered; i++) {
        recovered = await admin.tenant().then(
          () => true,
          () => false,
        );
        if (!recovered) await new Promise((r) => setTimeout(r, 100));
      }
      expect(recovered).toBe(true);

      // The outage hit live work (otherwise this test proves nothing).
      expect(terminated).toBeGreaterThan(KILL_ROUNDS);
      expect(endedBefore.bulk && endedBefore.sync).toBe(false);

      // Both streams reached their final event, with exact counts.
      expect(bulkEvents.at(-1)).toMatchObject({
        status: 'COMPLETED',
        total: UPLOAD_ROWS,
        processed: UPLOAD_ROWS,
        succeeded: UPLOAD_ROWS,
        failed: 0,
      });
      expect(syncEvents.at(-1)).toMatchObject({ status: 'COMPLETED', phase: 'DONE', created: SYNC_USERS, failed: 0 });

      // Every CSV row applied once: one outcome per row, one user per row.
      const op = fromGlobalId(opId, 'BulkOperation')!;
      expect(await countRows(ts, sql`select count(*)::int as n from bulk_operation_items where operation_id = ${op}`)).toBe(UPLOAD_ROWS);
      expect(await countRows(ts, sql`select count(distinct seq)::int as n from bulk_operation_items where operation_id = ${op}`)).toBe(
        UPLOAD_ROWS,
      );
      expect(
        await countRows(ts, sql`select count(*)::int as n from users where tenant_id = ${tenant.tenantId} and email like 'u%@blip.test'`),
      ).toBe(UPLOAD_ROWS);
      // Every directory user provisioned once.
      expect((await admin.mfaUsers({ first: 1 })).mfaUsers.totalCount).toBe(SYNC_USERS);
      const finalRun = (await admin.syncRun({ id: run.id })).syncRun!;
      expect(finalRun).toMatchObject({ status: 'COMPLETED', created: SYNC_USERS, error: null });
      // No job was failed for the outage.
      expect(await countRows(ts, sql`select count(*)::int as n from jobs where status = 'failed'`)).toBe(0);

      // LISTEN came back: a notification sent now reaches a subscriber of the bus.
      expect(resyncs).toBeGreaterThan(0);
      const got = probe.next();
      await killer`select pg_notify('roster_events', ${JSON.stringify({ topic: 'bulkOperation:probe', payload: { after: 'outage' } })})`;
      expect((await got).value).toEqual({ after: 'outage' });

      // Readiness recovers on its own.
      const readyz = ts.url.replace(/\/graphql$/, '/readyz');
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await fetch(readyz)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);

      // Nothing escaped to the process-level net (which would otherwise have ended the process).
      // (`seen` names what escaped, should it ever happen again.)
      expect(ts.processNet.seen.slice(seenBefore)).toEqual([]);
      expect(ts.processNet.caught - caughtBefore).toBe(0);
    } finally {
      await probeBus.close();
      await killer.end();
    }
  }, 180_000);
});

describe.skipIf(!onPostgres)('idle pooled connections all terminated at once (PostgreSQL only)', () => {
  // Found after the outage test: reads sent the moment every backend was terminated failed
  // with internal errors, some only after 30 s (CONNECT_TIMEOUT: postgres.js kept a closed
  // socket's unsent bytes, and the reconnect's startup message was never flushed), and one
  // escaped as an unhandled rejection (the array-types query of a connection killed while
  // starting up). scripts/patch-postgres.mjs fixes the driver; plain reads are retried.
  test('the next reads all succeed, at once, and nothing escapes', async ({ server: ts, admin }) => {
    const caughtBefore = ts.processNet.caught;
    const seenBefore = ts.processNet.seen.length;
    const killer = postgres(ts.databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      for (let round = 0; round < 4; round++) {
        // A warm pool: every connection of the server's pool has run a statement.
        await Promise.all(Array.from({ length: 12 }, () => admin.users({ first: 5 })));
        await killer`select pg_terminate_backend(pid) from pg_stat_activity
                     where datname = current_database() and pid <> pg_backend_pid()`;
        const results = await Promise.allSettled(Array.from({ length: 12 }, () => admin.users({ first: 5 })));
        expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message)))).toEqual(Array(12).fill('ok'));
      }
      expect(ts.processNet.seen.slice(seenBefore)).toEqual([]);
      expect(ts.processNet.caught - caughtBefore).toBe(0);
    } finally {
      await killer.end();
    }
  }, 120_000);
});

describe('a job whose database connection dropped (both engines)', () => {
  test('runs again from its checkpoint under the same claim: no attempt is spent, nothing is failed', async ({ server: ts }) => {
    const q = new JobQueue(ts.database, createLogger('silent'), { pollMs: 20 });
    let calls = 0;
    q.register('t-outage', async () => {
      calls++;
      // What postgres.js raises when the backend is terminated mid-statement.
      if (calls < 3) throw Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), { code: 'CONNECTION_CLOSED' });
    });
    await q.start();
    try {
      const { id } = await q.enqueue({ queue: 't-outage', maxAttempts: 1 });
      let row: { status: string; attempts: number; lastError: string | null } | undefined;
      for (let i = 0; i < 400 && row?.status !== 'completed'; i++) {
        await new Promise((r) => setTimeout(r, 25));
        [row] = await ts.database.db
          .select({ status: jobs.status, attempts: jobs.attempts, lastError: jobs.lastError })
          .from(jobs)
          .where(eq(jobs.id, id));
      }
      expect(row).toEqual({ status: 'completed', attempts: 1, lastError: null });
      expect(calls).toBe(3);
    } finally {
      await q.stop();
    }
  });
});

describe.skipIf(!onPostgres)('a NOTIFY that fails right after a mutation committed (PostgreSQL only: PGlite publishes in memory)', () => {
  test('the mutation answers with the change it made, not with an internal error', async ({ server: ts, tenant, admin }) => {
    const dir = (await admin.directories()).directories.nodes.find((d) => d.kind === 'CLOUD')!.id;
    const everyone = (await admin.createGroup({ input: { name: 'Everyone' } })).createGroup.group!.id;
    await seedGroupMembers(ts, tenant, everyone, 5, 'n', 'notify.test');
    const prov = (await admin.createProvisioning({ input: { kind: 'EAA', name: 'Notify MFA' } })).createProvisioning.provisioning!.id;
    await admin.setProvisioningDirectories({ input: { id: prov, directoryIds: [dir] } });
    await admin.setProvisioningGroups({ input: { id: prov, directoryId: dir, groupIds: [everyone] } });
    await admin.updateProvisioning({ input: { id: prov, sendEnrollmentEmails: false } });
    await admin.deployProvisioning({ input: { id: prov } });
    const user = (await admin.users({ first: 10 })).users.nodes.find((u) => u.email?.endsWith('@notify.test'))!;

    // Every NOTIFY sent on its own fails as a dropped connection does; the server's bus sends
    // its events through this handle.
    const notify = ts.database.notify;
    ts.database.notify = async () => {
      throw Object.assign(new Error('write CONNECTION_CLOSED 127.0.0.1:5432'), { code: 'CONNECTION_CLOSED' });
    };
    try {
      const started = await admin.syncProvisioning({ input: { id: prov } });
      expect(started.syncProvisioning.errors).toEqual([]);
      const deletion = await admin.bulkDeleteUsers({ input: { userIds: [user.id] } });
      expect(deletion.bulkDeleteUsers.errors).toEqual([]);
      // What they answered is what was committed.
      const runId = fromGlobalId(started.syncProvisioning.syncRun!.id, 'SyncRun')!;
      const opId = fromGlobalId(deletion.bulkDeleteUsers.bulkOperation!.id, 'BulkOperation')!;
      const [stored] = await queryRows<{ runs: number; ops: number }>(
        ts.database.db,
        sql`select (select count(*)::int from sync_runs where id = ${runId}) as runs, (select count(*)::int from bulk_operations where id = ${opId}) as ops`,
      );
      expect(stored).toEqual({ runs: 1, ops: 1 });
    } finally {
      ts.database.notify = notify;
    }
  });
});
