import type { Viewer } from '../../shared/context.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { toGlobalId } from '../../shared/ids.js';
import type { JobContext, JobQueue } from '../../shared/jobs/queue.js';
import type { Logger } from '../../shared/logger.js';
import { topicFor, type PubSub } from '../../shared/pubsub.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import { configOf } from './provisioning.service.js';
import { ACTIVE_RUN_STATUSES, type ProvisioningStore } from './provisioning.store.js';
import type { SyncRunRow } from './provisioning.types.js';
import type { SyncStore } from './sync.store.js';

export const SYNC_QUEUE = 'sync.run';

/** Progress 0–100 from the counts (planning counts as the first 5 %). */
export function percentOf(r: Pick<SyncRunRow, 'status' | 'planned' | 'created' | 'updated' | 'removed' | 'claimed' | 'phase'>): number {
  if (r.status === 'COMPLETED') return 100;
  if (r.phase === 'QUEUED' || r.phase === 'PLANNING') return 0;
  if (!r.planned) return r.phase === 'DONE' ? 100 : 5;
  return Math.min(99, 5 + (95 * (r.created + r.updated + r.removed + r.claimed)) / r.planned);
}

/** The JSON-safe event published on `syncRun:<id>` (also what the subscription yields). */
export function runEvent(r: SyncRunRow) {
  return { ...r, percent: percentOf(r), createdAt: r.createdAt, startedAt: r.startedAt, finishedAt: r.finishedAt, errors: [] };
}

/**
 * Sync runs: one active run per provisioning (database-enforced), executed on the shared job
 * queue in chunks, progress published after each commit and at least every second.
 */
