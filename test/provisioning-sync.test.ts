import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import type { SyncRunFieldsFragment } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';
import { ok, tokenOf, waitForMailLink } from './support/directory-api.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { countRows, enroll, papi, seedGroupMembers, type ProvisioningSettings } from './support/provisioning-api.js';

const test = rosterTest({ JOB_POLL_MS: '50' });

const codes = (errors: { code: string }[]) => errors.map((e) => e.code);
const usernames = (list: { nodes: { username: string }[] }) => list.nodes.map((u) => u.username);

/** A tenant with one provisioning over its Cloud Directory, configured with `groups` and deployed. */
async function setup(ts: TestServer, groupNames: string[], settings: ProvisioningSettings = {}) {
  const t = await seedTenant(ts);
  const p = papi(ts, t.token);
  const dir = await p.cloudDirectoryId();
  const groups: Record<string, string> = {};
  for (const n of groupNames) groups[n] = (await p.createGroup(n)).group!.id;
  const id = (await p.create()).provisioning!.id;
  const configure = async (enabled: string[], more: ProvisioningSettings = {}) => {
    await p.configure(
      id,
      dir,
      enabled.map((n) => groups[n]!),
      more,
    );
    await p.deploy(id);
  };
  await configure(groupNames, { sendEnrollmentEmails: false, removalGuardMaxPercent: 100, ...settings });
  return { t, p, id, dir, groups, configure };
}

