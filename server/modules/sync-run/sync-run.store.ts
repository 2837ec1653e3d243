import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { jobs, syncRuns } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import {
  ACTIVE_RUN_STATUSES,
  ENDED_RUN_STATUSES,
  SyncRunPhase,
  SyncRunStatus,
  WORKABLE_RUN_STATUSES,
  type SyncRunErrorRow,
  type SyncRunRow,
  type SyncTrigger,
} from './sync-run.types.js';

type RunRecord = typeof syncRuns.$inferSelect;
/** What a run write may set (ids never change). */
export type RunPatch = Partial<Omit<SyncRunRow, 'id' | 'errors'>>;

/** Counters a chunk increments (in its own transaction, so a resumed chunk never counts twice). */
export type RunCountDeltas = Partial<
  Record<
    | 'staged'
    | 'created'
    | 'updated'
    | 'removed'
    | 'claimed'
    | 'failed'
    | 'devicesRemoved'
    | 'plannedRemovals'
    | 'plannedDevicesRemoved'
    | 'ownedAtPlan',
    number
  >
>;

/** The store boundary: text columns become the module's enums (the values are written only from them). */
function toRun(r: RunRecord): SyncRunRow {
  return {
    ...r,
    trigger: r.trigger as SyncTrigger,
    status: r.status as SyncRunStatus,
    phase: r.phase as SyncRunPhase,
    errors: (Array.isArray(r.errors) ? r.errors : []) as SyncRunErrorRow[],
  };
}

function one(rows: RunRecord[]): SyncRunRow | null {
  return rows[0] ? toRun(rows[0]) : null;
}

/** `sync_runs` rows: reads, the run row lock, checkpoints and status transitions. */
export class SyncRunStore {
  constructor(private readonly db: Db) {}

