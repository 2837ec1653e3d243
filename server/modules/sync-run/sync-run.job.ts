import type { Db, Executor } from '../../shared/db.js';
import { ErrorCode, isConnectionError, safeMessage } from '../../shared/errors.js';
import { yieldTurn, type ChunkedRunner, type ChunkedWork } from '../../shared/jobs/chunked-run.js';
import { PermanentJobError, type JobContext, type JobQueue } from '../../shared/jobs/queue.js';
import type { Logger } from '../../shared/logger.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { ProvisioningStore } from '../provisioning/provisioning.store.js';
import { configOf } from '../provisioning/provisioning.types.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import type { SyncApplyStore } from './sync-apply.store.js';
import { mfaUserEvent, runActor, runSummary, changedFields } from './sync-run.audit.js';
import type { AuditService } from '../audit/audit.service.js';
import type { AuditEntry } from '../audit/audit.types.js';
import { publishRun } from './sync-run.events.js';
import type { ClassifyOptions, SyncPlanStore } from './sync-plan.store.js';
import {
  collisionLosers,
  groupPlan,
  guardTrips,
  KEY_SPACE,
  keySpan,
  nextApplyPhase,
  rangeCount,
  type GroupPlan,
  type KeyRange,
  type RunConfig,
} from './sync-plan.js';
import type { RunCountDeltas, RunPatch, SyncRunStore } from './sync-run.store.js';
import { isRunEnded, SyncRunPhase, SyncRunStatus, WORKABLE_RUN_STATUSES, type SyncRunErrorRow, type SyncRunRow } from './sync-run.types.js';

export const SYNC_QUEUE = 'sync.run';
/** Staging rows deleted per transaction when a run's plan is cleared. */
const CLEAR_CHUNK = 10_000;

const FAIL_MESSAGE = 'The username is held by another MFA user, or by another selected user who takes precedence.';

/** The group plan of a configuration now: the store fetches the groups, `groupPlan` decides. */
export async function planGroups(
  plans: SyncPlanStore,
  tx: Executor,
  o: { tenantId: string; provisioningId: string; directoryIds: string[]; groupIds: string[]; includeManual: boolean },
): Promise<GroupPlan> {
  const enabled = await plans.enabledGroups(tx, o.tenantId, o.groupIds, o.directoryIds);
  const mfa = await plans.mfaGroupsFor(
    tx,
    o.tenantId,
    o.provisioningId,
    enabled.map((g) => g.name.toLowerCase()),
  );
  return groupPlan(enabled, mfa, o);
}

/** The desired users that lose a username collision (`collisionLosers`), among the contested ones. */
export async function planCollisions(
  plans: SyncPlanStore,
  tx: Executor,
  c: ClassifyOptions,
  contested: readonly string[],
): Promise<string[]> {
  return [...collisionLosers(await plans.collisionCandidates(tx, c, contested))];
}

interface StepResult {
  deltas?: RunCountDeltas;
  patch?: RunPatch;
  errors?: SyncRunErrorRow[];
  /** The chunk's per-user audit events, written in its transaction. */
  audit?: AuditEntry[];
}

export interface SyncRunJobDeps {
  db: Db;
  runs: SyncRunStore;
  plans: SyncPlanStore;
  apply: SyncApplyStore;
  provisionings: ProvisioningStore;
  tenants: TenantStore;
  mfa: MfaService;
  runner: ChunkedRunner;
  pubsub: PubSub;
  log: Logger;
  chunkSize: number;
  audit: AuditService;
}

/**
 * The job of a sync run, on the shared chunk engine (`ChunkedRunner`): each chunk locks the run
 * row, checks that the run is still RUNNING and still this job's, advances its phase by one key
 * range and checkpoints counters and cursor in the same transaction. Pacing, progress events
 * (with their heartbeat) and the PGlite pauses are the engine's.
 */
export class SyncRunJob {
  constructor(private readonly d: SyncRunJobDeps) {}

  register(jobs: JobQueue): void {
    jobs.register(SYNC_QUEUE, (ctx) => this.execute(ctx), 2);
  }

