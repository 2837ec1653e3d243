import { sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';

/**
 * SQL helpers for stores. Tables and columns come from the drizzle schema (a rename is
 * seen by tsc): `${table}` renders its name, an `alias(table, 'x')` renders `"x"` and its columns
 * `"x"."col"`, so a FROM clause reads `from ${table} ${x}`; `name(column)` is the bare column name
 * for INSERT column lists and UPDATE SET targets, where PostgreSQL refuses qualified names.
 */
export function name(column: AnyPgColumn): SQL {
  return sql`${sql.identifier(column.name)}`;
}

export function names(...columns: AnyPgColumn[]): SQL {
  return sql.join(columns.map(name), sql`, `);
}

/** `column` in the uuid key range `[lo, hi)` (`hi` null: unbounded), an index range on a uuid key. */
export function inRange(column: SQL | AnyPgColumn, r: { lo: string; hi: string | null }): SQL {
  return r.hi ? sql`${column} >= ${r.lo}::uuid and ${column} < ${r.hi}::uuid` : sql`${column} >= ${r.lo}::uuid`;
}

/** One PostgreSQL array parameter (not one parameter per element): `'{a,b}'::uuid[]`. */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${uuidArrayLiteral(ids)}::uuid[]`;
}

/** The array literal `'{a,b}'` of uuids, for a `$n::uuid[]` placeholder of a prepared query. */
export function uuidArrayLiteral(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}

/**
 * How a row read with SQL maps to the object drizzle's select would return: each property,
 * the row's column it comes from, and the drizzle column that decodes it (timestamps to Date).
 */
export type RowFields = readonly (readonly [key: string, rowKey: string, column: { mapFromDriverValue(v: unknown): unknown }])[];

/** `RowFields` of these drizzle columns, the row's column of each named by `rowKey` (default: the column's name). */
export function rowFields(
  columns: Record<string, { name: string; mapFromDriverValue(v: unknown): unknown }>,
  rowKey: (key: string, columnName: string) => string = (_k, c) => c,
): RowFields {
  return Object.entries(columns).map(([k, c]) => [k, rowKey(k, c.name), c] as const);
}

/** These columns as a SELECT list qualified by `table` (an alias), each named `as(name)` when given. */
export function selectList(columns: Record<string, { name: string }>, table: string, as?: (columnName: string) => string): SQL {
  return sql.raw(
    Object.values(columns)
      .map((c) => `"${table}"."${c.name}"${as ? ` as ${as(c.name)}` : ''}`)
      .join(', '),
  );
}

/** A page's SELECT list of some of a table's columns, and how its rows decode. */
export interface Projection {
  select: SQL;
  fields: RowFields;
}

/**
 * `of(keys)`: the projection of those of `columns` (by property name) plus `always`; `of()`:
 * all of them. A list page reads only the columns of the fields its client selected (see
 * `rowKeysFor`): parsing and decoding columns nobody reads, timestamps above all, was a large
 * share of a page's CPU. Projections are remembered per key list, as a client sends the same
 * few selections again and again; the cache is bounded (a client cycling through many
 * selections only rebuilds them).
 */
export function projections<C extends Record<string, { name: string; mapFromDriverValue(v: unknown): unknown }>>(
  columns: C,
  opts: { table: string; always: readonly (keyof C & string)[]; as?: (columnName: string) => string },
): (keys?: readonly string[]) => Projection {
  const build = (keys: readonly string[] | undefined): Projection => {
    const picked = keys
      ? Object.fromEntries(Object.entries(columns).filter(([k]) => opts.always.includes(k) || keys.includes(k)))
      : columns;
    const as = opts.as;
    return { select: selectList(picked, opts.table, as), fields: rowFields(picked, as ? (_k, c) => as(c) : undefined) };
  };
  const all = build(undefined);
  const cache = new Map<string, Projection>();
  return (keys) => {
    if (!keys) return all;
    const id = keys.join(',');
    let p = cache.get(id);
    if (!p) {
      if (cache.size >= 64) cache.clear();
      cache.set(id, (p = build(keys)));
    }
    return p;
  };
}

/** A row's fields decoded as drizzle decodes them; null stays null. */
export function fromRow<T>(r: Record<string, unknown>, fields: RowFields): T {
  const o: Record<string, unknown> = {};
  for (const [k, rowKey, column] of fields) {
    const v = r[rowKey];
    o[k] = v == null ? null : column.mapFromDriverValue(v);
  }
  return o as T;
}

/** A text[] parameter, quoted for PostgreSQL's array literal syntax. */
export function textArray(values: readonly string[]): SQL {
  return sql`${`{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`}::text[]`;
}

/** A json/jsonb value as the drivers return it (PGlite: parsed; postgres.js: sometimes text). */
export function parseJson<T>(v: T | string | null | undefined): T | null {
  return typeof v === 'string' ? (JSON.parse(v) as T) : (v ?? null);
}

export function parseJsonList<T>(v: T[] | string | null | undefined): T[] {
  return parseJson(v) ?? [];
}
