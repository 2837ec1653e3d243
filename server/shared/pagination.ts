import type { ClassType } from 'type-graphql';
import { Field, Int, ObjectType } from 'type-graphql';
import { badUserInput } from './errors.js';
import { isUuid } from './ids.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

@ObjectType({ description: 'Relay page information of a connection.' })
export class PageInfo {
  @Field(() => Boolean, { description: 'Whether more items follow the last edge.' })
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Whether items precede the first edge (true when `after` was given).' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the first edge.' })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge; pass it as `after` for the next page.' })
  endCursor!: string | null;
}

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  nodes: T[];
  pageInfo: PageInfo;
  /** A lazy thenable: the COUNT runs only if the client selects `totalCount`. */
  totalCount: number | PromiseLike<number>;
}

/** Builds the `XConnection` and `XEdge` object types for a node type. */
export function ConnectionType<T extends object>(nodeType: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { description: `An edge of a ${name} connection.` })
  class Edge {
    @Field(() => String, { description: 'Opaque cursor of this edge.' })
    cursor!: string;

    @Field(() => nodeType, { description: `The ${name}.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items (Relay cursor connection).` })
  class Connection {
    @Field(() => [Edge], { description: 'Edges of this page.' })
    edges!: Edge[];

    @Field(() => [nodeType], { description: 'Nodes of this page, in order (shortcut for edges.node).' })
    nodes!: T[];

    @Field(() => PageInfo, { description: 'Paging information.' })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Number of items matching the filters, across all pages.' })
    totalCount!: number;
  }
  return Connection;
}

/** Keyset cursors: the sort values of a row, opaque to clients. */
export function encodeCursor(values: (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

/** Longest string value a cursor of ours carries (an email or a name); longer is not ours. */
const MAX_CURSOR_STRING = 1000;
/** A lone UTF-16 surrogate: not representable in the database's UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A value that can reach SQL as a parameter without the database refusing it (NUL, bad UTF-16, ±Infinity from `1e400`). */
function isCursorValue(x: unknown): x is string | number | null {
  if (x === null) return true;
  if (typeof x === 'number') return Number.isFinite(x);
  return typeof x === 'string' && x.length <= MAX_CURSOR_STRING && !x.includes('\u0000') && !LONE_SURROGATE.test(x);
}

export function decodeCursor(cursor: string | null | undefined): (string | number | null)[] | null {
  if (cursor === null || cursor === undefined) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length > 0 && v.every(isCursorValue)) return v;
  } catch {
    // fall through: a malformed cursor is the client's error, reported below
  }
  throw badUserInput('Invalid cursor: pass an endCursor returned by this connection.', 'after');
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`"first" must be between 0 and ${MAX_PAGE_SIZE}.`, 'first');
  }
  return first;
}

/** Turns `limit + 1` fetched rows into a connection page. */
export function toConnection<R, T = R>(
  rows: R[],
  limit: number,
  hadCursor: boolean,
  cursorOf: (row: R) => string,
  totalCount: () => Promise<number>,
  map: (row: R) => T = (r) => r as unknown as T,
): ConnectionShape<T> {
  const page = rows.slice(0, limit);
  const nodes = page.map(map);
  let edges: { cursor: string; node: T }[] | null = null;
  return {
    // Built when read: a page selecting `nodes` only encodes no cursor per row.
    get edges() {
      return (edges ??= page.map((r, i) => ({ cursor: cursorOf(r), node: nodes[i]! })));
    },
    nodes,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: hadCursor,
      startCursor: page.length ? cursorOf(page[0]!) : null,
      endCursor: page.length ? cursorOf(page[page.length - 1]!) : null,
    },
    totalCount: lazy(totalCount),
  };
}

/** A thenable that starts its work only when awaited (graphql-js awaits selected fields only). */
export function lazy<T>(fn: () => Promise<T>): PromiseLike<T> {
  let p: Promise<T> | null = null;
  return {
    then(onFulfilled, onRejected) {
      p ??= fn();
      return p.then(onFulfilled, onRejected);
    },
  };
}

function badCursor(): never {
  throw badUserInput('Invalid cursor: pass an endCursor returned by this connection.', 'after');
}

/**
 * The usual cursor key: a sort value (string) and the row's uuid as tie-breaker. Validated
 * here, before any SQL, so a decodable but malformed cursor is the client's error, not a
 * database cast failure.
 */
export function sortValueAndIdKey(values: (string | number | null)[]): [string, string] {
  const [value, id] = values;
  if (values.length !== 2 || typeof value !== 'string' || typeof id !== 'string' || !isUuid(id)) badCursor();
  return [value, id];
}

/** As `sortValueAndIdKey`, for sort columns that may be null (nulls sort last). */
export function nullableSortValueAndIdKey(values: (string | number | null)[]): [string | null, string] {
  const [value, id] = values;
  if (values.length !== 2 || (value !== null && typeof value !== 'string') || typeof id !== 'string' || !isUuid(id)) badCursor();
  return [value, id];
}

/**
 * A timestamp (as our cursors write it, `Date.toISOString()`) and the row's uuid. The value must
 * round-trip through `Date` exactly, so `2024-02-30…`, `NaN` or a year the database cannot hold
 * is the client's error, not a failed `::timestamptz` cast.
 */
export function timestampAndIdKey(values: (string | number | null)[]): [string, string] {
  const [value, id] = values;
  if (values.length !== 2 || typeof value !== 'string' || typeof id !== 'string' || !isUuid(id)) badCursor();
  const time = Date.parse(value);
  if (!Number.isFinite(time) || new Date(time).toISOString() !== value) badCursor();
  return [value, id];
}

/** A cursor key that is one non-negative integer (e.g. a row number), within the database's `integer`. */
export function integerKey(values: (string | number | null)[]): number {
  const [n] = values;
  if (values.length !== 1 || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 2_147_483_647) badCursor();
  return n;
}

/**
 * One keyset page: validates `first` and `after`, fetches `limit + 1` rows after the decoded
 * cursor key, and builds the connection (with a lazy `totalCount`). `key` turns the decoded
 * cursor values into the store's key and throws `badUserInput` when they do not fit.
 */
export async function keysetPage<R, K, T = R>(
  args: { first?: number | null; after?: string | null },
  o: {
    key: (values: (string | number | null)[]) => K;
    fetch: (limit: number, after: K | null) => Promise<R[]>;
    cursorOf: (row: R) => (string | number | null)[];
    count: () => Promise<number>;
    map?: (row: R) => T;
  },
): Promise<ConnectionShape<T>> {
  const limit = pageSize(args.first);
  const values = decodeCursor(args.after);
  const key = values ? o.key(values) : null;
  const rows = await o.fetch(limit + 1, key);
  return toConnection(rows, limit, values !== null, (r) => encodeCursor(o.cursorOf(r)), o.count, o.map);
}
