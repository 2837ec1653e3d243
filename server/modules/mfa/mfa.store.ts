import { and, asc, eq, getTableColumns, inArray, isNull, isNotNull, ne, or, sql, type SQL } from 'drizzle-orm';
import { mfaDevices, mfaEnrollmentTokens, mfaGroupMemberships, mfaGroups, mfaUsers } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { fromRow, projections } from '../../shared/sql.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import type { MfaDeviceRow, MfaGroupRow, MfaUserRow } from './mfa.types.js';

export interface MfaUserFilter {
  source?: 'MANUAL' | 'PROVISIONING';
  provisioningId?: string;
  status?: string;
  search?: string;
}

export interface MfaGroupFilter {
  source?: 'MANUAL' | 'PROVISIONING';
  provisioningId?: string;
  search?: string;
}

/** A device as the API shows it: never the sealed secret or the WebAuthn key material. */
const DEVICE_COLUMNS = {
  id: mfaDevices.id,
  mfaUserId: mfaDevices.mfaUserId,
  name: mfaDevices.name,
  kind: mfaDevices.kind,
  status: mfaDevices.status,
  lastUsedAt: mfaDevices.lastUsedAt,
  enrolledAt: mfaDevices.enrolledAt,
};

/** The device's columns in a page row, prefixed `d_` beside the user's own. */
const deviceKey = (column: string) => `d_${column}`;

/** What a page reads of an MFA user (id and username always: the cursor is made of them) and of its devices. */
const userProjection = projections(getTableColumns(mfaUsers), { table: 'mfa_users', always: ['id', 'username'] });
const deviceProjection = projections(DEVICE_COLUMNS, { table: 'd', always: ['id'], as: deviceKey });

export class MfaStore {
  constructor(private readonly db: Db) {}

  private groupWhere(tenantId: string, f: MfaGroupFilter): SQL | undefined {
    const q = f.search
      ?.trim()
      .toLowerCase()
      .replace(/[\\%_]/g, (c) => `\\${c}`);
    return and(
      eq(mfaGroups.tenantId, tenantId),
      f.source === 'MANUAL'
        ? isNull(mfaGroups.provisioningId)
        : f.source === 'PROVISIONING'
          ? isNotNull(mfaGroups.provisioningId)
          : undefined,
      f.provisioningId ? eq(mfaGroups.provisioningId, f.provisioningId) : undefined,
      q ? sql`lower(${mfaGroups.name}) like ${q + '%'}` : undefined,
    );
  }

  async groupPage(
    tenantId: string,
    f: MfaGroupFilter,
    limit: number,
    after: [string, string] | null,
    tx: Executor = this.db,
  ): Promise<MfaGroupRow[]> {
    const key = sql`lower(${mfaGroups.name})`;
    return tx
      .select()
      .from(mfaGroups)
      .where(and(this.groupWhere(tenantId, f), after ? sql`(${key}, ${mfaGroups.id}) > (${after[0]}, ${after[1]}::uuid)` : undefined))
      .orderBy(asc(key), asc(mfaGroups.id))
      .limit(limit);
  }

