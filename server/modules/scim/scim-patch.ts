import { parse, type Filter } from 'scim2-parse-filter';
import { scimPatch, ScimError as PatchLibError, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { invalidPath, invalidSyntax, invalidValue, noTarget, ScimError } from './scim.errors.js';
import {
  attr,
  ENTERPRISE_SCHEMA,
  GROUP_SCHEMA,
  isObject,
  memberIds,
  parseUser,
  PATCH_SCHEMA,
  toBoolean,
  USER_SCHEMA,
  type UserFields,
} from './scim-resources.js';

/**
 * PATCH (RFC 7644 §3.5.2) as real clients send it. Users: the dialects are normalised (Entra ID's
 * capitalised `op` and `"False"` strings, path-less value objects such as Okta's
 * `{"op":"replace","value":{"active":false}}`), applied with `scim-patch` to the user's SCIM
 * representation, and the result mapped back with the same rule as PUT. Groups: membership
 * operations become a delta applied in SQL, so a batch of member changes on a large group never
 * loads its members.
 */

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string | null;
  value: unknown;
}

const MAX_OPERATIONS = 1000;
const MAX_PATH_LENGTH = 1000;

export function parsePatch(body: unknown): PatchOp[] {
  if (!isObject(body)) throw invalidSyntax('The body must be a JSON object.');
  const schemas = attr(body, 'schemas');
  if (
    schemas !== undefined &&
    (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_SCHEMA.toLowerCase()))
  ) {
    throw invalidSyntax(`"schemas" must include ${PATCH_SCHEMA}.`);
  }
  const ops = attr(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) throw invalidSyntax('"Operations" must be a non-empty array.');
  if (ops.length > MAX_OPERATIONS) throw invalidSyntax(`At most ${MAX_OPERATIONS} operations per request.`);
  return ops.map((o) => {
    if (!isObject(o)) throw invalidSyntax('Each operation must be an object.');
    const op = attr(o, 'op');
    const kind = typeof op === 'string' ? op.toLowerCase() : '';
    if (kind !== 'add' && kind !== 'replace' && kind !== 'remove')
      throw invalidSyntax(`Unknown operation "${String(op)}": use add, replace or remove.`);
    const path = attr(o, 'path');
    if (path !== undefined && path !== null && (typeof path !== 'string' || path.length > MAX_PATH_LENGTH))
      throw invalidPath('"path" must be a string.');
    const p = typeof path === 'string' && path.trim() ? path.trim() : null;
    const value = attr(o, 'value');
    if (kind === 'remove' && !p) throw noTarget('A remove operation needs a "path".');
    if (kind !== 'remove' && value === undefined) throw invalidValue(`An ${kind} operation needs a "value".`);
    return { op: kind, path: p, value };
  });
}

/** The core schema prefix is optional in a path; paths into the enterprise extension target nothing we store. */
function stripSchema(path: string, core: string): string | null {
  const lower = path.toLowerCase();
  if (lower.startsWith(ENTERPRISE_SCHEMA.toLowerCase())) return null;
  if (lower.startsWith(core.toLowerCase() + ':')) return path.slice(core.length + 1);
  return path;
}

const READ_ONLY = new Set(['id', 'meta', 'schemas', 'groups']);

/** Applies the operations to the user's current SCIM representation and returns the fields to store. */
export function patchUser(current: Record<string, unknown>, ops: PatchOp[]): UserFields {
  const expanded: ScimPatchOperation[] = [];
  for (const o of ops) {
    if (o.path === null) {
      if (!isObject(o.value)) throw invalidValue(`A path-less ${o.op} needs an object "value".`);
      // Each attribute of a path-less value becomes its own operation, so a complex attribute
      // (`name`) is merged as with a path, and dotted or URN keys (Entra, Okta) are paths.
      for (const [k, v] of Object.entries(o.value)) push(expanded, o.op, k, v);
    } else push(expanded, o.op, o.path, o.value);
  }
  let patched: Record<string, unknown>;
  try {
    patched = scimPatch(current as unknown as ScimResource, expanded, {
      mutateDocument: false,
      treatMissingAsAdd: true,
    }) as unknown as Record<string, unknown>;
  } catch (err) {
    if (err instanceof PatchLibError) throw new ScimError(400, err.scimCode ?? 'invalidSyntax', err.message);
    if (err instanceof ScimError) throw err;
    throw invalidPath('The operation’s path cannot be applied to a User.');
  }
  return parseUser(patched);
}