describe('sync: create, update, remove', () => {
  test('creates MFA users and groups (source = the provisioning) with their memberships', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['Sales', 'Ops']);
    const [a0] = await p.addUsers(groups.Sales!, 's', 2);
    ok(await p.addMembers(groups.Ops!, [a0]));
    await p.addUsers(groups.Ops!, 'o', 1);
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({
      status: 'COMPLETED',
      phase: 'DONE',
      trigger: 'MANUAL',
      desiredUsers: 3,
      planned: 3,
      plannedCreates: 3,
      created: 3,
      updated: 0,
      removed: 0,
      failed: 0,
      percent: 100,
    });
    expect(run.startedAt && run.plannedAt && run.finishedAt).toBeTruthy();
    const users = await p.mfaUsers();
    expect(users.nodes.map((u) => [u.username, u.status, u.source, u.provisioningId, u.groups.join('+')])).toEqual([
      ['o0@x.test', 'UNENROLLED', 'PROVISIONING', id, 'Ops'],
      ['s0@x.test', 'UNENROLLED', 'PROVISIONING', id, 'Ops+Sales'],
      ['s1@x.test', 'UNENROLLED', 'PROVISIONING', id, 'Sales'],
    ]);
    expect(users.nodes.every((u) => u.directoryUserId)).toBe(true);
    const { mfaGroups } = await p.client.mfaGroups({ first: 10 });
    expect(mfaGroups.nodes.map((g) => [g.name, g.source, g.provisioningId, g.memberCount])).toEqual([
      ['Ops', 'PROVISIONING', id, 2],
      ['Sales', 'PROVISIONING', id, 2],
    ]);
    expect(mfaGroups.nodes.map((g) => g.directoryGroupId).sort()).toEqual([groups.Ops, groups.Sales].sort());
    const viaNode = await p.client.node({ id: mfaGroups.nodes[0]!.id });
    expect(viaNode.node).toEqual({ __typename: 'MfaGroup', id: mfaGroups.nodes[0]!.id });
    expect((await p.client.mfaGroups({ filter: { source: 'MANUAL' } })).mfaGroups.totalCount).toBe(0);
    const prov = await p.provisioning(id);
    expect(prov).toMatchObject({ ownedUserCount: 3, lastRun: { id: run.id, status: 'COMPLETED' }, activeRun: null });
  });

  test('updates changed names, emails and memberships; a re-run with no change plans nothing', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['A', 'B']);
    const [u0, u1] = await p.addUsers(groups.A!, 'u', 3);
    await p.syncAndWait(id);
    expect(await p.syncAndWait(id)).toMatchObject({ planned: 0, created: 0, updated: 0, removed: 0 });

    ok(await p.updateUser({ id: u0, firstName: 'Renamed', email: 'renamed@x.test' }));
    ok(await p.addMembers(groups.B!, [u1]));
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ plannedUpdates: 2, updated: 2, created: 0, removed: 0 });
    const after = await p.mfaUsers();
    // The MFA username follows the directory username, which an email change leaves alone.
    expect(after.nodes.map((u) => [u.username, u.email, u.firstName, u.groups.join('+')])).toEqual([
      ['u0@x.test', 'renamed@x.test', 'Renamed', 'A'],
      ['u1@x.test', 'u1@x.test', 'u1', 'A+B'],
      ['u2@x.test', 'u2@x.test', 'u2', 'A'],
    ]);
    expect(await p.syncAndWait(id)).toMatchObject({ planned: 0 });
    // A new directory username is the new MFA username.
    ok(await p.updateUser({ id: u0, username: 'u-zero' }));
    expect(await p.syncAndWait(id)).toMatchObject({ updated: 1 });
    expect((await p.mfaUsers({ search: 'u-zero' })).nodes.map((u) => u.email)).toEqual(['renamed@x.test']);
  });

  test('a member leaving one of its groups, or a group deselected, updates that user only; preview and run agree', async ({
    server: ts,
  }) => {
    const { p, id, groups, configure } = await setup(ts, ['A', 'B']);
    const [, u1, u2] = await p.addUsers(groups.A!, 'm', 4);
    ok(await p.addMembers(groups.B!, [u1!, u2!]));
    await p.syncAndWait(id);
    const groupsOf = async () => (await p.mfaUsers()).nodes.map((u) => `${u.username}:${u.groups.join('+')}`);
    expect(await groupsOf()).toEqual(['m0@x.test:A', 'm1@x.test:A+B', 'm2@x.test:A+B', 'm3@x.test:A']);

    ok(await p.removeMembers(groups.B!, [u1!]));
    expect(await p.preview(id)).toMatchObject({ updateCount: 1, keepCount: 3, createCount: 0, removeCount: 0 });
    expect((await p.preview(id))!.toUpdate.map((u) => u.username)).toEqual(['m1@x.test']);
    expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', plannedUpdates: 1, updated: 1 });
    expect(await groupsOf()).toEqual(['m0@x.test:A', 'm1@x.test:A', 'm2@x.test:A+B', 'm3@x.test:A']);

    // B deselected: its owned MFA group goes, and m2 (still a member of B) is updated out of it.
    await configure(['A']);
    expect(await p.preview(id)).toMatchObject({ updateCount: 1, keepCount: 3, removeCount: 0 });
    expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', plannedUpdates: 1, updated: 1, removed: 0 });
    expect(await groupsOf()).toEqual(['m0@x.test:A', 'm1@x.test:A', 'm2@x.test:A', 'm3@x.test:A']);
    expect(await p.syncAndWait(id)).toMatchObject({ planned: 0 });
  });

  test('removes owned users no longer selected (removed from the group, or deleted); a disabled one is suspended instead', async ({
    server: ts,
  }) => {
    const { p, id, groups } = await setup(ts, ['R']);
    const [r0, r1, r2] = await p.addUsers(groups.R!, 'r', 4);
    await p.syncAndWait(id);
    ok(await p.removeMembers(groups.R!, [r0]));
    ok(await p.deleteUser(r1));
    ok(await p.updateUser({ id: r2, disabled: true }));
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ status: 'COMPLETED', plannedRemovals: 2, removed: 2, created: 0, updated: 1 });
    expect(usernames(await p.mfaUsers())).toEqual(['r2@x.test', 'r3@x.test']);
    expect(usernames(await p.mfaUsers({ status: 'PROVISIONING_DISABLED' }))).toEqual(['r2@x.test']);
  });

  test('a username already used by another MFA user fails that user only, with the reason listed', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['F'], { includeManuallyProvisionedUsers: false });
    await p.addUsers(groups.F!, 'f', 2);
    // An owned user of another directory holds f0's username.
    const ad = (await p.createDirectory('AD', 'ACTIVE_DIRECTORY')).directory!.id;
    const adUsers = (await p.directoryGroups(ad))[0]!.id;
    await p.createUser({ directoryId: ad, username: 'f0@x.test', firstName: 'Other', lastName: 'F' });
    await p.setDirectories(id, [await p.cloudDirectoryId(), ad]);
    await p.setGroups(id, ad, [adUsers]);
    await p.deploy(id);
    const run = await p.syncAndWait(id);
    expect(run.status).toBe('COMPLETED');
    expect(run.created + run.failed).toBe(3);
    expect(run.failed).toBe(1);
    expect(run.errors).toMatchObject([{ code: 'USERNAME_TAKEN', username: 'f0@x.test' }]);
    expect((await p.mfaUsers()).totalCount).toBe(2);
  });

  test('a username taken between the plan and its approval fails that user only; the others are created with their memberships', async ({
    server: ts,
  }) => {
    const { p, id, groups, configure } = await setup(ts, ['Old', 'New'], { removalGuardMaxUsers: 1, removalGuardMaxPercent: 100 });
    await p.addUsers(groups.Old!, 'r', 2);
    await p.syncAndWait(id);
    await configure(['New']);
    await p.addUsers(groups.New!, 'n', 3);
    const stopped = await p.syncAndWait(id);
    expect(stopped).toMatchObject({ status: 'AWAITING_APPROVAL', plannedCreates: 3, plannedRemovals: 2 });
    // While the plan waits, an administrator gives n1's username to a manual MFA user.
    ok(await p.createMfaUser({ username: 'N1@x.test', firstName: 'Manual' }));
    ok(await p.approve(stopped.id));
    const done = await p.waitRun(stopped.id, ['COMPLETED', 'FAILED']);
    expect(done).toMatchObject({ status: 'COMPLETED', created: 2, failed: 1, removed: 2 });
    expect(done.errors).toMatchObject([
      { code: 'USERNAME_TAKEN', username: 'n1@x.test', message: 'Another MFA user took this username meanwhile.' },
    ]);
    const users = await p.mfaUsers();
    expect(users.nodes.map((u) => [u.username, u.source, u.groups.join('+')])).toEqual([
      ['n0@x.test', 'PROVISIONING', 'New'],
      ['N1@x.test', 'MANUAL', ''],
      ['n2@x.test', 'PROVISIONING', 'New'],
    ]);
  });
});

