import { describe, expect, it } from 'vitest';
import {
  collisionLosers,
  groupPlan,
  guardTrips,
  inKeyRange,
  KEY_SPACE,
  keySlice,
  keySpan,
  nextApplyPhase,
  PlanAction,
  percentOf,
  planOrder,
  rangeCount,
} from '../server/modules/sync-run/sync-plan.js';
import { SyncRunPhase, SyncRunStatus } from '../server/modules/sync-run/sync-run.types.js';

const id = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;

describe('collisionLosers (defect 7)', () => {
  it('among creates, the smallest directory-user id holds the username; order does not matter', () => {
    const c = [
      { userId: id(3), key: 'twin@x.test', action: PlanAction.CREATE },
      { userId: id(1), key: 'twin@x.test', action: PlanAction.CREATE },
      { userId: id(2), key: 'twin@x.test', action: PlanAction.CREATE },
      { userId: id(9), key: 'solo@x.test', action: PlanAction.CREATE },
    ];
    expect([...collisionLosers(c)].sort()).toEqual([id(2), id(3)]);
    expect([...collisionLosers([...c].reverse())].sort()).toEqual([id(2), id(3)]);
  });

  it('a user already owning an MFA user wins, then a claim; skips and failures take nothing', () => {
    expect([
      ...collisionLosers([
        { userId: id(1), key: 'k', action: PlanAction.CREATE },
        { userId: id(5), key: 'k', action: PlanAction.UPDATE },
      ]),
    ]).toEqual([id(1)]);
    expect([
      ...collisionLosers([
        { userId: id(1), key: 'k', action: PlanAction.CREATE },
        { userId: id(5), key: 'k', action: PlanAction.CLAIM },
      ]),
    ]).toEqual([id(1)]);
    expect([
      ...collisionLosers([
        { userId: id(1), key: 'k', action: PlanAction.SKIP },
        { userId: id(5), key: 'k', action: PlanAction.CREATE },
      ]),
    ]).toEqual([]);
    // Only would-be creates lose: two claims of other MANUAL users both stay claims.
    expect([
      ...collisionLosers([
        { userId: id(1), key: 'k', action: PlanAction.CLAIM },
        { userId: id(5), key: 'k', action: PlanAction.CLAIM },
      ]),
    ]).toEqual([]);
  });
});

describe('key ranges', () => {
  it('slices cover the key space without gaps or overlaps', () => {
    const k = 7;
    const slices = Array.from({ length: k }, (_, i) => keySlice(i, k));
    expect(slices[0]!.lo).toBe('00000000-0000-0000-0000-000000000000');
    expect(slices[k - 1]!.hi).toBeNull();
    for (let i = 1; i < k; i++) expect(slices[i]!.lo).toBe(slices[i - 1]!.hi);
    expect(keySpan(KEY_SPACE - 10, 20).hi).toBeNull();
    expect(rangeCount(0, 2000)).toBe(1);
    expect(rangeCount(4001, 2000)).toBe(3);
  });

  it('inKeyRange compares like PostgreSQL orders uuids', () => {
    const r = keySpan(2, 3);
    expect([id(1), id(2), id(4), id(5)].map((x) => inKeyRange(x, r))).toEqual([false, true, true, false]);
  });
});

describe('plan rules', () => {
  it('planOrder sorts by lower-cased username in code-point order, then id', () => {
    const rows = [
      { userId: id(2), mfaUserId: null, username: 'b', email: null, devices: 0 },
      { userId: id(1), mfaUserId: null, username: 'B', email: null, devices: 0 },
      { userId: id(3), mfaUserId: null, username: 'a', email: null, devices: 0 },
    ];
    expect(rows.sort(planOrder('userId')).map((r) => r.userId)).toEqual([id(3), id(1), id(2)]);
  });

  it('guardTrips: over the user count or the percentage of owned users', () => {
    const cfg = { removalGuardMaxUsers: 2, removalGuardMaxPercent: 10 };
    expect(guardTrips(0, 0, cfg)).toBe(false);
    expect(guardTrips(3, 1000, cfg)).toBe(true);
    expect(guardTrips(2, 11, cfg)).toBe(true);
    expect(guardTrips(1, 10, cfg)).toBe(false);
  });

  it('percentOf: planning is the first 10 %, applying the rest', () => {
    const base = { staged: 0, desiredTotal: 0, planned: 0, created: 0, updated: 0, removed: 0, claimed: 0 };
    expect(percentOf({ ...base, status: SyncRunStatus.QUEUED, phase: SyncRunPhase.QUEUED })).toBe(0);
    expect(percentOf({ ...base, status: SyncRunStatus.RUNNING, phase: SyncRunPhase.PLANNING, staged: 50, desiredTotal: 100 })).toBe(5);
    expect(percentOf({ ...base, status: SyncRunStatus.RUNNING, phase: SyncRunPhase.CREATE, planned: 10, created: 5 })).toBe(55);
    expect(percentOf({ ...base, status: SyncRunStatus.COMPLETED, phase: SyncRunPhase.DONE })).toBe(100);
  });

  it('nextApplyPhase skips phases with nothing planned', () => {
    const r = { plannedClaims: 0, plannedCreates: 3, plannedUpdates: 0, plannedRemovals: 1 };
    expect(nextApplyPhase(SyncRunPhase.GROUPS, r)).toBe(SyncRunPhase.CREATE);
    expect(nextApplyPhase(SyncRunPhase.CREATE, r)).toBe(SyncRunPhase.REMOVE);
    expect(nextApplyPhase(SyncRunPhase.REMOVE, r)).toBeNull();
  });

  it('groupPlan: creates, claims (when asked), renames, removes and skips', () => {
    const enabled = [
      { id: id(1), name: 'Sales' },
      { id: id(2), name: 'Ops' },
      { id: id(3), name: 'Taken' },
    ];
    const mfa = [
      { id: 'm1', provisioningId: 'p', directoryGroupId: id(1), name: 'Old sales' },
      { id: 'm2', provisioningId: 'p', directoryGroupId: id(9), name: 'Gone' },
      { id: 'm3', provisioningId: null, directoryGroupId: null, name: 'ops' },
      { id: 'm4', provisioningId: 'other', directoryGroupId: null, name: 'Taken' },
    ];
    expect(groupPlan(enabled, mfa, { provisioningId: 'p', includeManual: true })).toEqual({
      groupIds: [id(1), id(2), id(3)],
      targetGroupIds: [id(1), id(2)],
      creates: 0,
      claims: 1,
      renames: 1,
      removes: 1,
      skips: 1,
    });
    expect(groupPlan(enabled, mfa, { provisioningId: 'p', includeManual: false })).toMatchObject({
      claims: 0,
      skips: 2,
      targetGroupIds: [id(1)],
    });
  });
});
