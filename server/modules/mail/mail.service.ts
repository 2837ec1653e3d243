import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Executor } from '../../shared/db.js';
import type { JobContext, JobQueue } from '../../shared/jobs/queue.js';
import type { Logger } from '../../shared/logger.js';
import type { MailStore, OutboxRow } from './mail.store.js';
import { render, type MailTemplate } from './mail.templates.js';

export const MAIL_QUEUE = 'mail.deliver';
const MAIL_BATCH = 50;

export type MailMessage = MailTemplate & {
  tenantId: string;
  to: string;
  /** e.g. `invitation:<uuid>`: the delivery status can then be shown on that object. */
  reference?: string;
};

export interface MailStatus {
  reference: string;
  status: 'pending' | 'sent' | 'failed';
  sentAt: Date | null;
  lastError: string | null;
}

/**
 * Email through a transactional outbox. `queue` must be called with the transaction of the
 * change that causes the message: a rolled-back change sends nothing. Delivery is a job
 * with retries; with SMTP_URL it is real SMTP, otherwise an .eml file in the mailbox folder
 * (and, for developers, the link in the log).
 */
export class MailService {
  private transport: Transporter | null = null;

  constructor(
    private readonly store: MailStore,
    private readonly jobs: JobQueue,
    private readonly log: Logger,
    private readonly opts: {
      smtpUrl?: string;
      from: string;
      mailboxDir: string;
      /** Log the link of each mailbox message (development); off in production, where a link is a credential in the log. */
      logLinks: boolean;
    },
  ) {}

  registerWorker(concurrency = 4): void {
    this.jobs.register(MAIL_QUEUE, (ctx) => this.deliver(ctx), concurrency);
  }

  async queue(tx: Executor, m: MailMessage): Promise<string> {
    const [id] = await this.queueMany(tx, [m]);
    return id!;
  }

  /** Many messages in one INSERT (bulk operations, sync runs); returns their outbox ids in order. */
  async queueMany(tx: Executor, messages: MailMessage[]): Promise<string[]> {
    if (!messages.length) return [];
    const rows = await this.store.insertMany(
      messages.map((m) => {
        const r = render(m);
        return {
          tenantId: m.tenantId,
          toAddress: m.to,
          template: m.template,
          subject: r.subject,
          textBody: r.text,
          htmlBody: r.html,
          reference: m.reference ?? null,
        };
      }),
      tx,
    );
    // One delivery job per batch of messages: a 100k-user sync makes 2k jobs, not 100k.
    const batches: { queue: string; tenantId: string; payload: { outboxIds: string[] }; maxAttempts: number }[] = [];
    for (let i = 0; i < rows.length; i += MAIL_BATCH) {
      const chunk = rows.slice(i, i + MAIL_BATCH);
      batches.push({ queue: MAIL_QUEUE, tenantId: chunk[0]!.tenantId, payload: { outboxIds: chunk.map((r) => r.id) }, maxAttempts: 8 });
    }
    await this.jobs.enqueueMany(batches, tx);
    return rows.map((r) => r.id);
  }

  /** Latest delivery status per reference, tenant-scoped. */
  async statusByReferences(tenantId: string, references: readonly string[]): Promise<Map<string, MailStatus>> {
    if (!references.length) return new Map();
    const rows = await this.store.statusRows(tenantId, references);
    const out = new Map<string, MailStatus>();
    for (const r of rows) {
      out.set(r.reference!, {
        reference: r.reference!,
        status: r.status as MailStatus['status'],
        sentAt: r.sentAt,
        lastError: r.lastError,
      });
    }
    return out;
  }

  private getTransport(): Transporter {
    this.transport ??= this.opts.smtpUrl
      ? nodemailer.createTransport(this.opts.smtpUrl)
      : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    return this.transport;
  }

  /**
   * Sends each still-pending message of the batch. A re-run (retry, or resume after a crash)
   * skips what was already sent; a failure leaves the rest for the retry.
   */
  private async deliver({ job, log, signal }: JobContext): Promise<void> {
    const ids = (job.payload as { outboxIds: string[] }).outboxIds;
    const pending = await this.store.pending(ids);
    let firstError: unknown = null;
    for (const m of pending) {
      if (signal.aborted) throw new Error('mail delivery interrupted');
      try {
        await this.sendOne(m);
      } catch (err) {
        firstError ??= err;
        const message = err instanceof Error ? err.message : String(err);
        const giveUp = job.attempts >= job.maxAttempts;
        await this.store.markAttemptFailed(m.id, message, giveUp);
        log.warn({ to: m.toAddress, attempt: job.attempts, err: message }, 'mail delivery failed');
      }
    }
    if (firstError) throw firstError;
  }

  private async sendOne(m: OutboxRow): Promise<void> {
    const info = (await this.getTransport().sendMail({
      from: this.opts.from,
      to: m.toAddress,
      subject: m.subject,
      text: m.textBody ?? '',
      html: m.htmlBody ?? undefined,
    })) as { message?: Buffer };
    if (!this.opts.smtpUrl && info.message) {
      await mkdir(this.opts.mailboxDir, { recursive: true });
      const file = path.join(this.opts.mailboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${m.id}.eml`);
      await writeFile(file, info.message);
      // Development only (no SMTP): the spec asks for the link in the log so it can be followed.
      // A link is a single-use credential (account setup, password reset): never in a production log.
      const link = this.opts.logLinks ? /https?:\/\/\S+/.exec(m.textBody ?? '')?.[0] : undefined;
      this.log.info({ to: m.toAddress, template: m.template, file, ...(link ? { link } : {}) }, 'mail written to local mailbox');
    }
    await this.store.markSent(m.id);
  }

  /** Closes the SMTP transport (its pooled connections) at shutdown, after the job queue stopped. */
  close(): void {
    this.transport?.close();
    this.transport = null;
  }
}
