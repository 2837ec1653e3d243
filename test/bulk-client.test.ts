import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';

/** The product's CSV example end to end through the typed client: HTTP upload, mutation, live progress, results file. */
const test = rosterTest({ JOB_POLL_MS: '50' });

describe('bulk upload through the typed client', () => {
  test('uploads the PRODUCT.md example and places each user in exactly the listed groups', async ({ tenant: t, admin: client }) => {
    for (const name of ['test_group_1', 'test_group_2'])
      expect((await client.createGroup({ input: { name } })).createGroup.errors).toEqual([]);
    // PRODUCT.md §3, with real addresses and policy-conforming passwords; upper-case "USERS"
    // and a CRLF + BOM file with a header, as spreadsheets export it.
    const csv =
      '\uFEFFemail, first_name, last_name, password, groups\r\n' +
      'email1@example.test, first_name_1, last_name_1, Pass_1word!, "test_group_1, users"\r\n' +
      'email2@example.test, first_name_2, last_name_2, Pass_2word!, "test_group_1, test_group_2"\r\n' +
      'email4@example.test, first_name_3, last_name_3, Pass_3word!, USERS\r\n';
    const uploadId = await client.uploadCsv(csv, 'seed.csv');
    const started = await client.bulkUploadUsers({ input: { uploadId } });
    expect(started.bulkUploadUsers.errors).toEqual([]);
    const id = started.bulkUploadUsers.bulkOperation!.id;

    const statuses: string[] = [];
    let last = null as null | { status: string; processed: number; succeeded: number; failed: number; total: number };
    for await (const e of client.bulkOperationProgress({ id })) {
      last = e.bulkOperationProgress;
      statuses.push(last.status);
    }
    expect(last).toMatchObject({ status: 'COMPLETED', total: 3, processed: 3, succeeded: 3, failed: 0 });
    expect(statuses.filter((s) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(s))).toEqual(['COMPLETED']);

    const { users } = await client.users({ first: 10 });
    const groupsOf = Object.fromEntries(users.nodes.map((u) => [u.email, u.groups.map((g) => g.name).sort()]));
    expect(groupsOf).toEqual({
      [t.adminEmail]: ['Admins', 'Users'],
      'email1@example.test': ['Users', 'test_group_1'],
      'email2@example.test': ['Users', 'test_group_1', 'test_group_2'],
      'email4@example.test': ['Users'],
    });
    expect(
      users.nodes
        .filter((u) => u.email !== t.adminEmail)
        .map((u) => [u.firstName, u.status])
        .sort(),
    ).toEqual([
      ['first_name_1', 'ACTIVE'],
      ['first_name_2', 'ACTIVE'],
      ['first_name_3', 'ACTIVE'],
    ]);

    const op = await client.bulkOperation({ id, first: 10 });
    expect(op.bulkOperation!.results.nodes.map((n) => [n.row, n.email, n.outcome])).toEqual([
      [2, 'email1@example.test', 'SUCCEEDED'],
      [3, 'email2@example.test', 'SUCCEEDED'],
      [4, 'email4@example.test', 'SUCCEEDED'],
    ]);
    const file = await client.download(op.bulkOperation!.resultsCsvPath);
    expect(file.trim().split('\n')).toHaveLength(4);
    expect(file).not.toContain('Pass_');
  });

  test('a 100,000-row file completes with progress streamed to a subscriber', async ({ admin: client }) => {
    const rows = Array.from({ length: 100_000 }, (_, i) => `u${i}@big.test,First${i},Last${i},,users`);
    const uploadId = await client.uploadCsv(['email,first_name,last_name,password,groups', ...rows].join('\n'));
    const started = await client.bulkUploadUsers({ input: { uploadId } });
    expect(started.bulkUploadUsers.errors).toEqual([]);
    const processed: number[] = [];
    let last = null as null | { status: string; succeeded: number; total: number };
    for await (const e of client.bulkOperationProgress({ id: started.bulkUploadUsers.bulkOperation!.id })) {
      last = e.bulkOperationProgress;
      processed.push(e.bulkOperationProgress.processed);
    }
    expect(last).toMatchObject({ status: 'COMPLETED', total: 100_000, succeeded: 100_000 });
    // Intermediate events, counts never going backwards.
    expect(new Set(processed.filter((p) => p > 0 && p < 100_000)).size).toBeGreaterThan(1);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    expect((await client.users({ first: 1 })).users.totalCount).toBe(100_001);
  }, 180_000);
});
