import type { Viewer } from '../../shared/viewer.js';
import type { Db, Executor } from '../../shared/db.js';
import { badUserInput, DomainError, ErrorCode } from '../../shared/errors.js';
import { keysetPage } from '../../shared/pagination.js';
import { liveProgress } from '../../shared/progress.js';
import { toGlobalId } from '../../shared/ids.js';
import { PermanentJobError, type JobContext, type JobQueue, type JobRow } from '../../shared/jobs/queue.js';
import type { Logger } from '../../shared/logger.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import { configOf } from './provisioning.service.js';
import { ACTIVE_RUN_STATUSES, type ProvisioningStore, type RunCountDeltas } from './provisioning.store.js';
import type { ConfigJson, SyncRunRow } from './provisioning.types.js';
import { KEY_SPACE, keySlice, keySpan, planOrder, rangeCount, type GroupPlan, type KeyRange, type PlanAction, type PlanListRow, type SyncStore } from './sync.store.js';

export const SYNC_QUEUE = 'sync.run';

/** The deployed configuration a run plans and applies, resolved and frozen when it starts planning. */
export interface RunConfig {
  deployedVersion: number;
  directoryIds: string[];
  groupIds: string[];
  targetGroupIds: string[];
  sendEnrollmentEmails: boolean;
  includeManual: boolean;
  removalGuardMaxUsers: number;
  removalGuardMaxPercent: number;
  groups: Omit<GroupPlan, 'groupIds' | 'targetGroupIds'>;
  /** Slices of the key space holding about one chunk of desired users each. */
  ranges: number;
  /** Slices holding about one chunk of owned MFA users each, fixed when removal planning starts. */
  ownedRanges?: number;
}

/** Apply phases in order, with the planned count that makes each worth visiting. */
const APPLY_PHASES: { phase: string; planned: (r: SyncRunRow) => number }[] = [
  { phase: 'GROUPS', planned: () => 1 },
  { phase: 'CLAIM', planned: (r) => r.plannedClaims },
  { phase: 'CREATE', planned: (r) => r.plannedCreates },
  { phase: 'UPDATE', planned: (r) => r.plannedUpdates },
  { phase: 'REMOVE', planned: (r) => r.plannedRemovals },
];

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];
/** Rows per read of a preview. */
const PREVIEW_CHUNK = 5000;

/** On PGlite (one connection in this process), gives waiting requests a turn between reads. */
function pause(sharesOneConnection: boolean): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, sharesOneConnection ? 10 : 0));
}

/** How long one chunk transaction should take at most. */
const CHUNK_TARGET_MS = 200;
/** Chunks quicker than that grow up to this many times SYNC_CHUNK_SIZE rows. */
const MAX_PACE = 4;
const CLEAR_CHUNK = 10_000;

/** Progress 0–100: planning is the first 10 %, applying the plan the rest. */
export function percentOf(r: Pick<SyncRunRow, 'status' | 'phase' | 'staged' | 'desiredTotal' | 'planned' | 'created' | 'updated' | 'removed' | 'claimed'>): number {
  if (r.status === 'COMPLETED') return 100;
  if (r.phase === 'QUEUED') return 0;
  if (r.phase === 'PLANNING') return r.desiredTotal > 0 ? Math.round(10 * Math.min(1, r.staged / r.desiredTotal) * 10) / 10 : 0;
  if (r.phase === 'AWAITING_APPROVAL' || !r.planned) return 10;
  const done = r.created + r.updated + r.removed + r.claimed;
  return Math.min(99, Math.round((10 + (90 * done) / r.planned) * 10) / 10);
}

