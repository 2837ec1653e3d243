import { and, desc, eq, gt, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { mfaBypassCodes, mfaDevices, mfaEnrollmentTokens, mfaUsers, mfaVerifications } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import type { VerificationRow } from './mfa-factor.types.js';
import type { MfaUserRow } from './mfa.types.js';

/** A device as verification reads it (the sealed secret included; never leaves the service). */
export interface FactorDevice {
  id: string;
  kind: string;
  status: string;
  secretSealed: string | null;
  lastUsedStep: number | null;
}

/** Factor SQL: pending TOTP devices, device states, verification attempts, bypass codes. */
export class MfaFactorStore {
  constructor(private readonly db: Db) {}

  /** Devices that count (not PENDING) of one user. */
  async deviceCount(mfaUserId: string, tx: Executor = this.db): Promise<number> {
    const [c] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaDevices)
      .where(and(eq(mfaDevices.mfaUserId, mfaUserId), ne(mfaDevices.status, 'PENDING')));
    return c?.n ?? 0;
  }

  /** A new PENDING TOTP device for an enrolment link, replacing one begun earlier with the same link. */
  async replacePending(
    t: { id: string; tenantId: string; mfaUserId: string },
    device: { id: string; name: string; secretSealed: string },
    tx: Executor,
  ): Promise<void> {
    await tx.delete(mfaDevices).where(and(eq(mfaDevices.enrollmentTokenId, t.id), eq(mfaDevices.status, 'PENDING')));
    await tx.insert(mfaDevices).values({
      id: device.id,
      tenantId: t.tenantId,
      mfaUserId: t.mfaUserId,
      name: device.name,
      kind: 'TOTP',
      status: 'PENDING',
      secretSealed: device.secretSealed,
      enrollmentTokenId: t.id,
    });
  }

  /** The PENDING device most recently begun with this link. */
  async pendingOf(tokenId: string, tx: Executor = this.db): Promise<{ id: string; secretSealed: string } | null> {
    const [d] = await tx
      .select({ id: mfaDevices.id, secretSealed: mfaDevices.secretSealed })
      .from(mfaDevices)
      .where(and(eq(mfaDevices.enrollmentTokenId, tokenId), eq(mfaDevices.status, 'PENDING')))
      .orderBy(desc(mfaDevices.enrolledAt))
      .limit(1);
    return d?.secretSealed ? { id: d.id, secretSealed: d.secretSealed } : null;
  }

  /**
   * Uses the link (single use: the conditional UPDATE decides between concurrent attempts),
   * counts the user's devices under the user's row lock, activates the pending device with the
   * step of its first code (that code is not accepted again) and refreshes the user's status.
   */
  async confirmPending(
    t: { id: string; mfaUserId: string },
    deviceId: string,
    step: number,
    max: number,
    tx: Executor,
  ): Promise<'OK' | 'USED' | 'TOO_MANY' | 'GONE'> {
    const used = await tx
      .update(mfaEnrollmentTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(mfaEnrollmentTokens.id, t.id), isNull(mfaEnrollmentTokens.usedAt)))
      .returning({ id: mfaEnrollmentTokens.id });
    if (!used.length) return 'USED';
    await tx.select({ id: mfaUsers.id }).from(mfaUsers).where(eq(mfaUsers.id, t.mfaUserId)).for('update');
    if ((await this.deviceCount(t.mfaUserId, tx)) >= max) return 'TOO_MANY';
    const done = await tx
      .update(mfaDevices)
      .set({ status: 'ACTIVE', lastUsedStep: step, lastUsedAt: new Date(), enrolledAt: new Date() })
      .where(and(eq(mfaDevices.id, deviceId), eq(mfaDevices.status, 'PENDING')))
      .returning({ id: mfaDevices.id });
    if (!done.length) return 'GONE';
    await tx.delete(mfaDevices).where(and(eq(mfaDevices.enrollmentTokenId, t.id), eq(mfaDevices.status, 'PENDING')));
    await this.refreshStatus(t.mfaUserId, tx);
    return 'OK';
  }

  /** Re-derives the stored enrolment state from the devices (suspension is `suspended_at`, apart). */
  async refreshStatus(mfaUserId: string, tx: Executor): Promise<void> {
    const has = (status: string) =>
      sql`exists (select 1 from ${mfaDevices} where ${mfaDevices.mfaUserId} = ${mfaUsers.id} and ${mfaDevices.status} = ${status})`;
    await tx
      .update(mfaUsers)
      .set({
        status: sql`case when ${has('ACTIVE')} then 'ACTIVE' when ${has('DISABLED')} then 'DEVICES_DISABLED' else 'UNENROLLED' end`,
        updatedAt: new Date(),
      })
      .where(eq(mfaUsers.id, mfaUserId));
  }

  /** An MFA user of the tenant by id, else username, else email (ignoring case); null unless exactly one. */
  async findUser(tenantId: string, ref: { id: string | null; name: string }, tx: Executor = this.db): Promise<MfaUserRow | null> {
    const name = ref.name.trim().toLowerCase();
    const rows = await tx
      .select()
      .from(mfaUsers)
      .where(
        and(
          eq(mfaUsers.tenantId, tenantId),
          ref.id ? eq(mfaUsers.id, ref.id) : or(sql`lower(${mfaUsers.username}) = ${name}`, sql`lower(${mfaUsers.email}) = ${name}`),
        ),
      )
      .limit(3);
    if (rows.length <= 1) return rows[0] ?? null;
    // A username wins over someone else's equal email; two equal emails name nobody.
    const byName = rows.filter((r) => r.username.toLowerCase() === name);
    return byName.length === 1 ? byName[0]! : null;
  }

  /**
   * The MFA users a directory (portal) user may be, best first: the one provisioned from that
   * directory user (`linked`), the one whose username is the user's login id — username, else
   * email (`named`) — then those with the user's email; the order a sync claims MANUAL users
   * in. At most 3, each with the kinds of its ACTIVE devices (never a secret).
   */
  async candidatesOfDirectoryUser(
    tenantId: string,
    user: { id: string; username: string | null; email: string | null },
    tx: Executor = this.db,
  ): Promise<{ id: string; linked: boolean; named: boolean; suspended: boolean; activeKinds: string[] }[]> {
    const login = (user.username ?? user.email ?? user.id).toLowerCase();
    const email = user.email?.toLowerCase() ?? null;
    const rows = await tx
      .select({
        id: mfaUsers.id,
        suspendedAt: mfaUsers.suspendedAt,
        linked: sql<boolean>`coalesce(${mfaUsers.directoryUserId} = ${user.id}::uuid, false)`,
        named: sql<boolean>`lower(${mfaUsers.username}) = ${login}`,
        // Spelled out with an alias: drizzle leaves columns unqualified in a one-table select,
        // and an unqualified "id" inside this subquery would be the device's.
        activeKinds: sql<string[]>`array(select distinct d.kind from ${mfaDevices} d
          where d.mfa_user_id = ${mfaUsers}.id and d.status = 'ACTIVE' order by 1)`,
      })
      .from(mfaUsers)
      .where(
        and(
          eq(mfaUsers.tenantId, tenantId),
          or(
            eq(mfaUsers.directoryUserId, user.id),
            sql`lower(${mfaUsers.username}) = ${login}`,
            email ? sql`lower(${mfaUsers.email}) = ${email}` : undefined,
          ),
        ),
      )
      .orderBy(
        desc(sql`coalesce(${mfaUsers.directoryUserId} = ${user.id}::uuid, false)`),
        desc(sql`lower(${mfaUsers.username}) = ${login}`),
        mfaUsers.id,
      )
      .limit(3);
    return rows.map(({ suspendedAt, ...r }) => ({ ...r, suspended: suspendedAt !== null }));
  }

  /** The user's devices that count (not PENDING), with what verification needs. */
  async factorDevices(mfaUserId: string, tx: Executor = this.db): Promise<FactorDevice[]> {
    return tx
      .select({
        id: mfaDevices.id,
        kind: mfaDevices.kind,
        status: mfaDevices.status,
        secretSealed: mfaDevices.secretSealed,
        lastUsedStep: mfaDevices.lastUsedStep,
      })
      .from(mfaDevices)
      .where(and(eq(mfaDevices.mfaUserId, mfaUserId), ne(mfaDevices.status, 'PENDING')));
  }

  /** Records `step` as used on an ACTIVE device unless that step or a later one already was (the replay race's decider). */
  async acceptStep(deviceId: string, step: number, tx: Executor = this.db): Promise<boolean> {
    const r = await tx
      .update(mfaDevices)
      .set({ lastUsedStep: step, lastUsedAt: new Date() })
      .where(
        and(
          eq(mfaDevices.id, deviceId),
          eq(mfaDevices.status, 'ACTIVE'),
          or(isNull(mfaDevices.lastUsedStep), lt(mfaDevices.lastUsedStep, step)),
        ),
      )
      .returning({ id: mfaDevices.id });
    return r.length > 0;
  }

  async recordVerification(
    row: { tenantId: string; mfaUserId: string; deviceId: string | null; method: string; result: string },
    tx: Executor = this.db,
  ): Promise<void> {
    await tx.insert(mfaVerifications).values(row);
  }

  /** A user's attempts, newest first, after a (created_at text, id) cursor. */
  async verificationPage(
    tenantId: string,
    mfaUserId: string,
    limit: number,
    after: [string, string] | null,
    tx: Executor = this.db,
  ): Promise<VerificationRow[]> {
    const v = mfaVerifications;
    return tx
      .select({
        id: v.id,
        deviceId: v.deviceId,
        method: v.method,
        result: v.result,
        createdAt: v.createdAt,
        sortKey: sql<string>`${v.createdAt}::text`,
      })
      .from(v)
      .where(
        and(
          eq(v.tenantId, tenantId),
          eq(v.mfaUserId, mfaUserId),
          after ? sql`(${v.createdAt}, ${v.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(v.createdAt), desc(v.id))
      .limit(limit);
  }

  async verificationCount(tenantId: string, mfaUserId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaVerifications)
      .where(and(eq(mfaVerifications.tenantId, tenantId), eq(mfaVerifications.mfaUserId, mfaUserId)));
    return r?.n ?? 0;
  }

  /** A device of the tenant (not PENDING), row-locked with its user's id. */
  async lockDevice(tenantId: string, deviceId: string, tx: Executor): Promise<{ id: string; mfaUserId: string; status: string } | null> {
    const [d] = await tx
      .select({ id: mfaDevices.id, mfaUserId: mfaDevices.mfaUserId, status: mfaDevices.status })
      .from(mfaDevices)
      .where(and(eq(mfaDevices.tenantId, tenantId), eq(mfaDevices.id, deviceId), ne(mfaDevices.status, 'PENDING')))
      .for('update');
    return d ?? null;
  }

  async setDeviceStatus(deviceId: string, status: 'ACTIVE' | 'DISABLED', tx: Executor): Promise<void> {
    await tx.update(mfaDevices).set({ status }).where(eq(mfaDevices.id, deviceId));
  }

  async deleteDevice(deviceId: string, tx: Executor): Promise<void> {
    await tx.delete(mfaDevices).where(eq(mfaDevices.id, deviceId));
  }

  /** Removes every device of a user (pending ones too); returns how many counted. */
  async deleteDevicesOf(mfaUserId: string, tx: Executor): Promise<number> {
    const rows = await tx.delete(mfaDevices).where(eq(mfaDevices.mfaUserId, mfaUserId)).returning({ status: mfaDevices.status });
    return rows.filter((r) => r.status !== 'PENDING').length;
  }

  async insertBypassCodes(rows: { tenantId: string; mfaUserId: string; codeHash: string; expiresAt: Date }[], tx: Executor) {
    if (rows.length) await tx.insert(mfaBypassCodes).values(rows);
  }

  /** Uses an unexpired, unused bypass code of the user (single use: the conditional UPDATE decides). */
  async useBypassCode(mfaUserId: string, codeHash: string, tx: Executor = this.db): Promise<boolean> {
    const r = await tx
      .update(mfaBypassCodes)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(mfaBypassCodes.mfaUserId, mfaUserId),
          eq(mfaBypassCodes.codeHash, codeHash),
          isNull(mfaBypassCodes.usedAt),
          gt(mfaBypassCodes.expiresAt, sql`now()`),
        ),
      )
      .returning({ id: mfaBypassCodes.id });
    return r.length > 0;
  }

  /** Voids the user's unused bypass codes (a reset, or a new batch, replaces them). */
  async voidBypassCodes(mfaUserId: string, tx: Executor): Promise<void> {
    await tx
      .update(mfaBypassCodes)
      .set({ usedAt: new Date() })
      .where(and(eq(mfaBypassCodes.mfaUserId, mfaUserId), isNull(mfaBypassCodes.usedAt)));
  }
}
