import { sql } from 'drizzle-orm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRosterClient, type RosterClient } from '../client/src/index.js';
import { queryRows } from '../server/shared/db.js';
import { seedTenant, startTestServer, type SeededTenant, type TestServer } from './support/harness.js';

/**
 * Issue 10, finding 3 (database errors): a failing statement must not put its values in the
 * log. drizzle reports one as "Failed query: … params: …", and PostgreSQL's `detail` can hold
 * the failing row: a failed upload insert carried the CSV with its plaintext passwords, a
 * failed createUser the argon2id hash. The server logs to a buffer here; test-only triggers
 * make exactly those statements fail (the `detail` they raise holds the row's secret, as a
 * constraint violation's "Failing row contains (…)" would), and the whole log is searched.
 */
const lines: string[] = [];
let ts: TestServer;
let t: SeededTenant;
let admin: RosterClient;

const CREATE_USER_PASSWORD = 'Create-Secret-1!';
const UPLOAD_PASSWORD = 'Csv-Secret-9!';
const BULK_PASSWORD = 'Bulk-Secret-7!';
const SECRETS = [CREATE_USER_PASSWORD, UPLOAD_PASSWORD, BULK_PASSWORD, '$argon2id$'];

beforeAll(async () => {
  ts = await startTestServer({ LOG_LEVEL: 'info', JOB_POLL_MS: '50' }, { logTo: { write: (line: string) => void lines.push(line) } });
  t = await seedTenant(ts);
  admin = createRosterClient({ url: ts.url, token: t.token, webSocketImpl: WebSocket });
  // This file's own database: the triggers affect no other test.
  await ts.database.db.execute(sql`
    create function roster_test_refuse() returns trigger language plpgsql as $$
    begin
      raise exception 'refused by the test trigger'
        using detail = 'Failing row contains (' || coalesce(to_jsonb(new)->>'password_hash', to_jsonb(new)->>'content', '') || ')';
    end $$`);
  await ts.database.db.execute(
    sql`create trigger roster_test_refuse_users before insert on users for each row when (new.email like 'explode-%') execute function roster_test_refuse()`,
  );
  await ts.database.db.execute(
    sql`create trigger roster_test_refuse_uploads before insert on uploads for each row when (new.filename = 'explode.csv') execute function roster_test_refuse()`,
  );
});
afterAll(async () => {
  await admin?.close();
  await ts?.close();
});

function leaks(text: string): string[] {
  return SECRETS.filter((s) => text.includes(s));
}

describe('database errors are logged without their statement values', () => {
  it('a failed createUser logs neither the password hash nor the password', async () => {
    await expect(
      admin.createUser({ input: { email: 'explode-1@log.test', firstName: 'Ex', lastName: 'Plode', password: CREATE_USER_PASSWORD } }),
    ).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
    const logged = lines.filter((l) => l.includes('unexpected error in GraphQL operation'));
    expect(logged.length).toBeGreaterThan(0);
    // The statement is still identifiable: its SQL and the database's message are kept.
    expect(logged.join('')).toContain('refused by the test trigger');
    expect(logged.join('')).toContain('params: [redacted]');
    expect(leaks(lines.join(''))).toEqual([]);
  });

  it('a failed upload insert logs none of the CSV', async () => {
    const csv = `email,first_name,last_name,password,groups\nup-1@log.test,Up,Load,${UPLOAD_PASSWORD},users\n`;
    const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'text/csv', 'x-filename': 'explode.csv' },
      body: csv,
    });
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).not.toContain(UPLOAD_PASSWORD);
    const logged = lines.filter((l) => l.includes('unhandled HTTP error'));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('')).toContain('params: [redacted]');
    expect(leaks(lines.join(''))).toEqual([]);
  });

  it('a bulk upload whose chunk keeps failing stores and logs no password or hash', async () => {
    const rows = [1, 2, 3].map((i) => `explode-${i}@bulk.test,Bulk,Row${i},${BULK_PASSWORD},users`);
    const uploadId = await admin.uploadCsv(['email,first_name,last_name,password,groups', ...rows].join('\n'));
    const started = await admin.bulkUploadUsers({ input: { uploadId } });
    expect(started.bulkUploadUsers.errors).toEqual([]);
    const id = started.bulkUploadUsers.bulkOperation!.id;
    let last: { status: string; error?: string | null } | null = null;
    for await (const e of admin.bulkOperationProgress({ id })) last = e.bulkOperationProgress;
    expect(last).toMatchObject({ status: 'FAILED' });
    expect(last!.error).toContain('refused by the test trigger');
    expect(leaks(last!.error ?? '')).toEqual([]);
    const jobErrors = await queryRows<{ last_error: string | null }>(
      ts.database.db,
      sql`select last_error from jobs where queue = 'bulk.run'`,
    );
    expect(jobErrors.some((j) => j.last_error?.includes('refused by the test trigger'))).toBe(true);
    expect(leaks(jobErrors.map((j) => j.last_error ?? '').join('\n'))).toEqual([]);
    // The queue logs the failed attempt just after the job marked the operation FAILED.
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('"job failed"')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(lines.some((l) => l.includes('"job failed"'))).toBe(true);
    expect(leaks(lines.join(''))).toEqual([]);
  });
});
