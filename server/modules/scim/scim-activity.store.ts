import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { mfaUsers, scimActivity, scimTokens } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import type { ScimUserRow } from './scim.store.js';

export interface ActivityRow {
  id: string;
  at: Date;
  method: string;
  resource: string;
  status: number;
  result: string;
}

/** The SCIM activity log (what the identity provider did) and the clean-up of old tokens. */
export class ScimActivityStore {
  constructor(private readonly db: Db) {}

  async recordActivity(
    row: { tenantId: string; provisioningId: string; method: string; resource: string; status: number; result: string },
    tx: Executor = this.db,
  ): Promise<void> {
    // Milliseconds (a JS date) rather than now(): the keyset cursor carries a JS date, so it compares exactly.
    await tx.insert(scimActivity).values({ ...row, at: new Date() });
  }

  /** Newest first, keyset on (at, id). */
  async activityPage(tenantId: string, provisioningId: string, limit: number, after: [string, string] | null): Promise<ActivityRow[]> {
    const a = scimActivity;
    return this.db
      .select({ id: a.id, at: a.at, method: a.method, resource: a.resource, status: a.status, result: a.result })
      .from(a)
      .where(
        and(
          eq(a.tenantId, tenantId),
          eq(a.provisioningId, provisioningId),
          after ? sql`(${a.at}, ${a.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : undefined,
        ),
      )
      .orderBy(desc(a.at), desc(a.id))
      .limit(limit);
  }

  async activityCount(tenantId: string, provisioningId: string): Promise<number> {
    const [r] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(scimActivity)
      .where(and(eq(scimActivity.tenantId, tenantId), eq(scimActivity.provisioningId, provisioningId)));
    return r?.n ?? 0;
  }

  /**
   * The common create (a new userName, no enrolment email) as one statement: the insert and its
   * activity row commit together, and the statement is its own transaction — an initial push of
   * thousands of users costs two statements per user (this and the token check). Null when the
   * userName is held: the caller then takes the full path (claim or 409).
   */
  async createUserLogged(row: Omit<ScimUserRow, 'id' | 'createdAt' | 'updatedAt'>, tx: Executor = this.db): Promise<ScimUserRow | null> {
    const u = mfaUsers;
    const at = new Date().toISOString();
    const [r] = await queryRows<ScimUserRow & { createdAt: Date | string; updatedAt: Date | string }>(
      tx,
      sql`with ins as (
            insert into ${u} (tenant_id, provisioning_id, username, email, first_name, last_name, external_id, display_name, suspended_at)
            values (${row.tenantId}::uuid, ${row.provisioningId}::uuid, ${row.username}, ${row.email}, ${row.firstName}, ${row.lastName},
                    ${row.externalId}, ${row.displayName}, ${row.suspendedAt ? row.suspendedAt.toISOString() : null}::timestamptz)
            on conflict do nothing
            returning *),
          logged as (
            insert into ${scimActivity} (tenant_id, provisioning_id, at, method, resource, status, result)
            select tenant_id, provisioning_id, ${at}::timestamptz, 'POST', 'Users', 201, 'created ' || id from ins)
          select id, tenant_id as "tenantId", provisioning_id as "provisioningId", username, email, first_name as "firstName",
                 last_name as "lastName", external_id as "externalId", display_name as "displayName",
                 suspended_at as "suspendedAt", created_at as "createdAt", updated_at as "updatedAt"
          from ins`,
    );
    if (!r) return null;
    const date = (v: Date | string | null) => (v === null ? null : v instanceof Date ? v : new Date(v));
    return { ...r, createdAt: date(r.createdAt)!, updatedAt: date(r.updatedAt)!, suspendedAt: date(r.suspendedAt) };
  }

  async purgeActivity(before: Date): Promise<void> {
    await this.db.delete(scimActivity).where(lt(scimActivity.at, before));
    await this.db.delete(scimTokens).where(lt(scimTokens.expiresAt, before));
  }
}
