import type { Executor } from '../../shared/db.js';
import { GraphQLError } from 'graphql';
import { integerKey, keysetPage } from '../../shared/pagination.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { Viewer } from '../../shared/viewer.js';
import type { AuditStore, EventRowsSql } from './audit.store.js';
import { AuditActorKind, type AuditActor, type AuditEntry, type AuditEventRow, type AuditQuery } from './audit.types.js';

const SECRET_FIELD = /password|secret|token|hash|code/i;
const MAX_RANGE_MS = 366 * 24 * 3600_000;
const FEED_PAGE = 500;
const FEED_REMEMBERED = 10_000;
const EXPORT_PAGE = 1000;

/**
 * A time range of the audit trail: each end a real time between 2000 and a year from now,
 * `until` after `since`, at most 366 days apart. `INVALID_INPUT` naming the field otherwise.
 */
export function checkRange(since: Date | null, until: Date | null, prefix: string): void {
  const start = since?.getTime() ?? null;
  const end = until?.getTime() ?? null;
  for (const [t, f] of [
    [start, 'since'],
    [end, 'until'],
  ] as const) {
    if (t !== null && (!Number.isFinite(t) || t < Date.UTC(2000, 0, 1) || t > Date.now() + MAX_RANGE_MS))
      throw invalidInput('The time is out of range.', prefix + f);
  }
  if (start !== null && end !== null && start >= end) throw invalidInput('"until" must be after "since".', `${prefix}until`);
  if (start !== null && end !== null && end - start > MAX_RANGE_MS)
    throw invalidInput('The range may span at most 366 days: page through longer periods, or leave both ends open.', `${prefix}until`);
}

/** The actor of a viewer's request: the admin or the API token, with request id and address. */
export function actorOf(viewer: Viewer): AuditActor {
  const token = viewer.apiToken;
  // Operator commands (the CLI) act for a tenant without any session or token.
  if (!token && !viewer.userId) return { ...SYSTEM_ACTOR };
  return {
    kind: token ? AuditActorKind.API_TOKEN : AuditActorKind.ADMIN,
    id: token ? token.id : viewer.userId,
    name: token ? token.name : null,
    requestId: viewer.request?.id ?? null,
    address: viewer.request?.address ?? null,
  };
}

/** An end user acting on their own account (portal sign-in, activation, password change). */
export function endUserActor(userId: string | null, name: string | null, address: string | null): AuditActor {
  return { kind: AuditActorKind.END_USER, id: userId, name, requestId: null, address };
}

/** Roster itself: operator commands at the console. */
export const SYSTEM_ACTOR: AuditActor = { kind: AuditActorKind.SYSTEM, id: null, name: null, requestId: null, address: null };

/** Background work (automatic syncs). */
export const SCHEDULER_ACTOR: AuditActor = { kind: AuditActorKind.SCHEDULER, id: null, name: null, requestId: null, address: null };

/**
 * The before/after of the fields that differ between two snapshots, secrets replaced by
 * "[redacted]" (a password change shows that it changed, never the value). Null when nothing changed.
 */
export function diff(
  before: object | null,
  after: object | null,
  fields: readonly string[],
): Record<string, { before: unknown; after: unknown }> | null {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const f of fields) {
    const b = before ? normalize((before as Record<string, unknown>)[f]) : null;
    const a = after ? normalize((after as Record<string, unknown>)[f]) : null;
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    out[f] = SECRET_FIELD.test(f)
      ? { before: b == null ? null : '[redacted]', after: a == null ? null : '[redacted]' }
      : { before: b, after: a };
  }
  return Object.keys(out).length ? out : null;
}

function normalize(v: unknown): unknown {
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  return v;
}

function invalidInput(message: string, field: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'INVALID_INPUT', field } });
}

/**
 * The audit trail. Services call `record` inside the transaction of the change, so an event
 * exists if and only if its change committed.
 */
export class AuditService {
  constructor(
    private readonly store: AuditStore,
    private readonly opts: { retentionDays: number; enabled: boolean },
    /** Live feeds; absent for operator commands (the CLI), which no subscriber shares a process with. */
    private readonly pubsub: PubSub | null = null,
  ) {}

  /** Whether events are written at all (AUDIT_ENABLED). */
  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Writes the events in the caller's transaction (one INSERT). */
  async record(tx: Executor, tenantId: string, actor: AuditActor, entries: AuditEntry | readonly AuditEntry[]): Promise<void> {
    if (!this.opts.enabled) return;
    const range = await this.store.insert(tenantId, actor, Array.isArray(entries) ? entries : [entries as AuditEntry], tx);
    // Delivered at commit (NOTIFY inside the transaction), never for a rolled-back change.
    if (range && this.pubsub) await this.pubsub.publishOnCommit(tx, 'auditEvents', tenantId, range);
  }

  /**
   * Events written by another store in the statement of its change (a sync chunk's creates):
   * the `audited` CTE for that statement, or null when auditing is off. After the statement,
   * `announce` the seq range it returned.
   */
  cte(tenantId: string, actor: AuditActor): ((rows: EventRowsSql) => EventRowsSql) | null {
    return this.opts.enabled ? (rows) => this.store.insertCte(tenantId, actor, rows) : null;
  }

