import { describe, expect } from 'vitest';
import { RosterGraphQLError, type BulkOperationFieldsFragment } from '../client/src/index.js';
import { rosterTest } from './support/fixtures.js';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { safeMessage } from '../server/shared/errors.js';
import { seedTenant, type TestServer } from './support/harness.js';
import { bulkApi } from './support/bulk-api.js';

/** Edges of bulk operations: other tenants, other directories, upload lifetime, late subscribers. */
const test = rosterTest({ JOB_POLL_MS: '50' });

async function postUpload(ts: TestServer, token: string, body: string) {
  const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  return (await res.json()) as { uploadId: string };
}

describe('bulk operations across tenants and directories', () => {
  test('another tenant’s users, groups, uploads and operations behave like missing ones', async ({ server: ts, tenant: t }) => {
    const other = await seedTenant(ts);
    const b = bulkApi(ts, t.token);
    const o = bulkApi(ts, other.token);
    const foreignUser = (await o.createUser({ email: 'f@x.test', firstName: 'F', lastName: 'F' })).user!.id;
    const foreignGroup = (await o.createGroup('theirs')).group!.id;
    const mine = (await b.createUser({ email: 'm@x.test', firstName: 'M', lastName: 'M' })).user!.id;
    const myGroup = (await b.createGroup('ours')).group!.id;

    const reinvite = await b.done(await b.reinviteUsers([foreignUser, mine]));
    expect(reinvite.results.nodes.map((n) => [n.outcome, n.errorCode])).toEqual([
      ['FAILED', 'NOT_FOUND'],
      ['SUCCEEDED', null],
    ]);
    expect(reinvite.results.nodes[0]!.reference).toBe(foreignUser);

    const badGroups = await b.addUsersToGroups([mine], [myGroup, foreignGroup]);
    expect(badGroups).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
    const add = await b.done(await b.addUsersToGroups([foreignUser, mine], [myGroup]));
    expect(add).toMatchObject({ succeeded: 1, failed: 1 });
    expect((await o.groups()).find((g) => g.name === 'theirs')!.memberCount).toBe(0);

    const upload = await postUpload(ts, other.token, 'x@x.test,X,Y,,');
    const stolen = await b.upload({ uploadId: upload.uploadId });
    expect(stolen).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });

    // Their operation is invisible: query, node, cancel, results file and subscription.
    const theirOp = (await o.done(await o.reinviteUsers([foreignUser]))).id;
    expect(await b.op(theirOp)).toBeNull();
    expect((await b.client.node({ id: theirOp })).node).toBeNull();
    expect(await b.cancel(theirOp)).toMatchObject({ errors: [{ code: 'NOT_FOUND' }] });
    // The subscription refuses it with a GraphQL error, before any event.
    const events: unknown[] = [];
    const refused = await (async () => {
      for await (const e of b.client.bulkOperationProgress({ id: theirOp })) events.push(e);
    })().catch((e: unknown) => e);
    await b.client.close();
    expect(refused).toBeInstanceOf(RosterGraphQLError);
    expect((refused as RosterGraphQLError).message).toBeTruthy();
    expect(events).toEqual([]);
  });

  test('adds users only to groups of their own directory and reports the others', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const adId = (await b.createDirectory('Corp AD', 'ACTIVE_DIRECTORY')).directory!.id;
    const adGroup = (await b.createGroup('ad-group', adId)).group!.id;
    const cloudUser = (await b.createUser({ email: 'c@x.test', firstName: 'C', lastName: 'C' })).user!.id;
    const adUser = (await b.createUser({ email: 'ad@x.test', firstName: 'A', lastName: 'D', directoryId: adId })).user!.id;
    const op = await b.done(await b.addUsersToGroups([cloudUser, adUser], [adGroup]));
    expect(op.results.nodes.map((n) => [n.outcome, n.errorCode])).toEqual([
      ['FAILED', 'INVALID_INPUT'],
      ['SUCCEEDED', null],
    ]);
    expect(op.results.nodes[0]!.message).toContain('another directory');
    expect((await b.client.group({ id: adGroup })).group!.memberCount).toBe(1);
  });

  test('uploads into an external directory: no passwords stored, users active at once', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const directoryId = (await b.createDirectory('LDAP', 'LDAP')).directory!.id;
    const op = await b.uploadAndWait({ csv: 'l1@x.test,L,One,,\nl2@x.test,L,Two,Secr3t!pass,', directoryId });
    expect(op.results.nodes.map((n) => n.outcome)).toEqual(['SUCCEEDED', 'FAILED']);
    expect(op.results.nodes[1]!.message).toContain('never store passwords');
    expect(JSON.stringify(op)).not.toContain('Secr3t');
    const u = (await b.client.user({ id: (await b.users({ search: 'l1@' })).nodes[0]!.id })).user!;
    expect({ status: u.status, directory: { kind: u.directory.kind } }).toEqual({ status: 'ACTIVE', directory: { kind: 'LDAP' } });
  });
});

