import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { mailOutbox } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';

export type OutboxRow = typeof mailOutbox.$inferSelect;

export interface NewOutboxMessage {
  tenantId: string;
  toAddress: string;
  template: string;
  subject: string;
  textBody: string;
  htmlBody: string | null;
  reference: string | null;
}

/** The mail outbox's SQL. Bodies may hold single-use links, so every end state wipes them. */
export class MailStore {
  constructor(private readonly db: Db) {}

  /** Inserts messages in the caller's transaction; returns their ids in order. */
  async insertMany(rows: NewOutboxMessage[], tx: Executor): Promise<{ id: string; tenantId: string }[]> {
    if (!rows.length) return [];
    return tx.insert(mailOutbox).values(rows).returning({ id: mailOutbox.id, tenantId: mailOutbox.tenantId });
  }

  /** Delivery state per reference, oldest first (so the latest message of a reference wins). */
  statusRows(tenantId: string, references: readonly string[], tx: Executor = this.db) {
    return tx
      .select({ reference: mailOutbox.reference, status: mailOutbox.status, sentAt: mailOutbox.sentAt, lastError: mailOutbox.lastError })
      .from(mailOutbox)
      .where(and(eq(mailOutbox.tenantId, tenantId), inArray(mailOutbox.reference, [...references])))
      .orderBy(asc(mailOutbox.createdAt));
  }

  /** The messages of a delivery batch that are still to be sent (a retry skips what was sent). */
  pending(ids: readonly string[], tx: Executor = this.db): Promise<OutboxRow[]> {
    return tx
      .select()
      .from(mailOutbox)
      .where(and(inArray(mailOutbox.id, [...ids]), eq(mailOutbox.status, 'pending')));
  }

  async markSent(id: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(mailOutbox)
      .set({
        status: 'sent',
        sentAt: new Date(),
        attempts: sql`${mailOutbox.attempts} + 1`,
        textBody: null,
        htmlBody: null,
        lastError: null,
      })
      .where(eq(mailOutbox.id, id));
  }

  /** Records a failed attempt; after the last one the message is failed and its body wiped. */
  async markAttemptFailed(id: string, error: string, giveUp: boolean, tx: Executor = this.db): Promise<void> {
    await tx
      .update(mailOutbox)
      .set({
        attempts: sql`${mailOutbox.attempts} + 1`,
        lastError: error.slice(0, 500),
        ...(giveUp ? { status: 'failed', textBody: null, htmlBody: null } : {}),
      })
      .where(eq(mailOutbox.id, id));
  }
}
