import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { describe, expect } from 'vitest';
import { migrationsFolder } from '../server/shared/db.js';
import { rosterTest } from './support/fixtures.js';

const test = rosterTest({ JOB_POLL_MS: '50' });

describe('login ids (usernames) are unique per directory, ignoring case', () => {
  test.concurrent('createUser and updateUser answer USERNAME_TAKEN instead of taking an admin’s login id', async ({ tenant, admin }) => {
    // The admin's username defaults to their email.
    const taken = await admin.createUser({
      input: { email: 'new@x.test', username: tenant.adminEmail.toUpperCase(), firstName: 'New', lastName: 'User' },
    });
    expect(taken.createUser.user).toBeNull();
    expect(taken.createUser.errors).toEqual([expect.objectContaining({ code: 'USERNAME_TAKEN', field: ['input', 'username'] })]);

    const other = await admin.createUser({ input: { email: 'other@x.test', username: 'other', firstName: 'O', lastName: 'U' } });
    expect(other.createUser.errors).toEqual([]);
    const renamed = await admin.updateUser({ input: { id: other.createUser.user!.id, username: tenant.adminEmail } });
    expect(renamed.updateUser.errors).toEqual([expect.objectContaining({ code: 'USERNAME_TAKEN', field: ['input', 'username'] })]);
    const { users } = await admin.users({ first: 10 });
    expect(users.nodes.map((u) => u.username).sort()).toEqual([tenant.adminEmail, 'other']);
  });

  test.concurrent('a CSV row whose login id another user holds fails with USERNAME_TAKEN', async ({ admin }) => {
    // A user whose username is the email a CSV row brings (CSV usernames default to the email).
    const holder = await admin.createUser({ input: { email: 'holder@x.test', username: 'Row@X.test', firstName: 'H', lastName: 'U' } });
    expect(holder.createUser.errors).toEqual([]);
    const uploadId = await admin.uploadCsv(
      'email,first_name,last_name,password,groups\nrow@x.test,Row,One,,\nfine@x.test,Fine,Two,,\n',
      'u.csv',
    );
    const started = await admin.bulkUploadUsers({ input: { uploadId } });
    expect(started.bulkUploadUsers.errors).toEqual([]);
    const id = started.bulkUploadUsers.bulkOperation!.id;
    for await (const _ of admin.bulkOperationProgress({ id })) {
      // until the operation ends
    }
    const op = await admin.bulkOperation({ id, first: 10 });
    expect(op.bulkOperation!.results.nodes.map((n) => [n.row, n.outcome, n.errorCode])).toEqual([
      [2, 'FAILED', 'USERNAME_TAKEN'],
      [3, 'SUCCEEDED', null],
    ]);
  });
});

describe('migration 0008 on a database that already holds duplicates', () => {
  test('renames later duplicates deterministically and records each rename', async () => {
    const all = migrationsFolder();
    const before = mkdtempSync(path.join(tmpdir(), 'roster-mig-'));
    cpSync(all, before, { recursive: true });
    const journal = JSON.parse(readFileSync(path.join(before, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
    journal.entries = journal.entries.filter((e) => e.tag < '0008');
    writeFileSync(path.join(before, 'meta/_journal.json'), JSON.stringify(journal));

    const client = await PGlite.create();
    try {
      await migrate(drizzle({ client }), { migrationsFolder: before });
      await client.exec(`
        insert into tenants (id, slug, name) values ('00000000-0000-4000-8000-000000000001', 'dup', 'Dup');
        insert into directories (id, tenant_id, name, kind) values
          ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-000000000001', 'Cloud', 'CLOUD'),
          ('00000000-0000-4000-8000-0000000000d2', '00000000-0000-4000-8000-000000000001', 'AD', 'AD');
        insert into users (id, tenant_id, directory_id, email, username, status, created_at) values
          ('aaaaaaaa-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000d1', 'a@x.test', 'boss', 'ACTIVE', '2024-01-01'),
          ('bbbbbbbb-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000d1', 'b@x.test', 'BOSS', 'ACTIVE', '2024-02-01'),
          ('cccccccc-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000d1', 'c@x.test', 'Boss', 'ACTIVE', '2024-03-01'),
          ('dddddddd-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000d2', 'd@x.test', 'boss', 'ACTIVE', '2024-04-01');
      `);
      await migrate(drizzle({ client }), { migrationsFolder: all });
      const users = await client.query<{ id: string; username: string }>('select id, username from users order by id');
      expect(users.rows.map((u) => u.username)).toEqual(['boss', 'BOSS~bbbbbbbb', 'Boss~cccccccc', 'boss']);
      const renames = await client.query('select user_id, old_username, new_username from username_renames order by user_id');
      expect(renames.rows).toEqual([
        { user_id: 'bbbbbbbb-0000-4000-8000-000000000002', old_username: 'BOSS', new_username: 'BOSS~bbbbbbbb' },
        { user_id: 'cccccccc-0000-4000-8000-000000000003', old_username: 'Boss', new_username: 'Boss~cccccccc' },
      ]);
      await expect(
        client.query(
          `insert into users (tenant_id, directory_id, email, username, status) values
           ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-0000000000d1', 'e@x.test', 'bOSS', 'ACTIVE')`,
        ),
      ).rejects.toThrow(/uniq_users_directory_username/);
    } finally {
      await client.close();
    }
  });
});
