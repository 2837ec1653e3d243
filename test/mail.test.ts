import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { mailOutbox } from '../drizzle/schema/index.js';
import { seedTenant } from './support/harness.js';
import { rosterTest } from './support/fixtures.js';

const test = rosterTest();

async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('mail outbox without SMTP', () => {
  test('writes committed messages to the mailbox folder and wipes the stored body', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const { services } = ts.server;
    const ids = await ts.database.db.transaction((tx) =>
      services.mail.queueMany(
        tx,
        Array.from({ length: 3 }, (_, i) => ({
          tenantId: t.tenantId,
          to: `user${i}@${t.slug}.test`,
          template: 'password-reset' as const,
          vars: { firstName: `U${i}`, tenantName: 'T', link: `http://portal.test/x/reset?token=secret${i}`, expiresAt: new Date() },
          reference: `test:${t.slug}:${i}`,
        })),
      ),
    );
    const dir = path.join(ts.server.env.DATA_DIR, 'mailbox');
    const files = await waitFor(
      () => existsSync(dir) && readdirSync(dir).filter((f) => ids.some((id) => f.includes(id))).length === 3 && readdirSync(dir),
    );
    const mine = files.filter((f) => f.includes(ids[0]!));
    expect(readFileSync(path.join(dir, mine[0]!), 'utf8')).toContain('token=secret0');
    const [row] = await waitFor(async () => {
      const r = await ts.database.db.select().from(mailOutbox).where(eq(mailOutbox.id, ids[0]!));
      return r[0]?.status === 'sent' && r;
    });
    expect(row!.textBody).toBeNull();
    expect(row!.htmlBody).toBeNull();
    const status = await services.mail.statusByReferences(t.tenantId, [`test:${t.slug}:1`]);
    expect(status.get(`test:${t.slug}:1`)?.status).toBe('sent');
  });

  test('sends nothing for a rolled-back transaction', async ({ server: ts }) => {
    const t = await seedTenant(ts);
    const { services } = ts.server;
    await expect(
      ts.database.db.transaction(async (tx) => {
        await services.mail.queue(tx, {
          tenantId: t.tenantId,
          to: 'x@y.test',
          template: 'password-reset',
          vars: { firstName: 'X', tenantName: 'T', link: 'http://p/x', expiresAt: new Date() },
          reference: `rollback:${t.slug}`,
        });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const status = await services.mail.statusByReferences(t.tenantId, [`rollback:${t.slug}`]);
    expect(status.size).toBe(0);
  });
});
