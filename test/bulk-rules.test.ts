import { randomBytes } from 'node:crypto';
import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant, type TestServer } from './support/harness.js';
import { api, completeSetup, tokenOf, waitForMailLink } from './support/directory-api.js';
import { bulkApi } from './support/bulk-api.js';

/**
 * One rule per idea: a CSV row and createUser (and account setup) accept and refuse the same
 * users, passwords, groups and identity providers; rows report real ErrorCodes and the line
 * their record starts on.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });

/** Uploads and waits for the end, with the group names of the tenant at hand. */
function bulk(ts: TestServer, token: string) {
  const b = bulkApi(ts, token);
  return {
    ...b,
    async groupNames() {
      return (await b.groups()).map((g) => g.name).sort();
    },
  };
}

describe('the password identity set is the same on every path', () => {
  test('a password equal to the tenant slug (any case) is refused by createUser, CSV rows and account setup', async ({ server: ts }) => {
    // Slugs are lower-case letters, digits and hyphens; the hyphen is a special character, so
    // the slug in other case passes every other rule of the policy.
    const slug = `pw-${randomBytes(4).toString('hex')}-q9`;
    const password = slug.toUpperCase().replace(/Q/, 'q');
    const t = await seedTenant(ts, { slug });
    const b = bulk(ts, t.token);

    const created = await b.createUser({ email: 'slug@x.test', firstName: 'S', lastName: 'L', password });
    expect(created.errors.map((e) => e.code)).toEqual(['PASSWORD_MATCHES_IDENTITY']);

    const op = await b.uploadAndWait({ csv: `row@x.test,R,W,${password},` });
    expect(op.results.nodes[0]).toMatchObject({ outcome: 'FAILED', errorCode: 'PASSWORD_MATCHES_IDENTITY' });

    await b.createUser({ email: 'setup@x.test', firstName: 'S', lastName: 'U', sendInvite: true });
    const token = tokenOf(await waitForMailLink(ts, 'setup@x.test'));
    expect((await completeSetup(ts, token, password)).errors.map((e) => e.code)).toContain('PASSWORD_MATCHES_IDENTITY');
    expect((await b.users()).totalCount).toBe(2);
  });
});

describe('CSV rows report ErrorCodes', () => {
  test('a password failing several rules reports the first failed rule and lists every one', async ({ server: ts, tenant: t }) => {
    const op = await bulk(ts, t.token).uploadAndWait({ csv: 'weak@x.test,W,K,weak,\nshort@x.test,S,H,Sh0rt!a,' });
    const [weak, short] = op.results.nodes;
    expect(weak).toMatchObject({ row: 1, outcome: 'FAILED', errorCode: 'PASSWORD_TOO_SHORT' });
    for (const rule of ['PASSWORD_TOO_SHORT', 'PASSWORD_MISSING_UPPERCASE', 'PASSWORD_MISSING_DIGIT', 'PASSWORD_MISSING_SPECIAL'])
      expect(weak!.message).toContain(rule);
    expect(short).toMatchObject({ row: 2, outcome: 'FAILED', errorCode: 'PASSWORD_TOO_SHORT' });
  });
});

describe('groups created by a CSV file follow createGroup', () => {
  test('a missing group name longer than createGroup allows fails its row with INVALID_INPUT and writes nothing for it', async ({
    server: ts,
    tenant: t,
  }) => {
    const b = bulk(ts, t.token);
    const long = 'g'.repeat(300);
    expect((await b.createGroup(long)).errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
    const op = await b.uploadAndWait({ csv: `long@x.test,L,G,,${long}\nfine@x.test,F,G,,fine`, createMissingGroups: true });
    expect(op.results.nodes.map((n) => [n.row, n.outcome, n.errorCode])).toEqual([
      [1, 'FAILED', 'INVALID_INPUT'],
      [2, 'SUCCEEDED', null],
    ]);
    expect(await b.groupNames()).toEqual(['Admins', 'Users', 'fine']);
    expect((await b.users({ search: 'long@' })).totalCount).toBe(0);
  });

  test('a missing group spelled differently in one file is created once, under its first spelling', async ({ server: ts, tenant: t }) => {
    const b = bulk(ts, t.token);
    const op = await b.uploadAndWait({
      csv: 'a@x.test,A,A,,Ghost\nb@x.test,B,B,,GHOST\nc@x.test,C,C,,"ghost, Ghost"',
      createMissingGroups: true,
    });
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 3 });
    expect(await b.groupNames()).toEqual(['Admins', 'Ghost', 'Users']);
    expect((await b.groups()).find((g) => g.name === 'Ghost')!.memberCount).toBe(3);
  });

  test('the first spelling wins across chunks, whatever the row that carries it', async ({ server: ts, tenant: t }) => {
    const b = bulk(ts, t.token);
    // Row 1 fails (bad email) but names the group first; row 1,202 lands in a later chunk.
    const rows = [
      'not-an-email,X,Y,,Phantom',
      ...Array.from({ length: 1200 }, (_, i) => `p${i}@x.test,P,${i},,`),
      'late@x.test,L,A,,PHANTOM',
    ];
    const op = await b.uploadAndWait({ csv: rows.join('\n'), createMissingGroups: true });
    expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 1201, failed: 1 });
    expect(await b.groupNames()).toEqual(['Admins', 'Phantom', 'Users']);
  });
});

describe('CSV row numbers', () => {
  test('a quoted record spanning lines is reported on the line it starts', async ({ server: ts, tenant: t }) => {
    const csv = [
      'email,first_name,last_name,password,groups',
      'one@x.test,One,A,,',
      'two@x.test,"Two',
      'Lines",B,,',
      '',
      'three@x.test,Three,C,,"nope,',
      'nada"',
    ].join('\n');
    const op = await bulk(ts, t.token).uploadAndWait({ csv });
    expect(op.results.nodes.map((n) => [n.row, n.email, n.outcome])).toEqual([
      [2, 'one@x.test', 'SUCCEEDED'],
      [3, 'two@x.test', 'FAILED'],
      [6, 'three@x.test', 'FAILED'],
    ]);
    // A name is one line: the record is whole, and its name refused (on the line it starts).
    expect(op.results.nodes[1]!.message).toMatch(/^Row 3:.*control characters/);
    expect(op.results.nodes[2]!.message).toMatch(/^Row 6:/);
  });
});

describe('identity providers on createUser', () => {
  test('without the flag, a non-default IdP is refused whether or not an invitation is sent', async ({ server: ts, tenant: t }) => {
    const a = api(ts, t.token);
    const idp = (await a.client.createIdentityProvider({ input: { name: 'partner' } })).createIdentityProvider.identityProvider!.id;
    for (const sendInvite of [false, true]) {
      const r = await a.createUser({
        email: `nf-${sendInvite}@x.test`,
        firstName: 'N',
        lastName: 'F',
        identityProviderId: idp,
        sendInvite,
      });
      expect(r.errors.map((e) => [e.code, e.field])).toEqual([['FEATURE_DISABLED', ['input', 'identityProviderId']]]);
    }
    expect((await a.users({ search: 'nf-' })).totalCount).toBe(0);
    // The default one is always fine.
    const { identityProviders: idps } = await a.client.identityProviders();
    const r = await a.createUser({
      email: 'def@x.test',
      firstName: 'D',
      lastName: 'F',
      identityProviderId: idps.find((i) => i.isDefault)!.id,
    });
    expect(r.errors).toEqual([]);
  });
});
