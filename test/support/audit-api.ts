import type { AuditEventFieldsFragment } from '../../client/src/index.js';

/** An event's changes as `{ field: [before, after] }` (JSON text), for compact assertions. */
export function changesOf(e: AuditEventFieldsFragment): Record<string, [string | null, string | null]> {
  return Object.fromEntries(e.changes.map((c) => [c.field, [c.before, c.after]]));
}

/** The global id of a raw id (what the API returns for it). */
export function toId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}
