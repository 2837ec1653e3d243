import { eq } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import type { RosterClient } from '../client/src/index.js';
import { mfaEnrollmentTokens } from '../drizzle/schema/index.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { rosterTest } from './support/fixtures.js';
import { gql, type TestServer } from './support/harness.js';
import { base32Decode, hotp, stepOf, wrongCode } from './support/mfa-api.js';
import { activatedEndUser, mailedLink, originOf, PortalAgent } from './support/portal-api.js';

// A low lock threshold so the lock test needs few attempts.
const test = rosterTest({ MFA_VERIFY_MAX_FAILURES: '3' });

const PASSWORD = 'Str0ng!portal-mfa';
const ENROLL = '/portal/mfa/enroll';

/** A MANUAL MFA user with an emailed enrolment link. */
async function mfaUserWithLink(ts: TestServer, admin: RosterClient, username: string, email: string) {
  const { createMfaUser } = await admin.createMfaUser({ input: { username, email, sendEnrollmentEmail: true } });
  expect(createMfaUser.errors).toEqual([]);
  return { mfaUserId: createMfaUser.mfaUser!.id, link: await mailedLink(ts, email, { kind: 'mfa' }) };
}

async function mfaUser(admin: RosterClient, username: string) {
  return (await admin.mfaUsers({ filter: { search: username }, first: 5 })).mfaUsers.nodes.find((u) => u.username === username)!;
}

/** Enrols an authenticator app through the enrolment pages, as a browser without JavaScript would; returns the app's key. */
async function enrolTotpByPages(agent: PortalAgent, link: string): Promise<Buffer> {
  const choice = await agent.page(link);
  expect(choice.res.status).toBe(200);
  const setup = await agent.post(`${ENROLL}/totp`, { _csrf: choice.csrf!, deviceName: 'Phone' });
  expect(setup.status).toBe(200);
  const html = await setup.text();
  const key = base32Decode(/id="totp-secret"[^>]*>([^<]+)</.exec(html)![1]!.replace(/\s+/g, ''));
  const done = await agent.post(`${ENROLL}/totp/confirm`, { _csrf: choice.csrf!, code: hotp(key, stepOf()) });
  expect(await done.text()).toContain('Your authenticator app is set up');
  return key;
}

/** Signs in with the password; returns the agent (its cookie holds the session) and where it was sent. */
async function signIn(ts: TestServer, slug: string, login: string) {
  const agent = new PortalAgent(originOf(ts));
  const signInPath = `/portal/${slug}-idp/sign-in`;
  const page = await agent.page(signInPath);
  const res = await agent.post(signInPath, { _csrf: page.csrf!, login, password: PASSWORD });
  expect(res.status).toBe(303);
  return { agent, location: res.headers.get('location')!, csrf: page.csrf! };
}