  private async execute({ job, signal, log }: JobContext): Promise<void> {
    const { runs, db } = this.d;
    const { runId } = job.payload as { runId: string };
    const first = await runs.byId(runId);
    if (!first || first.jobId !== job.id || !WORKABLE_RUN_STATUSES.includes(first.status)) return;
    try {
      // Start, or resume after a crash or a failed attempt (whose note in `error` is cleared).
      const started = await db.transaction(async (tx) => {
        const r = await runs.lock(runId, tx);
        if (!r || r.jobId !== job.id || !WORKABLE_RUN_STATUSES.includes(r.status)) return null;
        const phase = r.phase === SyncRunPhase.QUEUED ? SyncRunPhase.PLANNING : r.phase;
        return runs.checkpoint(
          runId,
          {},
          { status: SyncRunStatus.RUNNING, startedAt: r.startedAt ?? new Date(), phase, ...(r.error ? { error: null } : {}) },
          [],
          tx,
        );
      });
      if (!started) return await this.taken(runId);
      const tenantName = (await this.d.tenants.byId(started.tenantId))?.name ?? 'your organisation';
      const outcome = await this.d.runner.run(started, this.work(job.id, runId, tenantName), signal);
      if (outcome.kind === 'gone') return await this.taken(runId);
      const r = outcome.run;
      log.info(
        { runId, status: r.status, created: r.created, updated: r.updated, removed: r.removed, slowestChunkMs: outcome.slowestChunkMs },
        'sync run stopped',
      );
      if (r.status === SyncRunStatus.COMPLETED) await this.clearStaging(runId);
    } catch (err) {
      // Shutdown, a lost lease or a dropped database connection: the job is resumed from its
      // checkpoint (the queue re-runs it), so the run is neither failed nor marked for it.
      if (signal.aborted || isConnectionError(err)) throw err;
      const message = safeMessage(err);
      const last = job.attempts >= job.maxAttempts || err instanceof PermanentJobError;
      const failed = await runs.transition(
        runId,
        WORKABLE_RUN_STATUSES,
        last
          ? { status: SyncRunStatus.FAILED, error: message, finishedAt: new Date() }
          : { error: `Attempt ${job.attempts} failed (${message}); retrying.` },
      );
      await publishRun(this.d.pubsub, failed);
      if (last) this.clearStagingLater(runId);
      throw err;
    }
  }

  /** The run ended or was handed to another job while this one worked: publish where it stands, stop quietly. */
  private async taken(runId: string): Promise<void> {
    const now = await this.d.runs.byId(runId);
    await publishRun(this.d.pubsub, now);
    if (now && isRunEnded(now.status)) await this.clearStaging(runId);
  }

  private work(jobId: string, runId: string, tenantName: string): ChunkedWork<SyncRunRow> {
    const { runs } = this.d;
    return {
      lock: async (tx) => {
        const r = await runs.lock(runId, tx);
        return r && r.jobId === jobId ? r : null;
      },
      isActive: (r) => r.status === SyncRunStatus.RUNNING,
      step: async (tx, r, _prepared, pace) => {
        const out = await this.advance(tx, r, tenantName, pace);
        const next = await runs.checkpoint(r.id, out.deltas ?? {}, out.patch ?? {}, out.errors ?? [], tx);
        await this.d.audit.record(tx, r.tenantId, runActor(r), [
          ...(out.audit ?? []),
          ...(isRunEnded(next.status) ? [runSummary(next)] : []),
        ]);
        return next;
      },
      publish: (r) => publishRun(this.d.pubsub, r),
      phaseOf: (r) => r.phase,
    };
  }

  private nextPhase(after: SyncRunPhase, r: SyncRunRow): RunPatch {
    const next = nextApplyPhase(after, r);
    if (next) return { phase: next, cursor: null };
    return { phase: SyncRunPhase.DONE, status: SyncRunStatus.COMPLETED, cursor: null, finishedAt: new Date() };
  }

