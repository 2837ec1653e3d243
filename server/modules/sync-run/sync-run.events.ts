import type { PubSub } from '../../shared/pubsub.js';
import type { Executor } from '../../shared/db.js';
import { percentOf } from './sync-plan.js';
import type { SyncRunRow } from './sync-run.types.js';

/**
 * The wire format of `syncRun:<id>` events, in one place: the run's state without its error
 * list, plan or configuration (NOTIFY payloads stay under 8000 bytes), dates as ISO strings.
 */
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
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    plannedAt: r.plannedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    stagingCleared: r.stagingCleared,
    requestedBy: r.requestedBy,
    requestedByTokenId: r.requestedByTokenId,
  };
}

export type SyncRunEvent = ReturnType<typeof runEvent>;

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `syncRun:<id>`: the run's counts and phase after each chunk and on a heartbeat. */
    syncRun: SyncRunEvent;
  }
}

/** The row of each event object: every local subscriber gets the same event, so the same row. */
const rowOfEvent = new WeakMap<SyncRunEvent, SyncRunRow>();

/**
 * An event back as a run row for the SyncRun resolvers. What the event leaves out is null:
 * `errors` and `config` null make the field resolvers read the run itself. One row per event
 * object: subscribers sharing an event then share its execution (`sharedSubscribe`).
 */
export function runFromEvent(e: SyncRunEvent): SyncRunRow {
  let row = rowOfEvent.get(e);
  if (!row) rowOfEvent.set(e, (row = rowFrom(e)));
  return row;
}

function rowFrom(e: SyncRunEvent): SyncRunRow {
  const d = (v: string | null) => (v ? new Date(v) : null);
  const { percent: _percent, ...rest } = e;
  return {
    ...rest,
    createdAt: new Date(e.createdAt),
    startedAt: d(e.startedAt),
    plannedAt: d(e.plannedAt),
    finishedAt: d(e.finishedAt),
    errors: null,
    config: null,
    cursor: null,
    jobId: null,
  };
}

/** Publishes a run's state (after its transaction committed). */
export async function publishRun(pubsub: PubSub, run: SyncRunRow | null): Promise<void> {
  if (run) await pubsub.publish('syncRun', run.id, runEvent(run));
}

/**
 * Publishes a run's state when, and only if, `tx` commits: a NOTIFY in the transaction of the
 * change. For mutations: a publish after the commit that failed (the connection dropped in
 * between) answered the client with an internal error for a change that was made.
 */
export function publishRunOnCommit(pubsub: PubSub, tx: Executor, run: SyncRunRow): Promise<void> {
  return pubsub.publishOnCommit(tx, 'syncRun', run.id, runEvent(run));
}
