import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';

const test = rosterTest();

describe('sign-in and tenant reads', () => {
  test.concurrent('signs in an admin and reads the tenant, its directory, users and groups', async ({ tenant, admin }) => {
    const { viewer } = await admin.viewer();
    expect(viewer?.user.email).toBe(tenant.adminEmail);
    expect(viewer?.tenant.slug).toBe(tenant.slug);
    const { directories } = await admin.directories({});
    expect(directories.nodes.map((d) => ({ kind: d.kind, userCount: d.userCount, groupCount: d.groupCount }))).toEqual([
      { kind: 'CLOUD', userCount: 1, groupCount: 2 },
    ]);
    const { users } = await admin.users({});
    expect(users.nodes[0]!.groups.map((g) => g.name)).toEqual(['Admins', 'Users']);
    const { groups } = await admin.groups({});
    expect(groups.nodes.map((g) => g.builtIn).sort()).toEqual(['ADMINS', 'USERS']);
  });

  test.concurrent('gives the same answer for a wrong password, an unknown email and an unknown tenant', async ({ tenant, clientFor }) => {
    const anon = clientFor();
    const attempts = [
      { tenant: tenant.slug, email: tenant.adminEmail, password: 'Wrong!pass1' },
      { tenant: tenant.slug, email: 'nobody@x.test', password: tenant.adminPassword },
      { tenant: 'no-such-tenant', email: tenant.adminEmail, password: tenant.adminPassword },
    ];
    const answers = await Promise.all(attempts.map((input) => anon.login({ input })));
    for (const { login } of answers) {
      expect(login.token).toBeNull();
      expect(login.errors).toEqual(answers[0]!.login.errors);
      expect(login.errors[0]!.code).toBe('INVALID_CREDENTIALS');
    }
  });

  test.concurrent('logout revokes the token', async ({ admin }) => {
    const { logout } = await admin.logout();
    expect(logout.success).toBe(true);
    await expect(admin.tenant()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  test.concurrent("never returns another tenant's objects", async ({ server, admin, clientFor }) => {
    const other = clientFor((await seedTenant(server)).token);
    const userId = (await admin.users({})).users.nodes[0]!.id;
    const groupId = (await admin.groups({})).groups.nodes[0]!.id;
    const dirId = (await admin.directories({})).directories.nodes[0]!.id;
    expect((await other.user({ id: userId })).user).toBeNull();
    expect((await other.group({ id: groupId })).group).toBeNull();
    expect((await other.directory({ id: dirId })).directory).toBeNull();
    expect((await other.node({ id: userId })).node).toBeNull();
    expect((await other.users({ filter: { groupId } })).users.totalCount).toBe(0);
  });
});
