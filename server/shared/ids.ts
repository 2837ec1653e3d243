/**
 * Relay global ids: base64url("Type:uuid"). Clients treat them as opaque; the server decodes
 * them and checks the type, so a Group id passed where a User id is expected is "not found".
 * Types in SEQ_KEYED are keyed by a positive integer instead (audit events: see
 * drizzle/schema/audit.ts); every other type still accepts a uuid only, so an integer never
 * reaches a `::uuid` cast.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEQ = /^[1-9][0-9]{0,14}$/;
const SEQ_KEYED = new Set(['AuditEvent']);

/**
 * Whether `text` has the shape of a uuid (any case). Checked before text from a client (an id in
 * a SCIM path or filter, a cursor's key) reaches a `::uuid` cast, which would fail the statement.
 */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

/**
 * Encoded ids, remembered: a users page encodes each of its 5 groups' ids once per member (500
 * times), and the encoding (a Buffer, then base64) was 2–3 % of the page's CPU. Keyed by type,
 * then by the id string itself: a "Type:id" key was a new string to build and hash on every
 * call, while a row's id string is hashed once (V8 keeps a string's hash), and the rows of a
 * loader are shared by every parent that references them. Bounded: a type's map is emptied
 * when it reaches MAX_CACHED, so memory stays a few MB whatever the traffic.
 */
const encoded = new Map<string, Map<string, string>>();
const MAX_CACHED = 20_000;

export function toGlobalId(type: string, id: string): string {
  let ofType = encoded.get(type);
  if (ofType === undefined) encoded.set(type, (ofType = new Map()));
  let g = ofType.get(id);
  if (g === undefined) {
    g = Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
    if (ofType.size >= MAX_CACHED) ofType.clear();
    ofType.set(id, g);
  }
  return g;
}

export function parseGlobalId(globalId: string): { type: string; id: string } | null {
  if (typeof globalId !== 'string' || globalId.length > 200) return null;
  let decoded: string;
  try {
    decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  } catch {
    return null;
  }
  const i = decoded.indexOf(':');
  if (i <= 0) return null;
  const type = decoded.slice(0, i);
  const id = decoded.slice(i + 1);
  if (SEQ_KEYED.has(type)) return SEQ.test(id) ? { type, id } : null;
  if (!UUID.test(id)) return null;
  return { type, id: id.toLowerCase() };
}

/** The uuid inside `globalId` if it names an object of `type`, else null. */
export function fromGlobalId(globalId: string, type: string): string | null {
  const parsed = parseGlobalId(globalId);
  return parsed && parsed.type === type ? parsed.id : null;
}

/** Stands in for an id that did not decode: a valid uuid that matches no row, so the lookup says "not found". */
export const NO_MATCH = '00000000-0000-0000-0000-000000000000';

/** The uuid of a global id of `type`, or NO_MATCH: for inputs where a bad id must behave like a missing object. */
export function idOrNoMatch(globalId: string, type: string): string {
  return fromGlobalId(globalId, type) ?? NO_MATCH;
}