/** The JSON-safe event published on `syncRun:<id>`: the run's state without its error list or plan (NOTIFY < 8000 bytes). */
export function runEvent(r: SyncRunRow) {
  return {
    id: r.id,
    tenantId: r.tenantId,
    provisioningId: r.provisioningId,
    deployedVersion: r.deployedVersion,
    trigger: r.trigger,
    status: r.status,
    phase: r.phase,
    approved: r.approved,
    desiredTotal: r.desiredTotal,
    staged: r.staged,
    planned: r.planned,
    plannedCreates: r.plannedCreates,
    plannedUpdates: r.plannedUpdates,
    plannedClaims: r.plannedClaims,
    plannedRemovals: r.plannedRemovals,
    plannedDevicesRemoved: r.plannedDevicesRemoved,
    ownedAtPlan: r.ownedAtPlan,
    created: r.created,
    updated: r.updated,
    removed: r.removed,
    claimed: r.claimed,
    skipped: r.skipped,
    failed: r.failed,
    devicesRemoved: r.devicesRemoved,
    percent: percentOf(r),
    error: r.error ? r.error.slice(0, 500) : null,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    plannedAt: r.plannedAt,
    finishedAt: r.finishedAt,
    stagingCleared: r.stagingCleared,
  };
}

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `syncRun:<id>`: the run's counts and phase after each chunk and on a heartbeat. */
    syncRun: ReturnType<typeof runEvent>;
  }
}

/** Turns an event back into the row shape the SyncRun resolvers read (dates were serialised). */
export function runFromEvent(e: ReturnType<typeof runEvent> | Record<string, unknown>): SyncRunRow {
  const d = (v: unknown) => (v ? new Date(v as string) : null);
  const o = e as Record<string, unknown>;
  return {
    ...(o as unknown as SyncRunRow),
    createdAt: d(o.createdAt)!,
    startedAt: d(o.startedAt),
    plannedAt: d(o.plannedAt),
    finishedAt: d(o.finishedAt),
    errors: null,
    config: null,
    cursor: null,
    jobId: null,
    requestedBy: null,
  } as SyncRunRow;
}

export function guardTrips(removals: number, owned: number, cfg: { removalGuardMaxUsers: number; removalGuardMaxPercent: number }): boolean {
  if (removals === 0) return false;
  return removals > cfg.removalGuardMaxUsers || (owned > 0 && (removals * 100) / owned > cfg.removalGuardMaxPercent);
}

/** The run ended or was handed to another job while this one worked: stop quietly. */
class RunGone extends Error {}

interface StepResult {
  deltas?: RunCountDeltas;
  patch?: Partial<SyncRunRow>;
  errors?: unknown[];
}

export interface PlanView {
  basedOn: 'DEPLOYED' | 'DRAFT' | 'RUN';
  deployedVersion: number;
  desiredCount: number;
  ownedUserCount: number;
  createCount: number;
  updateCount: number;
  keepCount: number;
  claimCount: number;
  skipCount: number;
  failCount: number;
  removeCount: number;
  devicesRemovedCount: number;
  groupCreateCount: number;
  groupClaimCount: number;
  groupRenameCount: number;
  groupRemoveCount: number;
  groupSkipCount: number;
  requiresApproval: boolean;
  listLimit: number;
  toCreate: ReturnType<typeof planUser>[];
  toUpdate: ReturnType<typeof planUser>[];
  toClaim: ReturnType<typeof planUser>[];
  toSkip: ReturnType<typeof planUser>[];
  toFail: ReturnType<typeof planUser>[];
  toRemove: ReturnType<typeof planUser>[];
}

/**
 * Sync runs. One active run per provisioning (a partial unique index), executed by the
 * shared job queue as a sequence of short transactions — "chunks" — each of which locks the
 * run row, checks that the run is still RUNNING and still belongs to this job, applies one
 * bounded set-based step and checkpoints the counters and cursor. A job whose process died is
 * re-run by the queue and continues from the last checkpoint; a cancel or approval takes the
 * same row lock, so it is seen by the very next chunk.
 */
export class SyncService {
  private schedulerTimer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(
    private readonly db: Db,
    private readonly store: ProvisioningStore,
    private readonly sync: SyncStore,
    private readonly tenants: TenantStore,
    private readonly mfa: MfaService,
    private readonly jobs: JobQueue,
    private readonly pubsub: PubSub,
    private readonly log: Logger,
    private readonly opts: { chunkSize: number; sharesOneConnection: boolean },
  ) {}

  register(): void {
    this.jobs.register(SYNC_QUEUE, (ctx) => this.execute(ctx), 2);
  }

  /** Every replica ticks; `claimDue` hands each due provisioning to exactly one of them. */
  startScheduler(tickMs: number): void {
    this.schedulerTimer = setInterval(() => void this.tick(), tickMs);
    this.schedulerTimer.unref();
  }

