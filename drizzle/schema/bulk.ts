import { sql } from 'drizzle-orm';
import { customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/** One bulk operation (delete, re-invite, add to groups, CSV upload), run as a background job. */
export const bulkOperations = pgTable(
  'bulk_operations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    /** QUEUED | RUNNING | COMPLETED | FAILED | CANCELLED */
    status: text('status').notNull().default('QUEUED'),
    input: jsonb('input')
      .notNull()
      .default(sql`'{}'::jsonb`),
    total: integer('total').notNull().default(0),
    processed: integer('processed').notNull().default(0),
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    skipped: integer('skipped').notNull().default(0),
    actorUserId: uuid('actor_user_id'),
    /** The API token that started it (no foreign key: the record outlives a deleted token). */
    actorTokenId: uuid('actor_token_id'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('idx_bulk_operations_tenant').on(t.tenantId, t.createdAt)],
);

/**
 * Per-item outcome. Written in the same transaction as the item's effect, keyed by
 * (operation, seq): a job resumed after a crash skips every seq already recorded, so no
 * row is applied twice.
 */
export const bulkOperationItems = pgTable(
  'bulk_operation_items',
  {
    operationId: uuid('operation_id')
      .notNull()
      .references(() => bulkOperations.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    userId: uuid('user_id'),
    reference: text('reference'),
    email: text('email'),
    /** SUCCEEDED | FAILED | SKIPPED */
    outcome: text('outcome').notNull(),
    errorCode: text('error_code'),
    message: text('message'),
  },
  (t) => [
    primaryKey({ name: 'bulk_operation_items_pkey', columns: [t.operationId, t.seq] }),
    index('idx_bulk_items_outcome').on(t.operationId, t.outcome, t.seq),
  ],
);

/** Binary column; PGlite returns Uint8Array, postgres.js a Buffer: both come back as Buffer. */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength),
});

/** Uploaded CSV files, kept in the database so any replica can run the job, also after a restart. */
export const uploads = pgTable(
  'uploads',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by'),
    filename: text('filename'),
    size: integer('size').notNull(),
    /** The file sealed with the server key (`SecretBox`, context `upload:<id>`): it holds passwords. */
    content: bytea('content').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('idx_uploads_tenant').on(t.tenantId)],
);