  /**
   * Advances a RUNNING run by one chunk of its current phase. A chunk is a slice of the key
   * space: `pace` (1/256 to 4) times the slice that holds about `SYNC_CHUNK_SIZE` rows; the
   * cursor is where the next slice starts.
   */
  private async advance(tx: Executor, r: SyncRunRow, tenantName: string, pace: number): Promise<StepResult> {
    const { plans, apply } = this.d;
    const cfg = r.config as RunConfig | null;
    const slice = (from: number, ranges: number): { range: KeyRange; next: number } => {
      const width = Math.max(1, Math.floor((KEY_SPACE / ranges) * pace));
      return { range: keySpan(from, width), next: from + width };
    };
    const applied = (ranges: number) => slice(r.cursor ? Number(r.cursor) : 0, ranges);
    const moveOn = (phase: SyncRunPhase, next: number): RunPatch =>
      next < KEY_SPACE ? { cursor: String(next) } : this.nextPhase(phase, r);
    const target = { tenantId: r.tenantId, provisioningId: r.provisioningId };
    switch (r.phase) {
      case SyncRunPhase.PLANNING: {
        if (!cfg) return this.initPlan(tx, r);
        const cls = { ...target, groupIds: cfg.groupIds, targetGroupIds: cfg.targetGroupIds, includeManual: cfg.includeManual };
        const [step, from] = (r.cursor ?? 'u:0').split(':') as [string, string];
        if (step === 'u') {
          const { range, next } = slice(Number(from), cfg.ranges);
          const staged = await plans.stage(tx, r.id, cls, range);
          // The owned users of the same directory users are checked for removal in the same
          // chunk: one index range, instead of a second walk over every owned user.
          const scanned = cfg.removalsWithUsers
            ? (await plans.planRemovals(tx, r.id, r.provisioningId, cfg.groupIds, { user: range })).scanned
            : 0;
          if (next < KEY_SPACE) return { deltas: { staged, ownedAtPlan: scanned }, patch: { cursor: `u:${next}` } };
          if (cfg.removalsWithUsers) {
            const unlinked = await plans.planRemovals(tx, r.id, r.provisioningId, cfg.groupIds, 'unlinked');
            return { ...(await this.finishPlan(tx, r, cfg, scanned + unlinked.scanned)), deltas: { staged } };
          }
          const ownedRanges = rangeCount(await plans.countOwned(tx, r.provisioningId), this.d.chunkSize);
          return { deltas: { staged }, patch: { cursor: 'r:0', config: { ...cfg, ownedRanges } } };
        }
        // A run planned before removals went with the desired users: the owned users by their ids.
        const { range, next } = slice(Number(from), cfg.ownedRanges ?? 1);
        const rm = await plans.planRemovals(tx, r.id, r.provisioningId, cfg.groupIds, { owner: range });
        if (next >= KEY_SPACE) return this.finishPlan(tx, r, cfg, rm.scanned);
        return { deltas: { ownedAtPlan: rm.scanned }, patch: { cursor: `r:${next}` } };
      }
      case SyncRunPhase.GROUPS: {
        await apply.applyGroups(tx, { ...target, targetGroupIds: cfg!.targetGroupIds, includeManual: cfg!.includeManual });
        return { patch: this.nextPhase(SyncRunPhase.GROUPS, r) };
      }
      case SyncRunPhase.CLAIM: {
        const { range, next } = applied(cfg!.ranges);
        const c = await apply.claimChunk(tx, r.id, target, range);
        return {
          audit: c.users.map((m) => mfaUserEvent(r, 'sync.claim', m, { source: { before: 'MANUAL', after: 'PROVISIONING' } })),
          deltas: { claimed: c.claimed, failed: c.failed.length },
          errors: c.failed.map((f) => ({
            directoryUserId: f.userId,
            username: f.username,
            code: ErrorCode.CLAIM_CONFLICT,
            message: 'The MANUAL user it matched was claimed or removed meanwhile.',
          })),
          patch: moveOn(SyncRunPhase.CLAIM, next),
        };
      }
      case SyncRunPhase.CREATE: {
        const { range, next } = applied(cfg!.ranges);
        // The creates' events are written by the insert itself (no rows travel back and forth).
        const emails = cfg!.sendEnrollmentEmails;
        const c = await apply.createChunk(tx, r.id, target, range, { audit: this.d.audit.cte(r.tenantId, runActor(r)), users: emails });
        await this.d.audit.announce(tx, r.tenantId, c.auditedRange);
        // Tokens and emails are written with the users they belong to: a resumed chunk finds
        // the users already there, creates nothing and so sends nothing twice.
        if (emails && c.users.length) await this.d.mfa.sendEnrollment(tx, r.tenantId, tenantName, c.users);
        return {
          deltas: { created: c.created, failed: c.failed.length },
          errors: c.failed.map((f) => ({
            directoryUserId: f.userId,
            username: f.username,
            code: ErrorCode.USERNAME_TAKEN,
            message: 'Another MFA user took this username meanwhile.',
          })),
          patch: moveOn(SyncRunPhase.CREATE, next),
        };
      }
      case SyncRunPhase.UPDATE: {
        const { range, next } = applied(cfg!.ranges);
        const u = await apply.updateChunk(tx, r.id, target, range);
        return {
          audit: u.users.map((m) =>
            mfaUserEvent(r, 'sync.update', { id: m.id, username: String(m.fields['username']?.[1] ?? '') }, changedFields(m.fields)),
          ),
          deltas: { updated: u.updated },
          patch: moveOn(SyncRunPhase.UPDATE, next),
        };
      }
      case SyncRunPhase.REMOVE: {
        const { range, next } = applied(cfg!.ownedRanges ?? 1);
        const x = await apply.removeChunk(tx, r.id, { ...target, groupIds: cfg!.groupIds }, range);
        return {
          audit: x.users.map((m) =>
            mfaUserEvent(r, 'sync.remove', m, {
              username: { before: m.username, after: null },
              email: { before: m.email, after: null },
              devices: { before: m.devices, after: 0 },
            }),
          ),
          deltas: { removed: x.removed, devicesRemoved: x.devices },
          patch: moveOn(SyncRunPhase.REMOVE, next),
        };
      }
      default:
        throw new PermanentJobError(`sync run in unexpected phase ${r.phase}`);
    }
  }