describe('uploads and progress', () => {
  test('an upload serves a validateOnly run and then the real run, and is gone after that', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const { uploadId } = await postUpload(ts, t.token, 'v@x.test,V,One,Val1d!pass,\nw@x.test,W,Two,,');
    const dry = await b.uploadAndWait({ uploadId, validateOnly: true });
    expect(dry).toMatchObject({ status: 'COMPLETED', succeeded: 2 });
    expect((await b.users()).totalCount).toBe(1);
    const real = await b.uploadAndWait({ uploadId });
    expect(real).toMatchObject({ status: 'COMPLETED', succeeded: 2 });
    expect((await b.users()).totalCount).toBe(3);
    // The file held passwords: once written, it is deleted.
    expect(await b.upload({ uploadId })).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
  });

  test('housekeeping deletes uploads nobody used', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const { uploadId } = await postUpload(ts, t.token, 'old@x.test,O,Ld,0ld!passw0rd,');
    // The hourly housekeeping, run now with an age limit of zero hours.
    await ts.server.services.bulk.purgeUploads(0);
    expect(await b.upload({ uploadId })).toMatchObject({ bulkOperation: null, errors: [{ code: 'NOT_FOUND' }] });
  });

  test('onExisting UPDATE ignores the password column and says so', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    await b.createUser({ email: 'e@x.test', firstName: 'E', lastName: 'E' });
    const op = await b.uploadAndWait({ csv: 'e@x.test,New,Name,weak,', onExisting: 'UPDATE' });
    expect(op.results.nodes[0]).toMatchObject({
      outcome: 'SUCCEEDED',
      message: 'Updated (the password column is ignored for existing users).',
    });
    expect(op).toMatchObject({ kind: 'UPLOAD_USERS', actor: { email: t.adminEmail } });
    expect(Date.parse(op.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(op.startedAt!));
    const u = (await b.users({ search: 'e@' })).nodes[0]!;
    expect({ firstName: u.firstName, status: u.status }).toEqual({ firstName: 'New', status: 'INVITED' });
  });

  test('a subscriber arriving after the end gets the final state at once', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const op = await b.uploadAndWait({ csv: 'late@x.test,L,Ate,,' });
    const events: BulkOperationFieldsFragment[] = [];
    try {
      for await (const e of b.client.bulkOperationProgress({ id: op.id })) events.push(e.bulkOperationProgress);
    } finally {
      await b.client.close();
    }
    expect(events).toMatchObject([{ id: op.id, status: 'COMPLETED', processed: 1, total: 1 }]);
  });
});

describe('secrets stay out of errors', () => {
  test('a failed chunk statement is reported without its parameters', () => {
    const err = new DrizzleQueryError(
      'insert into users …',
      ['a@x.test', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'],
      new Error('deadlock detected'),
    );
    expect(err.message).toContain('$argon2id');
    expect(safeMessage(err)).toBe('Database error: deadlock detected');
  });

  test('inline CSV with NUL characters is refused as binary', async ({ server: ts, tenant: t }) => {
    const r = await bulkApi(ts, t.token).upload({ csv: 'a@x.test,A,B,,\u0000' });
    expect(r).toMatchObject({ bulkOperation: null, errors: [{ code: 'INVALID_INPUT' }] });
    expect(r.errors[0]!.message).toContain('binary');
  });
});
