import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';
import { api } from './support/directory-api.js';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

describe('identity providers of invitations', () => {
  it("refuses to invite a Cloud Directory user to another directory's portal, on every path", async () => {
    const t = await seedTenant(ts, { features: ['IDP_SELECTION_FOR_INVITES'] });
    const a = api(ts, t.token);
    const d = await a.call<any>(`mutation($i: CreateDirectoryInput!) { createDirectory(input: $i) { directory { id } } }`, {
      i: { name: 'Corp LDAP', kind: 'LDAP' },
    });
    const ldapIdp = await a.call<any>(`mutation($i: CreateIdentityProviderInput!) { createIdentityProvider(input: $i) { identityProvider { id } errors { code } } }`, {
      i: { name: 'ldap-portal', directoryId: d.createDirectory.directory.id },
    });
    const idpId = ldapIdp.createIdentityProvider.identityProvider.id;

    // createUser with an invite: refused whole, nothing stored.
    const created = await a.createUser({ email: 'cross@x.test', firstName: 'C', lastName: 'D', identityProviderId: idpId, sendInvite: true });
    expect(created.errors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['input', 'identityProviderId']]]);
    const none = await a.call<any>(`{ users(filter: { search: "cross@" }) { totalCount } }`);
    expect(none.users.totalCount).toBe(0);

    // inviteUser for an existing Cloud user: refused, no invitation issued.
    const u = await a.createUser({ email: 'cloud@x.test', firstName: 'C', lastName: 'U' });
    expect(u.errors).toEqual([]);
    const inv = await a.invite(u.user.id, idpId);
    expect(inv.errors.map((e: { code: string }) => e.code)).toEqual(['INVALID_INPUT']);
    expect(inv.invitation).toBeNull();
    const after = await a.call<any>(`query($id: ID!) { user(id: $id) { invitations { status } } }`, { id: u.user.id });
    expect(after.user.invitations).toEqual([]);

    // The Cloud Directory's own portal still works.
    const ok = await a.invite(u.user.id);
    expect(ok.errors).toEqual([]);
  });
});
