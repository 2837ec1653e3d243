import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, seedTenant, startTestServer, type TestServer } from './support/harness.js';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

describe('sign-in and tenant reads', () => {
  it('signs in an admin and reads the tenant, its directory, users and groups', async () => {
    const t = await seedTenant(ts);
    const res = await gql<any>(
      ts.url,
      `{ viewer { user { email } tenant { slug } }
         directories { totalCount nodes { kind userCount groupCount } }
         users { totalCount nodes { email status groups { name } } }
         groups { nodes { name isBuiltIn builtIn memberCount } } }`,
      {},
      t.token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.viewer.user.email).toBe(t.adminEmail);
    expect(res.data.directories.nodes).toEqual([{ kind: 'CLOUD', userCount: 1, groupCount: 2 }]);
    expect(res.data.users.nodes[0].groups.map((g: any) => g.name)).toEqual(['Admins', 'Users']);
    expect(res.data.groups.nodes.map((g: any) => g.builtIn).sort()).toEqual(['ADMINS', 'USERS']);
  });

  it('gives the same answer for a wrong password, an unknown email and an unknown tenant', async () => {
    const t = await seedTenant(ts);
    const attempts = [
      { tenant: t.slug, email: t.adminEmail, password: 'Wrong!pass1' },
      { tenant: t.slug, email: 'nobody@x.test', password: t.adminPassword },
      { tenant: 'no-such-tenant', email: t.adminEmail, password: t.adminPassword },
    ];
    const answers = await Promise.all(
      attempts.map((input) =>
        gql<any>(ts.url, `mutation($i: LoginInput!) { login(input: $i) { token errors { code message } } }`, { i: input }),
      ),
    );
    for (const a of answers) {
      expect(a.data.login.token).toBeNull();
      expect(a.data.login.errors).toEqual(answers[0]!.data.login.errors);
      expect(a.data.login.errors[0].code).toBe('INVALID_CREDENTIALS');
    }
  });

  it('logout revokes the token', async () => {
    const t = await seedTenant(ts);
    const out = await gql<any>(ts.url, `mutation { logout { success } }`, {}, t.token);
    expect(out.data.logout.success).toBe(true);
    const after = await gql<any>(ts.url, `{ tenant { slug } }`, {}, t.token);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("never returns another tenant's objects", async () => {
    const a = await seedTenant(ts);
    const b = await seedTenant(ts);
    const ids = await gql<any>(ts.url, `{ users { nodes { id } } groups { nodes { id } } directories { nodes { id } } }`, {}, a.token);
    const userId = ids.data.users.nodes[0].id;
    const groupId = ids.data.groups.nodes[0].id;
    const dirId = ids.data.directories.nodes[0].id;
    const res = await gql<any>(
      ts.url,
      `query($u: ID!, $g: ID!, $d: ID!) { user(id: $u) { id } group(id: $g) { id } directory(id: $d) { id } node(id: $u) { id }
         users(filter: { groupId: $g }) { totalCount } }`,
      { u: userId, g: groupId, d: dirId },
      b.token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ user: null, group: null, directory: null, node: null, users: { totalCount: 0 } });
  });
});