  /**
   * First planning chunk: freeze the deployed configuration, size the desired set, and decide
   * its username collisions over the whole set (the losers are staged now, as FAIL; the key-range
   * chunks that follow leave staged rows alone).
   */
  private async initPlan(tx: Executor, r: SyncRunRow): Promise<StepResult> {
    const { plans } = this.d;
    const [p] = await this.d.provisionings.byIds(r.tenantId, [r.provisioningId], tx);
    if (!p?.deployed) throw new PermanentJobError('The provisioning has no deployed configuration.');
    const deployed = configOf(p.deployed);
    const directoryIds = deployed.directories.map((x) => x.directoryId);
    const includeManual = deployed.includeManuallyProvisionedUsers;
    const target = { tenantId: r.tenantId, provisioningId: r.provisioningId };
    const { groupIds, targetGroupIds, ...groups } = await planGroups(plans, tx, {
      ...target,
      directoryIds,
      groupIds: deployed.directories.flatMap((x) => x.groupIds),
      includeManual,
    });
    const desired = await plans.desiredSummary(tx, r.tenantId, groupIds);
    const owned = await plans.countOwned(tx, r.provisioningId);
    const cls = { ...target, groupIds, targetGroupIds, includeManual };
    const losers = await planCollisions(plans, tx, cls, desired.contested);
    const staged = losers.length ? await plans.stage(tx, r.id, { ...cls, losers }, { only: losers }) : 0;
    const config: RunConfig = {
      deployedVersion: p.deployedVersion,
      directoryIds,
      groupIds,
      targetGroupIds,
      sendEnrollmentEmails: deployed.sendEnrollmentEmails,
      includeManual,
      removalGuardMaxUsers: deployed.removalGuardMaxUsers,
      removalGuardMaxPercent: deployed.removalGuardMaxPercent,
      groups,
      // A key range holds about a chunk of desired users and of owned users (checked for removal with them).
      ranges: rangeCount(Math.max(desired.total, owned), this.d.chunkSize),
      ownedRanges: rangeCount(owned, this.d.chunkSize),
      removalsWithUsers: true,
    };
    return { deltas: { staged }, patch: { config, deployedVersion: p.deployedVersion, desiredTotal: desired.total, cursor: 'u:0' } };
  }

  /** Last planning chunk: totals, the error list, and the removal guard. */
  private async finishPlan(tx: Executor, r: SyncRunRow, cfg: RunConfig, lastScanned: number): Promise<StepResult> {
    const c = await this.d.plans.stagedCounts(tx, r.id);
    const owned = r.ownedAtPlan + lastScanned;
    const failures = await this.d.plans.stagedFailures(tx, r.id, 1000);
    const plan: RunPatch = {
      plannedCreates: c.creates,
      plannedUpdates: c.updates,
      plannedClaims: c.claims,
      plannedRemovals: c.removals,
      plannedDevicesRemoved: c.devices,
      ownedAtPlan: owned,
      planned: c.creates + c.updates + c.claims + c.removals,
      skipped: c.skips,
      failed: c.fails,
      plannedAt: new Date(),
      cursor: null,
    };
    const errors = failures.map((f) => ({
      directoryUserId: f.userId,
      username: f.username,
      code: f.errorCode ?? ErrorCode.USERNAME_TAKEN,
      message: FAIL_MESSAGE,
    }));
    if (!r.approved && guardTrips(c.removals, owned, cfg)) {
      return { patch: { ...plan, status: SyncRunStatus.AWAITING_APPROVAL, phase: SyncRunPhase.AWAITING_APPROVAL }, errors };
    }
    return { patch: { ...plan, phase: SyncRunPhase.GROUPS }, errors };
  }

  clearStagingLater(runId: string): void {
    this.clearStaging(runId).catch((err: unknown) =>
      this.d.log.warn({ err, runId }, 'clearing sync staging failed (the scheduler retries)'),
    );
  }

  /** Deletes an ended run's staging rows in chunks (`maxChunks` per call), then marks it cleared. */
  async clearStaging(runId: string, maxChunks = Infinity): Promise<void> {
    const { db, runs, plans } = this.d;
    for (let i = 0; i < maxChunks; i++) {
      await yieldTurn(this.d.runner.sharesOneConnection);
      const done = await db.transaction(async (tx) => {
        const r = await runs.lock(runId, tx);
        if (!r || !isRunEnded(r.status) || r.stagingCleared) return true;
        if ((await plans.clearStagingChunk(tx, runId, CLEAR_CHUNK)) > 0) return false;
        await runs.update(runId, { stagingCleared: true }, tx);
        return true;
      });
      if (done) return;
    }
  }
}