function push(out: ScimPatchOperation[], op: PatchOp['op'], rawPath: string, value: unknown): void {
  if (rawPath.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase() || rawPath.toLowerCase() === USER_SCHEMA.toLowerCase()) {
    if (rawPath.toLowerCase() === USER_SCHEMA.toLowerCase() && isObject(value))
      for (const [k, v] of Object.entries(value)) push(out, op, k, v);
    return;
  }
  const path = stripSchema(rawPath, USER_SCHEMA);
  if (path === null) return;
  const top = (path.split(/[.[]/)[0] ?? '').toLowerCase();
  if (READ_ONLY.has(top)) return;
  // Entra ID sends booleans as "True"/"False".
  const v = top === 'active' && op !== 'remove' ? toBoolean(value, 'active') : value;
  if (op === 'remove') out.push({ op: 'remove', path, ...(value !== undefined ? { value } : {}) });
  else out.push({ op, path, value: v });
}

/** A group PATCH as changes: name/externalId, and a membership delta applied in SQL. */
export interface GroupChange {
  name?: string;
  externalId?: string | null;
  /** The full new member list (a replace, or a remove of all), then add/remove on top of it. */
  replaceMembers: string[] | null;
  add: Set<string>;
  remove: Set<string>;
}

export function groupChange(ops: PatchOp[]): GroupChange {
  const c: GroupChange = { replaceMembers: null, add: new Set(), remove: new Set() };
  const addMembers = (ids: string[]) => {
    for (const id of ids) {
      if (c.replaceMembers) {
        if (!c.replaceMembers.includes(id)) c.replaceMembers.push(id);
      } else {
        c.add.add(id);
        c.remove.delete(id);
      }
    }
  };
  const removeMembers = (ids: string[]) => {
    for (const id of ids) {
      if (c.replaceMembers) c.replaceMembers = c.replaceMembers.filter((x) => x !== id);
      else {
        c.remove.add(id);
        c.add.delete(id);
      }
    }
  };
  const setAttr = (op: PatchOp['op'], key: string, value: unknown) => {
    const k = key.toLowerCase();
    if (k === 'displayname') {
      if (op === 'remove') throw invalidValue('"displayName" is required and cannot be removed.');
      if (typeof value !== 'string' || !value.trim()) throw invalidValue('"displayName" must be a non-empty string.');
      c.name = value;
    } else if (k === 'externalid') {
      if (op !== 'remove' && value !== null && typeof value !== 'string') throw invalidValue('"externalId" must be a string.');
      c.externalId = op === 'remove' ? null : ((value as string | null) ?? null);
    } else if (k === 'members') {
      if (op === 'replace') c.replaceMembers = [...new Set(memberIds(value))];
      else if (op === 'add') addMembers(memberIds(value));
      else if (value === undefined) {
        c.replaceMembers = [];
        c.add.clear();
        c.remove.clear();
      } else removeMembers(memberIds(value));
    } else if (!READ_ONLY.has(k)) throw invalidPath(`"${key}" is not an attribute of a Group.`);
  };
  for (const o of ops) {
    if (o.path === null) {
      if (!isObject(o.value)) throw invalidValue(`A path-less ${o.op} needs an object "value".`);
      for (const [k, v] of Object.entries(o.value)) setAttr(o.op, stripSchema(k, GROUP_SCHEMA) ?? k, v);
      continue;
    }
    const path = stripSchema(o.path, GROUP_SCHEMA) ?? o.path;
    if (!path.includes('[')) {
      setAttr(o.op, path, o.value);
      continue;
    }
    // members[value eq "…"] (Okta and Entra remove members this way).
    let f: Filter;
    try {
      f = parse(path);
    } catch {
      throw invalidPath(`"${o.path}" is not a valid path.`);
    }
    if (f.op !== '[]' || f.attrPath.toLowerCase() !== 'members') throw invalidPath(`"${o.path}" is not a supported path of a Group.`);
    const ids = valueEqualities(f.valFilter);
    if (!ids) throw invalidPath('Only members[value eq "…"] (or several joined with "or") is supported as a member filter.');
    if (o.op === 'remove') removeMembers(ids);
    else throw invalidPath('Use add with path "members" to add members; a member filter path can only be removed.');
  }
  return c;
}

function valueEqualities(f: Filter): string[] | null {
  if (f.op === 'eq' && 'attrPath' in f && f.attrPath.toLowerCase() === 'value' && typeof f.compValue === 'string') return [f.compValue];
  if (f.op === 'or' && 'filters' in f) {
    const parts = f.filters.map(valueEqualities);
    return parts.every((p): p is string[] => p !== null) ? parts.flat() : null;
  }
  return null;
}