describe('sync: devices', () => {
  test('deselecting a group removes its users with their devices; re-added users start UNENROLLED with no devices', async ({
    server: ts,
  }) => {
    const { t, p, id, groups, configure } = await setup(ts, ['Keep', 'Drop'], { sendEnrollmentEmails: true });
    await p.addUsers(groups.Keep!, 'k', 1);
    await p.addUsers(groups.Drop!, 'd', 2);
    await p.syncAndWait(id);
    const token = tokenOf(await waitForMailLink(ts, 'd0@x.test'));
    expect(await enroll(ts, token, 'Phone')).toMatchObject({ success: true, username: 'd0@x.test' });
    const d0 = (await p.mfaUsers({ search: 'd0' })).nodes[0];
    expect((await p.sendEnrollment(d0.id)).errors).toEqual([]);
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'd0@x.test', 2)), 'Laptop')).success).toBe(true);
    expect((await p.mfaUsers({ search: 'd0' })).nodes[0]).toMatchObject({
      status: 'ACTIVE',
      devices: [{ name: 'Phone' }, { name: 'Laptop' }],
    });

    await configure(['Keep']);
    const preview = (await p.preview(id))!;
    expect(preview).toMatchObject({ removeCount: 2, devicesRemovedCount: 2, createCount: 0, groupRemoveCount: 1 });
    expect(preview.toRemove).toMatchObject([
      { username: 'd0@x.test', mfaUserId: d0.id, enrolledDevices: 2 },
      { username: 'd1@x.test', mfaUserId: expect.any(String), enrolledDevices: 0 },
    ]);
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ status: 'COMPLETED', removed: 2, devicesRemoved: 2 });
    expect(usernames(await p.mfaUsers())).toEqual(['k0@x.test']);
    expect(await countRows(ts, sql`select count(*)::int as n from mfa_devices where tenant_id = ${t.tenantId}`)).toBe(0);
    expect(await countRows(ts, sql`select count(*)::int as n from mfa_groups where tenant_id = ${t.tenantId}`)).toBe(1);
    // The old link died with its user.
    expect(codes((await enroll(ts, token, 'Tablet')).errors)).toEqual(['TOKEN_INVALID']);

    await configure(['Keep', 'Drop']);
    expect((await p.syncAndWait(id)).created).toBe(2);
    const again = (await p.mfaUsers({ search: 'd0' })).nodes[0];
    expect(again).toMatchObject({ status: 'UNENROLLED', devices: [], groups: ['Drop'] });
    expect(again.id).not.toBe(d0.id);
    // Re-added, it gets a fresh enrolment email (its third) and enrols again.
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'd0@x.test', 3)), 'New phone')).success).toBe(true);
  });
});

