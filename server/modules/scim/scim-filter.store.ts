import { and, not, or, sql, type SQL } from 'drizzle-orm';
import { parse, type Filter } from 'scim2-parse-filter';
import { mfaGroupMemberships, mfaGroups, mfaUsers } from '../../../drizzle/schema/index.js';
import { isUuid } from '../../shared/ids.js';
import { invalidFilter } from './scim.errors.js';
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA } from './scim-resources.js';

/**
 * SCIM filters (RFC 7644 §3.4.2.2) parsed by `scim2-parse-filter` and translated to SQL over the
 * MFA tables, so filtering and paging happen in the database. Only attributes that map to a
 * column are filterable; anything else is `invalidFilter`. String comparisons ignore case except
 * on `externalId` and `id` (caseExact in RFC 7643).
 */

const MAX_FILTER_LENGTH = 4000;

type Kind = 'text' | 'ci' | 'uuid' | 'time' | 'active' | 'members';
interface Column {
  kind: Kind;
  expr: SQL;
}

const USER_ATTRS: Record<string, Column> = {
  id: { kind: 'uuid', expr: sql`${mfaUsers.id}` },
  username: { kind: 'ci', expr: sql`${mfaUsers.username}` },
  externalid: { kind: 'text', expr: sql`${mfaUsers.externalId}` },
  displayname: { kind: 'ci', expr: sql`${mfaUsers.displayName}` },
  'name.givenname': { kind: 'ci', expr: sql`${mfaUsers.firstName}` },
  'name.familyname': { kind: 'ci', expr: sql`${mfaUsers.lastName}` },
  emails: { kind: 'ci', expr: sql`${mfaUsers.email}` },
  'emails.value': { kind: 'ci', expr: sql`${mfaUsers.email}` },
  active: { kind: 'active', expr: sql`${mfaUsers.suspendedAt}` },
  'meta.created': { kind: 'time', expr: sql`${mfaUsers.createdAt}` },
  'meta.lastmodified': { kind: 'time', expr: sql`${mfaUsers.updatedAt}` },
};

const GROUP_ATTRS: Record<string, Column> = {
  id: { kind: 'uuid', expr: sql`${mfaGroups.id}` },
  displayname: { kind: 'ci', expr: sql`${mfaGroups.name}` },
  externalid: { kind: 'text', expr: sql`${mfaGroups.externalId}` },
  members: { kind: 'members', expr: sql`${mfaGroups.id}` },
  'members.value': { kind: 'members', expr: sql`${mfaGroups.id}` },
  'meta.created': { kind: 'time', expr: sql`${mfaGroups.createdAt}` },
  'meta.lastmodified': { kind: 'time', expr: sql`${mfaGroups.updatedAt}` },
};

export function userFilterSql(filter: string): SQL {
  return translate(parseFilter(filter), USER_ATTRS, USER_SCHEMA);
}

export function groupFilterSql(filter: string): SQL {
  return translate(parseFilter(filter), GROUP_ATTRS, GROUP_SCHEMA);
}

function parseFilter(filter: string): Filter {
  if (filter.length > MAX_FILTER_LENGTH) throw invalidFilter(`A filter is at most ${MAX_FILTER_LENGTH} characters.`);
  try {
    return parse(filter);
  } catch {
    throw invalidFilter(`The filter could not be parsed: ${JSON.stringify(filter.slice(0, 200))}.`);
  }
}

