import { sql } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import type { BulkOperationFieldsFragment } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { startServer } from '../server/app.js';
import { createLogger } from '../server/shared/logger.js';
import { createTestDatabase, seedTenant, testEnv, type TestServer } from './support/harness.js';
import { api } from './support/directory-api.js';
import { bulkApi } from './support/bulk-api.js';

const test = rosterTest({ JOB_POLL_MS: '50' });

/** A body without Content-Length (sent chunked), in 1 MiB pieces. */
function streamOf(buf: Buffer): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= buf.length) return c.close();
      c.enqueue(buf.subarray(at, (at += 1024 * 1024)));
    },
  });
}

async function postUpload(ts: TestServer, token: string | null, body: Buffer | string | ReadableStream<Uint8Array>) {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as any };
}

describe('CSV upload', () => {
  test('uploads the seed example: each user lands in exactly the listed groups', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    await b.createGroup('test_group_1');
    await b.createGroup('Test_Group_2');
    const csv = [
      '\uFEFFemail, first_name, last_name, password, groups',
      'one@x.test, First1, Last1, Pass!word1, "test_group_1, users"',
      'two@x.test, First2, Last2, Pass!word2, "test_group_1, test_group_2"',
      'four@x.test, First3, Last3, Pass!word3, users',
    ].join('\r\n');
    const up = await postUpload(ts, t.token, csv);
    expect(up.status).toBe(201);
    const op = await b.uploadAndWait({ uploadId: up.body.uploadId });
    expect(op).toMatchObject({ status: 'COMPLETED', total: 3, succeeded: 3, failed: 0 });
    expect(op.results.nodes.map((n) => n.row)).toEqual([2, 3, 4]);
    const groups = await b.userGroups();
    expect(groups['one@x.test']).toEqual(['Users', 'test_group_1']);
    expect(groups['two@x.test']).toEqual(['Test_Group_2', 'Users', 'test_group_1']);
    expect(groups['four@x.test']).toEqual(['Users']);
    expect((await b.users({ search: 'one@' })).nodes[0]!.status).toBe('ACTIVE');
  });

  test('reports every bad row with its number and reason, and writes nothing for it', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    await b.createGroup('known');
    const csv = [
      'ok@x.test,Ok,User,,known',
      'not-an-email,A,B,,',
      `long@x.test,${'x'.repeat(101)},B,,`,
      'weak@x.test,W,K,weak,',
      'unknown@x.test,U,G,,nope',
      'OK@x.test,Dup,Row,,',
      'short@x.test,only,three',
      `${t.adminEmail},Admin,Again,,`,
    ].join('\n');
    const op = await b.uploadAndWait({ csv });
    expect(op).toMatchObject({ status: 'COMPLETED', total: 8, succeeded: 1, failed: 7 });
    const byRow = Object.fromEntries(op.results.nodes.map((n) => [n.row, n]));
    expect(byRow[1].outcome).toBe('SUCCEEDED');
    expect(byRow[2]).toMatchObject({ outcome: 'FAILED', errorCode: 'INVALID_INPUT' });
    expect(byRow[2].message).toContain('invalid email');
    expect(byRow[3].message).toContain('first name');
    expect(byRow[4].message).toMatch(/PASSWORD_TOO_SHORT.*PASSWORD_MISSING_UPPERCASE/);
    expect(byRow[5]).toMatchObject({ errorCode: 'NOT_FOUND' });
    expect(byRow[6]).toMatchObject({ errorCode: 'EMAIL_TAKEN' });
    expect(byRow[6].message).toContain('duplicate of row 1');
    expect(byRow[7].message).toContain('Expected 5 columns');
    expect(byRow[8]).toMatchObject({ errorCode: 'EMAIL_TAKEN' });
    expect((await b.users()).totalCount).toBe(2);
  });

  test('refuses broken files as a whole: empty, header only, unterminated quote, invalid UTF-8, binary, too large', async ({
    server: ts,
    tenant: t,
  }) => {
    const b = bulkApi(ts, t.token);
    for (const csv of ['', '\n\n', 'email,first_name,last_name,password,groups\n', 'a@x.test,A,B,,"unclosed\n']) {
      const r = await b.upload({ csv });
      expect(r.errors[0]!.code, JSON.stringify(csv)).toBe('INVALID_INPUT');
      expect(r.bulkOperation).toBeNull();
    }
    const badUtf8 = await postUpload(ts, t.token, Buffer.from([0x61, 0x40, 0x78, 0x2c, 0xc3, 0x28, 0x0a]));
    expect(badUtf8).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] } });
    expect(badUtf8.body.errors[0].message).toContain('UTF-8');
    const binary = await postUpload(ts, t.token, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00]));
    expect(binary.status).toBe(400);
    const huge = await postUpload(ts, t.token, Buffer.alloc(21 * 1024 * 1024, 0x61));
    expect(huge).toMatchObject({ status: 413, body: { errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } });
    expect(huge.body.errors[0].message).toContain('larger than 20 MB');
    // Sent without a length up front (chunked): refused once the limit is crossed.
    const chunked = await postUpload(ts, t.token, streamOf(Buffer.alloc(21 * 1024 * 1024, 0x61)));
    expect(chunked.status).toBe(413);
    expect((await postUpload(ts, t.token, '  \n')).body.errors[0].message).toContain('empty');
    expect((await postUpload(ts, null, 'a,b,c,d,e')).status).toBe(401);
    const tooMany = Array.from({ length: 100_001 }, (_, i) => `u${i}@x.test,A,B,,`).join('\n');
    const upload = await postUpload(ts, t.token, tooMany);
    const r = await b.upload({ uploadId: upload.body.uploadId });
    expect(r.errors[0]!.message).toContain('limit is 100000');
    expect((await b.users()).totalCount).toBe(1);
  });

  test('validateOnly reports without writing; onExisting SKIP and UPDATE; createMissingGroups; sendInvites', async ({
    server: ts,
    tenant: t,
  }) => {
    const b = bulkApi(ts, t.token);
    const dry = await b.uploadAndWait({ csv: 'a@x.test,A,One,,newgroup', validateOnly: true, createMissingGroups: true });
    expect(dry).toMatchObject({ status: 'COMPLETED', succeeded: 1 });
    expect({ users: (await b.users()).totalCount, groups: (await b.client.groups()).groups.totalCount }).toEqual({ users: 1, groups: 2 });

    const made = await b.uploadAndWait({ csv: 'a@x.test,A,One,,newgroup', createMissingGroups: true, sendInvites: true });
    expect(made.succeeded).toBe(1);
    expect((await b.userGroups())['a@x.test']).toEqual(['Users', 'newgroup']);
    const invited = (await b.client.userInvitations({ id: (await b.users({ search: 'a@' })).nodes[0]!.id })).user!;
    expect({ status: invited.status, invitations: invited.invitations.map((i) => ({ status: i.status })) }).toEqual({
      status: 'INVITED',
      invitations: [{ status: 'PENDING' }],
    });

    const skip = await b.uploadAndWait({ csv: 'A@x.test,Changed,Name,,', onExisting: 'SKIP' });
    expect(skip).toMatchObject({ skipped: 1, succeeded: 0 });
    const upd = await b.uploadAndWait({ csv: 'A@x.test,Changed,Name,,NEWGROUP', onExisting: 'UPDATE' });
    expect(upd).toMatchObject({ succeeded: 1 });
    expect((await b.users({ search: 'a@' })).nodes[0]!.firstName).toBe('Changed');
  });
});