export class SyncService {
  private schedulerTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly store: ProvisioningStore,
    private readonly sync: SyncStore,
    private readonly tenants: TenantStore,
    private readonly mfa: MfaService,
    private readonly jobs: JobQueue,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
  ) {}

  register(): void {
    this.jobs.register(SYNC_QUEUE, (ctx) => this.execute(ctx), 2);
  }

  /** Every replica ticks; `claimDue` hands each due provisioning to exactly one of them. */
  startScheduler(tickMs: number): void {
    const tick = async () => {
      try {
        const due = await this.store.claimDue();
        for (const p of due) await this.start(p.tenant_id, p.id, 'SCHEDULED', null);
      } catch (err) {
        this.log.error({ err }, 'sync scheduler tick failed');
      }
    };
    this.schedulerTimer = setInterval(() => void tick(), tickMs);
    this.schedulerTimer.unref();
  }

  stopScheduler(): void {
    if (this.schedulerTimer) clearInterval(this.schedulerTimer);
  }

  private async publish(run: SyncRunRow | null): Promise<void> {
    if (run) await this.pubsub.publish(topicFor('syncRun', run.id), runEvent(run));
  }

  /** Starts a run, or returns the active one. Safe under any number of concurrent calls. */
  async start(tenantId: string, provisioningId: string, trigger: 'MANUAL' | 'SCHEDULED', actor: string | null): Promise<SyncRunRow> {
    const run = await this.db.transaction(async (tx) => {
      const p = await this.store.lock(tenantId, provisioningId, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      if (!p.deployed) throw DomainError.of(ErrorCode.INVALID_STATE, 'Save and deploy the configuration before syncing.', ['input', 'id']);
      const active = await this.store.activeRun(provisioningId, tx);
      if (active) return active;
      const created = await this.store.insertRun({ tenantId, provisioningId, deployedVersion: p.deployedVersion, trigger, requestedBy: actor }, tx);
      if (!created) return (await this.store.activeRun(provisioningId, tx))!;
      await this.jobs.enqueue({ queue: SYNC_QUEUE, tenantId, payload: { runId: created.id }, singletonKey: `sync:${provisioningId}`, maxAttempts: 3 }, tx);
      return created;
    });
    await this.publish(run);
    return run;
  }

  manual(viewer: Viewer, provisioningId: string): Promise<SyncRunRow> {
    return this.start(viewer.tenantId, provisioningId, 'MANUAL', viewer.userId);
  }

  async approve(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    const run = await this.db.transaction(async (tx) => {
      const [r] = await this.store.runsByIds(viewer.tenantId, [runId], tx);
      if (!r) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (r.status !== 'AWAITING_APPROVAL') throw DomainError.of(ErrorCode.INVALID_STATE, 'Only a run awaiting approval can be approved.', ['input', 'runId']);
      const updated = await this.store.transitionRun(r.id, ['AWAITING_APPROVAL'], { status: 'QUEUED', approved: 1, phase: 'QUEUED' }, tx);
      if (!updated) throw DomainError.of(ErrorCode.INVALID_STATE, 'Only a run awaiting approval can be approved.', ['input', 'runId']);
      await this.jobs.enqueue({ queue: SYNC_QUEUE, tenantId: viewer.tenantId, payload: { runId: r.id }, singletonKey: `sync:${r.provisioningId}`, maxAttempts: 3 }, tx);
      return updated!;
    });
    await this.publish(run);
    return run;
  }

  async cancel(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    const run = await this.db.transaction(async (tx) => {
      const [r] = await this.store.runsByIds(viewer.tenantId, [runId], tx);
      if (!r) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (!ACTIVE_RUN_STATUSES.includes(r.status)) throw DomainError.of(ErrorCode.INVALID_STATE, 'The run has already ended.', ['input', 'runId']);
      await this.sync.clearStage(tx, r.id);
      const cancelled = await this.store.transitionRun(r.id, ACTIVE_RUN_STATUSES, { status: 'CANCELLED', finishedAt: new Date() }, tx);
      if (!cancelled) throw DomainError.of(ErrorCode.INVALID_STATE, 'The run has already ended.', ['input', 'runId']);
      return cancelled;
    });
    await this.publish(run);
    return run;
  }

  async preview(viewer: Viewer, provisioningId: string) {
    const [p] = await this.store.byIds(viewer.tenantId, [provisioningId]);
    if (!p) return null;
    const cfg = configOf(p.deployed ?? p.draft);
    const plan = await this.sync.plan(this.db, {
      tenantId: viewer.tenantId,
      provisioningId,
      includeManual: cfg.includeManuallyProvisionedUsers,
      source: { groupIds: cfg.directories.flatMap((d) => d.groupIds) },
      listLimit: 100,
    });
    const c = plan.counts;
    return {
      createCount: c.creates,
      updateCount: c.updates,
      claimCount: cfg.includeManuallyProvisionedUsers ? c.manual : 0,
      skipCount: cfg.includeManuallyProvisionedUsers ? 0 : c.manual,
      removeCount: c.removals,
      devicesRemovedCount: c.devices,
      requiresApproval: this.guardTrips(c.removals, c.owned, cfg),
      toCreate: plan.toCreate.map(planUser),
      toUpdate: plan.toUpdate.map(planUser),
      toClaim: plan.toClaim.map(planUser),
      toRemove: plan.toRemove.map(planUser),
    };
  }

  private guardTrips(removals: number, owned: number, cfg: { removalGuardMaxUsers: number; removalGuardMaxPercent: number }): boolean {
    if (removals === 0) return false;
    return removals > cfg.removalGuardMaxUsers || (owned > 0 && (removals * 100) / owned > cfg.removalGuardMaxPercent);
  }

  /** The job: plan, guard, then apply in chunks. Resumable: every step recomputes from the current state. */
  private async execute({ job, signal, log }: JobContext): Promise<void> {
    const { runId } = job.payload as { runId: string };
    let run = await this.store.runById(runId);
    if (!run || !['QUEUED', 'RUNNING'].includes(run.status)) return;
    const [p] = await this.store.byIds(run.tenantId, [run.provisioningId]);
    if (!p?.deployed) {
      await this.publish(await this.store.updateRun(runId, { status: 'FAILED', error: 'The provisioning has no deployed configuration.', finishedAt: new Date() }));
      return;
    }
    const cfg = configOf(p.deployed);
    const tenant = await this.tenants.byId(run.tenantId);
    const groupIds = cfg.directories.flatMap((d) => d.groupIds);
    const t = run.tenantId;
    const pid = run.provisioningId;
    const approved = run.approved === 1;

    // Live progress: the latest committed state, at least once a second.
    let latest: SyncRunRow = run;
    const ticker = setInterval(() => void this.publish(latest), 500);
    const set = async (patch: Partial<SyncRunRow>) => {
      const r = await this.store.updateRun(runId, patch);
      if (r) latest = r;
      await this.publish(latest);
      return r;
    };
    const stillActive = async () => {
      // Let requests queued behind this run's transactions go first (PGlite has one connection).
      await new Promise((resolve) => setTimeout(resolve, 1));
      const r = await this.store.runById(runId);
      if (!r || r.status === 'CANCELLED') throw new CancelledRun();
      latest = r;
      if (signal.aborted) throw new Error('sync interrupted');
    };
    try {
      const started = await this.store.transitionRun(runId, ['QUEUED', 'RUNNING'], { status: 'RUNNING', phase: 'PLANNING', startedAt: run.startedAt ?? new Date(), error: null });
      if (!started) return; // cancelled in the meantime
      run = latest = started;
      await this.publish(latest);

      // Plan on the materialised desired set (staged in its own transaction; the plan only reads).
      await this.db.transaction((tx) => this.sync.stageDesired(tx, runId, t, groupIds));
      const plan = await this.sync.plan(this.db, { tenantId: t, provisioningId: pid, includeManual: cfg.includeManuallyProvisionedUsers, source: { runId }, listLimit: 0 });
      const c = plan.counts;
      const claims = cfg.includeManuallyProvisionedUsers ? c.manual : 0;
      await set({
        planned: c.creates + c.updates + claims + c.removals,
        plannedRemovals: c.removals,
        skipped: cfg.includeManuallyProvisionedUsers ? 0 : c.manual,
        failed: c.failures,
        errors: plan.failures.map((f) => ({ directoryUserId: f.user_id, username: f.username, code: 'USERNAME_TAKEN', message: 'Another MFA user already has this username.' })),
      });

      if (!approved && this.guardTrips(c.removals, c.owned, cfg)) {
        await this.db.transaction((tx) => this.sync.saveRemovalSet(tx, runId, t, pid));
        latest = (await this.store.transitionRun(runId, ['RUNNING'], { status: 'AWAITING_APPROVAL', phase: 'AWAITING_APPROVAL' })) ?? latest;
        await this.publish(latest);
        log.info({ removals: c.removals, owned: c.owned }, 'sync stopped by the removal guard');
        return;
      }

      await stillActive();
      await set({ phase: 'GROUPS' });
      await this.db.transaction((tx) => this.sync.syncGroups(tx, t, pid, groupIds, cfg.includeManuallyProvisionedUsers));

      if (cfg.includeManuallyProvisionedUsers) {
        await set({ phase: 'CLAIM' });
        for (;;) {
          await stillActive();
          const n = await this.db.transaction(async (tx) => {
            const k = await this.sync.claimChunk(tx, runId, t, pid);
            if (k) await this.store.addCounts(runId, { claimed: k }, tx);
            return k;
          });
          if (!n) break;
          await this.publish((latest = (await this.store.runById(runId))!));
        }
      }

      await set({ phase: 'CREATE' });
      for (;;) {
        await stillActive();
        const n = await this.db.transaction(async (tx) => {
          const created = await this.sync.createChunk(tx, runId, t, pid);
          if (!created.length) return 0;
          if (cfg.sendEnrollmentEmails) {
            await this.mfa.sendEnrollment(tx, t, tenant!.name, created.map((u) => ({ id: u.id, email: u.email, firstName: u.first_name })));
          }
          await this.store.addCounts(runId, { created: created.length }, tx);
          return created.length;
        });
        if (!n) break;
        await this.publish((latest = (await this.store.runById(runId))!));
      }

      await stillActive();
      await set({ phase: 'UPDATE' });
      await this.db.transaction(async (tx) => {
        const n = await this.sync.updateChanged(tx, runId, pid);
        if (n) await this.store.addCounts(runId, { updated: n }, tx);
      });

      await set({ phase: 'MEMBERSHIPS' });
      await this.db.transaction((tx) => this.sync.syncMemberships(tx, t, pid));

      await set({ phase: 'REMOVE' });
      for (;;) {
        await stillActive();
        const r = await this.db.transaction(async (tx) => {
          const k = await this.sync.removeChunk(tx, runId, t, pid, approved);
          if (k.users) await this.store.addCounts(runId, { removed: k.users, devicesRemoved: k.devices }, tx);
          return k.users;
        });
        if (!r) break;
        await this.publish((latest = (await this.store.runById(runId))!));
      }

      await this.db.transaction((tx) => this.sync.clearStage(tx, runId));
      latest = (await this.store.transitionRun(runId, ['RUNNING'], { status: 'COMPLETED', phase: 'DONE', finishedAt: new Date() })) ?? latest;
      await this.publish(latest);
    } catch (err) {
      if (err instanceof CancelledRun) {
        await this.publish(await this.store.runById(runId));
        return;
      }
      if (signal.aborted) throw err; // shutdown: the job is resumed elsewhere
      if (job.attempts >= job.maxAttempts) {
        latest = (await this.store.transitionRun(runId, ['RUNNING'], { status: 'FAILED', error: err instanceof Error ? err.message : String(err), finishedAt: new Date() })) ?? latest;
        await this.publish(latest);
      }
      throw err;
    } finally {
      clearInterval(ticker);
    }
  }
}

class CancelledRun extends Error {}

function planUser(r: { user_id: string | null; mfa_id: string | null; username: string; email: string | null; devices: number }) {
  return {
    directoryUserId: r.user_id ? toGlobalId('User', r.user_id) : null,
    mfaUserId: r.mfa_id ? toGlobalId('MfaUser', r.mfa_id) : null,
    username: r.username,
    email: r.email,
    enrolledDevices: Number(r.devices),
  };
}