  async groupCount(tenantId: string, f: MfaGroupFilter, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaGroups)
      .where(this.groupWhere(tenantId, f));
    return r?.n ?? 0;
  }

  async groupsByIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<MfaGroupRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(mfaGroups)
      .where(and(eq(mfaGroups.tenantId, tenantId), inArray(mfaGroups.id, [...ids])));
  }

  async memberCounts(tenantId: string, groupIds: readonly string[], tx: Executor = this.db): Promise<Map<string, number>> {
    if (!groupIds.length) return new Map();
    const rows = await tx
      .select({ id: mfaGroupMemberships.mfaGroupId, n: sql<number>`count(*)::int` })
      .from(mfaGroupMemberships)
      .where(and(eq(mfaGroupMemberships.tenantId, tenantId), inArray(mfaGroupMemberships.mfaGroupId, [...groupIds])))
      .groupBy(mfaGroupMemberships.mfaGroupId);
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  private where(tenantId: string, f: MfaUserFilter): SQL | undefined {
    const q = f.search
      ?.trim()
      .toLowerCase()
      .replace(/[\\%_]/g, (c) => `\\${c}`);
    return and(
      eq(mfaUsers.tenantId, tenantId),
      f.source === 'MANUAL'
        ? isNull(mfaUsers.provisioningId)
        : f.source === 'PROVISIONING'
          ? isNotNull(mfaUsers.provisioningId)
          : undefined,
      f.provisioningId ? eq(mfaUsers.provisioningId, f.provisioningId) : undefined,
      // PROVISIONING_DISABLED is the source's suspension, whatever the devices; the other states are stored.
      f.status === 'PROVISIONING_DISABLED'
        ? isNotNull(mfaUsers.suspendedAt)
        : f.status
          ? and(isNull(mfaUsers.suspendedAt), eq(mfaUsers.status, f.status))
          : undefined,
      q
        ? or(
            sql`lower(${mfaUsers.username}) like ${q + '%'}`,
            sql`lower(${mfaUsers.email}) like ${q + '%'}`,
            sql`lower(${mfaUsers.firstName}) like ${q + '%'}`,
            sql`lower(${mfaUsers.lastName}) like ${q + '%'}`,
          )
        : undefined,
    );
  }

  /**
   * Keyset page ordered by (lower(username), id). With `devices` each row carries its devices
   * (as `devicesByUsers` reads them) from the same statement, so an MFA users page showing
   * devices is one statement, not two: the page's users are a subquery and each user's devices
   * a lateral join, one result row per device (a user without devices: one row without).
   * Measured with pgbench on the same 100-user page, this is ~1.5× the rate of aggregating each
   * user's devices as JSON in a correlated subquery, and ~2× without the JSON objects' keys;
   * the ORDER BY inside the lateral keeps the planner from flattening it into a hash join over
   * the tenant's every device.
   *
   * `keys` / `deviceKeys`: the properties the caller will read (id and username always come,
   * the cursor is made of them; a device's id too). Unset: all. Rows then carry only those,
   * the rest undefined: parsing and decoding 21 columns a row, three of them timestamps, was
   * most of what this page cost Roster beyond PostGraphile's (the users-page bench's profile).
   */
  async page(
    tenantId: string,
    f: MfaUserFilter,
    limit: number,
    after: [string, string] | null,
    opts: { devices?: boolean; keys?: readonly (keyof MfaUserRow)[]; deviceKeys?: readonly (keyof MfaDeviceRow)[] } = {},
    tx: Executor = this.db,
  ): Promise<MfaUserRow[]> {
    const user = userProjection(opts.keys);
    const keyset = after ? sql`(lower(${mfaUsers.username}), ${mfaUsers.id}) > (${after[0]}, ${after[1]}::uuid)` : undefined;
    // Written as SQL and decoded by the column lists: drizzle's select builder (and for the
    // devices its subquery, lateral join and aliased columns) cost more of Roster's CPU per page
    // than the statement took the database (measured in the users-page bench).
    const page = sql`select ${user.select} from ${mfaUsers} where ${and(this.where(tenantId, f), keyset)}
                     order by lower(${mfaUsers.username}), ${mfaUsers.id} limit ${limit}`;
    if (!opts.devices) return (await queryRows<Record<string, unknown>>(tx, page)).map((r) => fromRow<MfaUserRow>(r, user.fields));
    const device = deviceProjection(opts.deviceKeys);
    const rows = await queryRows<Record<string, unknown>>(
      tx,
      sql`select u.*, ${device.select}
          from (${page}) u
          left join lateral (select * from ${mfaDevices} d
                             where d.mfa_user_id = u.id and d.tenant_id = ${tenantId} and d.status <> 'PENDING'
                             order by d.enrolled_at, d.id) d on true
          order by lower(u.username), u.id, d.enrolled_at, d.id`,
    );
    const out = new Map<string, MfaUserRow & { devices: MfaDeviceRow[] }>();
    for (const r of rows) {
      const id = r['id'] as string;
      let u = out.get(id);
      if (!u) {
        u = fromRow<MfaUserRow & { devices: MfaDeviceRow[] }>(r, user.fields);
        u.devices = [];
        out.set(id, u);
      }
      if (r['d_id'] != null) u.devices.push(fromRow<MfaDeviceRow>(r, device.fields));
    }
    return [...out.values()];
  }

  async count(tenantId: string, f: MfaUserFilter, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(mfaUsers)
      .where(this.where(tenantId, f));
    return r?.n ?? 0;
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<MfaUserRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(mfaUsers)
      .where(and(eq(mfaUsers.tenantId, tenantId), inArray(mfaUsers.id, [...ids])));
  }

  async devicesByUsers(tenantId: string, ids: readonly string[], tx: Executor = this.db) {
    if (!ids.length) return [];
    // Never the sealed secret; PENDING devices (a TOTP enrolment not confirmed) are nobody's device yet.
    return tx
      .select(DEVICE_COLUMNS)
      .from(mfaDevices)
      .where(and(eq(mfaDevices.tenantId, tenantId), inArray(mfaDevices.mfaUserId, [...ids]), ne(mfaDevices.status, 'PENDING')))
      .orderBy(asc(mfaDevices.enrolledAt), asc(mfaDevices.id));
  }

  async groupNamesByUsers(tenantId: string, ids: readonly string[], tx: Executor = this.db) {
    if (!ids.length) return [];
    return tx
      .select({ userId: mfaGroupMemberships.mfaUserId, name: mfaGroups.name })
      .from(mfaGroupMemberships)
      .innerJoin(mfaGroups, eq(mfaGroups.id, mfaGroupMemberships.mfaGroupId))
      .where(and(eq(mfaGroupMemberships.tenantId, tenantId), inArray(mfaGroupMemberships.mfaUserId, [...ids])))
      .orderBy(asc(mfaGroups.name));
  }

  async insertManual(
    row: { tenantId: string; username: string; email: string | null; firstName: string; lastName: string },
    tx: Executor = this.db,
  ): Promise<MfaUserRow> {
    try {
      const [u] = await tx.insert(mfaUsers).values(row).returning();
      return u!;
    } catch (err) {
      if (pgErrorInfo(err).constraint === 'uniq_mfa_users_tenant_username') {
        throw DomainError.of(ErrorCode.NAME_TAKEN, 'An MFA user with this username already exists.', ['input', 'username']);
      }
      throw err;
    }
  }

  async insertTokens(rows: { tenantId: string; mfaUserId: string; tokenHash: string; expiresAt: Date }[], tx: Executor = this.db) {
    if (rows.length) await tx.insert(mfaEnrollmentTokens).values(rows);
  }

  async tokenByHash(tokenHash: string, tx: Executor = this.db) {
    const [r] = await tx
      .select({
        id: mfaEnrollmentTokens.id,
        mfaUserId: mfaEnrollmentTokens.mfaUserId,
        tenantId: mfaEnrollmentTokens.tenantId,
        expiresAt: mfaEnrollmentTokens.expiresAt,
        usedAt: mfaEnrollmentTokens.usedAt,
        username: mfaUsers.username,
      })
      .from(mfaEnrollmentTokens)
      .innerJoin(mfaUsers, eq(mfaUsers.id, mfaEnrollmentTokens.mfaUserId))
      .where(eq(mfaEnrollmentTokens.tokenHash, tokenHash));
    return r ?? null;
  }

  /** Voids the user's unused enrolment links (a new one replaces them). */
  async voidTokens(tenantId: string, mfaUserId: string, tx: Executor): Promise<void> {
    await tx
      .update(mfaEnrollmentTokens)
      .set({ usedAt: new Date() })
      .where(
        and(eq(mfaEnrollmentTokens.tenantId, tenantId), eq(mfaEnrollmentTokens.mfaUserId, mfaUserId), isNull(mfaEnrollmentTokens.usedAt)),
      );
  }

  /** `voidTokens` for many users in one statement. */
  async voidTokensMany(tenantId: string, mfaUserIds: readonly string[], tx: Executor): Promise<void> {
    if (!mfaUserIds.length) return;
    await tx
      .update(mfaEnrollmentTokens)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(mfaEnrollmentTokens.tenantId, tenantId),
          inArray(mfaEnrollmentTokens.mfaUserId, [...mfaUserIds]),
          isNull(mfaEnrollmentTokens.usedAt),
        ),
      );
  }

  async lockUser(tenantId: string, id: string, tx: Executor): Promise<MfaUserRow | null> {
    const [u] = await tx
      .select()
      .from(mfaUsers)
      .where(and(eq(mfaUsers.tenantId, tenantId), eq(mfaUsers.id, id)))
      .for('update');
    return u ?? null;
  }
}
