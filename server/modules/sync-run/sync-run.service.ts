import type { Viewer } from '../../shared/viewer.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { toGlobalId } from '../../shared/ids.js';
import { yieldTurn } from '../../shared/jobs/chunked-run.js';
import type { JobQueue } from '../../shared/jobs/queue.js';
import { keysetPage, timestampAndIdKey } from '../../shared/pagination.js';
import { liveProgress } from '../../shared/progress.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { ProvisioningStore } from '../provisioning/provisioning.store.js';
import { configOf } from '../provisioning/provisioning.types.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import { actorOf, type AuditService } from '../audit/audit.service.js';
import { runRequestEvent } from './sync-run.audit.js';
import { publishRunOnCommit, runEvent, runFromEvent } from './sync-run.events.js';
import { planCollisions, planGroups, SYNC_QUEUE, type SyncRunJob } from './sync-run.job.js';
import type { OwnedScope, SyncPlanStore } from './sync-plan.store.js';
import { guardTrips, inKeyRange, keySlice, mergeList, PlanAction, rangeCount, type PlanListRow, type RunConfig } from './sync-plan.js';
import type { SyncRunStore } from './sync-run.store.js';
import {
  ACTIVE_RUN_STATUSES,
  isRunEnded,
  PlanSource,
  STREAM_END_STATUSES,
  SyncRunPhase,
  SyncRunStatus,
  SyncTrigger,
  type SyncRunRow,
} from './sync-run.types.js';

/** Rows per read of a preview. */
const PREVIEW_CHUNK = 5000;

/** A plan as the SyncPlan type shows it (ids global). */
export type PlanView = Record<`${'create' | 'update' | 'keep' | 'claim' | 'skip' | 'fail' | 'remove'}Count`, number> & {
  basedOn: PlanSource;
  deployedVersion: number;
  desiredCount: number;
  ownedUserCount: number;
  devicesRemovedCount: number;
  groupCreateCount: number;
  groupClaimCount: number;
  groupRenameCount: number;
  groupRemoveCount: number;
  groupSkipCount: number;
  requiresApproval: boolean;
  listLimit: number;
} & Record<'toCreate' | 'toUpdate' | 'toClaim' | 'toSkip' | 'toFail' | 'toRemove', ReturnType<typeof planUser>[]>;

function planUser(r: PlanListRow) {
  return {
    directoryUserId: r.userId ? toGlobalId('User', r.userId) : null,
    mfaUserId: r.mfaUserId ? toGlobalId('MfaUser', r.mfaUserId) : null,
    username: r.username,
    email: r.email,
    enrolledDevices: Number(r.devices ?? 0),
  };
}

export interface SyncRunServiceDeps {
  db: Db;
  runs: SyncRunStore;
  plans: SyncPlanStore;
  provisionings: ProvisioningStore;
  tenants: TenantStore;
  job: SyncRunJob;
  jobs: JobQueue;
  pubsub: PubSub;
  sharesOneConnection: boolean;
  audit: AuditService;
}

/**
 * Sync runs: starting one (at most one active per provisioning, a partial unique index),
 * approving and cancelling it, its plan, history and live progress, and the preview. The run
 * itself is executed by `SyncRunJob`; the schedule by `SyncRunScheduler`.
 */
export class SyncRunService {
  constructor(private readonly d: SyncRunServiceDeps) {}

