import WebSocket from 'ws';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import { startServer } from '../server/app.js';
import { createLogger } from '../server/shared/logger.js';
import { gql, seedTenant, startTestServer, testEnv, type TestServer } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { papi } from './support/provisioning-api.js';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ SYNC_TICK_MS: '100' });
});
afterAll(async () => {
  await ts?.close();
});

const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

async function enroll(token: string, deviceName: string) {
  const r = await gql<any>(ts.url, `mutation($i: EnrollMfaDeviceInput!) { enrollMfaDevice(input: $i) { success username errors { code } } }`, { i: { token, deviceName } });
  return r.data.enrollMfaDevice;
}

describe('provisioning configuration', () => {
  it('needs both EAA and MFA entitlements', async () => {
    const t = await seedTenant(ts, { entitlements: ['EAA'] });
    expect(codes((await papi(ts, t.token).create()).errors)).toEqual(['ENTITLEMENT_MISSING']);
  });

  it('allows one EAA provisioning per tenant, with a unique name', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    expect((await p.create('Corp MFA')).errors).toEqual([]);
    expect(codes((await p.create('corp mfa')).errors)).toEqual(['NAME_TAKEN']);
    expect(codes((await p.create('Other')).errors)).toEqual(['INVALID_STATE']);
  });

  it('syncs only the deployed configuration, never the draft', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g1 = (await p.createGroup('G1')).group!.id;
    const g2 = (await p.createGroup('G2')).group!.id;
    await p.addUsers(g1, 'a', 2);
    await p.addUsers(g2, 'b', 3);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g1]);
    expect(codes((await p.sync(id)).errors)).toEqual(['INVALID_STATE']);
    const dep = await p.deploy(id);
    expect(dep.provisioning.deployedVersion).toBe(1);
    expect(dep.provisioning.hasUndeployedChanges).toBe(false);
    expect((await p.syncAndWait(id)).created).toBe(2);
    await p.configure(id, dir, [g1, g2]);
    const again = await p.syncAndWait(id);
    expect(again.created).toBe(0);
    expect((await p.mfaUsers()).totalCount).toBe(2);
    await p.deploy(id);
    expect((await p.syncAndWait(id)).created).toBe(3);
    expect((await p.mfaUsers()).totalCount).toBe(5);
  });
});

