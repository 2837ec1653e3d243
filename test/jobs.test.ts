import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { jobs } from '../drizzle/schema/index.js';
import { JobQueue, PermanentJobError } from '../server/shared/jobs/queue.js';
import { createLogger } from '../server/shared/logger.js';
import { createTestDatabase } from './support/harness.js';
import type { Database } from '../server/shared/db.js';

const log = createLogger('silent');
let database: Database;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ database, drop } = await createTestDatabase());
});
afterAll(async () => {
  await drop?.();
});

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const statusOf = async (id: string) => (await database.db.select({ s: jobs.status }).from(jobs).where(eq(jobs.id, id)))[0]?.s;

describe('job queue', () => {
  it('runs an enqueued job once and marks it completed', async () => {
    const q = new JobQueue(database, log, { pollMs: 50 });
    const seen: unknown[] = [];
    q.register('t-basic', async ({ job }) => {
      seen.push(job.payload);
    });
    await q.start();
    const { id } = await q.enqueue({ queue: 't-basic', payload: { n: 1 } });
    await waitFor(async () => (await statusOf(id)) === 'completed');
    expect(seen).toEqual([{ n: 1 }]);
    await q.stop();
  });

  it('a job enqueued while the loop is claiming another queue starts at once, not a poll later', async () => {
    // A minute's poll: only the wake-up can start the job within the test. The loop claims the
    // queues in turn; the job of the first is enqueued (and its NOTIFY arrives) while the loop
    // is still claiming the second, after it found nothing for the first.
    const q = new JobQueue(database, log, { pollMs: 60_000 });
    const ran: string[] = [];
    q.register('t-wake-a', async () => {
      ran.push('a');
    });
    q.register('t-wake-b', async () => {});
    const claim = (q as unknown as { claim: (queue: string) => Promise<unknown> }).claim.bind(q);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstB = true;
    (q as unknown as { claim: (queue: string) => Promise<unknown> }).claim = async (queue: string) => {
      if (queue === 't-wake-b' && firstB) {
        firstB = false;
        await held;
      }
      return claim(queue);
    };
    await q.start();
    await waitFor(async () => !firstB);
    const { id } = await q.enqueue({ queue: 't-wake-a' });
    // Let the NOTIFY arrive while the claim of the second queue is still held.
    await new Promise((r) => setTimeout(r, 200));
    release();
    await waitFor(async () => (await statusOf(id)) === 'completed', 5_000);
    expect(ran).toEqual(['a']);
    await q.stop();
  });

  it('returns the active job for a singleton key instead of a second one', async () => {
    const q = new JobQueue(database, log, { pollMs: 50 });
    const results = await Promise.all(Array.from({ length: 20 }, () => q.enqueue({ queue: 't-single', singletonKey: 'k1' })));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('retries a failing job, and fails a permanent error at once', async () => {
    const q = new JobQueue(database, log, { pollMs: 20 });
    let calls = 0;
    q.register('t-retry', async () => {
      calls++;
      if (calls < 2) throw new Error('transient');
    });
    q.register('t-perm', async () => {
      throw new PermanentJobError('bad payload');
    });
    await q.start();
    const a = await q.enqueue({ queue: 't-retry', maxAttempts: 3 });
    const b = await q.enqueue({ queue: 't-perm' });
    await waitFor(async () => (await statusOf(a.id)) === 'completed');
    await waitFor(async () => (await statusOf(b.id)) === 'failed');
    expect(calls).toBe(2);
    await q.stop();
  });

  it('resumes a job whose worker died once its lease lapses', async () => {
    const dying = new JobQueue(database, log, { pollMs: 20, leaseMs: 300 });
    let started = false;
    dying.register('t-crash', async ({ signal }) => {
      started = true;
      await new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    await dying.start();
    const { id } = await dying.enqueue({ queue: 't-crash' });
    await waitFor(async () => started);
    await dying.stop(); // the "crash": the job stays running with a lease that will lapse
    expect(await statusOf(id)).toBe('running');

    const survivor = new JobQueue(database, log, { pollMs: 50, leaseMs: 300 });
    let resumed = 0;
    survivor.register('t-crash', async () => {
      resumed++;
    });
    await survivor.start();
    await waitFor(async () => (await statusOf(id)) === 'completed');
    expect(resumed).toBe(1);
    await survivor.stop();
  });

  it('purges finished jobs older than the retention, and nothing else', async () => {
    const q = new JobQueue(database, log);
    const old = await q.enqueue({ queue: 't-purge' });
    const recent = await q.enqueue({ queue: 't-purge' });
    const pending = await q.enqueue({ queue: 't-purge' });
    await database.db.execute(sql`update jobs set status = 'completed', finished_at = now() - interval '8 days' where id = ${old.id}`);
    await database.db.execute(sql`update jobs set status = 'completed', finished_at = now() where id = ${recent.id}`);
    await q.purgeFinished(7);
    expect(await statusOf(old.id)).toBeUndefined();
    expect(await statusOf(recent.id)).toBe('completed');
    expect(await statusOf(pending.id)).toBe('queued');
  });
});
