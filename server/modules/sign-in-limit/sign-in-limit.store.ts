import { sql, type SQL } from 'drizzle-orm';
import { signInLimits } from '../../../drizzle/schema/index.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { textArray } from '../../shared/sql.js';

/** When failures turn into refusals, for one kind of key (account or address). */
export interface LimitPolicy {
  /** Failures allowed before each further one delays the next attempt (1 s, 2 s, 4 s, …). */
  delayAfter: number;
  /** Failures that lock the key for `lockSeconds`. */
  maxFailures: number;
  /** How long a lock lasts; also how long a failure is remembered. */
  lockSeconds: number;
}

export interface LimitState {
  failures: number;
  lockedUntil: Date | null;
}

/** Seconds to wait (rounded up), or null when nothing is to be waited for. */
export type Admission = { allowed: true; retryAfter: number | null } | { allowed: false; retryAfter: number };

export class SignInLimitStore {
  constructor(private readonly db: Db) {}

  /**
   * Counts an attempt on `key` before its credential is checked, in one statement: a row lock
   * makes concurrent attempts (on any replica) count one after another, so a burst cannot all
   * pass a stale "not locked yet". A key already locked is left untouched and refused. The
   * attempt is counted as a failure until `verified` takes it back.
   */
  async admit(key: string, scope: string, tenantId: string | null, p: LimitPolicy, tx: Executor = this.db): Promise<Admission> {
    const rows = await queryRows<{ retry_after: number | null }>(tx, upsert({ key, scope, tenantId, policy: p }));
    if (rows[0]) return { allowed: true, retryAfter: rows[0].retry_after };
    return { allowed: false, retryAfter: await this.refusedFor(key, tx) };
  }

  /**
   * `admit` for two keys in one statement (one round trip, one commit): `second` is counted only
   * if `first` was admitted, as two `admit` calls one after the other would. The row locks are
   * taken in that order, the order `settle` takes them in too (no deadlock between them).
   */
  async admitBoth(first: Attempt, second: Attempt, tx: Executor = this.db): Promise<[Admission, Admission | null]> {
    const [r] = await queryRows<{ a: boolean; a_retry: number | null; b: boolean; b_retry: number | null }>(
      tx,
      sql`with a as (${upsert(first)}),
               b as (${upsert(second, sql`exists (select 1 from a)`)})
          select exists (select 1 from a) as a, (select retry_after from a) as a_retry,
                 exists (select 1 from b) as b, (select retry_after from b) as b_retry`,
    );
    if (!r!.a) return [{ allowed: false, retryAfter: await this.refusedFor(first.key, tx) }, null];
    const a: Admission = { allowed: true, retryAfter: r!.a_retry };
    if (!r!.b) return [a, { allowed: false, retryAfter: await this.refusedFor(second.key, tx) }];
    return [a, { allowed: true, retryAfter: r!.b_retry }];
  }

  /** Seconds a refused key waits (at least one). */
  private async refusedFor(key: string, tx: Executor): Promise<number> {
    const [locked] = await queryRows<{ retry_after: number | null }>(
      tx,
      sql`select ceil(extract(epoch from (locked_until - now())))::int as retry_after from ${signInLimits} where key = ${key}`,
    );
    return Math.max(1, locked?.retry_after ?? 1);
  }

  /** Seconds until the lock on `key` ends; null when it is not locked. Counts nothing. */
  async lockedFor(key: string, tx: Executor = this.db): Promise<number | null> {
    const [r] = await queryRows<{ retry_after: number | null }>(
      tx,
      sql`select ceil(extract(epoch from (locked_until - now())))::int as retry_after
          from ${signInLimits} where key = ${key} and locked_until > now()`,
    );
    return r ? Math.max(1, r.retry_after ?? 1) : null;
  }

  /**
   * Takes back one attempt `admit` counted (it was no failure, or it was refused unchecked).
   * A delay that attempt's count set goes too once the count is back within the free
   * failures, so a burst of good attempts from one address does not leave it delayed.
   */
  async takeBack(key: string, p: LimitPolicy, tx: Executor = this.db): Promise<void> {
    await tx.execute(takeBackSql(key, p));
  }

