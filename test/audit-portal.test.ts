import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { inviteEndUser, originOf, PortalAgent } from './support/portal-api.js';

/**
 * The end user's own actions in the portal are audited with the end user as actor: account
 * activation, sign-in and failed sign-in, password change (never the password), and the
 * admin's view of them in `User.auditEvents`.
 */
const test = rosterTest();

const STRONG = 'Str0ng!portal-pass';
const NEWER = 'N3wer!portal-pass';

describe('audit of end-user portal actions', () => {
  test('activation, sign-in, a failed sign-in and a password change are in the user’s trail, with the end user as actor', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `eu@${tenant.slug}.test`;
    const { userId, link } = await inviteEndUser(server, admin, { email });
    const agent = new PortalAgent(originOf(server));
    const setup = await agent.page(link);
    expect((await agent.post(new URL(setup.url).pathname, { _csrf: setup.csrf!, password: STRONG, confirm: STRONG })).status).toBe(200);

    const signIn = `/portal/${tenant.slug}-idp/sign-in`;
    let page = await agent.page(signIn);
    expect((await agent.post(signIn, { _csrf: page.csrf!, login: email, password: 'Wrong!pass1' })).status).toBe(401);
    expect((await agent.post(signIn, { _csrf: page.csrf!, login: email, password: STRONG })).status).toBe(303);
    page = await agent.page(`/portal/${tenant.slug}-idp/account`);
    const changed = await agent.post(`/portal/${tenant.slug}-idp/account/password`, {
      _csrf: page.csrf!,
      currentPassword: STRONG,
      password: NEWER,
      confirm: NEWER,
    });
    expect(changed.status).toBe(303);

    const { user } = await admin.userAuditEvents({ id: userId, first: 20 });
    const trail = user!.auditEvents.nodes.filter((e) => e.action.startsWith('portal.')).reverse();
    expect(trail.map((e) => e.action)).toEqual(['portal.activate', 'portal.sign_in_failed', 'portal.sign_in', 'portal.change_password']);
    for (const e of trail) {
      expect(e.actor).toEqual({ kind: 'END_USER', id: userId, name: email });
      expect(e.target).toEqual({ type: 'User', id: userId, name: email });
      expect(e.clientAddress).toBeTruthy();
    }
    expect(trail[3]!.changes).toEqual([{ field: 'password', before: '"[redacted]"', after: '"[redacted]"' }]);
    const text = JSON.stringify(user);
    expect(text).not.toContain(STRONG);
    expect(text).not.toContain(NEWER);
    expect(text).not.toContain('Wrong!pass1');
  });
});
