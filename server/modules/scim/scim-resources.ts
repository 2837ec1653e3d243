import { isValidEmail, normalizeEmail } from '../../shared/email.js';
import { invalidSyntax, invalidValue } from './scim.errors.js';

/** Pure mapping between SCIM resources (RFC 7643) and the MFA directory's rows: no second user model. */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const MAX_USERNAME_LENGTH = 256;
const MAX_TEXT_LENGTH = 256;
/** Control characters, bidi overrides and zero-width characters: refused in every SCIM string we store. */
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2066-\u2069\uFEFF]/;

/** What a SCIM User maps onto in `mfa_users`. */
export interface UserFields {
  username: string;
  externalId: string | null;
  displayName: string | null;
  firstName: string;
  lastName: string;
  email: string | null;
  active: boolean;
}

/** What a SCIM Group maps onto in `mfa_groups` (members: MFA user ids; undefined = not given). */
export interface GroupFields {
  name: string;
  externalId: string | null;
  members: string[] | undefined;
}

export interface UserRowLike {
  id: string;
  username: string;
  email: string | null;
  firstName: string;
  lastName: string;
  externalId: string | null;
  displayName: string | null;
  suspendedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface GroupRowLike {
  id: string;
  name: string;
  externalId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Weak ETag from the row's last change (every SCIM write sets `updated_at`). */
export function versionOf(row: { updatedAt: Date }): string {
  return `W/"${row.updatedAt.getTime().toString(36)}"`;
}

/** Attribute names are case-insensitive (RFC 7643 §2.1): finds `name` in `obj` ignoring case. */
export function attr(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** SCIM booleans; Entra ID sends `"True"`/`"False"` strings. */
export function toBoolean(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw invalidValue(`"${name}" must be a boolean.`);
}

function text(v: unknown, name: string, max = MAX_TEXT_LENGTH): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalidValue(`"${name}" must be a string.`);
  const t = v.trim();
  if ([...t].length > max) throw invalidValue(`"${name}" must be at most ${max} characters.`);
  if (FORBIDDEN.test(t)) throw invalidValue(`"${name}" must not contain control, bidirectional or zero-width characters.`);
  return t || null;
}

function checkSchemas(body: Record<string, unknown>, expected: string): void {
  const s = attr(body, 'schemas');
  if (s === undefined) return; // clients omitting it are tolerated; a wrong value is not
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw invalidSyntax('"schemas" must be an array of URIs.');
  if (!s.some((x) => (x as string).toLowerCase() === expected.toLowerCase())) throw invalidSyntax(`"schemas" must include ${expected}.`);
}

/** The one email an MFA user has: the primary one, else the work one, else the first. */
function pickEmail(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw invalidValue('"emails" must be an array.');
  const entries = v.map((e) => {
    if (!isObject(e)) throw invalidValue('Each of "emails" must be an object with a "value".');
    const primary = attr(e, 'primary');
    return {
      value: text(attr(e, 'value'), 'emails.value'),
      type: attr(e, 'type'),
      primary: primary === undefined ? false : toBoolean(primary, 'emails.primary'),
    };
  });
  const chosen =
    entries.find((e) => e.primary && e.value) ?? entries.find((e) => e.type === 'work' && e.value) ?? entries.find((e) => e.value);
  if (!chosen?.value) return null;
  const email = normalizeEmail(chosen.value);
  if (!isValidEmail(email)) throw invalidValue(`"${chosen.value}" is not a valid email address.`);
  return email;
}

/** A full User representation (POST, PUT, and a PATCH's result) → the MFA user's fields. */
export function parseUser(body: unknown): UserFields {
  if (!isObject(body)) throw invalidSyntax('The body must be a JSON object.');
  checkSchemas(body, USER_SCHEMA);
  const username = text(attr(body, 'userName'), 'userName', MAX_USERNAME_LENGTH);
  if (!username) throw invalidValue('"userName" is required.');
  const name = attr(body, 'name');
  if (name !== undefined && name !== null && !isObject(name)) throw invalidValue('"name" must be an object.');
  const n = (name ?? {}) as Record<string, unknown>;
  const active = attr(body, 'active');
  return {
    username,
    externalId: text(attr(body, 'externalId'), 'externalId'),
    displayName: text(attr(body, 'displayName'), 'displayName'),
    firstName: text(attr(n, 'givenName'), 'name.givenName', 100) ?? '',
    lastName: text(attr(n, 'familyName'), 'name.familyName', 100) ?? '',
    email: pickEmail(attr(body, 'emails')),
    active: active === undefined || active === null ? true : toBoolean(active, 'active'),
  };
}

/** Member references → ids (validated against the provisioning's users by the service). */
export function memberIds(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((m) => {
    const value = isObject(m) ? attr(m, 'value') : undefined;
    if (typeof value !== 'string' || !value) throw invalidValue('Each member must be an object with a "value" (a User id).');
    return value;
  });
}

export function parseGroup(body: unknown): GroupFields {
  if (!isObject(body)) throw invalidSyntax('The body must be a JSON object.');
  checkSchemas(body, GROUP_SCHEMA);
  const name = text(attr(body, 'displayName'), 'displayName', 100);
  if (!name) throw invalidValue('"displayName" is required.');
  const members = attr(body, 'members');
  return {
    name,
    externalId: text(attr(body, 'externalId'), 'externalId'),
    members: members === undefined ? undefined : memberIds(members),
  };
}

/** The MFA user as a SCIM User; `groups` null when not asked for. */
export function renderUser(u: UserRowLike, groups: { id: string; name: string }[] | null, base: string): Record<string, unknown> {
  const formatted = [u.firstName, u.lastName].filter(Boolean).join(' ');
  return {
    schemas: [USER_SCHEMA],
    id: u.id,
    ...(u.externalId ? { externalId: u.externalId } : {}),
    userName: u.username,
    name: { givenName: u.firstName, familyName: u.lastName, ...(formatted ? { formatted } : {}) },
    displayName: u.displayName ?? (formatted || u.username),
    active: u.suspendedAt === null,
    emails: u.email ? [{ value: u.email, type: 'work', primary: true }] : [],
    ...(groups ? { groups: groups.map((g) => ({ value: g.id, display: g.name, $ref: `${base}/Groups/${g.id}` })) } : {}),
    meta: {
      resourceType: 'User',
      created: u.createdAt.toISOString(),
      lastModified: u.updatedAt.toISOString(),
      location: `${base}/Users/${u.id}`,
      version: versionOf(u),
    },
  };
}

export function renderGroup(g: GroupRowLike, members: { id: string; username: string }[] | null, base: string): Record<string, unknown> {
  return {
    schemas: [GROUP_SCHEMA],
    id: g.id,
    ...(g.externalId ? { externalId: g.externalId } : {}),
    displayName: g.name,
    ...(members
      ? { members: members.map((m) => ({ value: m.id, display: m.username, type: 'User', $ref: `${base}/Users/${m.id}` })) }
      : {}),
    meta: {
      resourceType: 'Group',
      created: g.createdAt.toISOString(),
      lastModified: g.updatedAt.toISOString(),
      location: `${base}/Groups/${g.id}`,
      version: versionOf(g),
    },
  };
}

/** `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): comma-separated paths, core URN prefix allowed. */
export interface Projection {
  attributes: string[] | null;
  excluded: string[];
}

export function parseProjection(attributes: unknown, excluded: unknown, schema: string): Projection {
  const list = (v: unknown, name: string): string[] | null => {
    if (v === undefined) return null;
    if (typeof v !== 'string') throw invalidValue(`"${name}" must be one comma-separated string.`);
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => (s.toLowerCase().startsWith(schema.toLowerCase() + ':') ? s.slice(schema.length + 1) : s).toLowerCase());
  };
  return { attributes: list(attributes, 'attributes'), excluded: list(excluded, 'excludedAttributes') ?? [] };
}

/** Whether the projection asks for a (top-level) attribute, e.g. to skip loading members. */
export function wants(p: Projection, name: string): boolean {
  const n = name.toLowerCase();
  if (p.excluded.includes(n)) return false;
  return p.attributes === null || p.attributes.some((a) => a === n || a.startsWith(n + '.'));
}

const ALWAYS = new Set(['id', 'schemas']);

export function project(resource: Record<string, unknown>, p: Projection): Record<string, unknown> {
  if (p.attributes === null && !p.excluded.length) return resource;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) {
    const key = k.toLowerCase();
    if (ALWAYS.has(key)) {
      out[k] = v;
      continue;
    }
    if (p.excluded.includes(key)) continue;
    if (p.attributes === null) {
      out[k] = isObject(v) ? dropSubs(v, p.excluded, key) : v;
      continue;
    }
    if (p.attributes.includes(key)) out[k] = v;
    else {
      const subs = p.attributes.filter((a) => a.startsWith(key + '.')).map((a) => a.slice(key.length + 1));
      if (subs.length && isObject(v)) out[k] = Object.fromEntries(Object.entries(v).filter(([s]) => subs.includes(s.toLowerCase())));
      else if (subs.length && Array.isArray(v))
        out[k] = v.map((e) => (isObject(e) ? Object.fromEntries(Object.entries(e).filter(([s]) => subs.includes(s.toLowerCase()))) : e));
    }
  }
  return out;
}

function dropSubs(v: Record<string, unknown>, excluded: string[], key: string): Record<string, unknown> {
  const subs = excluded.filter((a) => a.startsWith(key + '.')).map((a) => a.slice(key.length + 1));
  return subs.length ? Object.fromEntries(Object.entries(v).filter(([s]) => !subs.includes(s.toLowerCase()))) : v;
}
