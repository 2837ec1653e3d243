import type { Executor } from '../../shared/db.js';
import { GraphQLError } from 'graphql';
import { integerKey, keysetPage } from '../../shared/pagination.js';
import type { Viewer } from '../../shared/viewer.js';
import type { AuditStore } from './audit.store.js';
import { AuditActorKind, type AuditActor, type AuditEntry, type AuditEventRow, type AuditQuery } from './audit.types.js';

const SECRET_FIELD = /password|secret|token|hash|code/i;
const MAX_RANGE_MS = 366 * 24 * 3600_000;

/** The actor of a viewer's request: the admin or the API token, with request id and address. */
export function actorOf(viewer: Viewer): AuditActor {
  const token = viewer.apiToken;
  return {
    kind: token ? AuditActorKind.API_TOKEN : AuditActorKind.ADMIN,
    id: token ? token.id : viewer.userId,
    name: token ? token.name : null,
    requestId: viewer.request?.id ?? null,
    address: viewer.request?.address ?? null,
  };
}

/** Background work (automatic syncs). */
export const SCHEDULER_ACTOR: AuditActor = { kind: AuditActorKind.SCHEDULER, id: null, name: null, requestId: null, address: null };

/**
 * The before/after of the fields that differ between two snapshots, secrets replaced by
 * "[redacted]" (a password change shows that it changed, never the value). Null when nothing changed.
 */
export function diff(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  fields: readonly string[],
): Record<string, { before: unknown; after: unknown }> | null {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const f of fields) {
    const b = before ? normalize(before[f]) : null;
    const a = after ? normalize(after[f]) : null;
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
  ) {}

  /** Writes the events in the caller's transaction (one INSERT). */
  async record(tx: Executor, tenantId: string, actor: AuditActor, entries: AuditEntry | readonly AuditEntry[]): Promise<void> {
    if (!this.opts.enabled) return;
    await this.store.insert(tenantId, actor, Array.isArray(entries) ? entries : [entries as AuditEntry], tx);
  }

  /** The viewer's events, newest first. Validates the time range before any SQL runs. */
  page(viewer: Viewer, q: AuditQuery, args: { first?: number | null; after?: string | null }) {
    if (q.since && q.until && q.since.getTime() >= q.until.getTime()) throw invalidInput('"until" must be after "since".', 'filter.until');
    const start = q.since?.getTime() ?? null;
    const end = q.until?.getTime() ?? null;
    for (const [t, f] of [
      [start, 'filter.since'],
      [end, 'filter.until'],
    ] as const) {
      if (t !== null && (!Number.isFinite(t) || t < Date.UTC(2000, 0, 1) || t > Date.now() + MAX_RANGE_MS))
        throw invalidInput('The time is out of range.', f);
    }
    if (start !== null && end !== null && end - start > MAX_RANGE_MS)
      throw invalidInput('The range may span at most 366 days: page through longer periods, or leave both ends open.', 'filter.until');
    return keysetPage(args, {
      key: integerKey,
      fetch: (limit, after) => this.store.page(viewer.tenantId, q, limit, after),
      cursorOf: (r: AuditEventRow) => [r.seq],
      count: () => this.store.count(viewer.tenantId, q),
    });
  }

  async byId(viewer: Viewer, id: string): Promise<AuditEventRow | null> {
    const [row] = await this.store.byIds(viewer.tenantId, [id]);
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
