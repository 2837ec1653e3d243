import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import { bulkOperationItems, bulkOperations, uploads } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { ErrorCode } from '../../shared/errors.js';
import type { BulkItemRow, BulkOperationRow } from './bulk-operation.types.js';

/**
 * Error codes as stored. Rows written before every code was an ErrorCode may hold another
 * value (e.g. `PASSWORD_POLICY`); the API type is the enum, so such a value reads as INVALID_INPUT.
 */
function asErrorCode(code: string | null): ErrorCode | null {
  if (code === null) return null;
  return code in ErrorCode ? (code as ErrorCode) : ErrorCode.INVALID_INPUT;
}

/** Bytes of a sealed upload read per statement (`upload`). */
const UPLOAD_SLICE = 512 * 1024;

/**
 * The audit events of recorded items, written by `record`'s own statement: the audit module's
 * CTE and live-feed announcement for it (`AuditService.inStatement`), and the events' action.
 */
export interface ItemAudit {
  action: string;
  cte: (rows: SQL) => SQL;
  announce: SQL | null;
}

/**
 * SQL of bulk operations: `bulk_operations`, `bulk_operation_items` and `uploads`; audit events
 * only through the audit module's CTE.
 */

export class BulkOperationStore {
  constructor(private readonly db: Db) {}

  /** Locks the operation row (`SELECT … FOR UPDATE`): a chunk, a cancel and another worker take turns on it. */
  async lock(id: string, tx: Executor): Promise<BulkOperationRow | null> {
    const [op] = await tx.select().from(bulkOperations).where(eq(bulkOperations.id, id)).for('update');
    return op ?? null;
  }

  async insert(
    row: { tenantId: string; kind: string; input: unknown; total: number; actorUserId: string | null; actorTokenId: string | null },
    tx: Executor,
  ) {
    const [op] = await tx.insert(bulkOperations).values(row).returning();
    return op!;
  }

  async byId(id: string, tx: Executor = this.db): Promise<BulkOperationRow | null> {
    const [op] = await tx.select().from(bulkOperations).where(eq(bulkOperations.id, id));
    return op ?? null;
  }

  async byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<BulkOperationRow[]> {
    if (!ids.length) return [];
    return tx
      .select()
      .from(bulkOperations)
      .where(and(eq(bulkOperations.tenantId, tenantId), inArray(bulkOperations.id, [...ids])));
  }

  /**
   * A status change that only applies from the given states: a cancel that lands between a
   * worker's read and its write is never overwritten.
   */
  async transition(id: string, from: string[], patch: Partial<BulkOperationRow>, tx: Executor = this.db): Promise<BulkOperationRow | null> {
    const { id: _id, ...rest } = patch;
    const [op] = await tx
      .update(bulkOperations)
      .set(rest)
      .where(and(eq(bulkOperations.id, id), inArray(bulkOperations.status, from)))
      .returning();
    return op ?? null;
  }

  /**
   * Records a chunk's outcomes and bumps the counters, in the chunk's transaction. The rows go
   * as one JSON parameter (jsonb_to_recordset): one bind value instead of eight per row, which
   * is much cheaper to build, send and plan than a VALUES list of thousands of parameters.
   * With `audit`, the same statement writes one audit event per item that succeeded (failed
   * and skipped items changed nothing): the user as target, the item's message as the change
   * of `outcome`, the operation as source. Built from the items' rows in the database: the
   * events never travel as a second JSON document (a 1,000-item chunk's was ~200 KB).
   */
  async record(
    operationId: string,
    items: Omit<BulkItemRow, 'operationId'>[],
    tx: Executor,
    audit: ItemAudit | null = null,
  ): Promise<BulkOperationRow | null> {
    if (!items.length) return this.byId(operationId, tx);
    const json = JSON.stringify(
      items.map((i) => ({
        seq: i.seq,
        user_id: i.userId,
        reference: i.reference,
        email: i.email,
        outcome: i.outcome,
        error_code: i.errorCode,
        message: i.message,
      })),
    );
    const audited = audit
      ? sql`, ${audit.cte(sql`
          select ${audit.action}::text as action, 'User'::text as target_type, x.user_id as target_id,
                 coalesce(x.email, x.reference) as target_name,
                 case when x.message is null then null else json_build_object('outcome', json_build_array(null, x.message)) end as changes,
                 ${operationId}::uuid as source_id
          from x where x.outcome = 'SUCCEEDED' order by x.seq`)}`
      : sql``;
    await tx.execute(sql`
      with x as materialized (
        select * from jsonb_to_recordset(${json}::jsonb)
          as x(seq int, user_id uuid, reference text, email text, outcome text, error_code text, message text)),
      ins as (
        insert into ${bulkOperationItems} (operation_id, seq, user_id, reference, email, outcome, error_code, message)
        select ${operationId}::uuid, x.seq, x.user_id, x.reference, x.email, x.outcome, x.error_code, x.message from x)
      ${audited}
      select ${audit?.announce ?? sql`0`} as announced`);
    const count = (o: string) => items.filter((i) => i.outcome === o).length;
    const [op] = await tx
      .update(bulkOperations)
      .set({
        processed: sql`${bulkOperations.processed} + ${items.length}`,
        succeeded: sql`${bulkOperations.succeeded} + ${count('SUCCEEDED')}`,
        failed: sql`${bulkOperations.failed} + ${count('FAILED')}`,
        skipped: sql`${bulkOperations.skipped} + ${count('SKIPPED')}`,
      })
      .where(eq(bulkOperations.id, operationId))
      .returning();
    return op ?? null;
  }

