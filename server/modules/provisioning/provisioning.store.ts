import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import { mfaGroups, mfaUsers, provisionings, syncRuns } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import type { ConfigJson, ProvisioningRow, SyncRunRow } from './provisioning.types.js';

export const ACTIVE_RUN_STATUSES = ['QUEUED', 'RUNNING', 'AWAITING_APPROVAL'];

export type RunCountDeltas = Partial<
  Record<
    'staged' | 'created' | 'updated' | 'removed' | 'claimed' | 'failed' | 'devicesRemoved' | 'plannedRemovals' | 'plannedDevicesRemoved' | 'ownedAtPlan',
    number
  >
>;

export class ProvisioningStore {
  constructor(private readonly db: Db) {}

  async list(tenantId: string, tx: Executor = this.db): Promise<ProvisioningRow[]> {
    return tx.select().from(provisionings).where(eq(provisionings.tenantId, tenantId)).orderBy(asc(provisionings.name));
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<ProvisioningRow[]> {
    if (!ids.length) return [];
    return tx.select().from(provisionings).where(and(eq(provisionings.tenantId, tenantId), inArray(provisionings.id, [...ids])));
  }

  async lock(tenantId: string, id: string, tx: Executor): Promise<ProvisioningRow | null> {
    const [p] = await tx.select().from(provisionings).where(and(eq(provisionings.tenantId, tenantId), eq(provisionings.id, id))).for('update');
    return p ?? null;
  }

  async insert(row: { tenantId: string; kind: string; name: string; draft: ConfigJson }, tx: Executor = this.db): Promise<ProvisioningRow> {
    try {
      const [p] = await tx.insert(provisionings).values(row).returning();
      return p!;
    } catch (err) {
      throw mapConstraint(err);
    }
  }

  async update(
    tenantId: string,
    id: string,
    patch: Partial<{ name: string; draft: ConfigJson; deployed: ConfigJson; deployedVersion: number; deployedAt: Date; nextSyncAt: Date | null }>,
    tx: Executor = this.db,
  ): Promise<ProvisioningRow> {
    try {
      const [p] = await tx
        .update(provisionings)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(provisionings.tenantId, tenantId), eq(provisionings.id, id)))
        .returning();
      return p!;
    } catch (err) {
      throw mapConstraint(err);
    }
  }

  async delete(tenantId: string, id: string, tx: Executor): Promise<void> {
    await tx.delete(provisionings).where(and(eq(provisionings.tenantId, tenantId), eq(provisionings.id, id)));
  }

  async ownedCounts(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<Map<string, number>> {
    if (!ids.length) return new Map();
    const rows = await tx
      .select({ id: mfaUsers.provisioningId, n: sql<number>`count(*)::int` })
      .from(mfaUsers)
      .where(and(eq(mfaUsers.tenantId, tenantId), inArray(mfaUsers.provisioningId, [...ids])))
      .groupBy(mfaUsers.provisioningId);
    return new Map(rows.map((r) => [r.id!, r.n]));
  }

  /** KEEP_AS_MANUAL: owned users and groups become MANUAL (devices stay). */
  async releaseOwned(tenantId: string, id: string, tx: Executor): Promise<number> {
    await tx.update(mfaGroups).set({ provisioningId: null }).where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.provisioningId, id)));
    const rows = await tx
      .update(mfaUsers)
      .set({ provisioningId: null, updatedAt: new Date() })
      .where(and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.provisioningId, id)))
      .returning({ id: mfaUsers.id });
    return rows.length;
  }

  /** REMOVE: owned users (with devices) and groups are deleted; returns counts. */
  async removeOwned(tenantId: string, id: string, tx: Executor): Promise<{ users: number; devices: number }> {
    const [r] = await queryRows<{ users: number; devices: number }>(
      tx,
      sql`with devices as (select count(*)::int as n from mfa_devices d join mfa_users u on u.id = d.mfa_user_id where u.tenant_id = ${tenantId} and u.provisioning_id = ${id}),
            gone as (delete from mfa_users where tenant_id = ${tenantId} and provisioning_id = ${id} returning 1)
          select (select count(*)::int from gone) as users, (select n from devices) as devices`,
    );
    await tx.delete(mfaGroups).where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.provisioningId, id)));
    return { users: r?.users ?? 0, devices: r?.devices ?? 0 };
  }

  // Sync runs

  async runById(id: string, tx: Executor = this.db): Promise<SyncRunRow | null> {
    const [r] = await tx.select().from(syncRuns).where(eq(syncRuns.id, id));
    return r ?? null;
  }

  async runsByIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<SyncRunRow[]> {
    if (!ids.length) return [];
    return tx.select().from(syncRuns).where(and(eq(syncRuns.tenantId, tenantId), inArray(syncRuns.id, [...ids])));
  }

  async activeRun(provisioningId: string, tx: Executor = this.db): Promise<SyncRunRow | null> {
    const [r] = await tx
      .select()
      .from(syncRuns)
      .where(and(eq(syncRuns.provisioningId, provisioningId), inArray(syncRuns.status, ACTIVE_RUN_STATUSES)));
    return r ?? null;
  }

  /** Inserts a QUEUED run unless one is active (the partial unique index decides under concurrency). */
  async insertRun(
    row: { tenantId: string; provisioningId: string; deployedVersion: number; trigger: string; requestedBy: string | null },
    tx: Executor,
  ): Promise<SyncRunRow | null> {
    const [r] = await tx
      .insert(syncRuns)
      .values({ ...row, status: 'QUEUED', phase: 'QUEUED' })
      .onConflictDoNothing()
      .returning();
    return r ?? null;
  }

  /** Reads a run under a row lock: every write of a run's job and every cancel/approve takes it first. */
  async lockRun(id: string, tx: Executor): Promise<SyncRunRow | null> {
    const [r] = await tx.select().from(syncRuns).where(eq(syncRuns.id, id)).for('update');
    return r ?? null;
  }

  /**
   * Runs the queue no longer works on: QUEUED or RUNNING, but their job ended (or vanished)
   * without ending them — e.g. the handler's own failure path could not write. They fail, so
   * the provisioning is not blocked forever by its one-active-run index.
   */
  async failOrphanedRuns(tx: Executor = this.db): Promise<SyncRunRow[]> {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`update sync_runs r set status = 'FAILED', finished_at = now(),
            error = coalesce(r.error, 'The worker running this sync stopped and its job ended; the next sync converges.')
          where r.status in ('QUEUED', 'RUNNING')
            and not exists (select 1 from jobs j where j.id = r.job_id and j.status in ('queued', 'running'))
          returning r.id`,
    );
    return rows.length ? tx.select().from(syncRuns).where(inArray(syncRuns.id, rows.map((r) => r.id))) : [];
  }

  /** Ended runs whose staging rows are still there. */
  async unclearedRuns(limit: number, tx: Executor = this.db): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`select id from sync_runs where staging_cleared = false and status in ('COMPLETED', 'FAILED', 'CANCELLED') limit ${limit}`,
    );
    return rows.map((r) => r.id);
  }

  async updateRun(id: string, patch: Partial<SyncRunRow>, tx: Executor = this.db): Promise<SyncRunRow | null> {
    const { id: _id, ...rest } = patch;
    const [r] = await tx.update(syncRuns).set(rest).where(eq(syncRuns.id, id)).returning();
    return r ?? null;
  }

  /** A status change that only applies from the given states (a concurrent cancel wins). */
  async transitionRun(id: string, from: string[], patch: Partial<SyncRunRow>, tx: Executor = this.db): Promise<SyncRunRow | null> {
    const { id: _id, ...rest } = patch;
    const [r] = await tx
      .update(syncRuns)
      .set(rest)
      .where(and(eq(syncRuns.id, id), inArray(syncRuns.status, from)))
      .returning();
    return r ?? null;
  }

  /** Checkpoint of one chunk: counter increments and state changes, in the chunk's transaction. */
  async checkpoint(id: string, d: RunCountDeltas, patch: Partial<SyncRunRow>, newErrors: unknown[], tx: Executor): Promise<SyncRunRow> {
    const { id: _id, ...rest } = patch;
    const set: Record<string, unknown> = { ...rest };
    for (const [k, v] of Object.entries(d) as [keyof RunCountDeltas, number | undefined][]) {
      if (!v) continue;
      if (k in rest) throw new Error(`checkpoint sets and increments ${k}`);
      set[k] = sql`${syncRuns[k]} + ${v}`;
    }
    if (newErrors.length) {
      // The error list keeps its first 1000 entries.
      set.errors = sql`case when jsonb_array_length(${syncRuns.errors}) >= 1000 then ${syncRuns.errors} else ${syncRuns.errors} || ${JSON.stringify(newErrors)}::jsonb end`;
    }
    if (!Object.keys(set).length) return (await this.runById(id, tx))!;
    const [r] = await tx.update(syncRuns).set(set).where(eq(syncRuns.id, id)).returning();
    return r!;
  }

  async runsPage(tenantId: string, provisioningId: string, limit: number, after: [string, string] | null, tx: Executor = this.db) {
    return tx
      .select()
      .from(syncRuns)
      .where(
        and(
          eq(syncRuns.tenantId, tenantId),
          eq(syncRuns.provisioningId, provisioningId),
          after ? sql`(date_trunc('milliseconds', ${syncRuns.createdAt}), ${syncRuns.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(sql`date_trunc('milliseconds', ${syncRuns.createdAt})`), desc(syncRuns.id))
      .limit(limit);
  }

  async runsCount(tenantId: string, provisioningId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(syncRuns)
      .where(and(eq(syncRuns.tenantId, tenantId), eq(syncRuns.provisioningId, provisioningId)));
    return r?.n ?? 0;
  }

  async lastRuns(tenantId: string, provisioningIds: readonly string[], tx: Executor = this.db): Promise<SyncRunRow[]> {
    if (!provisioningIds.length) return [];
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`select distinct on (provisioning_id) id from sync_runs where tenant_id = ${tenantId}
          and provisioning_id in (${sql.join(provisioningIds.map((i) => sql`${i}::uuid`), sql`, `)})
          order by provisioning_id, created_at desc`,
    );
    return this.runsByIds(tenantId, rows.map((r) => r.id), tx);
  }

  /**
   * The scheduler's claim: every replica runs this; the UPDATE moves each due provisioning's
   * next_sync_at forward atomically, so exactly one replica gets each due provisioning.
   */
  async claimDue(tx: Executor = this.db): Promise<{ id: string; tenant_id: string; deployed_version: number }[]> {
    return queryRows(
      tx,
      sql`update provisionings set next_sync_at = now() + make_interval(mins => coalesce((deployed->>'syncIntervalMinutes')::int, 360))
          where deployed is not null and next_sync_at is not null and next_sync_at <= now()
          returning id, tenant_id, deployed_version`,
    );
  }
}

function mapConstraint(err: unknown): unknown {
  const c = pgErrorInfo(err).constraint;
  if (c === 'uniq_provisionings_tenant_name') return DomainError.of(ErrorCode.NAME_TAKEN, 'A provisioning with this name already exists.', ['input', 'name']);
  if (c === 'uniq_provisionings_tenant_kind') {
    return DomainError.of(ErrorCode.ALREADY_EXISTS, 'The tenant already has an EAA provisioning (at most one is allowed).', ['input', 'kind']);
  }
  return err;
}