describe('sync: MANUAL users', () => {
  test('claims matching MANUAL users (by email or username) when asked: source changes, devices stay, no email', async ({ server: ts }) => {
    const { t, p, id, groups, configure } = await setup(ts, ['Ops'], { sendEnrollmentEmails: true, includeManuallyProvisionedUsers: true });
    const [m0] = await p.addUsers(groups.Ops!, 'm', 3);
    const byEmail = (
      await p.createMfaUser({ username: 'someone-else', email: 'M0@x.test', firstName: 'Manual', sendEnrollmentEmail: true })
    ).mfaUser!;
    const byName = (await p.createMfaUser({ username: 'M1@X.test', firstName: 'Manual' })).mfaUser!;
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'm0@x.test')), 'Yubikey')).success).toBe(true);
    const preview = (await p.preview(id))!;
    expect(preview).toMatchObject({ claimCount: 2, createCount: 1, skipCount: 0 });
    expect(preview.toClaim.map((u) => u.mfaUserId).sort()).toEqual([byEmail.id, byName.id].sort());
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ claimed: 2, created: 1, skipped: 0 });
    const claimed = (await p.mfaUsers({ search: 'm0' })).nodes[0];
    expect(claimed).toMatchObject({
      id: byEmail.id,
      source: 'PROVISIONING',
      status: 'ACTIVE',
      devices: [{ name: 'Yubikey' }],
      groups: ['Ops'],
    });
    expect(claimed.directoryUserId).toBe(m0);
    // Only the new user m2 got a sync email; m0 has just the one from its manual creation.
    await waitForMailLink(ts, 'm2@x.test');
    expect(
      await countRows(ts, sql`select count(*)::int as n from mail_outbox where tenant_id = ${t.tenantId} and template = 'mfa-enrollment'`),
    ).toBe(2);
    expect(await p.syncAndWait(id)).toMatchObject({ planned: 0 });
    void configure;
  });

  test('without the setting, matching MANUAL users are left alone and reported as skipped', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['Ops'], { sendEnrollmentEmails: true });
    await p.addUsers(groups.Ops!, 'n', 2);
    const manual = (await p.createMfaUser({ username: 'N0@x.test', firstName: 'Manual' })).mfaUser!;
    expect(await p.preview(id)).toMatchObject({ skipCount: 1, claimCount: 0, createCount: 1, toSkip: [{ username: 'n0@x.test' }] });
    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({ skipped: 1, claimed: 0, created: 1 });
    expect((await p.mfaUsers({ source: 'MANUAL' })).nodes.map((u) => [u.id, u.firstName])).toEqual([[manual.id, 'Manual']]);
    expect(await p.syncAndWait(id)).toMatchObject({ skipped: 1, created: 0, planned: 0 });
  });
});

describe('sync: enrolment emails', () => {
  test('go to each newly created user with an email, once; users without an email get none', async ({ server: ts, tenant: t }) => {
    const p = papi(ts, t.token);
    const ad = (await p.createDirectory('AD', 'ACTIVE_DIRECTORY')).directory!.id;
    const adUsers = (await p.directoryGroups(ad))[0]!.id;
    await p.createUser({ directoryId: ad, username: 'no-mail', firstName: 'No', lastName: 'Mail' });
    await p.createUser({ directoryId: ad, email: 'has-mail@x.test', firstName: 'Has', lastName: 'Mail' });
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, ad, [adUsers], { sendEnrollmentEmails: true });
    await p.deploy(id);
    expect((await p.syncAndWait(id)).created).toBe(2);
    expect(await p.syncAndWait(id)).toMatchObject({ created: 0 });
    await waitForMailLink(ts, 'has-mail@x.test');
    const mails = await countRows(
      ts,
      sql`select count(*)::int as n from mail_outbox where tenant_id = ${t.tenantId} and template = 'mfa-enrollment'`,
    );
    expect(mails).toBe(1);
    const noMail = (await p.mfaUsers({ search: 'no-mail' })).nodes[0];
    expect(noMail).toMatchObject({ email: null, status: 'UNENROLLED' });
  });
});

