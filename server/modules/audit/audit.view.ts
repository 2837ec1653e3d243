import { toGlobalId } from '../../shared/ids.js';
import { AuditActorKind, type AuditEventRow } from './audit.types.js';

/**
 * The public shape of an event, one place for every transport: GraphQL's `AuditEvent` fields
 * and the NDJSON export's lines. Ids are global; `changes` keeps JSON values (the GraphQL
 * field renders them as JSON text).
 */
export function actorView(e: Pick<AuditEventRow, 'actorKind' | 'actorId' | 'actorName'>) {
  const type = e.actorKind === AuditActorKind.API_TOKEN ? 'ApiToken' : e.actorKind === AuditActorKind.SCIM ? 'Provisioning' : 'User';
  return { kind: e.actorKind as AuditActorKind, id: e.actorId ? toGlobalId(type, e.actorId) : null, name: e.actorName };
}

export function targetView(e: Pick<AuditEventRow, 'targetType' | 'targetId' | 'targetName'>) {
  return { type: e.targetType, id: e.targetId ? toGlobalId(e.targetType, e.targetId) : null, name: e.targetName };
}

/**
 * `{ field: [before, after] }` as stored (or `{ before, after }`, as events written before that
 * were), fields sorted by name: `json` keeps the order each writer used, and readers (the API,
 * the export) should see one order whatever wrote the event.
 */
export function changesOf(e: Pick<AuditEventRow, 'changes'>): Record<string, { before: unknown; after: unknown }> {
  const c = (typeof e.changes === 'string' ? JSON.parse(e.changes) : e.changes) as Record<string, unknown> | null;
  const out: Record<string, { before: unknown; after: unknown }> = {};
  const fields = Object.entries(c ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [field, v] of fields) {
    out[field] = Array.isArray(v) ? { before: v[0] ?? null, after: v[1] ?? null } : (v as { before: unknown; after: unknown });
  }
  return out;
}

/** One line of `GET /audit-events.ndjson`. */
export function exportLine(e: AuditEventRow): string {
  return JSON.stringify({
    id: toGlobalId('AuditEvent', String(e.seq)),
    at: (e.at instanceof Date ? e.at : new Date(e.at)).toISOString(),
    actor: actorView(e),
    action: e.action,
    target: targetView(e),
    changes: changesOf(e),
    requestId: e.requestId,
    clientAddress: e.clientAddress,
  });
}
