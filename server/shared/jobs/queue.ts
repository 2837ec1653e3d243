import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { jobs } from '../../../drizzle/schema/index.js';
import type { Database, Db, Executor } from '../db.js';
import { queryRows } from '../db.js';
import { isConnectionError, safeMessage } from '../errors.js';
import type { Logger } from '../logger.js';

export interface JobRow {
  id: string;
  tenantId: string | null;
  queue: string;
  payload: unknown;
  status: string;
  attempts: number;
  maxAttempts: number;
}

export interface EnqueueOptions {
  queue: string;
  payload?: unknown;
  tenantId?: string | null;
  runAt?: Date;
  priority?: number;
  maxAttempts?: number;
  /** When a queued or running job with this key exists in the queue, it is returned instead. */
  singletonKey?: string;
}

export interface JobContext {
  job: JobRow;
  /** Aborted when the server shuts down or the lease was lost: stop at the next safe point. */
  signal: AbortSignal;
  log: Logger;
}

export type JobHandler = (ctx: JobContext) => Promise<void>;

/** Thrown by a handler to fail the job at once, without retries. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

const CHANNEL = 'roster_jobs';

/**
 * Transactional enqueue + leased workers. Enqueue inside the caller's transaction, so a job
 * exists exactly when the change that asks for it committed. Handlers must be idempotent
 * or checkpointed: after a crash a job runs again from its last checkpoint.
 */