  /**
   * For a change written in one statement (a sign-in, with no transaction around it; a bulk
   * chunk's recorded items): the `audited` CTE for that statement (see `cte`) and an expression
   * for the statement to select, which announces the events to live feeds when the statement's
   * transaction commits. Null when auditing is off.
   */
  inStatement(tenantId: string, actor: AuditActor): { cte: (rows: EventRowsSql) => EventRowsSql; announce: EventRowsSql | null } | null {
    if (!this.opts.enabled) return null;
    const pubsub = this.pubsub;
    return {
      cte: (rows) => this.store.insertCte(tenantId, actor, rows),
      announce: pubsub ? this.store.announcedSql((range) => pubsub.notifyOnCommitSql('auditEvents', tenantId, range)) : null,
    };
  }

  /** The live feed's notification for events written through `cte`, delivered at commit. */
  async announce(tx: Executor, tenantId: string, range: { from: number | string | null; to: number | string | null }): Promise<void> {
    if (range.from === null || range.to === null || !this.pubsub) return;
    await this.pubsub.publishOnCommit(tx, 'auditEvents', tenantId, { from: Number(range.from), to: Number(range.to) });
  }

  /** One event of a viewer's change (admin or API token), in the change's transaction. */
  change(
    tx: Executor,
    viewer: Viewer,
    action: string,
    target: { type: string; id: string | null; name: string | null },
    changes: AuditEntry['changes'] = null,
    sourceId: string | null = null,
  ): Promise<void> {
    return this.record(tx, viewer.tenantId, actorOf(viewer), {
      action,
      targetType: target.type,
      targetId: target.id,
      targetName: target.name,
      changes,
      sourceId,
    });
  }

  /** The viewer's events, newest first. Validates the time range before any SQL runs. */
  page(viewer: Viewer, q: AuditQuery, args: { first?: number | null; after?: string | null }) {
    checkRange(q.since ?? null, q.until ?? null, 'filter.');
    return keysetPage(args, {
      key: integerKey,
      fetch: (limit, after) => this.store.page(viewer.tenantId, q, limit, after),
      cursorOf: (r: AuditEventRow) => [r.seq],
      count: () => this.store.count(viewer.tenantId, q),
    });
  }

  /**
   * The live feed: events committed after the subscription started, as they commit, matching
   * `q` (action or action prefix, target type, actor kind). Each notification names the seq
   * range one insert wrote; the rows are read back in pages, so a sync chunk of thousands of
   * events is never one message. When the bus may have lost notifications (its connection
   * dropped) the feed reads everything after the last event it delivered. Tenant-scoped by
   * construction: the topic and every read carry the viewer's tenant.
   */
  async *follow(viewer: Viewer, q: AuditQuery): AsyncGenerator<AuditEventRow> {
    if (!this.pubsub) return;
    const tenantId = viewer.tenantId;
    const controller = new AbortController();
    const events = this.pubsub.subscribe('auditEvents', tenantId, controller.signal);
    let wake: (() => void) | null = null;
    const removeResync = this.pubsub.onResync(() => wake?.());
    // Concurrent inserts can interleave seq values, so two ranges may overlap: deliver once.
    const delivered = new Set<number>();
    try {
      let last = await this.store.maxSeq(tenantId);
      let next = events.next();
      for (;;) {
        const woken = new Promise<'resync'>((resolve) => (wake = () => resolve('resync')));
        const got = await Promise.race([next, woken]);
        wake = null;
        let after = last;
        let to: number | null = null;
        if (got !== 'resync') {
          if (got.done) return;
          next = events.next();
          after = got.value.from - 1;
          to = got.value.to;
        }
        for (;;) {
          const rows = await this.store.forward(tenantId, q, after, to, FEED_PAGE);
          for (const r of rows) {
            if (delivered.has(r.seq)) continue;
            delivered.add(r.seq);
            if (delivered.size > FEED_REMEMBERED) delivered.delete(delivered.values().next().value!);
            last = Math.max(last, r.seq);
            yield r;
          }
          if (rows.length < FEED_PAGE) break;
          after = rows[rows.length - 1]!.seq;
        }
      }
    } finally {
      removeResync();
      controller.abort();
    }
  }

  /**
   * The export's pages, oldest first: events at or after `since` and before `until` (default
   * now) that existed when it began, read in keyset pages of `EXPORT_PAGE`, so memory stays
   * constant whatever the range holds. The range is checked before any SQL runs.
   */
  async *export(viewer: Viewer, since: Date, until: Date | null): AsyncGenerator<AuditEventRow[]> {
    const end = until ?? new Date();
    checkRange(since, end, '');
    const tenantId = viewer.tenantId;
    const upTo = await this.store.maxSeq(tenantId);
    let after = 0;
    for (;;) {
      const rows = await this.store.forward(tenantId, { since, until: end }, after, upTo, EXPORT_PAGE);
      if (rows.length) yield rows;
      if (rows.length < EXPORT_PAGE) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  /** `seq` as the global id carries it (a decimal string). */
  async byId(viewer: Viewer, seq: string): Promise<AuditEventRow | null> {
    const [row] = await this.store.bySeqs(viewer.tenantId, [Number(seq)]);
    return row ?? null;
  }

  /** Hourly housekeeping: events older than AUDIT_RETENTION_DAYS, in batches (no long lock, no huge transaction). */
  async purgeExpired(batch = 5000): Promise<number> {
    const before = new Date(Date.now() - this.opts.retentionDays * 24 * 3600_000);
    let total = 0;
    for (;;) {
      const n = await this.store.purgeBatch(before, batch);
      total += n;
      if (n < batch) return total;
    }
  }
}
