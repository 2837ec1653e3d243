import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { enroll, seedGroupMembers } from './support/provisioning-api.js';

/**
 * Issue 5's "done": through the typed client against a started server, a subscriber watches a
 * 100,000-user sync stream its progress to completion; deselecting a group and syncing
 * removes exactly its users and their devices.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });

describe('MFA provisioning through the typed client', () => {
  test('streams a 100k-user sync to completion; deselecting a group removes exactly its users and devices', async ({
    server: ts,
    tenant: t,
    admin: client,
  }) => {
    const dir = (await client.directories()).directories.nodes.find((d) => d.kind === 'CLOUD')!.id;
    const everyone = (await client.createGroup({ input: { name: 'Everyone' } })).createGroup.group!.id;
    const contractors = (await client.createGroup({ input: { name: 'Contractors' } })).createGroup.group!.id;
    await seedGroupMembers(ts, t, everyone, 100_000, 'e', 'big.test');
    for (const i of [0, 1, 2]) {
      const r = await client.createUser({
        input: { email: `c${i}@contract.test`, firstName: `C${i}`, lastName: 'Contractor', groupIds: [contractors] },
      });
      expect(r.createUser.errors).toEqual([]);
    }

    const created = await client.createProvisioning({ input: { kind: 'EAA', name: 'Company MFA' } });
    expect(created.createProvisioning.errors).toEqual([]);
    const id = created.createProvisioning.provisioning!.id;
    expect((await client.setProvisioningDirectories({ input: { id, directoryIds: [dir] } })).setProvisioningDirectories.errors).toEqual([]);
    expect(
      (await client.setProvisioningGroups({ input: { id, directoryId: dir, groupIds: [everyone, contractors] } })).setProvisioningGroups
        .errors,
    ).toEqual([]);
    expect((await client.updateProvisioning({ input: { id, sendEnrollmentEmails: false } })).updateProvisioning.errors).toEqual([]);
    expect((await client.deployProvisioning({ input: { id } })).deployProvisioning.provisioning!.deployedVersion).toBe(1);

    const watch = async (runId: string) => {
      const events: { status: string; phase: string; percent: number; created: number; removed: number; devicesRemoved: number }[] = [];
      for await (const e of client.syncRunProgress({ runId })) events.push(e.syncRunProgress);
      return events;
    };
    const first = (await client.syncProvisioning({ input: { id } })).syncProvisioning.syncRun!;
    const events = await watch(first.id);
    const done = events[events.length - 1]!;
    expect(done).toMatchObject({ status: 'COMPLETED', phase: 'DONE', percent: 100, created: 100_003 });
    expect(events.length).toBeGreaterThan(5);
    expect(events.some((e) => e.phase === 'PLANNING')).toBe(true);
    expect(events.some((e) => e.phase === 'CREATE' && e.created > 0 && e.created < 100_003)).toBe(true);
    const percents = events.map((e) => e.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect((await client.mfaUsers({ first: 1 })).mfaUsers.totalCount).toBe(100_003);

    // Two contractors enrol devices (links sent through the client, enrolment is public).
    const contractorUsers = (await client.mfaUsers({ first: 10, filter: { search: 'c' } })).mfaUsers.nodes.filter((u) =>
      u.email?.endsWith('@contract.test'),
    );
    expect(contractorUsers).toHaveLength(3);
    for (const u of contractorUsers.slice(0, 2)) {
      expect((await client.sendMfaEnrollment({ input: { mfaUserId: u.id } })).sendMfaEnrollment.errors).toEqual([]);
      const token = tokenOf(await waitForMailLink(ts, u.email!));
      expect(await enroll(ts, token, `${u.firstName}'s phone`)).toMatchObject({ success: true, mfaUserId: u.id });
    }

    // Deselect Contractors: Save & Deploy, preview, sync.
    await client.setProvisioningGroups({ input: { id, directoryId: dir, groupIds: [everyone] } });
    await client.deployProvisioning({ input: { id } });
    const plan = (await client.previewSync({ id })).previewSync!;
    expect(plan).toMatchObject({
      removeCount: 3,
      devicesRemovedCount: 2,
      createCount: 0,
      updateCount: 0,
      groupRemoveCount: 1,
      requiresApproval: false,
    });
    expect(plan.toRemove.map((u) => u.username).sort()).toEqual(['c0@contract.test', 'c1@contract.test', 'c2@contract.test']);
    const second = (await client.syncProvisioning({ input: { id } })).syncProvisioning.syncRun!;
    const after = await watch(second.id);
    expect(after[after.length - 1]).toMatchObject({ status: 'COMPLETED', removed: 3, devicesRemoved: 2, created: 0 });
    expect((await client.mfaUsers({ first: 1 })).mfaUsers.totalCount).toBe(100_000);
    expect((await client.mfaUsers({ first: 10, filter: { search: 'c0@contract' } })).mfaUsers.totalCount).toBe(0);
    const run = (await client.syncRun({ id: second.id })).syncRun!;
    expect(run).toMatchObject({ plannedRemovals: 3, removed: 3, devicesRemoved: 2, errors: [] });
  }, 180_000);
});
