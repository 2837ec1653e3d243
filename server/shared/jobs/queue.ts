import { randomUUID } from 'node:crypto';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { jobs } from '../../../drizzle/schema/index.js';
import type { Database, Db, Executor } from '../db.js';
import { queryRows } from '../db.js';
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
  private readonly handlers = new Map<string, { handler: JobHandler; concurrency: number; running: number }>();
  private readonly controller = new AbortController();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly opts: { leaseMs?: number; pollMs?: number } = {},
  ) {}

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
    this.unlisten = await this.database.listen(CHANNEL, () => this.wake?.());
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
    await this.unlisten?.();
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 1000;
    while (!this.controller.signal.aborted) {
      let claimedAny = false;
      try {
        for (const [queue, h] of this.handlers) {
          while (h.running < h.concurrency && !this.controller.signal.aborted) {
            const job = await this.claim(queue);
            if (!job) break;
            claimedAny = true;
            h.running++;
            const p = this.execute(job, h.handler).finally(() => {
              h.running--;
              this.inFlight.delete(p);
              this.wake?.();
            });
            this.inFlight.add(p);
          }
        }
      } catch (err) {
        if (!this.controller.signal.aborted) this.log.error({ err }, 'job claim failed');
      }
      if (claimedAny) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Claims the next due job, or one whose lease lapsed (its worker died). */
  private async claim(queue: string): Promise<JobRow | null> {
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
      sql`update ${jobs} set status = 'running', locked_by = ${this.workerId},
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
    return {
      id: r.id,
      tenantId: r.tenant_id,
      queue: r.queue,
      payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as unknown) : r.payload,
      status: r.status,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
    };
  }

  private async execute(job: JobRow, handler: JobHandler): Promise<void> {
    const jobController = new AbortController();
    const signal = AbortSignal.any([this.controller.signal, jobController.signal]);
    const log = this.log.child({ jobId: job.id, queue: job.queue });
    // Renew the lease while the handler runs; losing it (job cancelled or reclaimed) aborts it.
    const renew = setInterval(
      () => {
        this.db
          .update(jobs)
          .set({ lockedUntil: new Date(Date.now() + this.leaseMs) })
          .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId), eq(jobs.status, 'running')))
          .returning({ id: jobs.id })
          .then(
            (r) => {
              if (!r.length) jobController.abort();
            },
            (err: unknown) => log.warn({ err }, 'lease renewal failed'),
          );
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    try {
      await handler({ job, signal, log });
      await this.finish(job.id, 'completed', null);
    } catch (err) {
      if (this.controller.signal.aborted && !(err instanceof PermanentJobError)) {
        // Shutting down: leave it running; its lease lapses and another worker resumes it.
        log.info('job interrupted by shutdown; it will be resumed');
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      const permanent = err instanceof PermanentJobError || job.attempts >= job.maxAttempts;
      log.error({ err, attempt: job.attempts }, permanent ? 'job failed' : 'job failed; will retry');
      if (permanent) await this.finish(job.id, 'failed', message);
      else await this.retry(job, message);
    } finally {
      clearInterval(renew);
    }
  }

  private async finish(id: string, status: 'completed' | 'failed', error: string | null): Promise<void> {
    await this.db
      .update(jobs)
      .set({ status, lastError: error, finishedAt: new Date(), lockedBy: null, lockedUntil: null })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, this.workerId), eq(jobs.status, 'running')));
  }

  private async retry(job: JobRow, error: string): Promise<void> {
    const backoffMs = Math.min(60_000, 500 * 2 ** job.attempts);
    await this.db
      .update(jobs)
      .set({ status: 'queued', lastError: error, runAt: new Date(Date.now() + backoffMs), lockedBy: null, lockedUntil: null })
      .where(and(eq(jobs.id, job.id), eq(jobs.lockedBy, this.workerId), eq(jobs.status, 'running')));
  }
}