describe('sync runs', () => {
  it('creates, updates and removes; membership follows the groups; a re-run is a no-op', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Sales')).group!.id;
    const [u0, u1] = await p.addUsers(g, 's', 3);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g], { removalGuardMaxPercent: 100 });
    await p.deploy(id);
    const first = await p.syncAndWait(id);
    expect(first).toMatchObject({ status: 'COMPLETED', created: 3, updated: 0, removed: 0, percent: 100 });
    const users = await p.mfaUsers({ source: 'PROVISIONING' });
    expect(users.nodes.every((u: any) => u.status === 'UNENROLLED' && u.groups.join() === 'Sales')).toBe(true);

    const noop = await p.syncAndWait(id);
    expect(noop).toMatchObject({ created: 0, updated: 0, removed: 0, planned: 0 });

    await p.call(`mutation($i: UpdateUserInput!) { updateUser(input: $i) { errors { code } } }`, { i: { id: u0, firstName: 'Renamed' } });
    await p.call(`mutation($i: GroupMembersInput!) { removeGroupMembers(input: $i) { errors { code } } }`, { i: { groupId: g, userIds: [u1] } });
    const second = await p.syncAndWait(id);
    expect(second).toMatchObject({ created: 0, updated: 1, removed: 1 });
    const after = await p.mfaUsers();
    expect(after.totalCount).toBe(2);
    expect(after.nodes.map((u: any) => u.firstName).sort()).toEqual(['Renamed', 's2']);
  });

  it('deselecting a group removes its users with their devices; re-added users start UNENROLLED', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const keep = (await p.createGroup('Keep')).group!.id;
    const drop = (await p.createGroup('Drop')).group!.id;
    await p.addUsers(keep, 'k', 1);
    await p.addUsers(drop, 'd', 2);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [keep, drop], { removalGuardMaxPercent: 100, sendEnrollmentEmails: true });
    await p.deploy(id);
    await p.syncAndWait(id);
    const token = tokenOf(await waitForMailLink(ts, 'd0@x.test'));
    expect(await enroll(token, 'Phone')).toMatchObject({ success: true, username: 'd0@x.test' });
    expect((await enroll(token, 'Laptop')).success).toBe(true);
    const before = (await p.mfaUsers({ search: 'd0' })).nodes[0];
    expect(before).toMatchObject({ status: 'ACTIVE' });
    expect(before.devices.map((d: any) => d.name)).toEqual(['Phone', 'Laptop']);

    await p.configure(id, dir, [keep]);
    await p.deploy(id);
    const preview = await p.preview(id);
    expect(preview).toMatchObject({ removeCount: 2, devicesRemovedCount: 2, createCount: 0 });
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ removed: 2, devicesRemoved: 2 });
    expect((await p.mfaUsers()).nodes.map((u: any) => u.username)).toEqual(['k0@x.test']);
    // The old link died with its user.
    expect((await enroll(token, 'Tablet')).errors[0].code).toBe('TOKEN_INVALID');
    const groups = await ts.database.db.execute(sql`select name from mfa_groups where tenant_id = ${t.tenantId} order by name`);
    expect(((groups as any).rows ?? groups).map((r: any) => r.name)).toEqual(['Keep']);

    await p.configure(id, dir, [keep, drop]);
    await p.deploy(id);
    expect((await p.syncAndWait(id)).created).toBe(2);
    const again = (await p.mfaUsers({ search: 'd0' })).nodes[0];
    expect(again).toMatchObject({ status: 'UNENROLLED', devices: [] });
  });

  it('claims matching MANUAL users when asked (devices stay, no email), skips them otherwise', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Ops')).group!.id;
    await p.addUsers(g, 'm', 2);
    const manual = await p.call<any>(`mutation($i: CreateMfaUserInput!) { createMfaUser(input: $i) { mfaUser { id source } errors { code } } }`, {
      i: { username: 'someone-else', email: 'M0@x.test', firstName: 'Manual', sendEnrollmentEmail: true },
    });
    expect(manual.createMfaUser.mfaUser.source).toBe('MANUAL');
    const token = tokenOf(await waitForMailLink(ts, 'm0@x.test'));
    expect((await enroll(token, 'Yubikey')).success).toBe(true);

    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g], { sendEnrollmentEmails: true });
    await p.deploy(id);
    const skipped = await p.syncAndWait(id);
    expect(skipped).toMatchObject({ created: 1, skipped: 1, claimed: 0 });
    expect((await p.mfaUsers({ source: 'MANUAL' })).totalCount).toBe(1);

    await p.configure(id, dir, [g], { includeManuallyProvisionedUsers: true });
    await p.deploy(id);
    const claimed = await p.syncAndWait(id);
    expect(claimed).toMatchObject({ created: 0, claimed: 1, skipped: 0 });
    const u = (await p.mfaUsers({ search: 'someone' })).nodes[0];
    expect(u).toMatchObject({ source: 'PROVISIONING', status: 'ACTIVE', devices: [{ name: 'Yubikey' }] });
    // Only the manual enrolment email and the one created user's email exist for m0/m1.
    await waitForMailLink(ts, 'm1@x.test', 1);
    await expect(waitForMailLink(ts, 'm0@x.test', 2, 500)).rejects.toThrow();
  });

  it('sends enrolment emails only to new users with an email', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const ad = await p.call<any>(`mutation { createDirectory(input: { name: "AD", kind: ACTIVE_DIRECTORY }) { directory { id } } }`);
    const dir = ad.createDirectory.directory.id;
    const groups = await p.call<any>(`query($d: ID!) { groups(filter: { directoryId: $d }) { nodes { id } } }`, { d: dir });
    const usersGroup = groups.groups.nodes[0].id;
    await p.createUser({ directoryId: dir, username: 'no-mail', firstName: 'No', lastName: 'Mail' });
    await p.createUser({ directoryId: dir, email: 'has-mail@x.test', firstName: 'Has', lastName: 'Mail' });
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [usersGroup], { sendEnrollmentEmails: true });
    await p.deploy(id);
    expect((await p.syncAndWait(id)).created).toBe(2);
    await waitForMailLink(ts, 'has-mail@x.test');
    const rows = await ts.database.db.execute(sql`select count(*)::int as n from mail_outbox where tenant_id = ${t.tenantId} and template = 'mfa-enrollment'`);
    expect(((rows as any).rows ?? rows)[0].n).toBe(1);
  });

  it('50 concurrent sync requests make one run', async () => {
    // No workers on this server: the run stays active for the whole burst, as a long sync would.
    const idle = await startTestServer({ WORKERS: 'false' });
    try {
      const t = await seedTenant(idle);
      const p = papi(idle, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('C')).group!.id;
      await p.addUsers(g, 'c', 2);
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g]);
      await p.deploy(id);
      const results = await Promise.all(Array.from({ length: 50 }, () => p.sync(id)));
      expect(results.every((r) => r.errors.length === 0)).toBe(true);
      expect(new Set(results.map((r) => r.syncRun.id)).size).toBe(1);
      const count = await idle.database.db.execute(sql`select count(*)::int as n from sync_runs where tenant_id = ${t.tenantId}`);
      expect(((count as any).rows ?? count)[0].n).toBe(1);
      const jobs = await idle.database.db.execute(sql`select count(*)::int as n from jobs where tenant_id = ${t.tenantId} and queue = 'sync.run'`);
      expect(((jobs as any).rows ?? jobs)[0].n).toBe(1);
    } finally {
      await idle.close();
    }
  });

  it('the removal guard stops a large removal until approved; approval applies exactly that plan', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Many')).group!.id;
    const h = (await p.createGroup('Few')).group!.id;
    await p.addUsers(g, 'r', 4);
    await p.addUsers(h, 'f', 1);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g, h], { removalGuardMaxUsers: 2 });
    await p.deploy(id);
    await p.syncAndWait(id);
    await p.configure(id, dir, [h]);
    await p.deploy(id);
    const preview = await p.preview(id);
    expect(preview).toMatchObject({ removeCount: 4, requiresApproval: true });
    const stopped = await p.syncAndWait(id);
    expect(stopped).toMatchObject({ status: 'AWAITING_APPROVAL', removed: 0, plannedRemovals: 4 });
    expect((await p.mfaUsers()).totalCount).toBe(5);
    // A new sync request returns the waiting run.
    expect((await p.sync(id)).syncRun.id).toBe(stopped.id);
    // A user added to the enabled group after the stop is not part of the approved removal set.
    const approved = await p.call<any>(`mutation($i: SyncRunIdInput!) { approveSyncRun(input: $i) { syncRun { status } errors { code } } }`, { i: { runId: stopped.id } });
    expect(approved.approveSyncRun.errors).toEqual([]);
    const done = await p.waitRun(stopped.id, ['COMPLETED', 'FAILED']);
    expect(done).toMatchObject({ status: 'COMPLETED', removed: 4 });
    expect((await p.mfaUsers()).nodes.map((u: any) => u.username)).toEqual(['f0@x.test']);

    // Cancelling drops a waiting plan.
    await p.addUsers(g, 'z', 1);
    await p.configure(id, dir, [g]);
    await p.deploy(id);
    await p.syncAndWait(id); // creates z0, removes f0: 1 of 1 owned → stops (100 % > 10 %)
    const waiting = (await p.call<any>(`query($id: ID!) { provisioning(id: $id) { lastRun { id status } } }`, { id })).provisioning.lastRun;
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    const cancelled = await p.call<any>(`mutation($i: SyncRunIdInput!) { cancelSyncRun(input: $i) { syncRun { status } } }`, { i: { runId: waiting.id } });
    expect(cancelled.cancelSyncRun.syncRun.status).toBe('CANCELLED');
    expect((await p.mfaUsers()).nodes.map((u: any) => u.username)).toEqual(['f0@x.test']);
  });

  it('the preview equals what the run then does', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const a = (await p.createGroup('A')).group!.id;
    const b = (await p.createGroup('B')).group!.id;
    const [a0] = await p.addUsers(a, 'pa', 3);
    await p.addUsers(b, 'pb', 2);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [a, b], { removalGuardMaxPercent: 100 });
    await p.deploy(id);
    await p.syncAndWait(id);
    await p.call(`mutation($i: UpdateUserInput!) { updateUser(input: $i) { errors { code } } }`, { i: { id: a0, lastName: 'Changed' } });
    await p.addUsers(a, 'pn', 2);
    await p.configure(id, dir, [a]);
    await p.deploy(id);
    const plan = await p.preview(id);
    expect(plan).toMatchObject({ createCount: 2, updateCount: 1, removeCount: 2 });
    const run = await p.syncAndWait(id);
    expect({ created: run.created, updated: run.updated, removed: run.removed }).toEqual({
      created: plan.createCount,
      updated: plan.updateCount,
      removed: plan.removeCount,
    });
  });

  it('streams progress over graphql-ws to a final event', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Stream')).group!.id;
    await p.addUsers(g, 'w', 3);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g]);
    await p.deploy(id);
    const run = (await p.sync(id)).syncRun;
    const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: t.token } });
    const events: any[] = [];
    for await (const e of client.iterate({ query: `subscription($id: ID!) { syncRunProgress(runId: $id) { status phase created percent } }`, variables: { id: run.id } })) {
      events.push((e.data as any).syncRunProgress);
    }
    await client.dispose();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[events.length - 1]).toMatchObject({ status: 'COMPLETED', created: 3, percent: 100 });
  });

  it('deleting a provisioning keeps its users as MANUAL or removes them, as chosen', async () => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Del')).group!.id;
    await p.addUsers(g, 'x', 2);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g]);
    await p.deploy(id);
    await p.syncAndWait(id);
    const del = await p.call<any>(`mutation($i: DeleteProvisioningInput!) { deleteProvisioning(input: $i) { deletedProvisioningId affectedUsers devicesRemoved errors { code } } }`, {
      i: { id, ownedUsers: 'KEEP_AS_MANUAL' },
    });
    expect(del.deleteProvisioning).toMatchObject({ affectedUsers: 2, devicesRemoved: 0, errors: [] });
    expect((await p.mfaUsers({ source: 'MANUAL' })).totalCount).toBe(2);
    const id2 = (await p.create('Second')).provisioning!.id;
    await p.configure(id2, dir, [g], { includeManuallyProvisionedUsers: true });
    await p.deploy(id2);
    expect((await p.syncAndWait(id2)).claimed).toBe(2);
    const del2 = await p.call<any>(`mutation($i: DeleteProvisioningInput!) { deleteProvisioning(input: $i) { affectedUsers errors { code } } }`, {
      i: { id: id2, ownedUsers: 'REMOVE' },
    });
    expect(del2.deleteProvisioning.affectedUsers).toBe(2);
    expect((await p.mfaUsers()).totalCount).toBe(0);
  });
});