describe('sync: preview and the removal guard', () => {
  test('the preview equals what the run then does', async ({ server: ts }) => {
    const { t, p, id, groups, configure } = await setup(ts, ['A', 'B', 'C'], { includeManuallyProvisionedUsers: true });
    await configure(['A', 'B']);
    const [a0] = await p.addUsers(groups.A!, 'pa', 3);
    await p.addUsers(groups.B!, 'pb', 2);
    await p.syncAndWait(id);
    const pb0 = (await p.mfaUsers({ search: 'pb0' })).nodes[0];
    await p.sendEnrollment(pb0.id);
    expect((await enroll(ts, tokenOf(await waitForMailLink(ts, 'pb0@x.test')), 'Phone')).success).toBe(true);
    ok(await p.updateUser({ id: a0, lastName: 'Changed' }));
    await p.addUsers(groups.A!, 'pn', 2);
    await p.addUsers(groups.C!, 'pc', 1);
    await p.createMfaUser({ username: 'pc0@x.test' });
    await configure(['A', 'C']);
    const plan = (await p.preview(id))!;
    expect(plan).toMatchObject({
      createCount: 2,
      updateCount: 1,
      claimCount: 1,
      removeCount: 2,
      devicesRemovedCount: 1,
      groupCreateCount: 1,
      groupRemoveCount: 1,
      requiresApproval: false,
    });
    const run = await p.syncAndWait(id);
    expect({
      created: run.created,
      updated: run.updated,
      claimed: run.claimed,
      removed: run.removed,
      devicesRemoved: run.devicesRemoved,
    }).toEqual({
      created: plan.createCount,
      updated: plan.updateCount,
      claimed: plan.claimCount,
      removed: plan.removeCount,
      devicesRemoved: plan.devicesRemovedCount,
    });
    const runPlan = (await p.runPlan(run.id))!;
    for (const k of [
      'createCount',
      'updateCount',
      'claimCount',
      'skipCount',
      'removeCount',
      'devicesRemovedCount',
      'groupCreateCount',
      'groupRemoveCount',
    ] as const) {
      expect(runPlan[k], k).toBe(plan[k]);
    }
    expect((await p.preview(id))!.removeCount + (await p.preview(id))!.createCount).toBe(0);
    void t;
  });

  test('a run whose plan removes too many stops AWAITING_APPROVAL; approval applies exactly that plan', async ({ server: ts }) => {
    const { p, id, groups, configure } = await setup(ts, ['Many', 'Few'], { removalGuardMaxUsers: 2, removalGuardMaxPercent: 100 });
    const many = await p.addUsers(groups.Many!, 'g', 4);
    await p.addUsers(groups.Few!, 'f', 1);
    await p.syncAndWait(id);
    await configure(['Few']);
    expect(await p.preview(id)).toMatchObject({ removeCount: 4, requiresApproval: true });
    const stopped = await p.syncAndWait(id);
    expect(stopped).toMatchObject({ status: 'AWAITING_APPROVAL', phase: 'AWAITING_APPROVAL', removed: 0, plannedRemovals: 4, percent: 10 });
    const stored = (await p.runPlan(stopped.id))!;
    expect(stored).toMatchObject({ basedOn: 'RUN', removeCount: 4, requiresApproval: true });
    expect(stored.toRemove.map((u) => u.username)).toEqual(['g0@x.test', 'g1@x.test', 'g2@x.test', 'g3@x.test']);
    expect((await p.mfaUsers()).totalCount).toBe(5);
    // Asking again returns the waiting run.
    expect((await p.sync(id)).syncRun!.id).toBe(stopped.id);
    expect((await p.provisioning(id))!.activeRun).toMatchObject({ id: stopped.id, status: 'AWAITING_APPROVAL' });
    // After the stop: g0 is put in the enabled group again (kept, though in the stored set),
    // and f0 leaves it (not in the stored set, so not removed by this approval).
    ok(await p.addMembers(groups.Few!, [many[0]!]));
    const f0 = (await p.users({ search: 'f0' })).nodes[0]!.id;
    ok(await p.removeMembers(groups.Few!, [f0]));
    const approved = await p.approve(stopped.id);
    expect(approved.errors).toEqual([]);
    const done = await p.waitRun(stopped.id, ['COMPLETED', 'FAILED']);
    expect(done).toMatchObject({ status: 'COMPLETED', approved: true, removed: 3 });
    expect(usernames(await p.mfaUsers())).toEqual(['f0@x.test', 'g0@x.test']);
    expect(codes((await p.approve(stopped.id)).errors)).toEqual(['INVALID_STATE']);
  });

  test('a user staged for removal and selected again while disabled, before the approval, is kept and then suspended', async ({
    server: ts,
  }) => {
    const { p, id, groups, configure } = await setup(ts, ['Many', 'Few'], { removalGuardMaxUsers: 1, removalGuardMaxPercent: 100 });
    const many = await p.addUsers(groups.Many!, 'd', 2);
    await p.addUsers(groups.Few!, 'k', 1);
    await p.syncAndWait(id);
    await configure(['Few']);
    const stopped = await p.syncAndWait(id);
    expect(stopped).toMatchObject({ status: 'AWAITING_APPROVAL', plannedRemovals: 2 });
    // While the run waits, d0 is disabled and put in the selected group: a plan made now would
    // keep its MFA user (suspended), so the approved plan must not remove it either.
    ok(await p.updateUser({ id: many[0]!, disabled: true }));
    ok(await p.addMembers(groups.Few!, [many[0]!]));
    expect(await p.preview(id)).toMatchObject({ removeCount: 1, updateCount: 1 });
    ok(await p.approve(stopped.id));
    expect(await p.waitRun(stopped.id, ['COMPLETED', 'FAILED'])).toMatchObject({ status: 'COMPLETED', removed: 1 });
    expect(usernames(await p.mfaUsers())).toEqual(['d0@x.test', 'k0@x.test']);
    // The next run suspends it.
    expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', removed: 0 });
    expect(usernames(await p.mfaUsers({ status: 'PROVISIONING_DISABLED' }))).toEqual(['d0@x.test']);
  });

  test('the percentage threshold applies too, and cancelling a waiting run drops its plan', async ({ server: ts }) => {
    const { p, id, groups, configure } = await setup(ts, ['Big', 'Small'], { removalGuardMaxPercent: 10 });
    await p.addUsers(groups.Big!, 'b', 9);
    await p.addUsers(groups.Small!, 's', 2);
    await p.syncAndWait(id);
    await configure(['Big']);
    const stopped = await p.syncAndWait(id);
    expect(stopped).toMatchObject({ status: 'AWAITING_APPROVAL', plannedRemovals: 2 }); // 2 of 11 > 10 %
    expect((await p.cancel(stopped.id)).syncRun!.status).toBe('CANCELLED');
    expect(codes((await p.cancel(stopped.id)).errors)).toEqual(['INVALID_STATE']);
    expect((await p.mfaUsers()).totalCount).toBe(11);
    // A later run plans again (and stops again).
    const next = await p.syncAndWait(id);
    expect(next.id).not.toBe(stopped.id);
    expect(next.status).toBe('AWAITING_APPROVAL');
  });
});