  async items(
    operationId: string,
    outcome: string | null,
    limit: number,
    afterSeq: number,
    tx: Executor = this.db,
  ): Promise<BulkItemRow[]> {
    const rows = await tx
      .select()
      .from(bulkOperationItems)
      .where(
        and(
          eq(bulkOperationItems.operationId, operationId),
          outcome ? eq(bulkOperationItems.outcome, outcome) : undefined,
          gt(bulkOperationItems.seq, afterSeq),
        ),
      )
      .orderBy(asc(bulkOperationItems.seq))
      .limit(limit);
    return rows.map((r) => ({ ...r, errorCode: asErrorCode(r.errorCode) }));
  }

  async itemCount(operationId: string, outcome: string | null, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(bulkOperationItems)
      .where(and(eq(bulkOperationItems.operationId, operationId), outcome ? eq(bulkOperationItems.outcome, outcome) : undefined));
    return r?.n ?? 0;
  }

  /** `content` is the sealed file (the service seals it with the row's id, hence the id is given). */
  async insertUpload(row: {
    id: string;
    tenantId: string;
    createdBy: string | null;
    filename: string | null;
    size: number;
    content: Buffer;
  }) {
    const [u] = await this.db.insert(uploads).values(row).returning({ id: uploads.id });
    return u!.id;
  }

  /**
   * Deletes one upload (by tenant and id) or every upload older than the given age, in both
   * cases only when no queued or running operation still reads it.
   */
  async deleteUploads(which: { tenantId: string; id: string } | { olderThanHours: number }, tx: Executor = this.db): Promise<void> {
    const target =
      'id' in which
        ? sql`u.tenant_id = ${which.tenantId} and u.id = ${which.id}`
        : sql`u.created_at < now() - make_interval(hours => ${which.olderThanHours})`;
    await tx.execute(sql`
      delete from ${uploads} u where ${target}
        and not exists (
          select 1 from ${bulkOperations} b
          where b.tenant_id = u.tenant_id and b.status in ('QUEUED', 'RUNNING') and b.kind = 'UPLOAD_USERS'
            and b.input->>'uploadId' = u.id::text)`);
  }

  /**
   * One upload with its sealed content, read a slice at a time: a statement whose result is
   * the whole file (4.4 MB for 100k rows, 8.8 MB of hex text on the wire) grew PGlite's WASM
   * memory by ~37 MB for good (it never shrinks), and made as large transient strings on
   * either engine. Null when there is no such upload, or it was deleted while being read.
   */
  async upload(tenantId: string, id: string, tx: Executor = this.db) {
    const which = and(eq(uploads.tenantId, tenantId), eq(uploads.id, id));
    const [u] = await tx
      .select({
        id: uploads.id,
        tenantId: uploads.tenantId,
        createdBy: uploads.createdBy,
        filename: uploads.filename,
        size: uploads.size,
        createdAt: uploads.createdAt,
        length: sql<number>`octet_length(${uploads.content})`,
      })
      .from(uploads)
      .where(which);
    if (!u) return null;
    const { length, ...meta } = u;
    const content = Buffer.allocUnsafe(length);
    for (let at = 0; at < length; at += UPLOAD_SLICE) {
      const [s] = await tx
        .select({ part: sql<Uint8Array>`substring(${uploads.content} from ${at + 1} for ${UPLOAD_SLICE})` })
        .from(uploads)
        .where(which);
      if (!s) return null;
      content.set(s.part, at);
    }
    return { ...meta, content };
  }
}
