import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';
import { clientOf, ok } from './support/directory-api.js';
import { papi } from './support/provisioning-api.js';

/**
 * A sync run's effects are audited user by user (create, update, claim, remove, written with
 * each chunk) plus one summary event, all readable from `SyncRun.auditEvents`.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });

describe('audit trail of sync runs', () => {
  test("a run's removals can be traced user by user, with updates' before/after and a summary", async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const p = papi(ts, t.token);
    const admin = clientOf(ts, t.token);
    const dir = await p.cloudDirectoryId();
    const sales = (await p.createGroup('Sales')).group!.id;
    const ops = (await p.createGroup('Ops')).group!.id;
    const [s0] = await p.addUsers(sales, 's', 2);
    await p.addUsers(ops, 'o', 2);
    const id = (await p.create()).provisioning!.id;
    await p.configure(id, dir, [sales, ops], { sendEnrollmentEmails: false, removalGuardMaxPercent: 100 });
    await p.deploy(id);
    const first = await p.syncAndWait(id);
    expect(first).toMatchObject({ status: 'COMPLETED', created: 4 });
    const created = (await admin.syncRunAuditEvents({ id: first.id, action: 'sync.create' })).syncRun!.auditEvents.nodes;
    expect(created.map((e) => e.target.name).sort()).toEqual(['o0@x.test', 'o1@x.test', 's0@x.test', 's1@x.test']);
    // Written by the create statement itself: every field from nothing to its value.
    const s0Created = created.find((e) => e.target.name === 's0@x.test')!;
    expect(s0Created.changes).toEqual([
      { field: 'email', before: null, after: '"s0@x.test"' },
      { field: 'firstName', before: null, after: '"s0"' },
      { field: 'lastName', before: null, after: '"User"' },
      { field: 'username', before: null, after: '"s0@x.test"' },
    ]);

    // Rename one user, deselect Ops: the next run updates one and removes two.
    ok((await admin.updateUser({ input: { id: s0!, firstName: 'Renamed' } })).updateUser);
    await p.configure(id, dir, [sales], { sendEnrollmentEmails: false, removalGuardMaxPercent: 100 });
    await p.deploy(id);
    const second = await p.syncAndWait(id);
    expect(second).toMatchObject({ status: 'COMPLETED', removed: 2, updated: 1 });

    const events = (await admin.syncRunAuditEvents({ id: second.id })).syncRun!.auditEvents.nodes;
    const removed = events.filter((e) => e.action === 'sync.remove');
    expect(removed.map((e) => e.target.name).sort()).toEqual(['o0@x.test', 'o1@x.test']);
    expect(removed[0]!.target.type).toBe('MfaUser');
    expect(removed[0]!.changes.find((c) => c.field === 'devices')).toEqual({ field: 'devices', before: '0', after: '0' });
    expect(removed[0]!.actor).toMatchObject({ kind: 'ADMIN', id: Buffer.from(`User:${t.adminUserId}`).toString('base64url') });
    const updated = events.find((e) => e.action === 'sync.update')!;
    expect(updated.changes).toEqual([{ field: 'firstName', before: '"s0"', after: '"Renamed"' }]);
    const summary = events.find((e) => e.action === 'sync.run')!;
    expect(Object.fromEntries(summary.changes.map((c) => [c.field, c.after]))).toMatchObject({
      removed: '2',
      updated: '1',
      status: '"COMPLETED"',
    });
    // The same events in the tenant-wide trail, filtered by action.
    const all = await admin.auditEvents({ filter: { action: 'sync.remove' } });
    expect(all.auditEvents.nodes).toHaveLength(2);
  });
});