describe('sync: one run at a time', () => {
  test('50 concurrent syncProvisioning calls make one run and one job', async () => {
    // No workers here: the run stays active for the whole burst, as a long sync would.
    const idle = await startTestServer({ WORKERS: 'false' });
    try {
      const t = await seedTenant(idle);
      const p = papi(idle, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('C')).group!.id;
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g]);
      await p.deploy(id);
      const results = await Promise.all(Array.from({ length: 50 }, () => p.sync(id)));
      expect(results.every((r) => r.errors.length === 0)).toBe(true);
      expect(new Set(results.map((r) => r.syncRun!.id)).size).toBe(1);
      expect(await countRows(idle, sql`select count(*)::int as n from sync_runs where tenant_id = ${t.tenantId}`)).toBe(1);
      expect(await countRows(idle, sql`select count(*)::int as n from jobs where tenant_id = ${t.tenantId} and queue = 'sync.run'`)).toBe(
        1,
      );
    } finally {
      await idle.close();
    }
  });

  test('back-to-back syncs each run to completion (a finishing job never swallows the next run)', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['Loop']);
    await p.addUsers(groups.Loop!, 'l', 2);
    const ids = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await p.syncAndWait(id);
      expect(r.status).toBe('COMPLETED');
      ids.add(r.id);
    }
    expect(ids.size).toBe(6);
  });

  test('a running run can be cancelled; it stops at its next chunk and the next run converges', async () => {
    const small = await startTestServer({ SYNC_CHUNK_SIZE: '20', JOB_POLL_MS: '50' });
    try {
      const t = await seedTenant(small);
      const p = papi(small, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Cancel')).group!.id;
      await seedGroupMembers(small, t, g, 3000, 'c', 'cancel.test');
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: false });
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      for (;;) {
        const r = (await p.run(run.id))!;
        if (r.created > 0) break;
        expect(r.status).not.toBe('COMPLETED');
        await new Promise((res) => setTimeout(res, 10));
      }
      expect((await p.cancel(run.id)).syncRun!.status).toBe('CANCELLED');
      const settled = (await p.run(run.id))!;
      await new Promise((res) => setTimeout(res, 300));
      const later = (await p.run(run.id))!;
      expect(later).toMatchObject({ status: 'CANCELLED', created: settled.created });
      expect(later.created).toBeLessThan(3000);
      const next = await p.syncAndWait(id);
      expect(next).toMatchObject({ status: 'COMPLETED', created: 3000 - later.created });
      expect((await p.mfaUsers()).totalCount).toBe(3000);
    } finally {
      await small.close();
    }
  });
});

