import { eq } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import { invitations } from '../drizzle/schema/index.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { rosterTest } from './support/fixtures.js';
import { gql, seedTenant } from './support/harness.js';
import { inviteEndUser, mailedLink, originOf, PortalAgent } from './support/portal-api.js';

// A low per-account limit so the throttling test needs only a few attempts.
const test = rosterTest({ SIGN_IN_MAX_FAILURES: '4', SIGN_IN_DELAY_AFTER: '4' });

const STRONG = 'Str0ng!portal-pass';

/** Activates through the portal's HTTP forms, as a browser without JavaScript would. */
async function activate(agent: PortalAgent, link: string, password = STRONG) {
  const page = await agent.page(link);
  expect(page.res.status).toBe(200);
  return agent.post(new URL(page.url).pathname, { _csrf: page.csrf!, password, confirm: password });
}

// The machine may be shared and slow: the first test also waits for the file's server to start.
describe('end-user portal over HTTP', { timeout: 240_000 }, () => {
  test('activate: the link token leaves the URL, CSRF is required, the policy is enforced, the invitation is ACCEPTED', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `ana@${tenant.slug}.test`;
    const { userId, link } = await inviteEndUser(server, admin, { email });
    const agent = new PortalAgent(originOf(server));

    const first = await agent.get(link);
    expect(first.status).toBe(303);
    const location = first.headers.get('location')!;
    expect(location).toBe(`/portal/${tenant.slug}-idp/activate`);
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');

    const page = await agent.page(location);
    expect(page.res.status).toBe(200);
    const csp = page.res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.res.headers.get('x-frame-options')).toBe('DENY');
    expect(page.html).toContain(email);
    expect(page.html).toContain(`Tenant ${tenant.slug}`);
    expect(page.html).not.toMatch(/<script>(?!<)/);

    // No CSRF field: refused, nothing redeemed.
    expect((await agent.post(location, { password: STRONG, confirm: STRONG })).status).toBe(403);
    // A cross-site origin is refused even with the right token.
    expect(
      (await agent.post(location, { _csrf: page.csrf!, password: STRONG, confirm: STRONG }, { origin: 'http://evil.test' })).status,
    ).toBe(403);

    const weak = await agent.post(location, { _csrf: page.csrf!, password: 'short', confirm: 'short' });
    expect(weak.status).toBe(400);
    const weakHtml = await weak.text();
    expect(weakHtml).toMatch(/class="rule fail" data-code="PASSWORD_TOO_SHORT"/);
    expect(weakHtml).toMatch(/class="rule ok" data-code="PASSWORD_MISSING_LOWERCASE"/);

    const done = await agent.post(location, { _csrf: page.csrf!, password: STRONG, confirm: STRONG });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your account is active');
    const { user } = await admin.userInvitations({ id: userId });
    expect(user?.status).toBe('ACTIVE');
    expect(user?.invitations[0]?.status).toBe('ACCEPTED');

    // The link again: used.
    const again = await new PortalAgent(originOf(server)).page(link);
    expect(again.res.status).toBe(410);
    expect(again.html).toContain('already used');
    expect(again.html).toContain('Ask your administrator to invite you again.');
  });

  test('an expired link and a made-up link get pages that say so', async ({ server, admin, tenant }) => {
    const email = `late@${tenant.slug}.test`;
    const { userId } = await inviteEndUser(server, admin, { email });
    const link = await mailedLink(server, email);
    await server.database.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.userId, fromGlobalId(userId, 'User')!));
    const expired = await new PortalAgent(originOf(server)).page(link);
    expect(expired.res.status).toBe(410);
    expect(expired.html).toContain('This link has expired.');

    const bogus = await new PortalAgent(originOf(server)).page(link.replace(/token=inv_.{5}/, 'token=inv_AAAAA'));
    expect(bogus.res.status).toBe(410);
    expect(bogus.html).toContain('This link is not valid');
  });

  test('sign-in: one message for every failure, a session cookie that /graphql refuses, lastSignInAt, throttled', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `bo@${tenant.slug}.test`;
    const { userId, link } = await inviteEndUser(server, admin, { email });
    expect((await activate(new PortalAgent(originOf(server)), link)).status).toBe(200);
    const signIn = `/portal/${tenant.slug}-idp/sign-in`;

    const agent = new PortalAgent(originOf(server));
    let page = await agent.page(signIn);
    const wrong = await agent.post(signIn, { _csrf: page.csrf!, login: email, password: 'Wrong!pass1' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Email or password is wrong.');
    const unknown = await agent.post(signIn, { _csrf: page.csrf!, login: `nobody@${tenant.slug}.test`, password: STRONG });
    expect(await unknown.text()).toContain('Email or password is wrong.');

    const ok = await agent.post(signIn, { _csrf: page.csrf!, login: email.toUpperCase(), password: STRONG });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/portal/${tenant.slug}-idp/account`);
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('roster_portal_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(new RegExp(`Path=/portal/${tenant.slug}-idp`));
    const token = agent.cookies.get('roster_portal_session')!;

    page = await agent.page(`/portal/${tenant.slug}-idp/account`);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain('Users');

    // The login id works as well as the email.
    expect((await admin.updateUser({ input: { id: userId, username: 'bo.login' } })).updateUser.errors).toEqual([]);
    const byName = new PortalAgent(originOf(server));
    const p1 = await byName.page(signIn);
    expect((await byName.post(signIn, { _csrf: p1.csrf!, login: 'BO.login', password: STRONG })).status).toBe(303);
    const { user } = await admin.userInvitations({ id: userId });
    expect(user?.lastSignInAt).toBeTruthy();

    // The end-user session authorises nothing on the admin API: not as a cookie, not as a bearer token.
    const q = '{ viewer { user { id } } users(first: 1) { totalCount } }';
    const viewerQuery = JSON.stringify({ query: q });
    const withCookie = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `roster_portal_session=${token}` },
      body: viewerQuery,
    });
    const cookieBody = (await withCookie.json()) as { data?: { viewer: unknown } | null; errors?: { extensions: { code: string } }[] };
    expect(cookieBody.data?.viewer ?? null).toBeNull();
    expect(cookieBody.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    const asBearer = await gql<{ viewer: unknown }>(server.url, q, {}, token);
    expect(asBearer.data?.viewer ?? null).toBeNull();
    expect(asBearer.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Throttled per account: after 4 failures even the right password gets the same answer.
    const other = new PortalAgent(originOf(server));
    const p2 = await other.page(signIn);
    for (let i = 0; i < 4; i++) await other.post(signIn, { _csrf: p2.csrf!, login: email, password: `Wrong!pass${i}` });
    const locked = await other.post(signIn, { _csrf: p2.csrf!, login: email, password: STRONG });
    expect(locked.status).toBe(401);
    expect(await locked.text()).toContain('Email or password is wrong.');
    await admin.unlockUser({ input: { id: userId } });
  });

  test('disabling the user ends the portal session; sign-in refuses a user who is not active', async ({ server, admin, tenant }) => {
    const email = `cy@${tenant.slug}.test`;
    const { userId, link } = await inviteEndUser(server, admin, { email });
    await activate(new PortalAgent(originOf(server)), link);
    const agent = new PortalAgent(originOf(server));
    const signIn = `/portal/${tenant.slug}-idp/sign-in`;
    const page = await agent.page(signIn);
    expect((await agent.post(signIn, { _csrf: page.csrf!, login: email, password: STRONG })).status).toBe(303);
    expect((await agent.get(`/portal/${tenant.slug}-idp/account`)).status).toBe(200);

    expect((await admin.updateUser({ input: { id: userId, disabled: true } })).updateUser.errors).toEqual([]);
    const after = await agent.get(`/portal/${tenant.slug}-idp/account`);
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toBe(signIn);
    const again = await agent.post(signIn, { _csrf: page.csrf!, login: email, password: STRONG });
    expect(again.status).toBe(401);
  });

  test('an IdP name two tenants share: the sign-in page asks for the account id, or takes ?tenant=', async ({ server, clientFor }) => {
    const name = `shared-${Math.random().toString(36).slice(2, 8)}`;
    const [a, b] = [await seedTenant(server), await seedTenant(server)];
    for (const t of [a, b]) {
      const { createIdentityProvider } = await clientFor(t.token).createIdentityProvider({ input: { name } });
      expect(createIdentityProvider.errors).toEqual([]);
    }
    const agent = new PortalAgent(originOf(server));
    const ask = await agent.page(`/portal/${name}/sign-in`);
    expect(ask.res.status).toBe(200);
    expect(ask.html).toContain('name="tenant"');
    const chosen = await agent.page(`/portal/${name}/sign-in?tenant=${b.slug}`);
    expect(chosen.html).toContain(`Tenant ${b.slug}`);
    expect(chosen.html).not.toContain('name="tenant"');
  });

  test('an unknown portal is a 404; the static script is served from Roster', async ({ server }) => {
    const agent = new PortalAgent(originOf(server));
    expect((await agent.get('/portal/no-such-idp/sign-in')).status).toBe(404);
    const js = await agent.get('/portal/_assets/portal.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });
});

describe('GraphQL explorer over HTTP', { timeout: 240_000 }, () => {
  test('a browser gets GraphiQL; API clients still get GraphQL over GET', async ({ server }) => {
    const page = await fetch(server.url, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('/graphql/explorer/graphiql.js');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${new URL(server.url).origin}/graphql/explorer/graphiql.js`)).status).toBe(200);

    const api = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
    const any = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: '*/*', 'apollo-require-preflight': 'true' },
    });
    expect(any.headers.get('content-type')).toMatch(/json/);
  });
});
