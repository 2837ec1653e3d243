import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import type { OwnedUsersOnDelete } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { countRows, enroll, papi } from './support/provisioning-api.js';

const test = rosterTest();

const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

describe('provisioning configuration', () => {
  test('needs both the EAA and the MFA entitlement', async ({ server: ts }) => {
    for (const entitlements of [['EAA'], ['MFA'], []]) {
      const t = await seedTenant(ts, { entitlements });
      const r = await papi(ts, t.token).create();
      expect(codes(r.errors)).toEqual(['ENTITLEMENT_MISSING']);
      expect(r.provisioning).toBeNull();
    }
    const t = await seedTenant(ts, { entitlements: ['EAA', 'MFA'] });
    expect((await papi(ts, t.token).create()).errors).toEqual([]);
  });

  test('allows at most one EAA provisioning per tenant, even under concurrent creates', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => p.create(`Provisioning ${i}`)));
    expect(results.filter((r) => r.errors.length === 0)).toHaveLength(1);
    expect(new Set(results.flatMap((r) => codes(r.errors)))).toEqual(new Set(['ALREADY_EXISTS']));
    expect(codes((await p.create('Yet another')).errors)).toEqual(['ALREADY_EXISTS']);
    const list = await p.client.provisionings();
    expect(list.provisionings).toHaveLength(1);
  });

  test('names are unique in the tenant, ignoring case', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const id = (await p.create('Corp MFA')).provisioning!.id;
    const again = await p.create('corp mfa');
    expect(codes(again.errors)).toEqual(['NAME_TAKEN']);
    expect(again.errors[0]!.field).toEqual(['input', 'name']);
    expect(codes((await p.create('  ')).errors)).toEqual(['INVALID_INPUT']);
    // Renaming to a case variant of itself is fine; another tenant may use the name.
    expect((await p.update(id, { name: 'CORP MFA' })).provisioning!.name).toBe('CORP MFA');
    const other = await seedTenant(ts);
    expect((await papi(ts, other.token).create('Corp MFA')).errors).toEqual([]);
  });

  test('edits form a draft; Save & Deploy makes it the configuration syncs use', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g1 = (await p.createGroup('G1')).group!.id;
    const g2 = (await p.createGroup('G2')).group!.id;
    await p.addUsers(g1, 'a', 2);
    await p.addUsers(g2, 'b', 3);
    const id = (await p.create()).provisioning!.id;
    const fresh = await p.provisioning(id);
    expect(fresh).toMatchObject({
      deployedVersion: 0,
      deployed: null,
      nextSyncAt: null,
      hasUndeployedChanges: true,
      draft: { syncIntervalMinutes: 360 },
    });
    await p.configure(id, dir, [g1], { sendEnrollmentEmails: false });
    expect(codes((await p.sync(id)).errors)).toEqual(['INVALID_STATE']);
    const dep = await p.deploy(id);
    expect(dep.provisioning).toMatchObject({ deployedVersion: 1, hasUndeployedChanges: false });
    // The schedule starts at deploy: the default interval is 6 hours.
    expect(new Date(dep.provisioning.nextSyncAt!).getTime() - new Date(dep.provisioning.deployedAt!).getTime()).toBe(360 * 60_000);
    expect((await p.syncAndWait(id)).created).toBe(2);

    await p.configure(id, dir, [g1, g2]);
    const drafted = (await p.provisioning(id))!;
    expect(drafted.hasUndeployedChanges).toBe(true);
    expect(drafted.deployed!.directories[0]!.groupNames).toEqual(['G1']);
    expect(drafted.draft.directories[0]!.groupNames.sort()).toEqual(['G1', 'G2']);
    expect(await p.preview(id)).toMatchObject({ basedOn: 'DEPLOYED', createCount: 0 });
    expect(await p.preview(id, { draft: true })).toMatchObject({ basedOn: 'DRAFT', createCount: 3 });
    expect((await p.syncAndWait(id)).created).toBe(0);
    expect((await p.mfaUsers()).totalCount).toBe(2);

    expect((await p.deploy(id)).provisioning.deployedVersion).toBe(2);
    expect((await p.syncAndWait(id)).created).toBe(3);
    expect((await p.mfaUsers()).totalCount).toBe(5);
  });

  test('validates settings: interval at least one minute, guard thresholds in range', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const id = (await p.create()).provisioning!.id;
    expect(codes((await p.update(id, { syncIntervalMinutes: 0 })).errors)).toEqual(['INVALID_INPUT']);
    expect(codes((await p.update(id, { removalGuardMaxPercent: 101 })).errors)).toEqual(['INVALID_INPUT']);
    expect(codes((await p.update(id, { removalGuardMaxUsers: -1 })).errors)).toEqual(['INVALID_INPUT']);
    const ok = await p.update(id, {
      syncIntervalMinutes: 1,
      removalGuardMaxUsers: 20,
      removalGuardMaxPercent: 50,
      includeManuallyProvisionedUsers: true,
    });
    expect(ok.provisioning!.draft).toMatchObject({
      syncIntervalMinutes: 1,
      removalGuardMaxUsers: 20,
      removalGuardMaxPercent: 50,
      includeManuallyProvisionedUsers: true,
    });
  });

  test('directories and groups must exist in this tenant; groups must belong to an associated directory', async ({
    server: ts,
    tenant: t,
  }) => {
    const other = await seedTenant(ts);
    const p = papi(ts, t.token);
    const q = papi(ts, other.token);
    const dir = await p.cloudDirectoryId();
    const ad = (await p.createDirectory('AD', 'ACTIVE_DIRECTORY')).directory!.id;
    const g = (await p.createGroup('Mine')).group!.id;
    const foreignGroup = (await q.createGroup('Theirs')).group!.id;
    const id = (await p.create()).provisioning!.id;
    expect(codes((await p.setDirectories(id, [await q.cloudDirectoryId()])).errors)).toEqual(['NOT_FOUND']);
    expect((await p.setDirectories(id, [dir])).errors).toEqual([]);
    expect(codes((await p.setGroups(id, dir, [foreignGroup])).errors)).toEqual(['NOT_FOUND']);
    expect(codes((await p.setGroups(id, ad, [])).errors)).toEqual(['INVALID_STATE']);
    expect(codes((await p.setGroups(id, dir, [g, 'bogus'])).errors)).toEqual(['NOT_FOUND']);
    expect((await p.setGroups(id, dir, [g])).errors).toEqual([]);
    // Another tenant cannot see or touch it.
    expect(await q.provisioning(id)).toBeNull();
    expect(codes((await q.setDirectories(id, [])).errors)).toEqual(['NOT_FOUND']);
    expect(codes((await q.sync(id)).errors)).toEqual(['NOT_FOUND']);
  });
});

