import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { scimActivity, scimTokens } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';

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

  async purgeActivity(before: Date): Promise<void> {
    await this.db.delete(scimActivity).where(lt(scimActivity.at, before));
    await this.db.delete(scimTokens).where(lt(scimTokens.expiresAt, before));
  }
}
