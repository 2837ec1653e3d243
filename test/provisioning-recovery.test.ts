import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openDatabase, queryRows } from '../server/shared/db.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { gql, seedTenant, startReplica, startTestServer } from './support/harness.js';
import { ok } from './support/directory-api.js';
import { countRows, papi, seedGroupMembers } from './support/provisioning-api.js';
import { spawnNode, waitUntil } from './support/process.js';
import { freshStorage, startServerProcess } from './support/storage.js';

/** A run's work is checkpointed chunk by chunk: whatever stops its worker, it ends once, with nothing done twice. */
describe('sync runs survive their worker', () => {
  it('a run interrupted on one replica is resumed by another: every user created once, one email each', async () => {
    const env = { SYNC_CHUNK_SIZE: '50', JOB_LEASE_MS: '600', JOB_POLL_MS: '50', SYNC_TICK_MS: '200' };
    const first = await startTestServer(env);
    let second: Awaited<ReturnType<typeof startReplica>> | null = null;
    try {
      const t = await seedTenant(first);
      const p = papi(first, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Resume')).group!.id;
      await seedGroupMembers(first, t, g, 1500, 'rs', 'resume.test');
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: true });
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      await waitUntil(async () => (await p.run(run.id))!.created > 0, 30_000);
      // A second replica comes up, then the first stops mid-run: its job is left leased.
      second = await startReplica(first, env);
      await stopWorkers(first);
      const mid = (await papi(second, t.token).run(run.id))!;
      expect(mid.status).toBe('RUNNING');
      expect(mid.created).toBeLessThan(1500);
      const done = await papi(second, t.token).waitRun(run.id, ['COMPLETED', 'FAILED'], 60_000);
      expect(done).toMatchObject({ status: 'COMPLETED', created: 1500, planned: 1500, failed: 0 });
      expect((await papi(second, t.token).mfaUsers()).totalCount).toBe(1500);
      const mails = await queryRows<{ n: number; refs: number }>(
        first.database.db,
        sql`select count(*)::int as n, count(distinct reference)::int as refs from mail_outbox where tenant_id = ${t.tenantId} and template = 'mfa-enrollment'`,
      );
      expect(mails[0]).toEqual({ n: 1500, refs: 1500 });
      const job = await queryRows<{ attempts: number }>(
        first.database.db,
        sql`select j.attempts from jobs j join sync_runs r on r.job_id = j.id where r.id = ${fromGlobalId(run.id, 'SyncRun')}`,
      );
      expect(job[0]!.attempts).toBe(2);
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('a run whose job ended without it is failed by the scheduler, and the next sync starts', async () => {
    const ts = await startTestServer({ WORKERS: 'false' });
    try {
      const t = await seedTenant(ts);
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Orphan')).group!.id;
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g]);
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      await ts.database.db.execute(
        sql`update jobs set status = 'failed', finished_at = now() where tenant_id = ${t.tenantId} and queue = 'sync.run'`,
      );
      expect((await p.sync(id)).syncRun!.id).toBe(run.id); // still blocks, until the scheduler sees it
      await ts.server.tickScheduler();
      const failed = (await p.run(run.id))!;
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toMatch(/worker/);
      const next = (await p.sync(id)).syncRun!;
      expect(next.id).not.toBe(run.id);
      expect(next.status).toBe('QUEUED');
      expect(
        await countRows(
          ts,
          sql`select count(*)::int as n from sync_runs where tenant_id = ${t.tenantId} and status in ('QUEUED', 'RUNNING')`,
        ),
      ).toBe(1);
    } finally {
      await ts.close();
    }
  });

  it('a run the version before left mid-planning (removals walked by owned id, after the desired set) is finished the same way', async () => {
    const ts = await startTestServer({ WORKERS: 'false' });
    const workerEnv = { SYNC_CHUNK_SIZE: '10', JOB_POLL_MS: '50' };
    try {
      const t = await seedTenant(ts);
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Legacy')).group!.id;
      const users = await p.addUsers(g, 'lg', 40);
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: false, removalGuardMaxPercent: 100 });
      await p.deploy(id);
      const worker = await startReplica(ts, workerEnv);
      expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', created: 40 });
      await worker.close();

      ok(await p.removeMembers(g, users.slice(0, 3)));
      ok(await p.deleteUser(users[3]!));
      const run = (await p.sync(id)).syncRun!;
      const runId = fromGlobalId(run.id, 'SyncRun')!;
      const gid = fromGlobalId(g, 'Group')!;
      // The configuration that version froze: no `removalsWithUsers`, no `ownedRanges` yet.
      const [pv] = await queryRows<{ v: number }>(
        ts.database.db,
        sql`select deployed_version as v from provisionings where tenant_id = ${t.tenantId}`,
      );
      const legacy = {
        deployedVersion: pv!.v,
        directoryIds: [fromGlobalId(dir, 'Directory')],
        groupIds: [gid],
        targetGroupIds: [gid],
        sendEnrollmentEmails: false,
        includeManual: true,
        removalGuardMaxUsers: 1000,
        removalGuardMaxPercent: 100,
        groups: { creates: 0, claims: 0, renames: 0, removes: 0, skips: 0 },
        ranges: 4,
      };
      await ts.database.db.execute(
        sql`update sync_runs set phase = 'PLANNING', cursor = 'u:0', desired_total = 36, config = ${JSON.stringify(legacy)}::jsonb where id = ${runId}`,
      );
      const resumed = await startReplica(ts, workerEnv);
      try {
        const done = await p.waitRun(run.id, ['COMPLETED', 'FAILED', 'AWAITING_APPROVAL']);
        expect(done).toMatchObject({ status: 'COMPLETED', plannedRemovals: 4, removed: 4, created: 0, updated: 0 });
        expect((await p.mfaUsers()).totalCount).toBe(36);
        const [after] = await queryRows<{ owned: number; ranges: number }>(
          ts.database.db,
          sql`select owned_at_plan as owned, (config->>'ownedRanges')::int as ranges from sync_runs where id = ${runId}`,
        );
        // The owned users were walked by their ids after the desired set, as that version planned.
        expect(after).toEqual({ owned: 40, ranges: 4 });
      } finally {
        await resumed.close();
      }
    } finally {
      await ts.close();
    }
  });

  it('SIGKILL mid-sync, restart: the run completes with every user and email exactly once', async () => {
    const s = await freshStorage();
    try {
      const env: Record<string, string> = { ...s.env, SEED_DEMO: 'false', JOB_LEASE_MS: '1500', JOB_POLL_MS: '50', SYNC_CHUNK_SIZE: '20' };
      const created = spawnNode(
        'dist/server/cli.js',
        [
          'tenant',
          'create',
          '--slug',
          'synckill',
          '--name',
          'SyncKill',
          '--admin-email',
          'a@sk.test',
          '--entitlements',
          'EAA,MFA',
          '--admin-password-stdin',
        ],
        env,
        'K1ll!admin\n',
      );
      expect(await created.exited).toBe(0);
      const first = await startServerProcess(env);
      const login = await gql<any>(
        first.url,
        `mutation { login(input: { tenant: "synckill", email: "a@sk.test", password: "K1ll!admin" }) { token } }`,
      );
      const token = login.data.login.token as string;
      const call = async (url: string, q: string, v: Record<string, unknown> = {}) => {
        const r = await gql<any>(url, q, v, token);
        if (r.errors) throw new Error(JSON.stringify(r.errors));
        return r.data;
      };
      const csv = Array.from({ length: 1200 }, (_, i) => `k${i}@sk.test,K,${i},,mfa-kill`).join('\n');
      const up = await call(
        first.url,
        `mutation($i: BulkUploadUsersInput!) { bulkUploadUsers(input: $i) { bulkOperation { id } errors { code } } }`,
        {
          i: { csv, createMissingGroups: true },
        },
      );
      const opId = up.bulkUploadUsers.bulkOperation.id;
      await waitUntil(
        async () =>
          (await call(first.url, `query($id: ID!) { bulkOperation(id: $id) { status } }`, { id: opId })).bulkOperation.status ===
          'COMPLETED',
        60_000,
      );
      const dir = (await call(first.url, `{ directories { nodes { id kind } } }`)).directories.nodes.find(
        (d: any) => d.kind === 'CLOUD',
      ).id;
      const group = (await call(first.url, `{ groups(first: 100) { nodes { id name } } }`)).groups.nodes.find(
        (x: any) => x.name === 'mfa-kill',
      ).id;
      const id = (await call(first.url, `mutation { createProvisioning(input: { kind: EAA, name: "Kill" }) { provisioning { id } } }`))
        .createProvisioning.provisioning.id;
      await call(
        first.url,
        `mutation($i: SetProvisioningDirectoriesInput!) { setProvisioningDirectories(input: $i) { errors { code } } }`,
        { i: { id, directoryIds: [dir] } },
      );
      await call(first.url, `mutation($i: SetProvisioningGroupsInput!) { setProvisioningGroups(input: $i) { errors { code } } }`, {
        i: { id, directoryId: dir, groupIds: [group] },
      });
      await call(first.url, `mutation($i: UpdateProvisioningInput!) { updateProvisioning(input: $i) { errors { code } } }`, {
        i: { id, sendEnrollmentEmails: true },
      });
      await call(first.url, `mutation($i: ProvisioningIdInput!) { deployProvisioning(input: $i) { errors { code } } }`, { i: { id } });
      const runId = (
        await call(first.url, `mutation($i: ProvisioningIdInput!) { syncProvisioning(input: $i) { syncRun { id } } }`, { i: { id } })
      ).syncProvisioning.syncRun.id;
      const run = (url: string) =>
        call(url, `query($id: ID!) { syncRun(id: $id) { status phase created planned failed } }`, { id: runId }).then((d) => d.syncRun);
      const before = await waitUntil(async () => {
        const r = await run(first.url);
        return r.created > 0 && r;
      }, 60_000);
      first.p.child.kill('SIGKILL');
      await first.p.exited;
      expect(before.status).toBe('RUNNING');
      expect(before.created).toBeLessThan(1200);

      const second = await startServerProcess(env);
      try {
        const done = await waitUntil(async () => {
          const r = await run(second.url);
          return ['COMPLETED', 'FAILED'].includes(r.status) && r;
        }, 120_000);
        expect(done).toMatchObject({ status: 'COMPLETED', created: 1200, planned: 1200, failed: 0 });
        expect((await call(second.url, `{ mfaUsers { totalCount } }`)).mfaUsers.totalCount).toBe(1200);
      } finally {
        second.p.child.kill('SIGTERM');
        await second.p.exited;
      }
      // Both processes are gone: read the outbox directly.
      const db = await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: env.DATA_DIR! });
      try {
        const [m] = await queryRows<{ n: number; refs: number }>(
          db.db,
          sql`select count(*)::int as n, count(distinct reference)::int as refs from mail_outbox where template = 'mfa-enrollment'`,
        );
        expect(m).toEqual({ n: 1200, refs: 1200 });
        // The run was finished by a second attempt of its job (the first died with its process).
        const [j] = await queryRows<{ attempts: number; status: string }>(
          db.db,
          sql`select j.attempts, j.status from jobs j join sync_runs r on r.job_id = j.id where r.id = ${fromGlobalId(runId, 'SyncRun')}`,
        );
        expect(j).toEqual({ attempts: 2, status: 'completed' });
      } finally {
        await db.close();
      }
    } finally {
      await s.cleanup();
    }
  }, 240_000);
});

/**
 * Stops a test server mid-job as a dying replica would, as far as its job is concerned: the
 * handler stops at its next chunk and the job stays leased until the lease lapses. The
 * database stays open (it is shared with the other replica).
 */
async function stopWorkers(ts: Awaited<ReturnType<typeof startTestServer>>): Promise<void> {
  await ts.server.close();
}
