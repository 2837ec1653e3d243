import type { Executor } from './db.js';

interface Prepared<R> {
  execute(values?: Record<string, unknown>): Promise<R>;
}

/**
 * A builder query of fixed shape, its values given as `sql.placeholder`s, built once per
 * executor instead of on every call. drizzle's builder rebuilds the SQL text, the parameter
 * order and the result mapping each time a query runs (entity checks on every column): for a
 * sign-in's two builder reads that was a larger share of the request's CPU than graphql-js.
 * Prepared, a call only fills the placeholders and runs the statement (on PostgreSQL as a
 * named prepared statement; its text is fixed, so postgres.js prepares it once per connection).
 * Kept per executor (the database handle, or one transaction's, which goes with it).
 */
export function fixedQuery<V extends Record<string, unknown>, R>(build: (db: Executor) => { prepare(name: string): Prepared<R> }) {
  const built = new WeakMap<object, Prepared<R>>();
  return (db: Executor, values: V): Promise<R> => {
    let q = built.get(db);
    if (!q) built.set(db, (q = build(db).prepare('fixed')));
    return q.execute(values);
  };
}
