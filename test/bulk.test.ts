import WebSocket from 'ws';
import { sql } from 'drizzle-orm';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../server/app.js';
import { createLogger } from '../server/shared/logger.js';
import { createTestDatabase, gql, seedTenant, startTestServer, testEnv, type TestServer } from './support/harness.js';
import { api } from './support/directory-api.js';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ JOB_POLL_MS: '50' });
});
afterAll(async () => {
  await ts?.close();
});

const OP = `id status total processed succeeded failed skipped error results(first: 100) { totalCount nodes { row email outcome errorCode message userId reference } }`;

function bulk(server: TestServer | { url: string }, token: string) {
  const a = api(server as TestServer, token);
  return {
    ...a,
    async upload(input: Record<string, unknown>) {
      const d = await a.call<any>(`mutation($i: BulkUploadUsersInput!) { bulkUploadUsers(input: $i) { bulkOperation { id } errors { code message } } }`, { i: input });
      return d.bulkUploadUsers as { bulkOperation: { id: string } | null; errors: { code: string; message: string }[] };
    },
    async op(id: string) {
      return (await a.call<any>(`query($id: ID!) { bulkOperation(id: $id) { ${OP} } }`, { id })).bulkOperation;
    },
    async wait(id: string, ms = 60_000) {
      const end = Date.now() + ms;
      for (;;) {
        const o = await this.op(id);
        if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(o.status)) return o;
        if (Date.now() > end) throw new Error(`operation still ${o.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async uploadAndWait(input: Record<string, unknown>) {
      const r = await this.upload(input);
      expect(r.errors).toEqual([]);
      return this.wait(r.bulkOperation!.id);
    },
    async userGroups() {
      const d = await a.call<any>(`{ users(first: 100) { nodes { email status groups { name } } } }`);
      return Object.fromEntries(d.users.nodes.map((u: any) => [u.email, u.groups.map((g: any) => g.name).sort()]));
    },
  };
}

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

async function postUpload(token: string | null, body: Buffer | string | ReadableStream<Uint8Array>) {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as any };
}

describe('CSV upload', () => {
  it('uploads the seed example: each user lands in exactly the listed groups', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    await b.createGroup('test_group_1');
    await b.createGroup('Test_Group_2');
    const csv = [
      '\uFEFFemail, first_name, last_name, password, groups',
      'one@x.test, First1, Last1, Pass!word1, "test_group_1, users"',
      'two@x.test, First2, Last2, Pass!word2, "test_group_1, test_group_2"',
      'four@x.test, First3, Last3, Pass!word3, users',
    ].join('\r\n');
    const up = await postUpload(t.token, csv);
    expect(up.status).toBe(201);
    const op = await b.uploadAndWait({ uploadId: up.body.uploadId });
    expect(op).toMatchObject({ status: 'COMPLETED', total: 3, succeeded: 3, failed: 0 });
    expect(op.results.nodes.map((n: any) => n.row)).toEqual([2, 3, 4]);
    const groups = await b.userGroups();
    expect(groups['one@x.test']).toEqual(['Users', 'test_group_1']);
    expect(groups['two@x.test']).toEqual(['Test_Group_2', 'Users', 'test_group_1']);
    expect(groups['four@x.test']).toEqual(['Users']);
    const login = await gql<any>(ts.url, `{ users(filter: { search: "one@" }) { nodes { status } } }`, {}, t.token);
    expect(login.data.users.nodes[0].status).toBe('ACTIVE');
  });

  it('reports every bad row with its number and reason, and writes nothing for it', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
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
    const byRow = Object.fromEntries(op.results.nodes.map((n: any) => [n.row, n]));
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
    const users = await b.call<any>(`{ users { totalCount } }`);
    expect(users.users.totalCount).toBe(2);
  });

  it('refuses broken files as a whole: empty, header only, unterminated quote, invalid UTF-8, binary, too large', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    for (const csv of ['', '\n\n', 'email,first_name,last_name,password,groups\n', 'a@x.test,A,B,,"unclosed\n']) {
      const r = await b.upload({ csv });
      expect(r.errors[0]!.code, JSON.stringify(csv)).toBe('INVALID_INPUT');
      expect(r.bulkOperation).toBeNull();
    }
    const badUtf8 = await postUpload(t.token, Buffer.from([0x61, 0x40, 0x78, 0x2c, 0xc3, 0x28, 0x0a]));
    expect(badUtf8).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] } });
    expect(badUtf8.body.errors[0].message).toContain('UTF-8');
    const binary = await postUpload(t.token, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00]));
    expect(binary.status).toBe(400);
    const huge = await postUpload(t.token, Buffer.alloc(21 * 1024 * 1024, 0x61));
    expect(huge).toMatchObject({ status: 413, body: { errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } });
    expect(huge.body.errors[0].message).toContain('larger than 20 MB');
    // Sent without a length up front (chunked): refused once the limit is crossed.
    const chunked = await postUpload(t.token, streamOf(Buffer.alloc(21 * 1024 * 1024, 0x61)));
    expect(chunked.status).toBe(413);
    expect((await postUpload(t.token, '  \n')).body.errors[0].message).toContain('empty');
    expect((await postUpload(null, 'a,b,c,d,e')).status).toBe(401);
    const tooMany = Array.from({ length: 100_001 }, (_, i) => `u${i}@x.test,A,B,,`).join('\n');
    const upload = await postUpload(t.token, tooMany);
    const r = await b.upload({ uploadId: upload.body.uploadId });
    expect(r.errors[0]!.message).toContain('limit is 100000');
    expect((await b.call<any>(`{ users { totalCount } }`)).users.totalCount).toBe(1);
  });

  it('validateOnly reports without writing; onExisting SKIP and UPDATE; createMissingGroups; sendInvites', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    const dry = await b.uploadAndWait({ csv: 'a@x.test,A,One,,newgroup', validateOnly: true, createMissingGroups: true });
    expect(dry).toMatchObject({ status: 'COMPLETED', succeeded: 1 });
    expect((await b.call<any>(`{ users { totalCount } groups { totalCount } }`))).toEqual({ users: { totalCount: 1 }, groups: { totalCount: 2 } });

    const made = await b.uploadAndWait({ csv: 'a@x.test,A,One,,newgroup', createMissingGroups: true, sendInvites: true });
    expect(made.succeeded).toBe(1);
    expect((await b.userGroups())['a@x.test']).toEqual(['Users', 'newgroup']);
    const invited = await b.call<any>(`{ users(filter: { search: "a@" }) { nodes { status invitations { status } } } }`);
    expect(invited.users.nodes[0]).toEqual({ status: 'INVITED', invitations: [{ status: 'PENDING' }] });

    const skip = await b.uploadAndWait({ csv: 'A@x.test,Changed,Name,,', onExisting: 'SKIP' });
    expect(skip).toMatchObject({ skipped: 1, succeeded: 0 });
    const upd = await b.uploadAndWait({ csv: 'A@x.test,Changed,Name,,NEWGROUP', onExisting: 'UPDATE' });
    expect(upd).toMatchObject({ succeeded: 1 });
    const u = await b.call<any>(`{ users(filter: { search: "a@" }) { nodes { firstName } } }`);
    expect(u.users.nodes[0].firstName).toBe('Changed');
  });
});

describe('bulk operations on users', () => {
  it('deletes users, reporting unknown ids, other tenants’ ids and the last admin', async () => {
    const t = await seedTenant(ts);
    const other = await seedTenant(ts);
    const b = bulk(ts, t.token);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await b.createUser({ email: `d${i}@x.test`, firstName: 'D', lastName: `${i}` })).user.id);
    const foreign = (await api(ts, other.token).createUser({ email: 'f@x.test', firstName: 'F', lastName: 'F' })).user.id;
    const me = (await b.call<any>(`{ viewer { user { id } } }`)).viewer.user.id;
    const r = await b.call<any>(`mutation($i: BulkUsersInput!) { bulkDeleteUsers(input: $i) { bulkOperation { id } errors { code } } }`, {
      i: { userIds: [...ids, foreign, 'garbage', me] },
    });
    const op = await b.wait(r.bulkDeleteUsers.bulkOperation.id);
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 3, failed: 3 });
    const failed = op.results.nodes.filter((n: any) => n.outcome === 'FAILED').map((n: any) => n.errorCode);
    expect(failed).toEqual(['NOT_FOUND', 'NOT_FOUND', 'LAST_ADMIN']);
    expect((await b.call<any>(`{ users { totalCount } }`)).users.totalCount).toBe(1);
    expect((await api(ts, other.token).call<any>(`{ users { totalCount } }`)).users.totalCount).toBe(2);
  });

  it('re-invites pending users and sends password resets to active ones; adds users to groups', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    const pending = (await b.createUser({ email: 'p@x.test', firstName: 'P', lastName: 'P' })).user.id;
    const active = (await b.createUser({ email: 'a@x.test', firstName: 'A', lastName: 'A', password: 'Act1ve!pass' })).user.id;
    const r = await b.call<any>(`mutation($i: BulkUsersInput!) { bulkReinviteUsers(input: $i) { bulkOperation { id } } }`, { i: { userIds: [pending, active] } });
    const op = await b.wait(r.bulkReinviteUsers.bulkOperation.id);
    expect(op.results.nodes.map((n: any) => n.message)).toEqual(['Invitation sent.', 'Password reset sent.']);
    const g1 = (await b.createGroup('One')).group!.id;
    const g2 = (await b.createGroup('Two')).group!.id;
    await b.call(`mutation($i: GroupMembersInput!) { addGroupMembers(input: $i) { errors { code } } }`, { i: { groupId: g1, userIds: [pending] } });
    const add = await b.call<any>(`mutation($i: BulkAddUsersToGroupsInput!) { bulkAddUsersToGroups(input: $i) { bulkOperation { id } } }`, {
      i: { userIds: [pending, active], groupIds: [g1, g2] },
    });
    expect((await b.wait(add.bulkAddUsersToGroups.bulkOperation.id)).succeeded).toBe(2);
    const groups = await b.userGroups();
    expect(groups['p@x.test']).toEqual(['One', 'Two', 'Users']);
    expect(groups['a@x.test']).toEqual(['One', 'Two', 'Users']);
  });

  it('downloads results as CSV with formula cells neutralised', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    const op = await b.uploadAndWait({ csv: '=cmd@x.test,=HYPERLINK(x),B,,\nok@x.test,@A,-B,,' });
    const base = ts.url.replace(/\/graphql$/, '');
    const path = (await b.call<any>(`query($id: ID!) { bulkOperation(id: $id) { resultsCsvPath } }`, { id: op.id })).bulkOperation.resultsCsvPath;
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${t.token}` } });
    expect(res.headers.get('content-type')).toContain('text/csv');
    const text = await res.text();
    expect(text.split('\n')[0]).toBe('row,user_id,reference,email,outcome,error_code,message');
    expect(text).toContain(`"'=cmd@x.test"`);
    expect(text).not.toMatch(/(^|,)"=/m);
    const other = await seedTenant(ts);
    expect((await fetch(base + path, { headers: { authorization: `Bearer ${other.token}` } })).status).toBe(404);
  });

  it('streams progress to a final event and can be cancelled with no row half-done', async () => {
    const t = await seedTenant(ts);
    const b = bulk(ts, t.token);
    const rows = Array.from({ length: 3000 }, (_, i) => `s${i}@x.test,S,${i},,`).join('\n');
    const started = await b.upload({ csv: rows.slice(0, 1024 * 1024) });
    const id = started.bulkOperation!.id;
    const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: t.token } });
    const events: any[] = [];
    for await (const e of client.iterate({ query: `subscription($id: ID!) { bulkOperationProgress(id: $id) { status processed total } }`, variables: { id } })) {
      events.push((e.data as any).bulkOperationProgress);
    }
    await client.dispose();
    expect(events[events.length - 1]).toMatchObject({ status: 'COMPLETED', processed: 3000, total: 3000 });

    // Password rows are slow on purpose (argon2id): the cancel lands while the job runs.
    const second = await b.upload({ csv: Array.from({ length: 600 }, (_, i) => `c${i}@x.test,C,${i},Canc3l!pw${i},`).join('\n') });
    await b.call(`mutation($i: BulkOperationIdInput!) { cancelBulkOperation(input: $i) { errors { code } } }`, { i: { id: second.bulkOperation!.id } });
    const cancelled = await b.wait(second.bulkOperation!.id);
    expect(cancelled.status).toBe('CANCELLED');
    // Whatever was processed is fully applied: every recorded success is a user, nothing more.
    const created = (await b.call<any>(`{ users(filter: { search: "c" }) { totalCount } }`)).users.totalCount;
    const after = await b.op(second.bulkOperation!.id);
    expect(created).toBe(after.succeeded);
    expect(after.processed).toBeLessThan(600);
    // Outcomes are recorded with their chunk's effects: exactly one per processed row.
    expect(after.results.totalCount).toBe(after.processed);
  });
});

describe('crash and resume', () => {
  it('a job whose server died mid-upload is finished by another with every row applied once', async () => {
    const { database, drop } = await createTestDatabase();
    const env = { JOB_POLL_MS: '50', JOB_LEASE_MS: '600' };
    const log = createLogger('silent');
    const first = await startServer({ env: testEnv(env), database, log });
    try {
      const tsLike = { url: first.url, wsUrl: first.wsUrl, server: first, database } as unknown as TestServer;
      const t = await seedTenant(tsLike);
      const b = bulk(tsLike, t.token);
      const op = await b.upload({ csv: Array.from({ length: 240 }, (_, i) => `r${i}@x.test,R,${i},Res7me!pw${i},`).join('\n') });
      const id = op.bulkOperation!.id;
      // Let it get going, then "kill" the first server: its job stops between chunks and its lease lapses.
      for (;;) {
        const o = await b.op(id);
        if (o.processed > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await first.close();
      const mid = (await database.db.execute(sql`select processed, status from bulk_operations`)) as any;
      const midRow = (mid.rows ?? mid)[0];
      expect(midRow.processed).toBeLessThan(240);

      const second = await startServer({ env: testEnv(env), database, log });
      try {
        const b2 = bulk({ url: second.url } as TestServer, t.token);
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
