import { and, desc, eq, gte, inArray, like, lt, sql, type SQL } from 'drizzle-orm';
import { auditEvents } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { queryRows } from '../../shared/db.js';
import { names } from '../../shared/sql.js';
import type { AuditActor, AuditEntry, AuditEventRow, AuditQuery, SeqRange } from './audit.types.js';

export type { AuditQuery };

/**
 * Changes are stored as `{ field: [before, after] }`: a sync writes one event per user, and
 * the repeated "before"/"after" keys were a tenth of each row. `audit.view.ts` reads both shapes.
 */
function compact(changes: AuditEntry['changes']): Record<string, [unknown, unknown]> | null {
  if (!changes) return null;
  const out: Record<string, [unknown, unknown]> = {};
  for (const [field, c] of Object.entries(changes)) out[field] = [c.before ?? null, c.after ?? null];
  return out;
}

/** A SELECT of event rows (or the CTE made of one), passed between stores through the audit service. */
export type EventRowsSql = SQL;

export class AuditStore {
  constructor(private readonly db: Db) {}

  /**
   * One INSERT … SELECT for the whole batch, in the caller's transaction. The entries travel as
   * one JSON parameter, so a sync chunk of thousands of users is one statement with a handful
   * of parameters (a multi-row VALUES would hit PostgreSQL's 65,535-parameter limit).
   */
  async insert(tenantId: string, actor: AuditActor, entries: readonly AuditEntry[], tx: Executor): Promise<SeqRange | null> {
    if (!entries.length) return null;
    const json = JSON.stringify(
      entries.map((e) => ({
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        target_name: e.targetName,
        changes: compact(e.changes),
        source_id: e.sourceId ?? null,
      })),
    );
    const t = auditEvents;
    const [range] = await queryRows<{ from: number | string; to: number | string }>(
      tx,
      sql`
      with ins as (
        insert into ${t} (${names(t.tenantId, t.actorKind, t.actorId, t.actorName, t.requestId, t.clientAddress, t.action, t.targetType, t.targetId, t.targetName, t.changes, t.sourceId)})
        select ${tenantId}::uuid, ${actor.kind}, ${actor.id}::uuid, ${actor.name}, ${actor.requestId}, ${actor.address},
               e.action, e.target_type, e.target_id, e.target_name, e.changes, e.source_id
        from jsonb_to_recordset(${json}::jsonb) as e(action text, target_type text, target_id uuid, target_name text, changes json, source_id uuid)
        returning seq)
      select min(seq) as "from", max(seq) as "to" from ins`,
    );
    return range ? { from: Number(range.from), to: Number(range.to) } : null;
  }

  /**
   * For a store that writes events in the statement of its own change: a CTE `audited`
   * inserting one event per row of `rows` (columns action, target_type, target_id, target_name,
   * changes as `{ field: [before, after] }`, source_id), returning `seq`. The caller selects
   * `min(seq)`/`max(seq)` from it for the live feed. No JSON travels: the rows never leave the
   * database.
   */
  insertCte(tenantId: string, actor: AuditActor, rows: SQL): SQL {
    const t = auditEvents;
    return sql`audited as (
      insert into ${t} (${names(t.tenantId, t.actorKind, t.actorId, t.actorName, t.requestId, t.clientAddress, t.action, t.targetType, t.targetId, t.targetName, t.changes, t.sourceId)})
      select ${tenantId}::uuid, ${actor.kind}, ${actor.id}::uuid, ${actor.name}, ${actor.requestId}, ${actor.address},
             e.action, e.target_type, e.target_id, e.target_name, e.changes, e.source_id
      from (${rows}) e
      returning seq)`;
  }

  /**
   * After `insertCte`'s `audited`: an expression for the statement to select that announces the
   * events it wrote (`notify` makes the NOTIFY of their seq range), or nothing when it wrote none.
   */
  announcedSql(notify: (range: SQL) => SQL): SQL {
    return sql`(select count(*) from (select ${notify(sql`json_build_object('from', min(seq), 'to', max(seq))`)}
                  from audited having count(*) > 0) n)`;
  }

  /** The highest `seq` of the tenant now (where a live feed starts). */
  async maxSeq(tenantId: string, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<string | number | null>`max(${auditEvents.seq})` })
      .from(auditEvents)
      .where(eq(auditEvents.tenantId, tenantId));
    return Number(r?.n ?? 0);
  }

  /**
   * Oldest first from `afterSeq` (exclusive), at most up to `toSeq`, matching `q`: the keyset
   * page of the live feed and of the NDJSON export.
   */
  async forward(tenantId: string, q: AuditQuery, afterSeq: number, toSeq: number | null, limit: number, tx: Executor = this.db) {
    return tx
      .select()
      .from(auditEvents)
      .where(
        and(
          this.where(tenantId, q),
          sql`${auditEvents.seq} > ${afterSeq}`,
          toSeq !== null ? sql`${auditEvents.seq} <= ${toSeq}` : undefined,
        ),
      )
      .orderBy(auditEvents.seq)
      .limit(limit);
  }

  private where(tenantId: string, q: AuditQuery): SQL | undefined {
    return and(
      eq(auditEvents.tenantId, tenantId),
      q.actorId ? eq(auditEvents.actorId, q.actorId) : undefined,
      q.actorKind ? eq(auditEvents.actorKind, q.actorKind) : undefined,
      q.targetId ? eq(auditEvents.targetId, q.targetId) : undefined,
      q.sourceId ? eq(auditEvents.sourceId, q.sourceId) : undefined,
      q.targetType ? eq(auditEvents.targetType, q.targetType) : undefined,
      q.action
        ? q.action.endsWith('.')
          ? like(auditEvents.action, `${q.action.replace(/[\\%_]/g, (c) => '\\' + c)}%`)
          : eq(auditEvents.action, q.action)
        : undefined,
      q.since ? gte(auditEvents.at, q.since) : undefined,
      q.until ? lt(auditEvents.at, q.until) : undefined,
    );
  }

  /** Newest first, keyset on `seq`. */
  async page(tenantId: string, q: AuditQuery, limit: number, afterSeq: number | null, tx: Executor = this.db): Promise<AuditEventRow[]> {
    return tx
      .select()
      .from(auditEvents)
      .where(and(this.where(tenantId, q), afterSeq !== null ? lt(auditEvents.seq, afterSeq) : undefined))
      .orderBy(desc(auditEvents.seq))
      .limit(limit);
  }

  async count(tenantId: string, q: AuditQuery, tx: Executor = this.db): Promise<number> {
    const [r] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(auditEvents)
      .where(this.where(tenantId, q));
    return r?.n ?? 0;
  }

  async bySeqs(tenantId: string, seqs: readonly number[], tx: Executor = this.db): Promise<AuditEventRow[]> {
    if (!seqs.length) return [];
    return tx
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.tenantId, tenantId), inArray(auditEvents.seq, [...seqs])));
  }

  /** Retention: deletes at most `batch` events older than `before`; returns how many went. */
  async purgeBatch(before: Date, batch: number, tx: Executor = this.db): Promise<number> {
    const rows = await queryRows<{ seq: string }>(
      tx,
      sql`delete from ${auditEvents} where ${auditEvents.seq} in (
            select ${auditEvents.seq} from ${auditEvents} where ${auditEvents.at} < ${before.toISOString()}::timestamptz limit ${batch})
          returning ${auditEvents.seq} as seq`,
    );
    return rows.length;
  }
}
