import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from '../../drizzle/schema/index.js';
import { packageRoot } from './package-root.js';

export type Schema = typeof schema;
/** The drizzle handle every store uses. The same type for PGlite and postgres.js. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** What a store method accepts: the database or an open transaction. */
export type Executor = Db | Tx;

export interface Database {
  readonly db: Db;
  readonly engine: 'pglite' | 'postgres';
  /**
   * LISTEN on a channel; returns an unlisten function. Used by the job queue's wake-up and the
   * cross-replica pubsub. On PostgreSQL the LISTEN connection is re-established (and LISTEN
   * re-issued) whenever it drops; `onRelisten` then runs, since notifications sent while it was
   * down are lost and a listener may need to re-read what it follows.
   */
  listen(channel: string, onPayload: (payload: string) => void, onRelisten?: () => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /** One round trip (`select 1`): readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * SQL statements issued through drizzle (every store query), counted per process and per scope:
 * the HTTP GraphQL endpoint runs each request in its own scope and logs the count with the
 * operation, so a loader that fetches the same row twice shows up in the log, in tests
 * (statement counts are deterministic) and in the benchmark. Counting is one increment per
 * statement; nothing about the statement is kept.
 */
export interface StatementTally {
  count: number;
}
const tallyScope = new AsyncLocalStorage<StatementTally>();
let statementsTotal = 0;
const statementCounter = {
  logQuery(): void {
    statementsTotal++;
    const tally = tallyScope.getStore();
    if (tally) tally.count++;
  },
};

/** Statements issued by this process since it started. */
export function statementsExecuted(): number {
  return statementsTotal;
}

/** The tally of the scope this code runs in, if any. */
export function currentStatementTally(): StatementTally | undefined {
  return tallyScope.getStore();
}

/** Runs `fn` with statements (including those of async work it starts) counted in `tally`. */
export function countStatements<T>(tally: StatementTally, fn: () => T): T {
  return tallyScope.run(tally, fn);
}

/** The same from the sources and from the build: the migrations ship beside package.json. */
export function migrationsFolder(): string {
  return path.join(packageRoot(), 'drizzle/migrations');
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; when absent the embedded PGlite is used. */
  url?: string;
  /** Folder for PGlite's files; `undefined` keeps PGlite in memory (tests). */
  dataDir?: string;
  /** Pool size for postgres.js. */
  maxConnections?: number;
}

/** Opens the database and applies pending migrations. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts.maxConnections ?? 10) : openPglite(opts.dataDir);
}

/** PostgreSQL's type OID of `bytea`. */
const BYTEA_OID = 17;

/**
 * `bytea` in and out of PGlite without its own codec, which makes one JS string per byte both
 * ways (`Array.from(bytes).map(b => b.toString(16).padStart(2, '0'))` to write, a `substring`
 * and `parseInt` per byte to read): for a 4.4 MB sealed upload that was millions of
 * short-lived strings, ~300 MB of peak RSS and seconds of a blocked event loop. A parameter
 * goes as the bytes themselves: PGlite's Bind sends a typed array as a binary parameter
 * (format 1; its `Serializer` type says string, the protocol writer takes either), which is
 * half the message of hex text and is not held as text inside PGlite's WASM memory either. A
 * result (always text) is read with Buffer's native hex codec (`bytea_output` is `hex`, the
 * default: `\x` then two digits per byte) and comes back as a Buffer, a Uint8Array as before.
 */
const pgliteBytea = {
  serializers: {
    [BYTEA_OID]: (value: unknown): string => {
      if (!(value instanceof Uint8Array)) throw new Error('Invalid input for bytea type');
      return value as unknown as string;
    },
  },
  parsers: {
    [BYTEA_OID]: (text: string): Buffer => Buffer.from(text.slice(2), 'hex'),
  },
};

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let client: PGlite;
  if (dataDir) {
    const dir = path.resolve(dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    client = await PGlite.create(dir, pgliteBytea);
  } else {
    client = await PGlite.create(pgliteBytea);
  }
  const db = drizzlePglite({ client, schema, logger: statementCounter }) as unknown as Db;
  await migratePglite(drizzlePglite({ client, schema }), { migrationsFolder: migrationsFolder() });
  return {
    db,
    engine: 'pglite',
    async listen(channel, onPayload) {
      const unsub = await client.listen(channel, onPayload);
      return async () => unsub();
    },
    async notify(channel, payload) {
      await client.query('select pg_notify($1, $2)', [channel, payload]);
    },
    async ping() {
      await client.query('select 1');
    },
    async close() {
      await client.close();
    },
  };
}

async function openPostgres(url: string, max: number): Promise<Database> {
  // Several replicas may start at once: one applies migrations while the others wait.
  const migrator = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrator`select pg_advisory_lock(727001)`;
    await migratePostgres(drizzlePostgres({ client: migrator, schema }), { migrationsFolder: migrationsFolder() });
    await migrator`select pg_advisory_unlock(727001)`;
  } finally {
    await migrator.end();
  }
  // JIT off for every session: the planner compiles a statement whose estimated cost passes
  // jit_above_cost, and with fresh statistics the sync's classification statements (many
  // CTEs, subplans priced at whole-table scans they never run) do. One 4,000-user range took
  // 138–183 ms with JIT and 96–106 ms without (PostgreSQL 15, psql); Roster's statements are
  // short and key-bounded, none long enough to repay a compilation.
  const client = postgres(url, { max, onnotice: () => {}, connection: { jit: 'off' } });
  const db = drizzlePostgres({ client: retryingReads(client), schema, logger: statementCounter }) as unknown as Db;
  return {
    db,
    engine: 'postgres',
    async listen(channel, onPayload, onRelisten) {
      // postgres.js keeps LISTEN on a dedicated connection and, when that connection closes,
      // reconnects and listens again, calling `onlisten` each time (the first time included).
      let listened = false;
      const sub = await client.listen(channel, onPayload, () => {
        if (listened) onRelisten?.();
        listened = true;
      });
      return async () => sub.unlisten();
    },
    async notify(channel, payload) {
      await client`select pg_notify(${channel}, ${payload})`;
    },
    async ping() {
      await client`select 1`;
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/** How a statement fails when its pooled connection was lost (a restart, failover, pg_terminate_backend). */
const CONNECTION_LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
]);
/** Pauses before the retries of a plain read whose connection was lost. */
const RETRY_PAUSES_MS = [25, 250];
/** A plain read: nothing it did can have half-happened, so running it again is safe. */
const PLAIN_READ = /^\s*select\b/i;
const WRITES = /\b(insert|update|delete|merge|nextval|setval|pg_notify|pg_advisory\w*|for\s+update|for\s+share)\b/i;

/** Distinct statement texts a pool prepares, at most (each connection prepares those it runs). */
const MAX_PREPARED_TEXTS = 500;
/** Statements with more parameters (id lists, chunk writes) vary in text with their data: not prepared. */
const MAX_PREPARED_PARAMS = 32;

/**
 * Which statements outside transactions are sent as named prepared statements. drizzle sends
 * every statement unprepared, and postgres.js sends an unprepared statement with parameters in
 * two round trips (Parse and Describe to learn the parameter types, then Bind and Execute),
 * parsed and planned again every time. Prepared, a repeated statement (the session check, a
 * page read, a loader's batch) is one round trip: measured on this machine's PostgreSQL
 * (postgres.js, one connection, 2,000 sequential runs of a two-parameter lookup) 100–140 µs
 * of client CPU and 356–366 µs wall per statement unprepared, 43–63 µs and 108–125 µs
 * prepared. postgres.js keeps each connection's prepared statements without bound, so this
 * prepares only statements of few parameters (their text does not grow with the data) and
 * at most `MAX_PREPARED_TEXTS` distinct texts per pool; later new texts run unprepared.
 * A statement invalidated by a schema change is re-prepared by postgres.js and run again.
 */
function preparedStatements(): (query: string, params: unknown[] | undefined) => boolean {
  const texts = new Set<string>();
  return (query, params) => {
    if (!params?.length || params.length > MAX_PREPARED_PARAMS) return false;
    if (texts.has(query)) return true;
    if (texts.size >= MAX_PREPARED_TEXTS) return false;
    texts.add(query);
    return true;
  };
}

/**
 * A pooled connection killed while idle (database restart, failover, a proxy dropping it) is
 * found dead only by the next statement sent on it, which then fails although the database is
 * back: one request answered with an internal error. Plain reads outside transactions (the
 * bulk of API traffic) are therefore sent again (at most twice), on another connection; writes and
 * anything inside a transaction are never repeated (drizzle runs transactions on the
 * connection `begin` hands it, not through this wrapper).
 */
function retryingReads(client: postgres.Sql): postgres.Sql {
  const lost = (err: unknown) => CONNECTION_LOST.has(String((err as { code?: unknown })?.code));
  const prepare = preparedStatements();
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'unsafe') return Reflect.get(target, prop, receiver);
      return (query: string, params?: unknown[], options?: unknown) => {
        const send = (values: boolean) => {
          const opts = prepare(query, params) ? { ...(options as object | undefined), prepare: true } : options;
          const q = (target.unsafe as (...a: unknown[]) => postgres.PendingQuery<postgres.Row[]>)(query, params, opts);
          return values ? q.values() : q;
        };
        const retryable = PLAIN_READ.test(query) && !WRITES.test(query);
        // After a short pause: the other pooled connections of a restarted database are being
        // closed at the same moment, and one whose close has not arrived yet would fail again.
        const run = (values: boolean, attempt = 0): Promise<unknown> =>
          Promise.resolve(send(values)).catch(async (err: unknown) => {
            if (!retryable || !lost(err) || attempt >= RETRY_PAUSES_MS.length) throw err;
            await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSES_MS[attempt]));
            return run(values, attempt + 1);
          });
        return {
          then: (ok?: (v: unknown) => unknown, fail?: (e: unknown) => unknown) => run(false).then(ok, fail),
          values: () => run(true),
        };
      };
    },
  });
}

/** Runs raw SQL and returns its rows, hiding the drivers' different result shapes. */
export async function queryRows<T>(exec: Executor, query: SQL): Promise<T[]> {
  const res = (await exec.execute(query)) as unknown;
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}

export { sql };