  stopScheduler(): void {
    if (this.schedulerTimer) clearInterval(this.schedulerTimer);
    this.schedulerTimer = null;
  }

  /** One scheduler pass: due syncs, runs orphaned by a dead job, staging rows of ended runs. */
  async tick(): Promise<void> {
    if (this.ticking) return; // a slow pass (a busy PGlite) must not overlap the next one
    this.ticking = true;
    try {
      for (const p of await this.store.claimDue()) {
        try {
          await this.start(p.tenant_id, p.id, 'SCHEDULED', null);
        } catch (err) {
          // e.g. the tenant lost an entitlement: this interval is skipped, the next one retries.
          this.log.warn({ err, provisioningId: p.id }, 'scheduled sync not started');
        }
      }
      for (const r of await this.store.failOrphanedRuns()) {
        this.log.warn({ runId: r.id }, 'sync run failed: its job ended without it');
        await this.publish(r);
      }
      for (const id of await this.store.unclearedRuns(3)) await this.clearStaging(id, 1);
    } catch (err) {
      this.log.error({ err }, 'sync scheduler tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private async publish(run: SyncRunRow | null): Promise<void> {
    if (run) await this.pubsub.publish('syncRun', run.id, runEvent(run));
  }

  /** Starts a run, or returns the active one. Safe under any number of concurrent calls and replicas. */
  async start(tenantId: string, provisioningId: string, trigger: 'MANUAL' | 'SCHEDULED', actor: string | null): Promise<SyncRunRow> {
    const { run, created } = await this.db.transaction(async (tx) => {
      // The provisioning row lock serialises concurrent starts; the partial unique index is the backstop.
      const p = await this.store.lock(tenantId, provisioningId, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      const tenant = await this.tenants.byId(tenantId, tx);
      if (!tenant || !['EAA', 'MFA'].every((e) => tenant.entitlements.includes(e))) {
        throw DomainError.of(ErrorCode.ENTITLEMENT_MISSING, 'Syncing needs the EAA and MFA entitlements.', ['input', 'id']);
      }
      if (!p.deployed) throw DomainError.of(ErrorCode.INVALID_STATE, 'Save and deploy the configuration before syncing.', ['input', 'id']);
      const active = await this.store.activeRun(provisioningId, tx);
      if (active) return { run: active, created: false };
      const inserted = await this.store.insertRun({ tenantId, provisioningId, deployedVersion: p.deployedVersion, trigger, requestedBy: actor }, tx);
      if (!inserted) return { run: (await this.store.activeRun(provisioningId, tx))!, created: false };
      // One job per run (not per provisioning): the previous run's job may still be marking
      // itself finished, and must not swallow this one. The run row names its job.
      const job = await this.jobs.enqueue({ queue: SYNC_QUEUE, tenantId, payload: { runId: inserted.id }, singletonKey: `sync-run:${inserted.id}`, maxAttempts: 3 }, tx);
      return { run: (await this.store.updateRun(inserted.id, { jobId: job.id }, tx))!, created: true };
    });
    if (created) await this.publish(run);
    return run;
  }

  /** A run of this tenant, read fresh (uncached). */
  async run(viewer: Viewer, id: string): Promise<SyncRunRow | null> {
    const [r] = await this.store.runsByIds(viewer.tenantId, [id]);
    return r ?? null;
  }

  /** Runs of a provisioning, newest first. */
  runsPage(viewer: Viewer, provisioningId: string, args: { first?: number | null; after?: string | null }) {
    return keysetPage(args, {
      key: (c) => {
        if (c.length !== 2 || typeof c[0] !== 'string' || typeof c[1] !== 'string') throw badUserInput('Invalid cursor: pass an endCursor returned by this connection.', 'after');
        return [c[0], c[1]] as [string, string];
      },
      fetch: (limit, cur) => this.store.runsPage(viewer.tenantId, provisioningId, limit, cur),
      cursorOf: (r) => [r.createdAt.toISOString(), r.id],
      count: () => this.store.runsCount(viewer.tenantId, provisioningId),
    });
  }

  /** The run's state now, then its progress events until it ends or waits for approval; null when not in this tenant. */
  async progress(viewer: Viewer, id: string) {
    const current = await this.run(viewer, id);
    if (!current) return null;
    return liveProgress({
      pubsub: this.pubsub,
      kind: 'syncRun',
      id: current.id,
      current: async () => runEvent((await this.store.runById(current.id))!),
      isTerminal: (e) => ['COMPLETED', 'FAILED', 'CANCELLED', 'AWAITING_APPROVAL'].includes(e.status),
    });
  }

  manual(viewer: Viewer, provisioningId: string): Promise<SyncRunRow> {
    return this.start(viewer.tenantId, provisioningId, 'MANUAL', viewer.userId);
  }

  /** Approves the stored plan of a run stopped by the removal guard: it is applied as planned. */
  async approve(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    const run = await this.db.transaction(async (tx) => {
      const r = await this.store.lockRun(runId, tx);
      if (!r || r.tenantId !== viewer.tenantId) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (r.status !== 'AWAITING_APPROVAL') throw DomainError.of(ErrorCode.INVALID_STATE, 'Only a run awaiting approval can be approved.', ['input', 'runId']);
      const job = await this.jobs.enqueue(
        { queue: SYNC_QUEUE, tenantId: r.tenantId, payload: { runId: r.id }, singletonKey: `sync-run:${r.id}:approved`, maxAttempts: 3 },
        tx,
      );
      return (await this.store.updateRun(r.id, { status: 'QUEUED', approved: 1, phase: 'GROUPS', cursor: null, jobId: job.id }, tx))!;
    });
    await this.publish(run);
    return run;
  }

  /** Cancels a queued, running or waiting run. What a running one already applied stays applied. */
  async cancel(viewer: Viewer, runId: string): Promise<SyncRunRow> {
    const run = await this.db.transaction(async (tx) => {
      const r = await this.store.lockRun(runId, tx);
      if (!r || r.tenantId !== viewer.tenantId) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such sync run.', ['input', 'runId']);
      if (!ACTIVE_RUN_STATUSES.includes(r.status)) throw DomainError.of(ErrorCode.INVALID_STATE, 'The run has already ended.', ['input', 'runId']);
      return (await this.store.updateRun(r.id, { status: 'CANCELLED', finishedAt: new Date() }, tx))!;
    });
    await this.publish(run);
    this.clearStagingLater(run.id);
    return run;
  }

  /** What a sync would do now, computed without writing. */
  async preview(viewer: Viewer, provisioningId: string, opts: { draft: boolean; limit: number }): Promise<PlanView | null> {
    const [p] = await this.store.byIds(viewer.tenantId, [provisioningId]);
    if (!p) return null;
    const useDraft = opts.draft || !p.deployed;
    const cfg = configOf(useDraft ? p.draft : p.deployed);
    const gp = await this.sync.groupPlan(this.db, {
      tenantId: p.tenantId,
      provisioningId: p.id,
      directoryIds: cfg.directories.map((d) => d.directoryId),
      groupIds: cfg.directories.flatMap((d) => d.groupIds),
      includeManual: cfg.includeManuallyProvisionedUsers,
    });
    // Read in key ranges, like a run plans, so a big preview never holds PGlite's one
    // connection (and the event loop) for long; lists are merged, counts summed.
    const cls = { tenantId: p.tenantId, provisioningId: p.id, groupIds: gp.groupIds, targetGroupIds: gp.targetGroupIds, includeManual: cfg.includeManuallyProvisionedUsers };
    const counts: Record<string, number> = {};
    const merged: Record<string, PlanListRow[]> = {};
    const add = (action: string, rows: PlanListRow[], key: 'user_id' | 'mfa_user_id') => {
      merged[action] = [...(merged[action] ?? []), ...rows].sort(planOrder(key)).slice(0, opts.limit);
    };
    const desiredRanges = rangeCount(await this.sync.countDesired(this.db, p.tenantId, gp.groupIds), PREVIEW_CHUNK);
    for (let i = 0; i < desiredRanges; i++) {
      const part = await this.sync.previewDesiredChunk(this.db, cls, keySlice(i, desiredRanges), opts.limit);
      for (const [a, n] of Object.entries(part.counts)) counts[a] = (counts[a] ?? 0) + Number(n);
      for (const [a, rows] of Object.entries(part.lists)) add(a, rows, 'user_id');
      await pause(this.opts.sharesOneConnection);
    }
    let owned = 0;
    let removals = 0;
    let devices = 0;
    const ownedRanges = rangeCount(await this.sync.countOwned(this.db, p.id), PREVIEW_CHUNK);
    for (let i = 0; i < ownedRanges; i++) {
      const part = await this.sync.previewRemovalsChunk(this.db, { provisioningId: p.id, groupIds: gp.groupIds }, keySlice(i, ownedRanges), opts.limit);
      owned += part.owned;
      removals += part.removals;
      devices += part.devices;
      add('REMOVE', part.list, 'mfa_user_id');
      await pause(this.opts.sharesOneConnection);
    }
    const n = (a: string) => counts[a] ?? 0;
    const list = (a: string) => (merged[a] ?? []).map(planUser);
    const c = { creates: n('CREATE'), updates: n('UPDATE'), keeps: n('KEEP'), claims: n('CLAIM'), skips: n('SKIP'), fails: n('FAIL'), removals, devices, owned, desired: Object.values(counts).reduce((x, y) => x + y, 0) };
    return {
      basedOn: useDraft ? 'DRAFT' : 'DEPLOYED',
      deployedVersion: p.deployedVersion,
      desiredCount: c.desired,
      ownedUserCount: c.owned,
      createCount: c.creates,
      updateCount: c.updates,
      keepCount: c.keeps,
      claimCount: c.claims,
      skipCount: c.skips,
      failCount: c.fails,
      removeCount: c.removals,
      devicesRemovedCount: c.devices,
      groupCreateCount: gp.creates,
      groupClaimCount: gp.claims,
      groupRenameCount: gp.renames,
      groupRemoveCount: gp.removes,
      groupSkipCount: gp.skips,
      requiresApproval: guardTrips(c.removals, c.owned, cfg),
      listLimit: opts.limit,
      toCreate: list('CREATE'),
      toUpdate: list('UPDATE'),
      toClaim: list('CLAIM'),
      toSkip: list('SKIP'),
      toFail: list('FAIL'),
      toRemove: list('REMOVE'),
    };
  }

  /** The plan a run computed (lists only while its staging rows exist: until shortly after it ends). */
  async runPlan(run: SyncRunRow, limit: number): Promise<PlanView | null> {
    if (!run.plannedAt) return null;
    const cfg = run.config as RunConfig | null;
    const withLists = !run.stagingCleared && !TERMINAL.includes(run.status);
    const list = async (a: PlanAction | 'REMOVE') => (withLists ? (await this.sync.stagedList(this.db, run.id, a, limit)).map(planUser) : []);
    const staged = withLists ? await this.sync.stagedCounts(this.db, run.id) : null;
    return {
      basedOn: 'RUN',
      deployedVersion: run.deployedVersion,
      desiredCount: staged?.desired ?? run.staged,
      ownedUserCount: run.ownedAtPlan,
      createCount: run.plannedCreates,
      updateCount: run.plannedUpdates,
      keepCount: staged?.keeps ?? Math.max(0, run.staged - run.plannedCreates - run.plannedUpdates - run.plannedClaims - run.skipped),
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
      toCreate: await list('CREATE'),
      toUpdate: await list('UPDATE'),
      toClaim: await list('CLAIM'),
      toSkip: await list('SKIP'),
      toFail: await list('FAIL'),
      toRemove: await list('REMOVE'),
    };
  }

  /** The job. Runs chunk after chunk until the run ends, stops for approval, or is taken away. */
  private async execute({ job, signal, log }: JobContext): Promise<void> {
    const { runId } = job.payload as { runId: string };
    const first = await this.store.runById(runId);
    if (!first || first.jobId !== job.id || !['QUEUED', 'RUNNING'].includes(first.status)) return;
    let latest = first;
    let lastPublished = 0;
    let lastPhase = '';
    const publish = async (force: boolean) => {
      const now = Date.now();
      if (!force && latest.phase === lastPhase && now - lastPublished < 250) return;
      lastPublished = now;
      lastPhase = latest.phase;
      await this.publish(latest);
    };
    // A heartbeat, so a subscriber sees at least one event a second even in a long phase.
    const heartbeat = setInterval(() => void publish(true).catch((err: unknown) => log.warn({ err }, 'progress publish failed')), 500);
    try {
      // Start, or resume after a crash or a failed attempt (whose note in `error` is cleared).
      latest = await this.step(job, runId, signal, true, async (_tx, r) => ({
        patch: {
          status: 'RUNNING',
          startedAt: r.startedAt ?? new Date(),
          phase: r.phase === 'QUEUED' ? 'PLANNING' : r.phase,
          ...(r.error ? { error: null } : {}),
        },
      }));
      await publish(true);
      const tenantName = (await this.tenants.byId(latest.tenantId))?.name ?? 'your organisation';
      // Chunks aim at CHUNK_TARGET_MS: a chunk that takes longer (big rows, emails, a slow
      // disk, PGlite sharing its one connection) makes the next ones narrower, so progress
      // events and other requests are never held up for long; quick ones widen, up to
      // MAX_PACE × SYNC_CHUNK_SIZE rows. The slowest chunk per phase is logged with the outcome.
      const slowest: Record<string, number> = {};
      let pace = 1;
      while (latest.status === 'RUNNING') {
        const phase = latest.phase;
        const t0 = Date.now();
        latest = await this.step(job, runId, signal, false, (tx, r) => this.advance(tx, r, tenantName, pace));
        const ms = Date.now() - t0;
        slowest[phase] = Math.max(slowest[phase] ?? 0, ms);
        if (latest.phase !== phase) pace = 1;
        else if (ms > CHUNK_TARGET_MS) pace = Math.max(1 / 256, pace * Math.max(0.25, CHUNK_TARGET_MS / ms));
        else if (ms < CHUNK_TARGET_MS / 2) pace = Math.min(MAX_PACE, pace * 2);
        await publish(latest.status !== 'RUNNING');
        // PGlite is one connection in this process: between chunks, leave it to requests for a
        // while (a third of the chunk's time), or they queue behind chunk after chunk.
        if (this.opts.sharesOneConnection) await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.round(ms / 3))));
      }
      clearInterval(heartbeat);
      log.info(
        { runId, status: latest.status, created: latest.created, updated: latest.updated, removed: latest.removed, slowestChunkMs: slowest },
        'sync run stopped',
      );
      if (latest.status === 'COMPLETED') await this.clearStaging(runId);
    } catch (err) {
      if (err instanceof RunGone) {
        const now = await this.store.runById(runId);
        if (now) await this.publish(now);
        if (now && TERMINAL.includes(now.status)) await this.clearStaging(runId);
        return;
      }
      if (signal.aborted) throw err; // shutdown or lost lease: the job is resumed from its checkpoint
      const message = err instanceof Error ? err.message : String(err);
      const last = job.attempts >= job.maxAttempts || err instanceof PermanentJobError;
      const failed = await this.store.transitionRun(
        runId,
        ['QUEUED', 'RUNNING'],
        last ? { status: 'FAILED', error: message, finishedAt: new Date() } : { error: `Attempt ${job.attempts} failed (${message}); retrying.` },
      );
      if (failed) await this.publish(failed);
      if (last) this.clearStagingLater(runId);
      throw err;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** One chunk: lock the run, check it is still ours and running, do `fn`, checkpoint — one transaction. */
  private async step(
    job: JobRow,
    runId: string,
    signal: AbortSignal,
    allowQueued: boolean,
    fn: (tx: Executor, run: SyncRunRow) => Promise<StepResult>,
  ): Promise<SyncRunRow> {
    if (signal.aborted) throw new Error('sync interrupted');
    // Let requests waiting for PGlite's single connection go first.
    await new Promise((resolve) => setTimeout(resolve, 1));
    return this.db.transaction(async (tx) => {
      const r = await this.store.lockRun(runId, tx);
      if (!r || r.jobId !== job.id || !(r.status === 'RUNNING' || (allowQueued && r.status === 'QUEUED'))) throw new RunGone();
      const out = await fn(tx, r);
      return this.store.checkpoint(runId, out.deltas ?? {}, out.patch ?? {}, out.errors ?? [], tx);
    });
  }

  private nextPhase(after: string, r: SyncRunRow): Partial<SyncRunRow> {
    const i = APPLY_PHASES.findIndex((p) => p.phase === after);
    const next = APPLY_PHASES.slice(i + 1).find((p) => p.planned(r) > 0);
    if (next) return { phase: next.phase, cursor: null };
    return { phase: 'DONE', status: 'COMPLETED', cursor: null, finishedAt: new Date() };
  }

  /**
   * Advances a RUNNING run by one chunk of its current phase. A chunk is a slice of the key
   * space: `pace` (1/256 to MAX_PACE) times the slice that holds about `SYNC_CHUNK_SIZE` rows; the cursor is
   * where the next slice starts.
   */
  private async advance(tx: Executor, r: SyncRunRow, tenantName: string, pace: number): Promise<StepResult> {
    const n = this.opts.chunkSize;
    const cfg = r.config as RunConfig | null;
    const slice = (from: number, ranges: number): { range: KeyRange; next: number } => {
      const width = Math.max(1, Math.floor((KEY_SPACE / ranges) * pace));
      return { range: keySpan(from, width), next: from + width };
    };
    const apply = (ranges: number) => slice(r.cursor ? Number(r.cursor) : 0, ranges);
    const moveOn = (phase: string, next: number): Partial<SyncRunRow> => (next < KEY_SPACE ? { cursor: String(next) } : this.nextPhase(phase, r));
    const target = { tenantId: r.tenantId, provisioningId: r.provisioningId };
    switch (r.phase) {
      case 'PLANNING': {
        if (!cfg) return this.initPlan(tx, r);
        const cls = { ...target, groupIds: cfg.groupIds, targetGroupIds: cfg.targetGroupIds, includeManual: cfg.includeManual };
        const [step, from] = (r.cursor ?? 'u:0').split(':') as [string, string];
        if (step === 'u') {
          const { range, next } = slice(Number(from), cfg.ranges);
          const staged = await this.sync.stageChunk(tx, r.id, cls, range);
          if (next < KEY_SPACE) return { deltas: { staged }, patch: { cursor: `u:${next}` } };
          // The desired set is complete: walk the owned users for the removal set next.
          const ownedRanges = rangeCount(await this.sync.countOwned(tx, r.provisioningId), n);
          return { deltas: { staged }, patch: { cursor: 'r:0', config: { ...cfg, ownedRanges } } };
        }
        const { range, next } = slice(Number(from), cfg.ownedRanges ?? 1);
        const rm = await this.sync.planRemovalsChunk(tx, r.id, r.provisioningId, range);
        if (next >= KEY_SPACE) return this.finishPlan(tx, r, cfg, rm.scanned);
        return { deltas: { ownedAtPlan: rm.scanned }, patch: { cursor: `r:${next}` } };
      }
      case 'GROUPS': {
        await this.sync.applyGroups(tx, { ...target, targetGroupIds: cfg!.targetGroupIds, includeManual: cfg!.includeManual });
        return { patch: this.nextPhase('GROUPS', r) };
      }
      case 'CLAIM': {
        const { range, next } = apply(cfg!.ranges);
        const c = await this.sync.claimChunk(tx, r.id, target, range);
        return {
          deltas: { claimed: c.claimed, failed: c.failed.length },
          errors: c.failed.map((f) => ({ directoryUserId: f.user_id, username: f.username, code: 'CLAIM_CONFLICT', message: 'The MANUAL user it matched was claimed or removed meanwhile.' })),
          patch: moveOn('CLAIM', next),
        };
      }
      case 'CREATE': {
        const { range, next } = apply(cfg!.ranges);
        const c = await this.sync.createChunk(tx, r.id, target, range);
        // Tokens and emails are written with the users they belong to: a resumed chunk finds
        // the users already there, creates nothing and so sends nothing twice.
        if (cfg!.sendEnrollmentEmails && c.created.length) {
          await this.mfa.sendEnrollment(tx, r.tenantId, tenantName, c.created.map((u) => ({ id: u.id, email: u.email, firstName: u.first_name })));
        }
        return {
          deltas: { created: c.created.length, failed: c.failed.length },
          errors: c.failed.map((f) => ({ directoryUserId: f.user_id, username: f.username, code: 'USERNAME_TAKEN', message: 'Another MFA user already has this username.' })),
          patch: moveOn('CREATE', next),
        };
      }
      case 'UPDATE': {
        const { range, next } = apply(cfg!.ranges);
        const u = await this.sync.updateChunk(tx, r.id, target, range);
        return { deltas: { updated: u.updated }, patch: moveOn('UPDATE', next) };
      }
      case 'REMOVE': {
        const { range, next } = apply(cfg!.ownedRanges ?? 1);
        const x = await this.sync.removeChunk(tx, r.id, { ...target, groupIds: cfg!.groupIds }, range);
        return { deltas: { removed: x.removed, devicesRemoved: x.devices }, patch: moveOn('REMOVE', next) };
      }
      default:
        throw new PermanentJobError(`sync run in unexpected phase ${r.phase}`);
    }
  }

  /** First planning chunk: freeze the deployed configuration and size the desired set. */
  private async initPlan(tx: Executor, r: SyncRunRow): Promise<StepResult> {
    const [p] = await this.store.byIds(r.tenantId, [r.provisioningId], tx);
    if (!p?.deployed) throw new PermanentJobError('The provisioning has no deployed configuration.');
    const deployed: ConfigJson = configOf(p.deployed);
    const directoryIds = deployed.directories.map((d) => d.directoryId);
    const gp = await this.sync.groupPlan(tx, {
      tenantId: r.tenantId,
      provisioningId: r.provisioningId,
      directoryIds,
      groupIds: deployed.directories.flatMap((d) => d.groupIds),
      includeManual: deployed.includeManuallyProvisionedUsers,
    });
    const { groupIds, targetGroupIds, ...groups } = gp;
    const config: RunConfig = {
      deployedVersion: p.deployedVersion,
      directoryIds,
      groupIds,
      targetGroupIds,
      sendEnrollmentEmails: deployed.sendEnrollmentEmails,
      includeManual: deployed.includeManuallyProvisionedUsers,
      removalGuardMaxUsers: deployed.removalGuardMaxUsers,
      removalGuardMaxPercent: deployed.removalGuardMaxPercent,
      groups,
      ranges: 1,
    };
    const desiredTotal = await this.sync.countDesired(tx, r.tenantId, groupIds);
    config.ranges = rangeCount(desiredTotal, this.opts.chunkSize);
    return { patch: { config, deployedVersion: p.deployedVersion, desiredTotal, cursor: 'u:0' } };
  }

  /** Last planning chunk: totals, the error list, and the removal guard. */
  private async finishPlan(tx: Executor, r: SyncRunRow, cfg: RunConfig, lastScanned: number): Promise<StepResult> {
    const c = await this.sync.stagedCounts(tx, r.id);
    const owned = r.ownedAtPlan + lastScanned;
    const failures = await this.sync.stagedFailures(tx, r.id, 1000);
    const plan: Partial<SyncRunRow> = {
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
    const errors = failures.map((f) => ({ directoryUserId: f.user_id, username: f.username, code: f.error_code ?? 'USERNAME_TAKEN', message: 'Another MFA user already has this username.' }));
    if (!r.approved && guardTrips(c.removals, owned, cfg)) {
      return { patch: { ...plan, status: 'AWAITING_APPROVAL', phase: 'AWAITING_APPROVAL' }, errors };
    }
    return { patch: { ...plan, phase: 'GROUPS' }, errors };
  }

  private clearStagingLater(runId: string): void {
    this.clearStaging(runId).catch((err: unknown) => this.log.warn({ err, runId }, 'clearing sync staging failed (the scheduler retries)'));
  }

  /** Deletes an ended run's staging rows in chunks (`maxChunks` per call), then marks it cleared. */
  async clearStaging(runId: string, maxChunks = Infinity): Promise<void> {
    for (let i = 0; i < maxChunks; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const done = await this.db.transaction(async (tx) => {
        const r = await this.store.lockRun(runId, tx);
        if (!r || !TERMINAL.includes(r.status) || r.stagingCleared) return true;
        const n = await this.sync.clearStagingChunk(tx, runId, CLEAR_CHUNK);
        if (n > 0) return false;
        await this.store.updateRun(runId, { stagingCleared: true }, tx);
        return true;
      });
      if (done) return;
    }
  }
}

function planUser(r: PlanListRow) {
  return {
    directoryUserId: r.user_id ? toGlobalId('User', r.user_id) : null,
    mfaUserId: r.mfa_user_id ? toGlobalId('MfaUser', r.mfa_user_id) : null,
    username: r.username,
    email: r.email,
    enrolledDevices: Number(r.devices ?? 0),
  };
}