describe('tenant isolation of runs', () => {
  test('another tenant’s runs behave like missing ones', async () => {
    const idle = await startTestServer({ WORKERS: 'false' });
    try {
      const a = await seedTenant(idle);
      const b = await seedTenant(idle);
      const p = papi(idle, a.token);
      const q = papi(idle, b.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Iso')).group!.id;
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g]);
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      expect(await q.run(run.id)).toBeNull();
      expect((await q.runs(id)).totalCount).toBe(0);
      expect(codes((await q.approve(run.id)).errors)).toEqual(['NOT_FOUND']);
      expect(codes((await q.cancel(run.id)).errors)).toEqual(['NOT_FOUND']);
      expect(await q.preview(id)).toBeNull();
      expect((await p.run(run.id))!.status).toBe('QUEUED');
    } finally {
      await idle.close();
    }
  });
});

describe('deleting a provisioning', () => {
  async function provisioned(ts: TestServer, prefix: string) {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const g = (await p.createGroup('Del')).group!.id;
    await p.addUsers(g, prefix, 2);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [g], { sendEnrollmentEmails: true });
    await p.deploy(id);
    await p.syncAndWait(id);
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, `${prefix}0@x.test`)), 'Phone')).success).toBe(true);
    return { t, p, id, dir, g };
  }
  const del = (p: ReturnType<typeof papi>, id: string, ownedUsers: OwnedUsersOnDelete) =>
    p.client.deleteProvisioning({ input: { id, ownedUsers } });

  test('KEEP_AS_MANUAL keeps its users and groups, devices included, as MANUAL', async ({ server: ts }) => {
    const { t, p, id } = await provisioned(ts, 'k');
    const r = (await del(p, id, 'KEEP_AS_MANUAL')).deleteProvisioning;
    expect(r).toMatchObject({ deletedProvisioningId: id, affectedUsers: 2, devicesRemoved: 0, errors: [] });
    const users = await p.mfaUsers();
    expect(users.nodes.map((u) => [u.username, u.source, u.devices.length])).toEqual([
      ['k0@x.test', 'MANUAL', 1],
      ['k1@x.test', 'MANUAL', 0],
    ]);
    expect(
      await countRows(ts, sql`select count(*)::int as n from mfa_groups where tenant_id = ${t.tenantId} and provisioning_id is null`),
    ).toBe(1);
    // A new provisioning can take them back over.
    const id2 = (await p.create('Second')).provisioning!.id;
    const dir = await p.cloudDirectoryId();
    const g = (await p.groups()).find((x) => x.name === 'Del')!.id;
    await p.configure(id2, dir, [g], { includeManuallyProvisionedUsers: true });
    await p.deploy(id2);
    expect(await p.syncAndWait(id2)).toMatchObject({ claimed: 2, created: 0 });
    expect((await p.mfaUsers({ source: 'PROVISIONING' })).nodes.map((u) => u.devices.length)).toEqual([1, 0]);
  });

  test('REMOVE removes its users with their devices and says how many', async ({ server: ts }) => {
    const { t, p, id } = await provisioned(ts, 'r');
    const r = (await del(p, id, 'REMOVE')).deleteProvisioning;
    expect(r).toMatchObject({ affectedUsers: 2, devicesRemoved: 1, errors: [] });
    expect((await p.mfaUsers()).totalCount).toBe(0);
    expect(await countRows(ts, sql`select count(*)::int as n from mfa_groups where tenant_id = ${t.tenantId}`)).toBe(0);
    expect(await p.provisioning(id)).toBeNull();
  });

  test('is refused while a run is active; the choice is required', async () => {
    const idle = await startTestServer({ WORKERS: 'false' });
    try {
      const t = await seedTenant(idle);
      const p = papi(idle, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Busy')).group!.id;
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g]);
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      expect(codes((await del(p, id, 'REMOVE')).deleteProvisioning.errors)).toEqual(['INVALID_STATE']);
      const missing = await p
        .call<any>(`mutation($i: DeleteProvisioningInput!) { deleteProvisioning(input: $i) { errors { code } } }`, { i: { id } })
        .catch((e: Error) => e);
      expect(String(missing)).toMatch(/ownedUsers/);
      expect((await p.cancel(run.id)).syncRun!.status).toBe('CANCELLED');
      expect((await del(p, id, 'KEEP_AS_MANUAL')).deleteProvisioning.errors).toEqual([]);
    } finally {
      await idle.close();
    }
  });
});
