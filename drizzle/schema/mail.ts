import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/**
 * Transactional outbox: a message is written in the same transaction as the change that
 * causes it, then delivered by a job. Bodies can hold single-use links, so they are wiped
 * (set to null) once delivered or given up on.
 */
export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    toAddress: text('to_address').notNull(),
    template: text('template').notNull(),
    subject: text('subject').notNull(),
    textBody: text('text_body'),
    htmlBody: text('html_body'),
    /** What the message is about, e.g. `invitation:<uuid>`; lets a status be shown on it. */
    reference: text('reference'),
    /** pending | sent | failed */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [index('idx_mail_outbox_reference').on(t.reference), index('idx_mail_outbox_tenant').on(t.tenantId, t.createdAt)],
);
