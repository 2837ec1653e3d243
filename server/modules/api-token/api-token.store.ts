import { and, desc, eq, isNull, or, sql } from 'drizzle-orm';
import { apiTokens } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { uuidArray } from '../../shared/sql.js';

import type { ApiTokenRow } from './api-token.types.js';

export type { ApiTokenRow };

/** What authentication needs of a token found by a secret's hash. */
export interface ApiTokenLookup extends ApiTokenRow {
  /** True when the secret was the previous one of a rotation (valid until `previousExpiresAt`). */
  viaPrevious: boolean;
}

// Hashes are never selected: a row leaving the store cannot carry one.
const COLUMNS = {
  id: apiTokens.id,
  tenantId: apiTokens.tenantId,
  name: apiTokens.name,
  scopes: apiTokens.scopes,
  previousExpiresAt: apiTokens.previousExpiresAt,
  createdBy: apiTokens.createdBy,
  createdAt: apiTokens.createdAt,
  expiresAt: apiTokens.expiresAt,
  revokedAt: apiTokens.revokedAt,
  rotatedAt: apiTokens.rotatedAt,
  lastUsedAt: apiTokens.lastUsedAt,
  lastUsedAddress: apiTokens.lastUsedAddress,
};

export class ApiTokenStore {
  constructor(private readonly db: Db) {}

  async insert(
    v: { tenantId: string; name: string; scopes: string[]; tokenHash: string; createdBy: string | null; expiresAt: Date | null },
    tx: Executor = this.db,
  ): Promise<ApiTokenRow> {
    const [row] = await tx.insert(apiTokens).values(v).returning(COLUMNS);
    return row!;
  }

  /** The token holding this hash as its current or (rotated) previous secret. */
  async byHash(tokenHash: string, tx: Executor = this.db): Promise<ApiTokenLookup | null> {
    const [row] = await tx
      .select({ ...COLUMNS, viaPrevious: sql<boolean>`${apiTokens.tokenHash} <> ${tokenHash}` })
      .from(apiTokens)
      .where(or(eq(apiTokens.tokenHash, tokenHash), eq(apiTokens.previousTokenHash, tokenHash)))
      .limit(1);
    return row ?? null;
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<ApiTokenRow[]> {
    if (!ids.length) return [];
    return tx
      .select(COLUMNS)
      .from(apiTokens)
      .where(and(eq(apiTokens.tenantId, tenantId), sql`${apiTokens.id} = any(${uuidArray(ids)})`));
  }

  /** Locks one token of the tenant for a change (revoke, rotate). */
  async lockOne(tenantId: string, id: string, tx: Executor): Promise<ApiTokenRow | null> {
    const [row] = await tx
      .select(COLUMNS)
      .from(apiTokens)
      .where(and(eq(apiTokens.tenantId, tenantId), eq(apiTokens.id, id)))
      .for('update');
    return row ?? null;
  }

  /** Newest first, keyset on (created_at, id). */
  async page(tenantId: string, limit: number, after: [string, string] | null, tx: Executor = this.db): Promise<ApiTokenRow[]> {
    return tx
      .select(COLUMNS)
      .from(apiTokens)
      .where(
        and(
          eq(apiTokens.tenantId, tenantId),
          after
            ? sql`(date_trunc('milliseconds', ${apiTokens.createdAt}), ${apiTokens.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)`
            : undefined,
        ),
      )
      .orderBy(desc(sql`date_trunc('milliseconds', ${apiTokens.createdAt})`), desc(apiTokens.id))
      .limit(limit);
  }

  async count(tenantId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(apiTokens)
      .where(eq(apiTokens.tenantId, tenantId));
    return r?.n ?? 0;
  }

  async revoke(tenantId: string, id: string, tx: Executor): Promise<ApiTokenRow | null> {
    const [row] = await tx
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiTokens.tenantId, tenantId), eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .returning(COLUMNS);
    return row ?? null;
  }

  /** The current secret becomes the previous one (valid until `previousExpiresAt`); `tokenHash` is the new one. */
  async rotate(tenantId: string, id: string, tokenHash: string, previousExpiresAt: Date, tx: Executor): Promise<ApiTokenRow | null> {
    const [row] = await tx
      .update(apiTokens)
      .set({ previousTokenHash: sql`${apiTokens.tokenHash}`, tokenHash, previousExpiresAt, rotatedAt: new Date() })
      .where(and(eq(apiTokens.tenantId, tenantId), eq(apiTokens.id, id)))
      .returning(COLUMNS);
    return row ?? null;
  }

  /**
   * Records a use. The condition makes concurrent requests of one token write once a minute
   * at most (the caller only tries when its read showed an older time).
   */
  async touch(id: string, address: string | null, tx: Executor = this.db): Promise<void> {
    await tx
      .update(apiTokens)
      .set({ lastUsedAt: new Date(), lastUsedAddress: address })
      .where(and(eq(apiTokens.id, id), sql`(${apiTokens.lastUsedAt} is null or ${apiTokens.lastUsedAt} < now() - interval '1 minute')`));
  }
}