describe('sync: live progress', () => {
  test('streams phases and counts over graphql-ws to a final event with the summary', async () => {
    const small = await startTestServer({ SYNC_CHUNK_SIZE: '100', JOB_POLL_MS: '50' });
    try {
      const t = await seedTenant(small);
      const p = papi(small, t.token);
      const dir = await p.cloudDirectoryId();
      const g = (await p.createGroup('Stream')).group!.id;
      await seedGroupMembers(small, t, g, 2000, 'w', 'stream.test');
      const id = (await p.create()).provisioning!.id;
      await p.configure(id, dir, [g], { sendEnrollmentEmails: false });
      await p.deploy(id);
      const run = (await p.sync(id)).syncRun!;
      const events: SyncRunFieldsFragment[] = [];
      for await (const e of p.client.syncRunProgress({ runId: run.id })) events.push(e.syncRunProgress);
      await p.client.close();
      expect(events[0]!.id).toBe(run.id);
      const last = events[events.length - 1]!;
      expect(last).toMatchObject({ status: 'COMPLETED', phase: 'DONE', created: 2000, planned: 2000, percent: 100, desiredUsers: 2000 });
      expect(last.finishedAt).toBeTruthy();
      const phases = [...new Set(events.map((e) => e.phase))];
      expect(phases).toContain('CREATE');
      expect(phases.indexOf('CREATE')).toBeGreaterThan(phases.indexOf('PLANNING') === -1 ? -1 : phases.indexOf('PLANNING'));
      // Percent never goes backwards.
      const percents = events.map((e) => e.percent);
      expect(percents).toEqual([...percents].sort((x, y) => x - y));
      expect(events.length).toBeGreaterThan(3);
    } finally {
      await small.close();
    }
  });
});