function like(v: string): string {
  return v.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function translate(f: Filter, attrs: Record<string, Column>, core: string, prefix = ''): SQL {
  switch (f.op) {
    case 'and':
    case 'or': {
      const parts = (f as { filters: Filter[] }).filters.map((x) => translate(x, attrs, core, prefix));
      return (f.op === 'and' ? and(...parts) : or(...parts))!;
    }
    case 'not':
      return not(translate((f as { filter: Filter }).filter, attrs, core, prefix));
    case '[]': {
      // emails[value eq "…"], members[value eq "…"]: the sub-filter applies to that attribute's values.
      const vp = f as { attrPath: string; valFilter: Filter };
      return translate(vp.valFilter, attrs, core, `${vp.attrPath}.`);
    }
    default:
      return compare(f as { op: string; attrPath: string; compValue?: unknown }, attrs, core, prefix);
  }
}

function column(path: string, attrs: Record<string, Column>, core: string): Column {
  let p = path;
  if (p.toLowerCase().startsWith(core.toLowerCase() + ':')) p = p.slice(core.length + 1);
  if (p.toLowerCase().startsWith(ENTERPRISE_SCHEMA.toLowerCase())) throw invalidFilter(`"${path}" is not a filterable attribute.`);
  const lower = p.toLowerCase();
  // emails[type eq "work"] and emails[primary eq true]: the one address is the work and primary one.
  if (lower === 'emails.type' || lower === 'emails.primary') return { kind: lower === 'emails.type' ? 'text' : 'active', expr: sql`null` };
  const c = attrs[lower];
  if (!c) throw invalidFilter(`"${path}" is not a filterable attribute (filterable: ${Object.keys(attrs).join(', ')}).`);
  return c;
}

function compare(
  f: { op: string; attrPath: string; compValue?: unknown },
  attrs: Record<string, Column>,
  core: string,
  prefix: string,
): SQL {
  const path = prefix + f.attrPath;
  const c = column(path, attrs, core);
  const lower = path.toLowerCase();
  const v = f.compValue;
  if (lower === 'emails.type') {
    if (f.op !== 'eq' || typeof v !== 'string') throw invalidFilter('emails.type supports eq only.');
    return v.toLowerCase() === 'work' ? sql`${mfaUsers.email} is not null` : sql`false`;
  }
  if (lower === 'emails.primary') {
    if (f.op !== 'eq' || typeof v !== 'boolean') throw invalidFilter('emails.primary supports eq with a boolean.');
    return v ? sql`${mfaUsers.email} is not null` : sql`false`;
  }
  if (f.op === 'pr') {
    if (c.kind === 'members')
      return sql`exists (select 1 from ${mfaGroupMemberships} where ${mfaGroupMemberships.mfaGroupId} = ${mfaGroups.id})`;
    if (c.kind === 'active' || c.kind === 'uuid' || c.kind === 'time') return sql`true`;
    return sql`(${c.expr} is not null and ${c.expr} <> '')`;
  }
  switch (c.kind) {
    case 'active': {
      if (typeof v !== 'boolean' || (f.op !== 'eq' && f.op !== 'ne'))
        throw invalidFilter('"active" supports eq and ne with true or false.');
      return (f.op === 'eq') === v ? sql`${c.expr} is null` : sql`${c.expr} is not null`;
    }
    case 'uuid':
    case 'members': {
      if (typeof v !== 'string' || (f.op !== 'eq' && f.op !== 'ne')) throw invalidFilter(`"${path}" supports eq and ne with a string.`);
      const target =
        c.kind === 'uuid'
          ? isUuid(v)
            ? sql`${c.expr} = ${v}::uuid`
            : sql`false`
          : isUuid(v)
            ? sql`exists (select 1 from ${mfaGroupMemberships} where ${mfaGroupMemberships.mfaGroupId} = ${mfaGroups.id} and ${mfaGroupMemberships.mfaUserId} = ${v}::uuid)`
            : sql`false`;
      return f.op === 'eq' ? target : sql`not (${target})`;
    }
    case 'time': {
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw invalidFilter(`"${path}" compares with a date-time string.`);
      const t = new Date(v).toISOString();
      const ops: Record<string, SQL> = {
        eq: sql`${c.expr} = ${t}::timestamptz`,
        ne: sql`${c.expr} <> ${t}::timestamptz`,
        gt: sql`${c.expr} > ${t}::timestamptz`,
        ge: sql`${c.expr} >= ${t}::timestamptz`,
        lt: sql`${c.expr} < ${t}::timestamptz`,
        le: sql`${c.expr} <= ${t}::timestamptz`,
      };
      const s = ops[f.op];
      if (!s) throw invalidFilter(`"${f.op}" does not apply to "${path}".`);
      return s;
    }
    default: {
      if (typeof v !== 'string') throw invalidFilter(`"${path}" compares with a string.`);
      const ci = c.kind === 'ci';
      const col = ci ? sql`lower(${c.expr})` : c.expr;
      const val = ci ? v.toLowerCase() : v;
      switch (f.op) {
        case 'eq':
          return sql`${col} = ${val}`;
        case 'ne':
          return sql`${col} is distinct from ${val}`;
        case 'co':
          return sql`${col} like ${'%' + like(val) + '%'}`;
        case 'sw':
          return sql`${col} like ${like(val) + '%'}`;
        case 'ew':
          return sql`${col} like ${'%' + like(val)}`;
        case 'gt':
          return sql`${col} > ${val}`;
        case 'ge':
          return sql`${col} >= ${val}`;
        case 'lt':
          return sql`${col} < ${val}`;
        case 'le':
          return sql`${col} <= ${val}`;
        default:
          throw invalidFilter(`Unknown operator "${f.op}".`);
      }
    }
  }
}
