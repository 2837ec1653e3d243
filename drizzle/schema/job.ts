import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/**
 * The background job queue shared by every module (mail delivery, bulk operations, sync
 * runs). Workers claim rows with FOR UPDATE SKIP LOCKED and hold a lease (`locked_until`)
 * that they renew; a job whose worker died is reclaimed when its lease lapses. This runs
 * the same on PGlite and PostgreSQL, which a library such as pg-boss (node-postgres only)
 * cannot.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    queue: text('queue').notNull(),
    payload: jsonb('payload')
      .notNull()
      .default(sql`'{}'::jsonb`),
    /** queued | running | completed | failed | cancelled */
    status: text('status').notNull().default('queued'),
    priority: integer('priority').notNull().default(0),
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(5),
    lockedBy: text('locked_by'),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    /** At most one queued or running job per key (e.g. one sync per provisioning). */
    singletonKey: text('singleton_key'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('idx_jobs_claim').on(t.queue, t.status, t.runAt),
    uniqueIndex('uniq_jobs_singleton_active')
      .on(t.queue, t.singletonKey)
      .where(sql`${t.singletonKey} is not null and ${t.status} in ('queued', 'running')`),
  ],
);