  /** Starts a run, or returns the active one. Safe under any number of concurrent calls and replicas. */
  async start(tenantId: string, provisioningId: string, trigger: SyncTrigger, viewer: Viewer | null): Promise<SyncRunRow> {
    const { runs } = this.d;
    return this.d.db.transaction(async (tx) => {
      // The provisioning row lock serialises concurrent starts; the partial unique index is the backstop.
      const p = await this.d.provisionings.lock(tenantId, provisioningId, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      const tenant = await this.d.tenants.byId(tenantId, tx);
      if (!tenant || !['EAA', 'MFA'].every((e) => tenant.entitlements.includes(e))) {
        throw DomainError.of(ErrorCode.ENTITLEMENT_MISSING, 'Syncing needs the EAA and MFA entitlements.', ['input', 'id']);
      }
      if (p.kind === 'SCIM')
        throw DomainError.of(ErrorCode.INVALID_STATE, 'A SCIM provisioning does not sync: its identity provider pushes changes.', [
          'input',
          'id',
        ]);
      if (!p.deployed) throw DomainError.of(ErrorCode.INVALID_STATE, 'Save and deploy the configuration before syncing.', ['input', 'id']);
      const active = await runs.active(provisioningId, tx);
      if (active) return active;
      const inserted = await runs.insert(
        {
          tenantId,
          provisioningId,
          deployedVersion: p.deployedVersion,
          trigger,
          requestedBy: viewer?.userId ?? null,
          requestedByTokenId: viewer?.apiToken?.id ?? null,
        },
        tx,
      );
      if (!inserted) return (await runs.active(provisioningId, tx))!;
      if (viewer) await this.d.audit.record(tx, tenantId, actorOf(viewer), runRequestEvent('sync.request', inserted, p.name));
      // One job per run (not per provisioning): the previous run's job may still be marking
      // itself finished, and must not swallow this one. The run row names its job.
      const job = await this.d.jobs.enqueue(
        { queue: SYNC_QUEUE, tenantId, payload: { runId: inserted.id }, singletonKey: `sync-run:${inserted.id}`, maxAttempts: 3 },
        tx,
      );
      const queued = (await runs.update(inserted.id, { jobId: job.id }, tx))!;
      await publishRunOnCommit(this.d.pubsub, tx, queued);
      return queued;
    });
  }

  manual(viewer: Viewer, provisioningId: string): Promise<SyncRunRow> {
    return this.start(viewer.tenantId, provisioningId, SyncTrigger.MANUAL, viewer);
  }

  /** A run of this tenant, read fresh (uncached). */
  async run(viewer: Viewer, id: string): Promise<SyncRunRow | null> {
    const [r] = await this.d.runs.byIds(viewer.tenantId, [id]);
    return r ?? null;
  }

  /** Runs of a provisioning, newest first. */
  runsPage(viewer: Viewer, provisioningId: string, args: { first?: number | null; after?: string | null }) {
    return keysetPage(args, {
      // Validated before SQL: the store casts the values to timestamptz and uuid.
      key: timestampAndIdKey,
      fetch: (limit, cur) => this.d.runs.page(viewer.tenantId, provisioningId, limit, cur),
      cursorOf: (r) => [r.createdAt.toISOString(), r.id],
      count: () => this.d.runs.count(viewer.tenantId, provisioningId),
    });
  }

  /** The run's state now, then its progress until it ends or waits for approval, as run rows; null when not in this tenant. */
  async progress(viewer: Viewer, id: string): Promise<AsyncIterableIterator<SyncRunRow> | null> {
    const current = await this.run(viewer, id);
    if (!current) return null;
    return liveProgress({
      pubsub: this.d.pubsub,
      kind: 'syncRun',
      id: current.id,
      current: async () => runEvent((await this.d.runs.byId(current.id))!),
      isTerminal: (e) => STREAM_END_STATUSES.includes(e.status),
      map: runFromEvent,
    });
  }

  /** A run's per-user errors (an event-decoded row has none: read the run). */
  async errors(viewer: Viewer, r: SyncRunRow) {
    const list = (r.errors ?? (await this.run(viewer, r.id))?.errors ?? []).slice(0, 1000);
    return list.map((e) => ({ ...e, directoryUserId: e.directoryUserId ? toGlobalId('User', e.directoryUserId) : null }));
  }

  /** Approves the stored plan of a run stopped by the removal guard: it is applied as planned. */
  async approve(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    return this.d.db.transaction(async (tx) => {
      const r = await this.d.runs.lock(runId, tx);
      if (!r || r.tenantId !== viewer.tenantId) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (r.status !== SyncRunStatus.AWAITING_APPROVAL)
        throw DomainError.of(ErrorCode.INVALID_STATE, 'Only a run awaiting approval can be approved.', ['input', 'runId']);
      const job = await this.d.jobs.enqueue(
        { queue: SYNC_QUEUE, tenantId: r.tenantId, payload: { runId: r.id }, singletonKey: `sync-run:${r.id}:approved`, maxAttempts: 3 },
        tx,
      );
      await this.d.audit.record(tx, r.tenantId, actorOf(viewer), runRequestEvent('sync.approve', r, null));
      const approved = (await this.d.runs.update(
        r.id,
        { status: SyncRunStatus.QUEUED, approved: true, phase: SyncRunPhase.GROUPS, cursor: null, jobId: job.id },
        tx,
      ))!;
      await publishRunOnCommit(this.d.pubsub, tx, approved);
      return approved;
    });
  }

  /** Cancels a queued, running or waiting run. What a running one already applied stays applied. */
  async cancel(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    const run = await this.d.db.transaction(async (tx) => {
      const r = await this.d.runs.lock(runId, tx);
      if (!r || r.tenantId !== viewer.tenantId) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (!ACTIVE_RUN_STATUSES.includes(r.status))
        throw DomainError.of(ErrorCode.INVALID_STATE, 'The run has already ended.', ['input', 'runId']);
      await this.d.audit.record(tx, r.tenantId, actorOf(viewer), {
        ...runRequestEvent('sync.cancel', r, null),
        changes: { status: { before: r.status, after: SyncRunStatus.CANCELLED } },
      });
      const cancelled = (await this.d.runs.update(r.id, { status: SyncRunStatus.CANCELLED, finishedAt: new Date() }, tx))!;
      await publishRunOnCommit(this.d.pubsub, tx, cancelled);
      return cancelled;
    });
    this.d.job.clearStagingLater(run.id);
    return run;
  }

  /**
   * What a sync would do now, computed without writing: the same group plan, collision rule and
   * classification as a run, read in key ranges (so a big preview never holds PGlite's one
   * connection for long); lists are merged, counts summed.
   */
  async preview(viewer: Viewer, provisioningId: string, opts: { draft: boolean; limit: number }): Promise<PlanView | null> {
    const { db, plans } = this.d;
    const [p] = await this.d.provisionings.byIds(viewer.tenantId, [provisioningId]);
    if (!p) return null;
    const useDraft = opts.draft || !p.deployed;
    const cfg = configOf(useDraft ? p.draft : p.deployed);
    const target = { tenantId: p.tenantId, provisioningId: p.id };
    const includeManual = cfg.includeManuallyProvisionedUsers;
    const gp = await planGroups(plans, db, {
      ...target,
      directoryIds: cfg.directories.map((d) => d.directoryId),
      groupIds: cfg.directories.flatMap((d) => d.groupIds),
      includeManual,
    });
    const cls = { ...target, groupIds: gp.groupIds, targetGroupIds: gp.targetGroupIds, includeManual };
    const desired = await plans.desiredSummary(db, p.tenantId, gp.groupIds);
    const losers = await planCollisions(plans, db, cls, desired.contested);
    const counts: Record<string, number> = {};
    const lists: Record<string, PlanListRow[]> = {};
    const removal = { owned: 0, removals: 0, devices: 0 };
    const removals = async (scope: OwnedScope) => {
      const part = await plans.previewRemovals(db, { provisioningId: p.id, groupIds: gp.groupIds }, scope, opts.limit);
      removal.owned += part.owned;
      removal.removals += part.removals;
      removal.devices += part.devices;
      lists.REMOVE = mergeList(lists.REMOVE, part.list, 'mfaUserId', opts.limit);
    };
    // As a run plans: each key range's desired users with the owned users of the same directory users.
    const ranges = rangeCount(Math.max(desired.total, await plans.countOwned(db, p.id)), PREVIEW_CHUNK);
    for (let i = 0; i < ranges; i++) {
      const range = keySlice(i, ranges);
      const part = await plans.previewDesired(db, { ...cls, losers: losers.filter((id) => inKeyRange(id, range)) }, range, opts.limit);
      for (const [a, n] of Object.entries(part.counts)) counts[a] = (counts[a] ?? 0) + Number(n);
      for (const [a, rows] of Object.entries(part.lists)) lists[a] = mergeList(lists[a], rows, 'userId', opts.limit);
      await removals({ user: range });
      await yieldTurn(this.d.sharesOneConnection);
    }
    await removals('unlinked');
    const n = (a: PlanAction) => counts[a] ?? 0;
    const list = (a: PlanAction | 'REMOVE') => (lists[a] ?? []).map(planUser);
    return {
      basedOn: useDraft ? PlanSource.DRAFT : PlanSource.DEPLOYED,
      deployedVersion: p.deployedVersion,
      desiredCount: Object.values(counts).reduce((x, y) => x + y, 0),
      ownedUserCount: removal.owned,
      createCount: n(PlanAction.CREATE),
      updateCount: n(PlanAction.UPDATE),
      keepCount: n(PlanAction.KEEP),
      claimCount: n(PlanAction.CLAIM),
      skipCount: n(PlanAction.SKIP),
      failCount: n(PlanAction.FAIL),
      removeCount: removal.removals,
      devicesRemovedCount: removal.devices,
      groupCreateCount: gp.creates,
      groupClaimCount: gp.claims,
      groupRenameCount: gp.renames,
      groupRemoveCount: gp.removes,
      groupSkipCount: gp.skips,
      requiresApproval: guardTrips(removal.removals, removal.owned, cfg),
      listLimit: opts.limit,
      toCreate: list(PlanAction.CREATE),
      toUpdate: list(PlanAction.UPDATE),
      toClaim: list(PlanAction.CLAIM),
      toSkip: list(PlanAction.SKIP),
      toFail: list(PlanAction.FAIL),
      toRemove: list('REMOVE'),
    };
  }

  /** The plan a run computed (lists only while its staging rows exist: until shortly after it ends). */
  async runPlan(viewer: Viewer, r: SyncRunRow, limit: number): Promise<PlanView | null> {
    // A row decoded from a progress event has no configuration: read the run.
    const run = r.config ? r : await this.run(viewer, r.id);
    if (!run?.plannedAt) return null;
    const { db, plans } = this.d;
    const cfg = run.config as RunConfig | null;
    const withLists = !run.stagingCleared && !isRunEnded(run.status);
    const list = async (a: PlanAction | 'REMOVE') => (withLists ? (await plans.stagedList(db, run.id, a, limit)).map(planUser) : []);
    const staged = withLists ? await plans.stagedCounts(db, run.id) : null;
    return {
      basedOn: PlanSource.RUN,
      deployedVersion: run.deployedVersion,
      desiredCount: run.staged,
      ownedUserCount: run.ownedAtPlan,
      createCount: run.plannedCreates,
      updateCount: run.plannedUpdates,
      keepCount: staged
        ? run.staged - staged.listed
        : Math.max(0, run.staged - run.plannedCreates - run.plannedUpdates - run.plannedClaims - run.skipped),
      claimCount: run.plannedClaims,
      skipCount: run.skipped,
      failCount: staged?.fails ?? 0,
      removeCount: run.plannedRemovals,
      devicesRemovedCount: run.plannedDevicesRemoved,
      groupCreateCount: cfg?.groups.creates ?? 0,
      groupClaimCount: cfg?.groups.claims ?? 0,
      groupRenameCount: cfg?.groups.renames ?? 0,
      groupRemoveCount: cfg?.groups.removes ?? 0,
      groupSkipCount: cfg?.groups.skips ?? 0,
      requiresApproval: cfg ? guardTrips(run.plannedRemovals, run.ownedAtPlan, cfg) : false,
      listLimit: withLists ? limit : 0,
      toCreate: await list(PlanAction.CREATE),
      toUpdate: await list(PlanAction.UPDATE),
      toClaim: await list(PlanAction.CLAIM),
      toSkip: await list(PlanAction.SKIP),
      toFail: await list(PlanAction.FAIL),
      toRemove: await list('REMOVE'),
    };
  }
}