describe('sync: selected users with the same username (defect 7)', () => {
  /** An LDAP directory and its built-in group, associated with the provisioning next to the Cloud Directory. */
  async function withLdap(p: ReturnType<typeof papi>, id: string, cloudGroupIds: string[]) {
    const ldap = (await p.createDirectory('LDAP', 'LDAP')).directory!.id;
    const ldapGroup = (await p.directoryGroups(ldap))[0]!.id;
    const cloud = await p.cloudDirectoryId();
    expect((await p.setDirectories(id, [cloud, ldap])).errors).toEqual([]);
    expect((await p.setGroups(id, cloud, cloudGroupIds)).errors).toEqual([]);
    expect((await p.setGroups(id, ldap, [ldapGroup])).errors).toEqual([]);
    await p.deploy(id);
    return { ldap, ldapGroup };
  }

  test('preview and run agree: the smallest directory-user id is created, the other fails with USERNAME_TAKEN', async ({ server: ts }) => {
    const { p, id, groups } = await setup(ts, ['Twins']);
    const cloudTwin = (await p.createUser({ email: 'twin@x.test', firstName: 'Cloud', lastName: 'Twin', groupIds: [groups.Twins!] })).user!
      .id;
    await p.addUsers(groups.Twins!, 'solo', 1);
    const { ldap } = await withLdap(p, id, [groups.Twins!]);
    const ldapTwin = (await p.createUser({ directoryId: ldap, username: 'TWIN@x.test', firstName: 'Ldap', lastName: 'Twin' })).user!.id;
    const raw = (g: string) => fromGlobalId(g, 'User')!;
    const [winner, loser] = raw(cloudTwin) < raw(ldapTwin) ? [cloudTwin, ldapTwin] : [ldapTwin, cloudTwin];
    const loserName = loser === cloudTwin ? 'twin@x.test' : 'TWIN@x.test';

    const preview = (await p.preview(id))!;
    expect(preview).toMatchObject({ desiredCount: 3, createCount: 2, failCount: 1, toFail: [{ username: loserName }] });
    expect(preview.toCreate.map((u) => u.directoryUserId)).toContain(winner);
    expect(preview.toCreate.map((u) => u.directoryUserId)).not.toContain(loser);

    const run = await p.syncAndWait(id);
    expect(run).toMatchObject({
      status: 'COMPLETED',
      plannedCreates: preview.createCount,
      created: preview.createCount,
      failed: preview.failCount,
    });
    expect(run.errors).toMatchObject([{ code: 'USERNAME_TAKEN', username: loserName }]);
    expect((await p.mfaUsers({ search: 'twin' })).nodes.map((u) => u.directoryUserId)).toEqual([winner]);
    // Stable: the next run keeps the winner and fails the other again.
    expect(await p.syncAndWait(id)).toMatchObject({ status: 'COMPLETED', created: 0, failed: 1, planned: 0 });
  });

  test('holds across planning chunks: collisions spanning key ranges are decided the same way', async () => {
    const small = await startTestServer({ SYNC_CHUNK_SIZE: '10', JOB_POLL_MS: '50' });
    try {
      const t = await seedTenant(small);
      const p = papi(small, t.token);
      const g = (await p.createGroup('Pairs')).group!.id;
      const id = (await p.create()).provisioning!.id;
      await p.update(id, { sendEnrollmentEmails: false, removalGuardMaxPercent: 100 });
      const { ldap, ldapGroup } = await withLdap(p, id, [g]);
      const n = 30;
      await seedGroupMembers(small, t, g, n, 'pair', 'twins.test');
      // The same people in the LDAP directory, usernames in upper case.
      await small.database.db.execute(sql`
        with u as (
          insert into users (tenant_id, directory_id, username, first_name, last_name, status)
          select ${t.tenantId}::uuid, ${fromGlobalId(ldap, 'Directory')}::uuid, upper('pair' || i || '@twins.test'), 'L' || i, 'Twin', 'ACTIVE'
          from generate_series(1, ${n}::int) i
          returning id)
        insert into group_memberships (group_id, user_id, tenant_id) select ${fromGlobalId(ldapGroup, 'Group')}::uuid, id, ${t.tenantId}::uuid from u`);
      const preview = (await p.preview(id))!;
      expect(preview).toMatchObject({ desiredCount: 2 * n, createCount: n, failCount: n });
      const run = await p.syncAndWait(id);
      expect(run).toMatchObject({ status: 'COMPLETED', created: n, failed: n, plannedCreates: n });
      expect(run.errors).toHaveLength(n);
      expect(run.errors.every((e) => e.code === 'USERNAME_TAKEN')).toBe(true);
      // Each pair's smallest directory-user id holds the username.
      const wrong = await countRows(
        small,
        sql`select count(*)::int as n from (
              select lower(coalesce(u.username, u.email)) as k, min(u.id::text) as first from users u
              where u.tenant_id = ${t.tenantId} and lower(coalesce(u.username, u.email)) like 'pair%'
              group by 1) x
            where not exists (select 1 from mfa_users m where m.tenant_id = ${t.tenantId} and m.directory_user_id::text = x.first)`,
      );
      expect(wrong).toBe(0);
    } finally {
      await small.close();
    }
  });
});
