import { describe, expect } from 'vitest';
import { bulkApi } from './support/bulk-api.js';
import { rosterTest } from './support/fixtures.js';
import { gql } from './support/harness.js';
import { papi } from './support/provisioning-api.js';

/**
 * Issue 10, finding 11: decodable but malformed cursors answered INTERNAL_SERVER_ERROR (38 of 70
 * cases): a non-timestamp where the store casts to timestamptz, NUL in a string compared in SQL,
 * `1e400` (Infinity), and so on. Every paginated connection field × every malformed shape must
 * answer a typed BAD_USER_INPUT naming `after`, before any SQL.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });

const cursor = (json: string) => Buffer.from(json, 'utf8').toString('base64url');
const UUID = '0b6f7a52-3c1e-4f7e-9a0d-2f5b8c9d1e23';

/** Shapes wrong for every connection (key count, types, values the database would refuse). */
const MALFORMED: [string, string][] = [
  ['empty array', '[]'],
  ['an object', '{"a":1}'],
  ['too many keys', `["a","${UUID}","c"]`],
  ['numbers where strings go', '[1,2]'],
  ['nulls only', '[null,null]'],
  ['a non-uuid id', '["x","not-a-uuid"]'],
  ['a NUL byte in the value', `["a\\u0000b","${UUID}"]`],
  ['a lone surrogate', `["\\ud800","${UUID}"]`],
  ['Infinity (1e400)', `[1e400,"${UUID}"]`],
  ['a huge value', `["${'x'.repeat(5000)}","${UUID}"]`],
  ['a negative fraction', '[-1.5]'],
  ['an unsafe integer', '[9007199254740993]'],
];
/** Only wrong where a timestamp is expected (creation-time orders, sync runs). */
const BAD_TIMES: [string, string][] = [
  ['an impossible date', `["2024-02-30T00:00:00.000Z","${UUID}"]`],
  ['not a date', `["garbage","${UUID}"]`],
  ['a year the database cannot hold', `["+999999-01-01T00:00:00.000Z","${UUID}"]`],
];

interface Field {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  timed?: boolean;
}

async function fieldsFor(ts: { url: string }, token: string, usersGroupId: string): Promise<Field[]> {
  const p = papi(ts, token);
  const prov = await p.create('Cursor checks');
  const provisioningId = prov.provisioning!.id;
  const b = bulkApi(ts, token);
  const op = await b.uploadAndWait({ csv: 'c1@cursor.test,C,One,,\n', validateOnly: true });
  const groups = (await gql<any>(ts.url, `{ groups(first: 100) { nodes { id name } } }`, {}, token)).data.groups.nodes as {
    id: string;
  }[];
  const groupId = groups[0]!.id;
  void usersGroupId;
  const page = 'first: 2, after: $after';
  return [
    { name: 'users (EMAIL_ASC)', query: `query($after: String) { users(${page}) { totalCount nodes { id } } }` },
    { name: 'users (LAST_NAME_ASC)', query: `query($after: String) { users(${page}, orderBy: LAST_NAME_ASC) { nodes { id } } }` },
    {
      name: 'users (CREATED_AT_DESC)',
      query: `query($after: String) { users(${page}, orderBy: CREATED_AT_DESC) { nodes { id } } }`,
      timed: true,
    },
    {
      name: 'users (CREATED_AT_ASC)',
      query: `query($after: String) { users(${page}, orderBy: CREATED_AT_ASC) { nodes { id } } }`,
      timed: true,
    },
    { name: 'groups', query: `query($after: String) { groups(${page}) { nodes { id } } }` },
    {
      name: 'Group.members',
      query: `query($after: String, $id: ID!) { group(id: $id) { members(${page}) { nodes { id } } } }`,
      variables: { id: groupId },
    },
    { name: 'directories', query: `query($after: String) { directories(${page}) { nodes { id } } }` },
    { name: 'mfaUsers', query: `query($after: String) { mfaUsers(${page}) { nodes { id } } }` },
    { name: 'mfaGroups', query: `query($after: String) { mfaGroups(${page}) { nodes { id } } }` },
    {
      name: 'syncRuns',
      query: `query($after: String, $id: ID!) { syncRuns(provisioningId: $id, ${page}) { nodes { id } } }`,
      variables: { id: provisioningId },
      timed: true,
    },
    {
      name: 'Provisioning.syncRuns',
      query: `query($after: String, $id: ID!) { provisioning(id: $id) { syncRuns(${page}) { nodes { id } } } }`,
      variables: { id: provisioningId },
      timed: true,
    },
    {
      name: 'BulkOperation.results',
      query: `query($after: String, $id: ID!) { bulkOperation(id: $id) { results(${page}) { nodes { row } } } }`,
      variables: { id: op.id },
    },
  ];
}

describe('malformed cursors on every connection', () => {
  test('each answers BAD_USER_INPUT on `after`, never INTERNAL_SERVER_ERROR', async ({ server: ts, tenant: t }) => {
    const fields = await fieldsFor(ts, t.token, t.usersGroupId);
    const outcomes: string[] = [];
    let cases = 0;
    for (const f of fields) {
      const shapes = f.timed ? [...MALFORMED, ...BAD_TIMES] : MALFORMED;
      for (const [what, json] of shapes) {
        cases++;
        const r = await gql<any>(ts.url, f.query, { ...f.variables, after: cursor(json) }, t.token);
        const codes = (r.errors ?? []).map((e) => e.extensions?.code);
        const field = r.errors?.[0]?.extensions?.field;
        if (!(codes.length === 1 && codes[0] === 'BAD_USER_INPUT' && field === 'after'))
          outcomes.push(`${f.name} × ${what}: ${r.status} ${JSON.stringify(r.errors ?? r.data)}`);
      }
      // A well-formed first page still works on every field.
      const ok = await gql<any>(ts.url, f.query, { ...f.variables, after: null }, t.token);
      expect(ok.errors, f.name).toBeUndefined();
    }
    expect(cases).toBeGreaterThanOrEqual(70);
    expect(outcomes).toEqual([]);
    expect(ts.processNet.caught).toBe(0);
  }, 300_000);

  test('another connection’s cursor is refused where its shape does not fit', async ({ server: ts, tenant: t }) => {
    const users = await gql<any>(ts.url, `{ users(first: 1) { pageInfo { endCursor } } }`, {}, t.token);
    const usersCursor = users.data.users.pageInfo.endCursor as string;
    const p = papi(ts, t.token);
    const prov = await p.create('Other cursor');
    // A users cursor (email, id) given to sync runs (timestamp, id).
    const r = await gql<any>(
      ts.url,
      `query($id: ID!, $after: String) { syncRuns(provisioningId: $id, first: 2, after: $after) { nodes { id } } }`,
      { id: prov.provisioning!.id, after: usersCursor },
      t.token,
    );
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // And to bulk results (a row number).
    const op = await bulkApi(ts, t.token).uploadAndWait({ csv: 'c2@cursor.test,C,Two,,\n', validateOnly: true });
    const res = await gql<any>(
      ts.url,
      `query($id: ID!, $after: String) { bulkOperation(id: $id) { results(first: 2, after: $after) { nodes { row } } } }`,
      { id: op.id, after: usersCursor },
      t.token,
    );
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