describe('MFA in the end-user portal over HTTP', { timeout: 240_000 }, () => {
  test('the emailed enrolment link opens a page (it was a 404): token out of the URL, CSRF, TOTP ACTIVE only after a right code', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `enrol@${tenant.slug}.test`;
    const { link } = await mfaUserWithLink(server, admin, 'enrol.user', email);
    expect(link).toContain(`${ENROLL}?token=mfa_`);
    const agent = new PortalAgent(originOf(server));

    const first = await agent.get(link);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe(ENROLL);
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    const grant = first.headers.getSetCookie().find((c) => c.startsWith('roster_mfa_link='))!;
    expect(grant).toMatch(/HttpOnly/i);
    expect(grant).toMatch(/Path=\/portal\/mfa/);
    expect(grant).not.toContain('mfa_'.concat(new URL(link).searchParams.get('token')!.slice(4, 20)));

    const page = await agent.page(ENROLL);
    expect(page.res.status).toBe(200);
    expect(page.html).toContain('enrol.user');
    expect(page.html).toContain(email);
    expect(page.html).toContain(`Tenant ${tenant.slug}`);
    expect(page.res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.html).toContain('/portal/_assets/webauthn.js');

    // Without the CSRF field (or from another site): refused, nothing begun.
    expect((await agent.post(`${ENROLL}/totp`, { deviceName: 'Phone' })).status).toBe(403);
    expect((await agent.post(`${ENROLL}/totp`, { _csrf: page.csrf!, deviceName: 'Phone' }, { origin: 'http://evil.test' })).status).toBe(
      403,
    );
    expect((await agent.post(`${ENROLL}/webauthn/options`, { deviceName: 'Key' })).status).toBe(403);
    expect((await agent.post(`${ENROLL}/webauthn`, { response: '{}' })).status).toBe(403);

    const setup = await agent.post(`${ENROLL}/totp`, { _csrf: page.csrf!, deviceName: 'Phone' });
    expect(setup.status).toBe(200);
    expect(setup.headers.get('content-security-policy')).toContain("img-src 'self' data:");
    const html = await setup.text();
    expect(html).toMatch(/<img class="qr" src="data:image\/png;base64,/);
    expect(html).toContain('otpauth://totp/');
    const key = base32Decode(/id="totp-secret"[^>]*>([^<]+)</.exec(html)![1]!.replace(/\s+/g, ''));
    expect((await mfaUser(admin, 'enrol.user')).status).toBe('UNENROLLED');

    expect((await agent.post(`${ENROLL}/totp/confirm`, { code: hotp(key, stepOf()) })).status).toBe(403);
    const wrong = await agent.post(`${ENROLL}/totp/confirm`, { _csrf: page.csrf!, code: wrongCode(key) });
    expect(wrong.status).toBe(400);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('The code is wrong or out of date.');
    expect(wrongHtml).not.toContain('totp-secret');
    expect((await mfaUser(admin, 'enrol.user')).status).toBe('UNENROLLED');

    const done = await agent.post(`${ENROLL}/totp/confirm`, { _csrf: page.csrf!, code: hotp(key, stepOf()) });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your authenticator app is set up');
    const u = await mfaUser(admin, 'enrol.user');
    expect(u.status).toBe('ACTIVE');
    expect(u.devices).toEqual([expect.objectContaining({ name: 'Phone', kind: 'TOTP', status: 'ACTIVE' })]);

    // The link again, in another browser: used.
    const again = await new PortalAgent(originOf(server)).page(link);
    expect(again.res.status).toBe(410);
    expect(again.html).toContain('already used');
    expect(again.html).toContain('Ask your administrator to send you a new enrolment email.');
  });

  test('expired and made-up enrolment links get pages that say so', async ({ server, admin, tenant }) => {
    const { mfaUserId, link } = await mfaUserWithLink(server, admin, 'late.user', `late@${tenant.slug}.test`);
    await server.database.db
      .update(mfaEnrollmentTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(mfaEnrollmentTokens.mfaUserId, fromGlobalId(mfaUserId, 'MfaUser')!));
    const expired = await new PortalAgent(originOf(server)).page(link);
    expect(expired.res.status).toBe(410);
    expect(expired.html).toContain('This link has expired.');
    expect(expired.html).toContain('Ask your administrator to send you a new enrolment email.');

    const bogus = await new PortalAgent(originOf(server)).page(link.replace(/token=mfa_.{5}/, 'token=mfa_AAAAA'));
    expect(bogus.res.status).toBe(410);
    expect(bogus.html).toContain('This link is not valid.');
    // No grant at all (the page opened without the link).
    expect((await new PortalAgent(originOf(server)).page(ENROLL)).res.status).toBe(410);
  });

  test('sign-in with an enrolled app: the pending session reaches neither the account page nor /graphql; code, replay, devices', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `dana@${tenant.slug}.test`;
    await activatedEndUser(server, admin, { email, password: PASSWORD });
    // A MANUAL MFA user of the same email: that is who the portal user is in the MFA directory.
    const { link } = await mfaUserWithLink(server, admin, 'dana', email);
    const key = await enrolTotpByPages(new PortalAgent(originOf(server)), link);
    const account = `/portal/${tenant.slug}-idp/account`;
    const verify = `/portal/${tenant.slug}-idp/verify`;

    const { agent, location } = await signIn(server, tenant.slug, email);
    expect(location).toBe(verify);
    const pending = agent.cookies.get('roster_portal_session')!;
    // Not signed in yet: the account page sends it back to sign-in, which sends it to the second step.
    const refused = await agent.get(account);
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe(`/portal/${tenant.slug}-idp/sign-in`);
    expect((await agent.get(`/portal/${tenant.slug}-idp/sign-in`)).headers.get('location')).toBe(verify);
    const asBearer = await gql<{ viewer: unknown }>(server.url, '{ viewer { user { id } } users(first: 1) { totalCount } }', {}, pending);
    expect(asBearer.data?.viewer ?? null).toBeNull();
    expect(asBearer.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const form = await agent.page(verify);
    expect(form.res.status).toBe(200);
    expect(form.html).toContain('name="code"');
    expect(form.html).toContain('name="bypassCode"');
    expect(form.html).not.toContain('data-webauthn="authenticate"');
    expect((await agent.post(verify, { code: hotp(key, stepOf()) })).status).toBe(403);
    expect((await agent.post(`${verify}/webauthn-options`, {})).status).toBe(403);

    const wrong = await agent.post(verify, { _csrf: form.csrf!, code: wrongCode(key) });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That did not verify');
    expect((await agent.get(account)).status).toBe(303);

    const code = hotp(key, stepOf() + 1);
    const ok = await agent.post(verify, { _csrf: form.csrf!, code });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(account);
    // A new token for the signed-in session: the pending one is gone.
    expect(agent.cookies.get('roster_portal_session')).not.toBe(pending);
    expect((await new PortalAgent(originOf(server)).get(account, { cookie: `roster_portal_session=${pending}` })).status).toBe(303);
    const acc = await agent.page(account);
    expect(acc.res.status).toBe(200);
    expect(acc.html).toContain('Two-step verification devices');
    expect(acc.html).toContain('Phone');
    expect(acc.html).toContain('Authenticator app');

    // The same code in another sign-in: a replay, refused.
    const other = await signIn(server, tenant.slug, email);
    const otherForm = await other.agent.page(verify);
    expect((await other.agent.post(verify, { _csrf: otherForm.csrf!, code })).status).toBe(401);

    // Every attempt is recorded on the MFA user, as for verifyMfa.
    const dana = await mfaUser(admin, 'dana');
    const { node } = await admin.mfaUserVerifications({ id: dana.id, first: 10 });
    const results = node?.__typename === 'MfaUser' ? node.verifications.nodes.map((v) => v.result) : [];
    expect(results.sort()).toEqual(['REJECTED', 'REJECTED', 'VERIFIED']);

    // Removing a device: CSRF, only one's own, then sign-in needs no second factor.
    const deviceId = /name="deviceId" value="([^"]+)"/.exec(acc.html)![1]!;
    const removePath = `${account}/devices/remove`;
    expect((await agent.post(removePath, { deviceId })).status).toBe(403);
    const foreign = await agent.post(removePath, { _csrf: acc.csrf!, deviceId: dana.id });
    expect(foreign.status).toBe(404);
    const removed = await agent.post(removePath, { _csrf: acc.csrf!, deviceId });
    expect(removed.status).toBe(303);
    const after = await agent.page(removed.headers.get('location')!);
    expect(after.html).toContain('The device was removed.');
    expect(after.html).toContain('You have no devices.');
    expect((await mfaUser(admin, 'dana')).status).toBe('UNENROLLED');
    expect((await signIn(server, tenant.slug, email)).location).toBe(account);
  });

  test('the second factor locks after repeated failures; a bypass code from the administrator works once', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `eli@${tenant.slug}.test`;
    await activatedEndUser(server, admin, { email, password: PASSWORD });
    const { mfaUserId, link } = await mfaUserWithLink(server, admin, 'eli', email);
    const key = await enrolTotpByPages(new PortalAgent(originOf(server)), link);
    const verify = `/portal/${tenant.slug}-idp/verify`;

    const { createMfaBypassCodes } = await admin.createMfaBypassCodes({ input: { mfaUserId, count: 1, expiresInMinutes: 60 } });
    const [bypass] = createMfaBypassCodes.codes!;
    const a = await signIn(server, tenant.slug, email);
    const form = await a.agent.page(verify);
    const used = await a.agent.post(verify, { _csrf: form.csrf!, bypassCode: bypass! });
    expect(used.status).toBe(303);
    const b = await signIn(server, tenant.slug, email);
    const formB = await b.agent.page(verify);
    expect((await b.agent.post(verify, { _csrf: formB.csrf!, bypassCode: bypass! })).status).toBe(401);

    // 1 failure above + 2 more reach the limit of 3: then even a right code is refused.
    for (let i = 0; i < 2; i++) expect((await b.agent.post(verify, { _csrf: formB.csrf!, code: wrongCode(key) })).status).toBe(401);
    const locked = await b.agent.post(verify, { _csrf: formB.csrf!, code: hotp(key, stepOf()) });
    expect(locked.status).toBe(429);
    expect(await locked.text()).toContain('Too many wrong codes.');
    const u = await mfaUser(admin, 'eli');
    expect(u.verificationLockedUntil).toBeTruthy();

    // "Cancel and sign out" ends the pending sign-in too.
    const pendingToken = b.agent.cookies.get('roster_portal_session')!;
    expect((await b.agent.get(verify)).status).toBe(200);
    expect((await b.agent.post(`/portal/${tenant.slug}-idp/sign-out`, { _csrf: formB.csrf! })).status).toBe(303);
    const replayed = await new PortalAgent(originOf(server)).get(verify, { cookie: `roster_portal_session=${pendingToken}` });
    expect(replayed.headers.get('location')).toBe(`/portal/${tenant.slug}-idp/sign-in`);
  });

  test('an email that names several MFA users, one with a device: the right password is not enough, and the page says why', async ({
    server,
    admin,
    tenant,
  }) => {
    const email = `twin@${tenant.slug}.test`;
    await activatedEndUser(server, admin, { email, password: PASSWORD });
    const { link } = await mfaUserWithLink(server, admin, 'twin.one', email);
    await enrolTotpByPages(new PortalAgent(originOf(server)), link);
    expect((await admin.createMfaUser({ input: { username: 'twin.two', email } })).createMfaUser.errors).toEqual([]);

    const agent = new PortalAgent(originOf(server));
    const signInPath = `/portal/${tenant.slug}-idp/sign-in`;
    const page = await agent.page(signInPath);
    const res = await agent.post(signInPath, { _csrf: page.csrf!, login: email, password: PASSWORD });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('matches several users of the MFA directory');
    expect(agent.cookies.get('roster_portal_session')).toBeUndefined();
  });
});
