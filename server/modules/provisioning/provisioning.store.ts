import { and, asc, eq, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import { mfaDevices, mfaGroups, mfaUsers, provisionings } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import type { ConfigJson, ProvisioningRow } from './provisioning.types.js';

export class ProvisioningStore {
  constructor(private readonly db: Db) {}

  async list(tenantId: string, tx: Executor = this.db): Promise<ProvisioningRow[]> {
    return tx.select().from(provisionings).where(eq(provisionings.tenantId, tenantId)).orderBy(asc(provisionings.name));
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<ProvisioningRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(provisionings)
      .where(and(eq(provisionings.tenantId, tenantId), inArray(provisionings.id, [...ids])));
  }

  async lock(tenantId: string, id: string, tx: Executor): Promise<ProvisioningRow | null> {
    const [p] = await tx
      .select()
      .from(provisionings)
      .where(and(eq(provisionings.tenantId, tenantId), eq(provisionings.id, id)))
      .for('update');
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
    patch: Partial<{
      name: string;
      draft: ConfigJson;
      deployed: ConfigJson;
      deployedVersion: number;
      deployedAt: Date;
      nextSyncAt: Date | null;
    }>,
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
    await tx
      .update(mfaGroups)
      .set({ provisioningId: null })
      .where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.provisioningId, id)));
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
      sql`with devices as (select count(*)::int as n from ${mfaDevices} join ${mfaUsers} on ${mfaUsers.id} = ${mfaDevices.mfaUserId}
                           where ${mfaUsers.tenantId} = ${tenantId} and ${mfaUsers.provisioningId} = ${id}),
            gone as (delete from ${mfaUsers} where ${mfaUsers.tenantId} = ${tenantId} and ${mfaUsers.provisioningId} = ${id} returning 1)
          select (select count(*)::int from gone) as users, (select n from devices) as devices`,
    );
    await tx.delete(mfaGroups).where(and(eq(mfaGroups.tenantId, tenantId), eq(mfaGroups.provisioningId, id)));
    return { users: r?.users ?? 0, devices: r?.devices ?? 0 };
  }

  /**
   * The scheduler's claim: every replica runs this; the UPDATE moves each due provisioning's
   * next_sync_at forward atomically, so exactly one replica gets each due provisioning.
   */
  async claimDue(tx: Executor = this.db): Promise<{ id: string; tenantId: string }[]> {
    const p = provisionings;
    return tx
      .update(p)
      .set({ nextSyncAt: sql`now() + make_interval(mins => coalesce((${p.deployed}->>'syncIntervalMinutes')::int, 360))` })
      .where(and(isNotNull(p.deployed), isNotNull(p.nextSyncAt), lte(p.nextSyncAt, sql`now()`)))
      .returning({ id: p.id, tenantId: p.tenantId });
  }
}

function mapConstraint(err: unknown): unknown {
  const c = pgErrorInfo(err).constraint;
  if (c === 'uniq_provisionings_tenant_name')
    return DomainError.of(ErrorCode.NAME_TAKEN, 'A provisioning with this name already exists.', ['input', 'name']);
  if (c === 'uniq_provisionings_tenant_kind') {
    return DomainError.of(ErrorCode.ALREADY_EXISTS, 'The tenant already has an EAA provisioning (at most one is allowed).', [
      'input',
      'kind',
    ]);
  }
  return err;
}
