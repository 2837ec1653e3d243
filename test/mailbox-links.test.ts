import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tokenOf, waitForMailLink } from './support/directory-api.js';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';

/**
 * Issue 10, finding 3 (dev-mailbox links): without SMTP, mail goes to DATA_DIR/mailbox and its
 * link was logged, also in production, where a setup or reset link in the log is a credential
 * anyone reading logs could redeem. Links are logged only outside production, and production
 * without SMTP_URL warns once at start-up.
 */
const STARTUP_WARNING = 'production without SMTP_URL';

async function serverLogging(nodeEnv: string): Promise<{ ts: TestServer; lines: string[] }> {
  const lines: string[] = [];
  const ts = await startTestServer(
    { NODE_ENV: nodeEnv, LOG_LEVEL: 'info', JOB_POLL_MS: '50' },
    { logTo: { write: (line: string) => void lines.push(line) } },
  );
  return { ts, lines };
}

/** Invites a new user and returns the token of the link mailed to them, once the mail job logged its line. */
async function inviteAndWait(ts: TestServer, lines: string[], email: string): Promise<string> {
  const t = await seedTenant(ts);
  const a = api(ts, t.token);
  const created = await a.createUser({ email, firstName: 'Mail', lastName: 'Box' });
  expect(created.errors).toEqual([]);
  expect((await a.invite(created.user!.id)).errors).toEqual([]);
  const token = tokenOf(await waitForMailLink(ts, email));
  const end = Date.now() + 10_000;
  while (!lines.some((l) => l.includes('mail written to local mailbox') && l.includes(email))) {
    if (Date.now() > end) throw new Error('no mailbox log line');
    await new Promise((r) => setTimeout(r, 25));
  }
  return token;
}

describe('dev-mailbox links in the log', () => {
  let prod: { ts: TestServer; lines: string[] };
  let dev: { ts: TestServer; lines: string[] };
  beforeAll(async () => {
    prod = await serverLogging('production');
    dev = await serverLogging('development');
  });
  afterAll(async () => {
    await prod?.ts.close();
    await dev?.ts.close();
  });

  it('production: the mail is written, its link is nowhere in the log, and start-up warned once', async () => {
    const token = await inviteAndWait(prod.ts, prod.lines, 'prod-invitee@mail.test');
    const log = prod.lines.join('');
    expect(log).not.toContain(token);
    expect(log).not.toMatch(/token=/);
    const mailLine = prod.lines.find((l) => l.includes('mail written to local mailbox'))!;
    expect(JSON.parse(mailLine)).not.toHaveProperty('link');
    const warnings = prod.lines.filter((l) => l.includes(STARTUP_WARNING));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!).level).toBe(40);
  });

  it('outside production the link is logged (to follow it by hand) and there is no warning', async () => {
    const token = await inviteAndWait(dev.ts, dev.lines, 'dev-invitee@mail.test');
    const mailLine = dev.lines.find((l) => l.includes('mail written to local mailbox'))!;
    expect(JSON.parse(mailLine).link).toContain(token);
    expect(dev.lines.some((l) => l.includes(STARTUP_WARNING))).toBe(false);
  });
});
