import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { countRows } from './support/provisioning-api.js';
import { USER, scimProvisioning } from './support/scim-api.js';

const test = rosterTest({ SCIM_RATE_LIMIT_PER_MINUTE: '1000000' });

const USERS = 5000;
const CLIENTS = 20;

test('an initial push of 5,000 users by 20 concurrent clients creates every user exactly once', async ({ server: ts, tenant: t }) => {
  const { scim, uuid } = await scimProvisioning(ts, t.token, 'Initial push', { sendEnrollmentEmails: false });
  // One shared queue drained by 20 clients; 500 users are queued twice, at the same point of
  // the queue (an IdP retrying, two workers racing): exactly one create wins, the other gets 409.
  const queue: number[] = [];
  for (let i = 0; i < USERS; i++) queue.push(i, ...(i % 10 === 0 ? [i] : []));
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const i = queue[next++]!;
      const r = await scim.post('/Users', {
        schemas: [USER],
        userName: `user${i}@push.test`,
        externalId: `ext-${i}`,
        name: { givenName: `User${i}`, familyName: 'Push' },
        emails: [{ value: `user${i}@push.test`, type: 'work', primary: true }],
      });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  expect(Object.fromEntries(statuses)).toEqual({ 201: USERS, 409: USERS / 10 });
  expect(await countRows(ts, sql`select count(*)::int as n from mfa_users where provisioning_id = ${uuid}::uuid`)).toBe(USERS);
  expect(
    await countRows(ts, sql`select count(distinct lower(username))::int as n from mfa_users where provisioning_id = ${uuid}::uuid`),
  ).toBe(USERS);
  const page = await scim.get('/Users?startIndex=4901&count=200');
  expect(page.body).toMatchObject({ totalResults: USERS, startIndex: 4901, itemsPerPage: 100 });
}, 600_000);
