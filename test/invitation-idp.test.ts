import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';

const test = rosterTest();

describe('identity providers of invitations', () => {
  test("refuses to invite a Cloud Directory user to another directory's portal, on every path", async ({ server, clientFor }) => {
    const t = await seedTenant(server, { features: ['IDP_SELECTION_FOR_INVITES'] });
    const admin = clientFor(t.token);
    const { createDirectory } = await admin.createDirectory({ input: { name: 'Corp LDAP', kind: 'LDAP' } });
    const { createIdentityProvider } = await admin.createIdentityProvider({
      input: { name: 'ldap-portal', directoryId: createDirectory.directory!.id },
    });
    const idpId = createIdentityProvider.identityProvider!.id;

    // createUser with an invite: refused whole, nothing stored.
    const { createUser } = await admin.createUser({
      input: { email: 'cross@x.test', firstName: 'C', lastName: 'D', identityProviderId: idpId, sendInvite: true },
    });
    expect(createUser.errors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['input', 'identityProviderId']]]);
    expect((await admin.users({ filter: { search: 'cross@' } })).users.totalCount).toBe(0);

    // inviteUser for an existing Cloud user: refused, no invitation issued.
    const u = (await admin.createUser({ input: { email: 'cloud@x.test', firstName: 'C', lastName: 'U' } })).createUser.user!;
    const { inviteUser } = await admin.inviteUser({ input: { userId: u.id, identityProviderId: idpId } });
    expect(inviteUser.errors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
    expect(inviteUser.invitation).toBeNull();
    expect((await admin.userInvitations({ id: u.id })).user?.invitations).toEqual([]);

    // The Cloud Directory's own portal still works.
    expect((await admin.inviteUser({ input: { userId: u.id } })).inviteUser.errors).toEqual([]);
  });
});