describe('schedule', () => {
  it('a due provisioning syncs exactly once with two replicas on one database', async () => {
    const second = await startServer({ env: testEnv({ SYNC_TICK_MS: '100' }), database: ts.database, log: createLogger('silent') });
    try {
      const t = await seedTenant(ts);
      const p = papi(ts, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Sched')).group!.id;
      await p.addUsers(g, 'q', 2);
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { syncIntervalMinutes: 60 });
      await p.deploy(id);
      const before = (await p.call<any>(`query($id: ID!) { provisioning(id: $id) { nextSyncAt } }`, { id })).provisioning.nextSyncAt;
      expect(new Date(before).getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
      await ts.database.db.execute(sql`update provisionings set next_sync_at = now() - interval '1 second' where tenant_id = ${t.tenantId}`);
      const end = Date.now() + 20_000;
      let runs: any[] = [];
      while (Date.now() < end) {
        runs = (await p.call<any>(`query($id: ID!) { syncRuns(provisioningId: $id) { nodes { trigger status } } }`, { id })).syncRuns.nodes;
        if (runs.some((r) => r.status === 'COMPLETED')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500)); // several more ticks on both replicas
      runs = (await p.call<any>(`query($id: ID!) { syncRuns(provisioningId: $id) { nodes { trigger status } } }`, { id })).syncRuns.nodes;
      expect(runs).toEqual([{ trigger: 'SCHEDULED', status: 'COMPLETED' }]);
      const next = (await p.call<any>(`query($id: ID!) { provisioning(id: $id) { nextSyncAt } }`, { id })).provisioning.nextSyncAt;
      expect(new Date(next).getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    } finally {
      await second.close();
    }
  });
});