describe('bulk operations on users', () => {
  test('deletes users, reporting unknown ids, other tenants’ ids and the last admin', async ({ server: ts, tenant: t }) => {
    const other = await seedTenant(ts);
    const b = bulkApi(ts, t.token);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await b.createUser({ email: `d${i}@x.test`, firstName: 'D', lastName: `${i}` })).user!.id);
    const foreign = (await api(ts, other.token).createUser({ email: 'f@x.test', firstName: 'F', lastName: 'F' })).user!.id;
    const me = (await b.client.viewer()).viewer!.user.id;
    const op = await b.done(await b.deleteUsers([...ids, foreign, 'garbage', me]));
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 3, failed: 3 });
    const failed = op.results.nodes.filter((n) => n.outcome === 'FAILED').map((n) => n.errorCode);
    expect(failed).toEqual(['NOT_FOUND', 'NOT_FOUND', 'LAST_ADMIN']);
    expect((await b.users()).totalCount).toBe(1);
    expect((await api(ts, other.token).users()).totalCount).toBe(2);
  });

  test('re-invites pending users and sends password resets to active ones; adds users to groups', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const pending = (await b.createUser({ email: 'p@x.test', firstName: 'P', lastName: 'P' })).user!.id;
    const active = (await b.createUser({ email: 'a@x.test', firstName: 'A', lastName: 'A', password: 'Act1ve!pass' })).user!.id;
    const op = await b.done(await b.reinviteUsers([pending, active]));
    expect(op.results.nodes.map((n) => n.message)).toEqual(['Invitation sent.', 'Password reset sent.']);
    const g1 = (await b.createGroup('One')).group!.id;
    const g2 = (await b.createGroup('Two')).group!.id;
    await b.addMembers(g1, [pending]);
    expect((await b.done(await b.addUsersToGroups([pending, active], [g1, g2]))).succeeded).toBe(2);
    const groups = await b.userGroups();
    expect(groups['p@x.test']).toEqual(['One', 'Two', 'Users']);
    expect(groups['a@x.test']).toEqual(['One', 'Two', 'Users']);
  });

  test('downloads results as CSV with formula cells neutralised', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const op = await b.uploadAndWait({ csv: '=cmd@x.test,=HYPERLINK(x),B,,\nok@x.test,@A,-B,,' });
    const base = ts.url.replace(/\/graphql$/, '');
    const path = op.resultsCsvPath;
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${t.token}` } });
    expect(res.headers.get('content-type')).toContain('text/csv');
    const text = await res.text();
    expect(text.split('\n')[0]).toBe('row,user_id,reference,email,outcome,error_code,message');
    expect(text).toContain(`"'=cmd@x.test"`);
    expect(text).not.toMatch(/(^|,)"=/m);
    const other = await seedTenant(ts);
    expect((await fetch(base + path, { headers: { authorization: `Bearer ${other.token}` } })).status).toBe(404);
  });

  test('streams progress to a final event and can be cancelled with no row half-done', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const rows = Array.from({ length: 3000 }, (_, i) => `s${i}@x.test,S,${i},,`).join('\n');
    const started = await b.upload({ csv: rows.slice(0, 1024 * 1024) });
    const id = started.bulkOperation!.id;
    const events: BulkOperationFieldsFragment[] = [];
    for await (const e of b.client.bulkOperationProgress({ id })) events.push(e.bulkOperationProgress);
    await b.client.close();
    expect(events[events.length - 1]).toMatchObject({ status: 'COMPLETED', processed: 3000, total: 3000 });

    // Password rows are slow on purpose (argon2id): the cancel lands while the job runs.
    const second = await b.upload({ csv: Array.from({ length: 600 }, (_, i) => `c${i}@x.test,C,${i},Canc3l!pw${i},`).join('\n') });
    await b.cancel(second.bulkOperation!.id);
    const cancelled = await b.wait(second.bulkOperation!.id);
    expect(cancelled.status).toBe('CANCELLED');
    // Whatever was processed is fully applied: every recorded success is a user, nothing more.
    const created = (await b.users({ search: 'c' })).totalCount;
    const after = (await b.op(second.bulkOperation!.id))!;
    expect(created).toBe(after.succeeded);
    expect(after.processed).toBeLessThan(600);
    // Outcomes are recorded with their chunk's effects: exactly one per processed row.
    expect(after.results.totalCount).toBe(after.processed);
  });
});

describe('crash and resume', () => {
  test('a job whose server died mid-upload is finished by another with every row applied once', async () => {
    const { database, drop } = await createTestDatabase();
    const env = { JOB_POLL_MS: '50', JOB_LEASE_MS: '600' };
    const log = createLogger('silent');
    const first = await startServer({ env: testEnv(env), database, log });
    try {
      const tsLike = { url: first.url, wsUrl: first.wsUrl, server: first, database } as unknown as TestServer;
      const t = await seedTenant(tsLike);
      const b = bulkApi(tsLike, t.token);
      const op = await b.upload({ csv: Array.from({ length: 240 }, (_, i) => `r${i}@x.test,R,${i},Res7me!pw${i},`).join('\n') });
      const id = op.bulkOperation!.id;
      // Let it get going, then "kill" the first server: its job stops between chunks and its lease lapses.
      for (;;) {
        const o = (await b.op(id))!;
        if (o.processed > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await first.close();
      const mid = (await database.db.execute(sql`select processed, status from bulk_operations`)) as any;
      const midRow = (mid.rows ?? mid)[0];
      expect(midRow.processed).toBeLessThan(240);

      const second = await startServer({ env: testEnv(env), database, log });
      try {
        const b2 = bulkApi({ url: second.url }, t.token);
        const done = await b2.wait(id);
        expect(done).toMatchObject({ status: 'COMPLETED', processed: 240, succeeded: 240, failed: 0 });
        const counts = (await database.db.execute(sql`
          select (select count(*)::int from users where email like 'r%@x.test') as users,
                 (select count(*)::int from bulk_operation_items where operation_id = (select id from bulk_operations limit 1)) as items`)) as any;
        expect((counts.rows ?? counts)[0]).toEqual({ users: 240, items: 240 });
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
      await drop();
    }
  });
});