  async byId(id: string, tx: Executor = this.db): Promise<SyncRunRow | null> {
    return one(await tx.select().from(syncRuns).where(eq(syncRuns.id, id)));
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<SyncRunRow[]> {
    if (!ids.length) return [];
    return (
      await tx
        .select()
        .from(syncRuns)
        .where(and(eq(syncRuns.tenantId, tenantId), inArray(syncRuns.id, [...ids])))
    ).map(toRun);
  }

  async active(provisioningId: string, tx: Executor = this.db): Promise<SyncRunRow | null> {
    return one(
      await tx
        .select()
        .from(syncRuns)
        .where(and(eq(syncRuns.provisioningId, provisioningId), inArray(syncRuns.status, [...ACTIVE_RUN_STATUSES]))),
    );
  }

  /** Inserts a QUEUED run unless one is active (the partial unique index decides under concurrency). */
  async insert(
    row: {
      tenantId: string;
      provisioningId: string;
      deployedVersion: number;
      trigger: SyncTrigger;
      requestedBy: string | null;
      requestedByTokenId: string | null;
    },
    tx: Executor,
  ): Promise<SyncRunRow | null> {
    return one(
      await tx
        .insert(syncRuns)
        .values({ ...row, status: SyncRunStatus.QUEUED, phase: SyncRunPhase.QUEUED })
        .onConflictDoNothing()
        .returning(),
    );
  }

  /** Reads a run under a row lock: every write of a run's job and every cancel/approve takes it first. */
  async lock(id: string, tx: Executor): Promise<SyncRunRow | null> {
    return one(await tx.select().from(syncRuns).where(eq(syncRuns.id, id)).for('update'));
  }

  /**
   * Runs the queue no longer works on: QUEUED or RUNNING, but their job ended (or vanished)
   * without ending them — e.g. the handler's own failure path could not write. They fail, so
   * the provisioning is not blocked forever by its one-active-run index.
   */
  async failOrphaned(tx: Executor = this.db): Promise<SyncRunRow[]> {
    const rows = await tx
      .update(syncRuns)
      .set({
        status: SyncRunStatus.FAILED,
        finishedAt: sql`now()`,
        error: sql`coalesce(${syncRuns.error}, 'The worker running this sync stopped and its job ended; the next sync converges.')`,
      })
      .where(
        and(
          inArray(syncRuns.status, [...WORKABLE_RUN_STATUSES]),
          sql`not exists (select 1 from ${jobs} where ${jobs.id} = ${syncRuns.jobId} and ${jobs.status} in ('queued', 'running'))`,
        ),
      )
      .returning();
    return rows.map(toRun);
  }

  /** Ended runs whose staging rows are still there (served by the partial index `idx_sync_runs_uncleared`). */
  async uncleared(limit: number, tx: Executor = this.db): Promise<string[]> {
    const rows = await tx
      .select({ id: syncRuns.id })
      .from(syncRuns)
      .where(and(eq(syncRuns.stagingCleared, false), inArray(syncRuns.status, [...ENDED_RUN_STATUSES])))
      .limit(limit);
    return rows.map((r) => r.id);
  }

  async update(id: string, patch: RunPatch, tx: Executor = this.db): Promise<SyncRunRow | null> {
    return one(await tx.update(syncRuns).set(patch).where(eq(syncRuns.id, id)).returning());
  }

  /** A status change that only applies from the given states (a concurrent cancel wins). */
  async transition(id: string, from: readonly SyncRunStatus[], patch: RunPatch, tx: Executor = this.db): Promise<SyncRunRow | null> {
    return one(
      await tx
        .update(syncRuns)
        .set(patch)
        .where(and(eq(syncRuns.id, id), inArray(syncRuns.status, [...from])))
        .returning(),
    );
  }

  /** Checkpoint of one chunk: counter increments and state changes, in the chunk's transaction. */
  async checkpoint(
    id: string,
    d: RunCountDeltas,
    patch: RunPatch,
    newErrors: readonly SyncRunErrorRow[],
    tx: Executor,
  ): Promise<SyncRunRow> {
    const set: Record<string, unknown> = { ...patch };
    for (const [k, v] of Object.entries(d) as [keyof RunCountDeltas, number | undefined][]) {
      if (!v) continue;
      if (k in patch) throw new Error(`checkpoint sets and increments ${k}`);
      set[k] = sql`${syncRuns[k]} + ${v}`;
    }
    if (newErrors.length) {
      // The error list keeps its first 1000 entries.
      set.errors = sql`case when jsonb_array_length(${syncRuns.errors}) >= 1000 then ${syncRuns.errors} else ${syncRuns.errors} || ${JSON.stringify(newErrors)}::jsonb end`;
    }
    if (!Object.keys(set).length) return (await this.byId(id, tx))!;
    return one(await tx.update(syncRuns).set(set).where(eq(syncRuns.id, id)).returning())!;
  }

  async page(
    tenantId: string,
    provisioningId: string,
    limit: number,
    after: [string, string] | null,
    tx: Executor = this.db,
  ): Promise<SyncRunRow[]> {
    const rows = await tx
      .select()
      .from(syncRuns)
      .where(
        and(
          eq(syncRuns.tenantId, tenantId),
          eq(syncRuns.provisioningId, provisioningId),
          after
            ? sql`(date_trunc('milliseconds', ${syncRuns.createdAt}), ${syncRuns.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)`
            : undefined,
        ),
      )
      .orderBy(desc(sql`date_trunc('milliseconds', ${syncRuns.createdAt})`), desc(syncRuns.id))
      .limit(limit);
    return rows.map(toRun);
  }

  async count(tenantId: string, provisioningId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(syncRuns)
      .where(and(eq(syncRuns.tenantId, tenantId), eq(syncRuns.provisioningId, provisioningId)));
    return r?.n ?? 0;
  }

  /** The newest run of each provisioning (one query for a whole list of provisionings). */
  async lastOf(tenantId: string, provisioningIds: readonly string[], tx: Executor = this.db): Promise<SyncRunRow[]> {
    if (!provisioningIds.length) return [];
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`select distinct on (${syncRuns.provisioningId}) ${syncRuns.id} as id from ${syncRuns}
          where ${syncRuns.tenantId} = ${tenantId} and ${inArray(syncRuns.provisioningId, [...provisioningIds])}
          order by ${syncRuns.provisioningId}, ${syncRuns.createdAt} desc`,
    );
    return this.byIds(
      tenantId,
      rows.map((r) => r.id),
      tx,
    );
  }
}
