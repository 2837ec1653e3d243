import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../server/shared/db.js';
import { createSecretBox } from '../server/shared/secret-key.js';
import { bulkApi } from './support/bulk-api.js';
import { seedTenant, startReplica, startTestServer, type SeededTenant, type TestServer } from './support/harness.js';

/**
 * Issue 10, finding 12: uploaded CSVs (with their password column) sat in plaintext in
 * `uploads.content` for up to a day. They are now sealed with the server key (AES-256-GCM,
 * context `upload:<id>`). The rows are read straight from the database here.
 */
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
let ts: TestServer;
let t: SeededTenant;

beforeAll(async () => {
  ts = await startTestServer({ JOB_POLL_MS: '50', ROSTER_SECRET_KEY: KEY_A });
  t = await seedTenant(ts);
});
afterAll(async () => {
  await ts?.close();
});

async function postUpload(token: string, body: string) {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
    body,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { uploadId: string }).uploadId;
}

async function storedUploads(tenantId: string) {
  const rows = await queryRows<{ id: string; content: Uint8Array | string }>(
    ts.database.db,
    sql`select id, content from uploads where tenant_id = ${tenantId}`,
  );
  return rows.map((r) => ({ id: r.id, content: typeof r.content === 'string' ? Buffer.from(r.content) : Buffer.from(r.content) }));
}

function containsText(buf: Buffer, text: string): boolean {
  return buf.includes(Buffer.from(text, 'utf8')) || buf.toString('utf8').includes(text) || buf.toString('latin1').includes(text);
}

describe('uploads are sealed at rest', () => {
  it('a streamed upload holds no plaintext password in the database, and its bulk upload still completes', async () => {
    const password = `Sealed-${randomBytes(4).toString('hex')}-9!`;
    const email = `sealed-${randomBytes(3).toString('hex')}@seal.test`;
    const uploadId = await postUpload(t.token, `email,first_name,last_name,password,groups\n${email},Seal,Ed,${password},\n`);
    const rows = await storedUploads(t.tenantId);
    expect(rows).toHaveLength(1);
    expect(containsText(rows[0]!.content, password)).toBe(false);
    expect(containsText(rows[0]!.content, email)).toBe(false);
    // The hex form a text dump would show does not hold it either.
    expect(rows[0]!.content.toString('hex')).not.toContain(Buffer.from(password).toString('hex'));

    const b = bulkApi(ts, t.token);
    const op = await b.uploadAndWait({ uploadId });
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 1, failed: 0 });
    // The run that wrote the upload deleted it.
    expect(await storedUploads(t.tenantId)).toHaveLength(0);
    const { users } = await b.client.users({ first: 10 });
    expect(users.nodes.map((u) => u.email)).toContain(email);
  });

  it('an inline CSV is sealed too (a validateOnly run keeps it for the real run)', async () => {
    const t2 = await seedTenant(ts);
    const password = `Inline-${randomBytes(4).toString('hex')}-7!`;
    const b = bulkApi(ts, t2.token);
    const op = await b.uploadAndWait({
      csv: `email,first_name,last_name,password,groups\ninline@seal.test,In,Line,${password},\n`,
      validateOnly: true,
    });
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 1 });
    const rows = await storedUploads(t2.tenantId);
    expect(rows).toHaveLength(1);
    expect(containsText(rows[0]!.content, password)).toBe(false);
  });

  it('a row sealed under another key is a typed failure, not a crash', async () => {
    const t3 = await seedTenant(ts);
    const csv = 'email,first_name,last_name,password,groups\nother-key@seal.test,Other,Key,Other-Key-55!,\n';
    const uploadId = await postUpload(t3.token, csv);
    const [row] = await storedUploads(t3.tenantId);
    // As if written by a replica with a different ROSTER_SECRET_KEY: right context, wrong key.
    const foreign = createSecretBox([Buffer.from(KEY_B, 'base64')]).seal(csv, `upload:${row!.id}`);
    await ts.database.db.execute(sql`update uploads set content = ${foreign} where id = ${row!.id}`);
    const b = bulkApi(ts, t3.token);
    const res = await b.upload({ uploadId });
    expect(res.bulkOperation).toBeNull();
    expect(res.errors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', field: ['input', 'uploadId'] })]);
    expect(res.errors[0]!.message).toContain('ROSTER_SECRET_KEY_PREVIOUS');
    expect(ts.processNet.caught).toBe(0);
  });
});

describe('replicas with different keys', () => {
  it('a job on a replica without the key fails the operation with the reason, and the process goes on', async () => {
    // This server queues the operation but runs no jobs; a replica holding another key runs it.
    const queuer = await startTestServer({ WORKERS: 'false', ROSTER_SECRET_KEY: KEY_A });
    let worker: TestServer | null = null;
    try {
      const t4 = await seedTenant(queuer);
      const csv = 'email,first_name,last_name,password,groups\njob@seal.test,Job,Key,Job-Key-55!x,\n';
      const started = await bulkApi(queuer, t4.token).upload({ csv });
      expect(started.errors).toEqual([]);
      worker = await startReplica(queuer, { JOB_POLL_MS: '50', ROSTER_SECRET_KEY: KEY_B });
      const op = await bulkApi(worker, t4.token).wait(started.bulkOperation!.id);
      expect(op.status).toBe('FAILED');
      expect(op.error).toContain('cannot be decrypted');
      expect(queuer.processNet.caught).toBe(0);
    } finally {
      await worker?.close();
      await queuer.close();
    }
  });
});

describe('the key file', () => {
  it('is generated under DATA_DIR with mode 0600 when ROSTER_SECRET_KEY is unset', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-key-'));
    const own = await startTestServer({ DATA_DIR: dataDir, ROSTER_SECRET_KEY: '' });
    try {
      const stat = fs.statSync(path.join(dataDir, 'secret.key'));
      expect(stat.mode & 0o777).toBe(0o600);
    } finally {
      await own.close();
    }
  });
});