export class JobQueue {
  private readonly workerId = `w-${randomUUID().slice(0, 8)}`;
  /** Each claim holds the job under its own token (`locked_by`), so a run that lost its lease can never finish or renew it. */
  private claims = 0;
  private readonly handlers = new Map<string, { handler: JobHandler; concurrency: number; running: number }>();
  private readonly controller = new AbortController();
  private wake: (() => void) | null = null;
  /**
   * A wake-up that came while the loop was claiming rather than sleeping (a job enqueued, or
   * one that ended, meanwhile): the loop claims again before it sleeps, instead of leaving that
   * job a whole poll (a second by default) to wait.
   */
  private wakePending = false;
  private loop: Promise<void> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly opts: { leaseMs?: number; pollMs?: number } = {},
  ) {
    // Every running job and every wait listens for shutdown on this one signal.
    setMaxListeners(0, this.controller.signal);
  }

  private get db(): Db {
    return this.database.db;
  }

  private get leaseMs(): number {
    return this.opts.leaseMs ?? 30_000;
  }

  /** Adds a job; returns its id (or the id of the active singleton it collided with). */
  async enqueue(o: EnqueueOptions, tx: Executor = this.db): Promise<{ id: string; created: boolean }> {
    const inserted = await tx
      .insert(jobs)
      .values({
        queue: o.queue,
        payload: o.payload ?? {},
        tenantId: o.tenantId ?? null,
        runAt: o.runAt ?? new Date(),
        priority: o.priority ?? 0,
        maxAttempts: o.maxAttempts ?? 5,
        singletonKey: o.singletonKey ?? null,
      })
      .onConflictDoNothing()
      .returning({ id: jobs.id });
    if (inserted[0]) {
      // NOTIFY is transactional too: workers wake only after commit.
      await tx.execute(sql`select pg_notify(${CHANNEL}, ${o.queue})`);
      return { id: inserted[0].id, created: true };
    }
    const [existing] = await tx
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.queue, o.queue), eq(jobs.singletonKey, o.singletonKey ?? ''), inArray(jobs.status, ['queued', 'running'])));
    if (!existing) throw new Error('job enqueue conflicted but no active singleton was found');
    return { id: existing.id, created: false };
  }

  /** Many jobs in one INSERT (no singleton keys): for fan-out such as mail batches. */
  async enqueueMany(items: Omit<EnqueueOptions, 'singletonKey'>[], tx: Executor = this.db): Promise<string[]> {
    if (!items.length) return [];
    const rows = await tx
      .insert(jobs)
      .values(
        items.map((o) => ({
          queue: o.queue,
          payload: o.payload ?? {},
          tenantId: o.tenantId ?? null,
          runAt: o.runAt ?? new Date(),
          priority: o.priority ?? 0,
          maxAttempts: o.maxAttempts ?? 5,
        })),
      )
      .returning({ id: jobs.id });
    for (const q of new Set(items.map((i) => i.queue))) await tx.execute(sql`select pg_notify(${CHANNEL}, ${q})`);
    return rows.map((r) => r.id);
  }

  async cancel(jobId: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(jobs)
      .set({ status: 'cancelled', finishedAt: new Date() })
      .where(and(eq(jobs.id, jobId), inArray(jobs.status, ['queued', 'running'])));
  }

  /** Housekeeping: finished jobs older than `days` are deleted (their outcome lives on in their owners' tables). */
  async purgeFinished(days = 7, tx: Executor = this.db): Promise<void> {
    await tx.execute(
      sql`delete from ${jobs} where status in ('completed', 'failed', 'cancelled') and finished_at < now() - make_interval(days => ${days})`,
    );
  }

  register(queue: string, handler: JobHandler, concurrency = 1): void {
    this.handlers.set(queue, { handler, concurrency, running: 0 });
  }

  /** Starts claiming jobs of the registered queues. */
  async start(): Promise<void> {
    if (this.loop) return;
    // The wake-up channel only shortens the wait: the loop also polls, so a notification lost
    // while the LISTEN connection is being re-established delays a job by one poll at most.
    this.unlisten = await this.database.listen(CHANNEL, () => this.nudge());
    this.loop = this.run().catch((err: unknown) => this.log.error({ err }, 'job loop stopped unexpectedly'));
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    await this.unlisten?.().catch((err: unknown) => this.log.warn({ err }, 'job channel unlisten failed'));
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 1000;
    while (!this.controller.signal.aborted) {
      let claimedAny = false;
      try {
        for (const [queue, h] of this.handlers) {
          while (h.running < h.concurrency && !this.controller.signal.aborted) {
            const claimed = await this.claim(queue);
            if (!claimed) break;
            claimedAny = true;
            h.running++;
            // execute() settles every error itself; the catch is the last line of defence.
            const p = this.execute(claimed, h.handler)
              .catch((err: unknown) => this.log.error({ err, jobId: claimed.job.id }, 'job execution failed unexpectedly'))
              .finally(() => {
                h.running--;
                this.inFlight.delete(p);
                this.nudge();
              });
            this.inFlight.add(p);
          }
        }
      } catch (err) {
        if (!this.controller.signal.aborted) {
          if (isConnectionError(err)) this.log.warn({ err }, 'job claim failed: database connection lost; polling again');
          else this.log.error({ err }, 'job claim failed');
        }
      }
      if (claimedAny) continue;
      if (this.wakePending) {
        this.wakePending = false;
        continue;
      }
      await this.sleep(pollMs, true);
    }
  }

  /** Wakes the sleeping loop, or, when it is busy claiming, has it claim again before it sleeps. */
  private nudge(): void {
    if (this.wake) this.wake();
    else this.wakePending = true;
  }

  /** Waits `ms`, or less when shutting down (or, with `wakeable`, when a job is enqueued or one ends). */
  private sleep(ms: number, wakeable = false): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.controller.signal.removeEventListener('abort', done);
        if (wakeable && this.wake === done) this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.controller.signal.addEventListener('abort', done);
      if (wakeable) this.wake = done;
    });
  }

  /** Claims the next due job, or one whose lease lapsed (its worker died). */
  private async claim(queue: string): Promise<{ job: JobRow; token: string } | null> {
    const token = `${this.workerId}-${++this.claims}`;
    const rows = await queryRows<{
      id: string;
      tenant_id: string | null;
      queue: string;
      payload: unknown;
      status: string;
      attempts: number;
      max_attempts: number;
    }>(
      this.db,
      sql`update ${jobs} set status = 'running', locked_by = ${token},
            locked_until = now() + ${`${this.leaseMs} milliseconds`}::interval,
            attempts = attempts + 1, started_at = coalesce(started_at, now())
          where id = (
            select id from ${jobs}
            where queue = ${queue}
              and ((status = 'queued' and run_at <= now()) or (status = 'running' and locked_until < now()))
            order by priority desc, run_at
            for update skip locked
            limit 1)
          returning id, tenant_id, queue, payload, status, attempts, max_attempts`,
    );
    const r = rows[0];
    if (!r) return null;
    const job: JobRow = {
      id: r.id,
      tenantId: r.tenant_id,
      queue: r.queue,
      payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as unknown) : r.payload,
      status: r.status,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
    };
    return { job, token };
  }

  /**
   * Runs a claimed job to an outcome; never rejects. A handler that fails because the database
   * connection dropped (restart, failover, terminated backend) is not a failed attempt: once
   * the database answers again and this claim still holds the job, the handler runs again from
   * its checkpoint (handlers are idempotent or checkpointed). If the outage outlasts the lease,
   * another worker may take the job over, and this run stops quietly.
   */
  private async execute({ job, token }: { job: JobRow; token: string }, handler: JobHandler): Promise<void> {
    const jobController = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, jobController.signal]);
    const log = this.log.child({ jobId: job.id, queue: job.queue });
    // Renew the lease while the handler runs; losing it (job cancelled or reclaimed) aborts it.
    const renew = setInterval(
      () => {
        this.renewLease(job.id, token).then(
          (held) => {
            if (!held) jobController.abort();
          },
          (err: unknown) => log.warn({ err }, 'lease renewal failed'),
        );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    try {
      for (let outage = 0; ; outage++) {
        try {
          await handler({ job, signal, log });
          await this.settle(log, () => this.finish(job.id, token, 'completed', null));
          return;
        } catch (err) {
          if (this.controller.signal.aborted && !(err instanceof PermanentJobError)) {
            // Shutting down: leave it running; its lease lapses and another worker resumes it.
            log.info('job interrupted by shutdown; it will be resumed');
            return;
          }
          if (jobController.signal.aborted) {
            log.info('job lost its lease (cancelled or taken over); stopping');
            return;
          }
          if (isConnectionError(err) && !(err instanceof PermanentJobError)) {
            log.warn({ err, attempt: job.attempts }, 'job lost its database connection; resuming it when the database answers');
            if (await this.stillOurs(job.id, token, Math.min(10_000, 100 * 2 ** outage))) continue;
            log.info('job was cancelled or taken over while the database was away; stopping');
            return;
          }
          const message = safeMessage(err);
          const permanent = err instanceof PermanentJobError || job.attempts >= job.maxAttempts;
          log.error({ err, attempt: job.attempts }, permanent ? 'job failed' : 'job failed; will retry');
          await this.settle(log, () => (permanent ? this.finish(job.id, token, 'failed', message) : this.retry(job, token, message)));
          return;
        }
      }
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Records a job's outcome, riding out a dropped connection a few times. If it still cannot be
   * written, the job stays `running` under this claim: its lease lapses and it runs again, and
   * the handler, finding its work done, ends at once.
   */
  private async settle(log: Logger, write: () => Promise<void>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await write();
        return;
      } catch (err) {
        if (!isConnectionError(err) || i >= 4 || this.controller.signal.aborted) {
          log.warn({ err }, 'could not record the job outcome; it runs again when its lease lapses');
          return;
        }
        if (!(await this.awaitDatabase(200 * 2 ** i))) return;
      }
    }
  }

  /** After an outage: waits until the database answers, then whether this claim still holds the job (renewing its lease). */
  private async stillOurs(id: string, token: string, firstDelayMs: number): Promise<boolean> {
    let delay = firstDelayMs;
    for (;;) {
      if (!(await this.awaitDatabase(delay))) return false;
      try {
        return await this.renewLease(id, token);
      } catch (err) {
        if (!isConnectionError(err)) return false;
        delay = Math.min(10_000, delay * 2);
      }
    }
  }

  /** Waits `firstDelayMs`, then until the database answers; false when shutting down first. */
  private async awaitDatabase(firstDelayMs: number): Promise<boolean> {
    let delay = firstDelayMs;
    for (;;) {
      await this.sleep(delay);
      if (this.controller.signal.aborted) return false;
      try {
        await this.database.ping();
        return true;
      } catch {
        delay = Math.min(10_000, delay * 2);
      }
    }
  }

  /** Extends the lease of a job this claim still holds; false when it was cancelled or taken over. */
  private async renewLease(id: string, token: string): Promise<boolean> {
    const r = await this.db
      .update(jobs)
      .set({ lockedUntil: new Date(Date.now() + this.leaseMs) })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, token), eq(jobs.status, 'running')))
      .returning({ id: jobs.id });
    return r.length > 0;
  }

  private async finish(id: string, token: string, status: 'completed' | 'failed', error: string | null): Promise<void> {
    await this.db
      .update(jobs)
      .set({ status, lastError: error, finishedAt: new Date(), lockedBy: null, lockedUntil: null })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, token), eq(jobs.status, 'running')));
  }

  private async retry(job: JobRow, token: string, error: string): Promise<void> {
    const backoffMs = Math.min(60_000, 500 * 2 ** job.attempts);
    await this.db
      .update(jobs)
      .set({ status: 'queued', lastError: error, runAt: new Date(Date.now() + backoffMs), lockedBy: null, lockedUntil: null })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, token), eq(jobs.status, 'running')));
  }
}