  /**
   * After a checked credential that was no guess: the account's row goes (`clear`) and the
   * address's count is taken back (`takeBack`), in one statement. The address row is locked
   * first, as in `admitBoth`: a sign-in being admitted and one being settled on the same
   * address and account wait for each other instead of deadlocking.
   */
  async settle(accountKey: string, address: { key: string; policy: LimitPolicy } | null, tx: Executor = this.db): Promise<void> {
    if (!address) return this.clear(accountKey, tx);
    // The uncorrelated subquery is evaluated once, before the delete reads its row.
    await tx.execute(
      sql`with a as (${takeBackSql(address.key, address.policy)} returning 1)
          delete from ${signInLimits} where key = ${accountKey} and (select count(*) from a) >= 0`,
    );
  }

  async clear(key: string, tx: Executor = this.db): Promise<void> {
    await tx.execute(sql`delete from ${signInLimits} where key = ${key}`);
  }

  /** Failures still remembered and a lock still running, by key (absent keys: none). */
  async states(keys: readonly string[], windowSeconds: number, tx: Executor = this.db): Promise<Map<string, LimitState>> {
    if (!keys.length) return new Map();
    const rows = await queryRows<{ key: string; failures: number; locked_until: string | Date | null }>(
      tx,
      sql`select key,
                 case when last_failure_at > now() - (${windowSeconds}::int * interval '1 second') then failures else 0 end as failures,
                 case when locked_until > now() then locked_until end as locked_until
          from ${signInLimits} where key = any(${textArray(keys)})`,
    );
    return new Map(rows.map((r) => [r.key, { failures: r.failures, lockedUntil: r.locked_until ? new Date(r.locked_until) : null }]));
  }

  /** Housekeeping: rows whose failures are forgotten and whose lock has ended. */
  async purge(windowSeconds: number, tx: Executor = this.db): Promise<void> {
    await tx.execute(
      sql`delete from ${signInLimits}
          where last_failure_at < now() - (${windowSeconds}::int * interval '1 second')
            and (locked_until is null or locked_until < now())`,
    );
  }
}

/** One attempt to count: the key, what it is, and the policy it is counted under. */
export interface Attempt {
  key: string;
  scope: string;
  tenantId: string | null;
  policy: LimitPolicy;
}

/**
 * Counts an attempt (see `admit`); returns `retry_after` when counted, no row when the key is
 * locked. `when` makes the insert conditional (`admitBoth`).
 */
function upsert({ key, scope, tenantId, policy: p }: Attempt, when?: SQL): SQL {
  const window = sql`(${p.lockSeconds}::int * interval '1 second')`;
  const next = sql`(case when l.last_failure_at <= now() - ${window} then 1 else l.failures + 1 end)`;
  const row = sql`${key}, ${scope}, ${tenantId}::uuid, 1, now(), ${lockAt(sql`1`, p)}`;
  return sql`insert into ${signInLimits} as l (key, scope, tenant_id, failures, last_failure_at, locked_until)
          ${when ? sql`select ${row} where ${when}` : sql`values (${row})`}
          on conflict (key) do update set failures = ${next}, last_failure_at = now(), locked_until = ${lockAt(next, p)}
          where l.locked_until is null or l.locked_until <= now()
          returning ceil(extract(epoch from (l.locked_until - now())))::int as retry_after`;
}

function takeBackSql(key: string, p: LimitPolicy): SQL {
  return sql`update ${signInLimits}
          set failures = greatest(failures - 1, 0),
              locked_until = case when failures - 1 <= ${p.delayAfter}::int then null else locked_until end
          where key = ${key}`;
}

/** The lock an attempt that brings the count to `n` sets for the attempts after it. */
function lockAt(n: SQL, p: LimitPolicy): SQL {
  return sql`(case when ${n} >= ${p.maxFailures}::int then now() + (${p.lockSeconds}::int * interval '1 second')
                   when ${n} > ${p.delayAfter}::int
                     then now() + least(power(2, ${n} - ${p.delayAfter}::int - 1), ${p.lockSeconds}::int) * interval '1 second'
                   else null end)`;
}
