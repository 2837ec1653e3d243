import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { safeMessage } from '../server/modules/bulk-operation/bulk-operation.job.js';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';
import { api } from './support/directory-api.js';

/** Edges of bulk operations: other tenants, other directories, upload lifetime, late subscribers. */
let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ JOB_POLL_MS: '50' });
});
afterAll(async () => {
  await ts?.close();
});

const OP = `id status total processed succeeded failed skipped error results(first: 100) { totalCount nodes { row email outcome errorCode message userId reference } }`;

function bulk(token: string) {
  const a = api(ts, token);
  return {
    ...a,
    async mutate(name: string, inputType: string, input: Record<string, unknown>) {
      const d = await a.call<any>(`mutation($i: ${inputType}!) { ${name}(input: $i) { bulkOperation { id status } errors { code message } } }`, { i: input });
      return d[name] as { bulkOperation: { id: string; status: string } | null; errors: { code: string; message: string }[] };
    },
    async op(id: string) {
      return (await a.call<any>(`query($id: ID!) { bulkOperation(id: $id) { ${OP} } }`, { id })).bulkOperation;
    },
    async wait(id: string) {
      const end = Date.now() + 60_000;
      for (;;) {
        const o = await this.op(id);
        if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(o.status)) return o;
        if (Date.now() > end) throw new Error(`operation still ${o.status}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async run(name: string, inputType: string, input: Record<string, unknown>) {
      const r = await this.mutate(name, inputType, input);
      expect(r.errors).toEqual([]);
      return this.wait(r.bulkOperation!.id);
    },
  };
}

async function postUpload(token: string, body: string) {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
  return (await res.json()) as { uploadId: string };
}

describe('bulk operations across tenants and directories', () => {
  it('another tenant’s users, groups, uploads and operations behave like missing ones', async () => {
    const t = await seedTenant(ts);
    const other = await seedTenant(ts);
    const b = bulk(t.token);
    const o = bulk(other.token);
    const foreignUser = (await o.createUser({ email: 'f@x.test', firstName: 'F', lastName: 'F' })).user.id;
    const foreignGroup = (await o.createGroup('theirs')).group!.id;
    const mine = (await b.createUser({ email: 'm@x.test', firstName: 'M', lastName: 'M' })).user.id;
    const myGroup = (await b.createGroup('ours')).group!.id;

    const reinvite = await b.run('bulkReinviteUsers', 'BulkUsersInput', { userIds: [foreignUser, mine] });
    expect(reinvite.results.nodes.map((n: any) => [n.outcome, n.errorCode])).toEqual([
      ['FAILED', 'NOT_FOUND'],
      ['SUCCEEDED', null],
    ]);
    expect(reinvite.results.nodes[0].reference).toBe(foreignUser);

    const badGroups = await b.mutate('bulkAddUsersToGroups', 'BulkAddUsersToGroupsInput', { userIds: [mine], groupIds: [myGroup, foreignGroup] });
    expect(badGroups).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
    const add = await b.run('bulkAddUsersToGroups', 'BulkAddUsersToGroupsInput', { userIds: [foreignUser, mine], groupIds: [myGroup] });
    expect(add).toMatchObject({ succeeded: 1, failed: 1 });
    const theirs = await o.call<any>(`{ groups(first: 10) { nodes { name memberCount } } }`);
    expect(theirs.groups.nodes.find((g: any) => g.name === 'theirs').memberCount).toBe(0);

    const upload = await postUpload(other.token, 'x@x.test,X,Y,,');
    const stolen = await b.mutate('bulkUploadUsers', 'BulkUploadUsersInput', { uploadId: upload.uploadId });
    expect(stolen).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });

    // Their operation is invisible: query, node, cancel, results file and subscription.
    const theirOp = (await o.run('bulkReinviteUsers', 'BulkUsersInput', { userIds: [foreignUser] })).id;
    expect((await b.call<any>(`query($id: ID!) { bulkOperation(id: $id) { id } node(id: $id) { id } }`, { id: theirOp }))).toEqual({ bulkOperation: null, node: null });
    expect(await b.mutate('cancelBulkOperation', 'BulkOperationIdInput', { id: theirOp })).toMatchObject({ errors: [{ code: 'NOT_FOUND' }] });
    const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: t.token } });
    try {
      const it = client.iterate({ query: `subscription($id: ID!) { bulkOperationProgress(id: $id) { status } }`, variables: { id: theirOp } });
      const first = await it.next();
      expect(first.value?.errors?.[0]?.message).toBeTruthy();
      expect(first.value?.data ?? null).toBeNull();
    } finally {
      await client.dispose();
    }
  });

  it('adds users only to groups of their own directory and reports the others', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    const d = await b.call<any>(`mutation($i: CreateDirectoryInput!) { createDirectory(input: $i) { directory { id } } }`, {
      i: { name: 'Corp AD', kind: 'ACTIVE_DIRECTORY' },
    });
    const adId = d.createDirectory.directory.id;
    const adGroup = (await b.createGroup('ad-group', adId)).group!.id;
    const cloudUser = (await b.createUser({ email: 'c@x.test', firstName: 'C', lastName: 'C' })).user.id;
    const adUser = (await b.createUser({ email: 'ad@x.test', firstName: 'A', lastName: 'D', directoryId: adId })).user.id;
    const op = await b.run('bulkAddUsersToGroups', 'BulkAddUsersToGroupsInput', { userIds: [cloudUser, adUser], groupIds: [adGroup] });
    expect(op.results.nodes.map((n: any) => [n.outcome, n.errorCode])).toEqual([
      ['FAILED', 'INVALID_INPUT'],
      ['SUCCEEDED', null],
    ]);
    expect(op.results.nodes[0].message).toContain('another directory');
    const g = await b.call<any>(`query($id: ID!) { group(id: $id) { memberCount } }`, { id: adGroup });
    expect(g.group.memberCount).toBe(1);
  });

  it('uploads into an external directory: no passwords stored, users active at once', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    const d = await b.call<any>(`mutation($i: CreateDirectoryInput!) { createDirectory(input: $i) { directory { id } } }`, {
      i: { name: 'LDAP', kind: 'LDAP' },
    });
    const op = await b.run('bulkUploadUsers', 'BulkUploadUsersInput', {
      csv: 'l1@x.test,L,One,,\nl2@x.test,L,Two,Secr3t!pass,',
      directoryId: d.createDirectory.directory.id,
    });
    expect(op.results.nodes.map((n: any) => n.outcome)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(op.results.nodes[1].message).toContain('never store passwords');
    expect(JSON.stringify(op)).not.toContain('Secr3t');
    const u = await b.call<any>(`{ users(filter: { search: "l1@" }) { nodes { status directory { kind } } } }`);
    expect(u.users.nodes[0]).toEqual({ status: 'ACTIVE', directory: { kind: 'LDAP' } });
  });
});

describe('uploads and progress', () => {
  it('an upload serves a validateOnly run and then the real run, and is gone after that', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    const { uploadId } = await postUpload(t.token, 'v@x.test,V,One,Val1d!pass,\nw@x.test,W,Two,,');
    const dry = await b.run('bulkUploadUsers', 'BulkUploadUsersInput', { uploadId, validateOnly: true });
    expect(dry).toMatchObject({ status: 'COMPLETED', succeeded: 2 });
    expect((await b.call<any>(`{ users { totalCount } }`)).users.totalCount).toBe(1);
    const real = await b.run('bulkUploadUsers', 'BulkUploadUsersInput', { uploadId });
    expect(real).toMatchObject({ status: 'COMPLETED', succeeded: 2 });
    expect((await b.call<any>(`{ users { totalCount } }`)).users.totalCount).toBe(3);
    // The file held passwords: once written, it is deleted.
    expect(await b.mutate('bulkUploadUsers', 'BulkUploadUsersInput', { uploadId })).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
  });

  it('housekeeping deletes uploads nobody used', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    const { uploadId } = await postUpload(t.token, 'old@x.test,O,Ld,0ld!passw0rd,');
    // The hourly housekeeping, run now with an age limit of zero hours.
    await ts.server.services.bulk.purgeUploads(0);
    expect(await b.mutate('bulkUploadUsers', 'BulkUploadUsersInput', { uploadId })).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
  });

  it('onExisting UPDATE ignores the password column and says so', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    await b.createUser({ email: 'e@x.test', firstName: 'E', lastName: 'E' });
    const op = await b.run('bulkUploadUsers', 'BulkUploadUsersInput', { csv: 'e@x.test,New,Name,weak,', onExisting: 'UPDATE' });
    expect(op.results.nodes[0]).toMatchObject({ outcome: 'SUCCEEDED', message: 'Updated (the password column is ignored for existing users).' });
    const who = await b.call<any>(`query($id: ID!) { bulkOperation(id: $id) { kind actor { email } startedAt finishedAt } }`, { id: op.id });
    expect(who.bulkOperation).toMatchObject({ kind: 'UPLOAD_USERS', actor: { email: t.adminEmail } });
    expect(Date.parse(who.bulkOperation.finishedAt)).toBeGreaterThanOrEqual(Date.parse(who.bulkOperation.startedAt));
    const u = await b.call<any>(`{ users(filter: { search: "e@" }) { nodes { firstName status } } }`);
    expect(u.users.nodes[0]).toEqual({ firstName: 'New', status: 'INVITED' });
  });

  it('a subscriber arriving after the end gets the final state at once', async () => {
    const t = await seedTenant(ts);
    const b = bulk(t.token);
    const op = await b.run('bulkUploadUsers', 'BulkUploadUsersInput', { csv: 'late@x.test,L,Ate,,' });
    const client = createClient({ url: ts.wsUrl, webSocketImpl: WebSocket, connectionParams: { token: t.token } });
    const events: any[] = [];
    try {
      for await (const e of client.iterate({ query: `subscription($id: ID!) { bulkOperationProgress(id: $id) { id status processed total } }`, variables: { id: op.id } })) {
        events.push((e.data as any).bulkOperationProgress);
      }
    } finally {
      await client.dispose();
    }
    expect(events).toEqual([{ id: op.id, status: 'COMPLETED', processed: 1, total: 1 }]);
  });
});

describe('secrets stay out of errors', () => {
  it('a failed chunk statement is reported without its parameters', () => {
    const err = new DrizzleQueryError('insert into users …', ['a@x.test', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'], new Error('deadlock detected'));
    expect(err.message).toContain('$argon2id');
    expect(safeMessage(err)).toBe('Database error: deadlock detected');
  });

  it('inline CSV with NUL characters is refused as binary', async () => {
    const t = await seedTenant(ts);
    const r = await bulk(t.token).mutate('bulkUploadUsers', 'BulkUploadUsersInput', { csv: 'a@x.test,A,B,,\u0000' });
    expect(r).toMatchObject({ bulkOperation: null, errors: [{ code: 'INVALID_INPUT' }] });
    expect(r.errors[0]!.message).toContain('binary');
  });
});
