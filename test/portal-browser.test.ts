import { eq } from 'drizzle-orm';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { invitations } from '../drizzle/schema/index.js';
import { fromGlobalId } from '../server/shared/ids.js';
import { poll, sharedBrowser, snap } from './support/browser.js';
import { rosterTest } from './support/fixtures.js';
import { seedTenant } from './support/harness.js';
import { inviteEndUser, mailedLink, originOf, PortalAgent } from './support/portal-api.js';

const test = rosterTest();

const FIRST = 'Fir5t!portal-pass';
const SECOND = 'Sec0nd!portal-pass';

const { context } = sharedBrowser();

async function setPassword(page: Page, password: string): Promise<void> {
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(password);
}

async function signIn(page: Page, login: string, password: string): Promise<void> {
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// The machine may be shared and slow: the first test also waits for the file's server to start.
describe('end-user portal in a real browser', { timeout: 240_000 }, () => {
  test('invite → activate (live policy) → sign in → account with groups → change password → sign out → sign in again', async ({
    server,
    admin,
    tenant,
    skip,
  }) => {
    const opened: BrowserContext[] = [];
    try {
      const { createGroup } = await admin.createGroup({ input: { name: 'Engineering' } });
      const email = `ana@${tenant.slug}.test`;
      const { userId, link } = await inviteEndUser(server, admin, { email, groupIds: [createGroup.group!.id] });
      const page = await (await context(opened, skip)).newPage();

      await page.goto(link);
      // The token was exchanged for a grant cookie: the address bar no longer holds it.
      expect(page.url()).toBe(`${originOf(server)}/portal/${tenant.slug}-idp/activate`);
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Activate your account');
      expect(await page.textContent('body')).toContain(email);
      expect(await page.textContent('body')).toContain(`Tenant ${tenant.slug}`);
      await snap(page, '01-activate');

      // Weak password: the script marks the failing rules as the user types.
      await page.getByLabel('New password', { exact: true }).fill('abc');
      await poll(() => page.getAttribute('li[data-code="PASSWORD_TOO_SHORT"]', 'class')).toContain('fail');
      expect(await page.getAttribute('li[data-code="PASSWORD_MISSING_DIGIT"]', 'class')).toContain('fail');
      expect(await page.getAttribute('li[data-code="PASSWORD_MISSING_LOWERCASE"]', 'class')).toContain('ok');
      await snap(page, '02-activate-weak-password');
      // Submitted anyway: the server refuses it, rule by rule, without JavaScript's help.
      await setPassword(page, 'abc');
      await page.getByRole('button', { name: 'Activate account' }).click();
      expect(await page.getAttribute('li[data-code="PASSWORD_TOO_SHORT"]', 'class')).toContain('fail');
      await poll(() => page.getAttribute('#password', 'aria-describedby')).toContain('password-error');

      await setPassword(page, FIRST);
      expect(await page.getAttribute('li[data-code="PASSWORD_MISSING_SPECIAL"]', 'class')).toContain('ok');
      await page.getByRole('button', { name: 'Activate account' }).click();
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account is active');
      await snap(page, '03-activated');

      await page.getByRole('link', { name: 'Sign in' }).click();
      await snap(page, '04-sign-in');
      await signIn(page, email, 'Wrong!pass-123');
      expect(await page.textContent('[role=alert]')).toContain('Email or password is wrong.');
      await signIn(page, email, FIRST);
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account');
      expect(await page.textContent('ul.groups')).toContain('Engineering');
      expect(await page.textContent('ul.groups')).toContain('Users');
      await snap(page, '05-account');

      await page.getByLabel('Current password').fill(FIRST);
      await setPassword(page, SECOND);
      await page.getByRole('button', { name: 'Change password' }).click();
      await poll(() => page.textContent('[role=status]')).toContain('Your password was changed.');
      await snap(page, '06-password-changed');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await poll(() => page.textContent('[role=status]')).toContain('You are signed out.');
      await signIn(page, email, FIRST);
      expect(await page.textContent('[role=alert]')).toContain('Email or password is wrong.');
      await signIn(page, email, SECOND);
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account');

      const { user } = await admin.userInvitations({ id: userId });
      expect(user?.invitations[0]?.status).toBe('ACCEPTED');
      expect(user?.lastSignInAt).toBeTruthy();

      // The same link again, in another browser: used.
      const other = await (await context(opened, skip)).newPage();
      await other.goto(link);
      expect(await other.textContent('body')).toContain('This link was already used');
      expect(await other.textContent('body')).toContain('Ask your administrator to invite you again.');
      await snap(other, '07-used-link');
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });

  test('an expired link says so and what to do', async ({ server, admin, tenant, skip }) => {
    const opened: BrowserContext[] = [];
    try {
      const email = `late@${tenant.slug}.test`;
      const { userId, link } = await inviteEndUser(server, admin, { email });
      await server.database.db
        .update(invitations)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(invitations.userId, fromGlobalId(userId, 'User')!));
      const page = await (await context(opened, skip)).newPage();
      await page.goto(link);
      expect(await page.textContent('body')).toContain('This link has expired.');
      expect(await page.textContent('body')).toContain('Ask your administrator to invite you again.');
      await snap(page, '08-expired-link');
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });

  test('a password-reset link ends a session open in another browser', async ({ server, admin, tenant, skip }) => {
    const opened: BrowserContext[] = [];
    try {
      const email = `bo@${tenant.slug}.test`;
      const { userId, link } = await inviteEndUser(server, admin, { email });
      const agent = new PortalAgent(originOf(server));
      const form = await agent.page(link);
      expect((await agent.post(new URL(form.url).pathname, { _csrf: form.csrf!, password: FIRST, confirm: FIRST })).status).toBe(200);

      const laptop = await (await context(opened, skip)).newPage();
      await laptop.goto(`${originOf(server)}/portal/${tenant.slug}-idp/sign-in`);
      await signIn(laptop, email, FIRST);
      await poll(() => laptop.getByRole('heading', { level: 1 }).textContent()).toBe('Your account');

      expect((await admin.reinviteUser({ input: { userId } })).reinviteUser.invitation?.kind).toBe('PASSWORD_RESET');
      const reset = await mailedLink(server, email, { after: [link] });
      expect(reset).toContain('/reset-password?token=');
      const phone = await (await context(opened, skip)).newPage();
      await phone.goto(reset);
      await poll(() => phone.getByRole('heading', { level: 1 }).textContent()).toBe('Choose a new password');
      await snap(phone, '09-reset-password');
      await setPassword(phone, SECOND);
      await phone.getByRole('button', { name: 'Set new password' }).click();
      await poll(() => phone.getByRole('heading', { level: 1 }).textContent()).toBe('Your password was changed');

      await laptop.reload();
      await poll(() => laptop.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
      await signIn(laptop, email, SECOND);
      await poll(() => laptop.getByRole('heading', { level: 1 }).textContent()).toBe('Your account');
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });

  test('a non-default identity provider: its name in the URL and on the pages', async ({ server, clientFor, skip }) => {
    const opened: BrowserContext[] = [];
    try {
      const t = await seedTenant(server, { features: ['IDP_SELECTION_FOR_INVITES'] });
      const admin = clientFor(t.token);
      const { createIdentityProvider } = await admin.createIdentityProvider({
        input: { name: `partner-${t.slug}`, description: 'Partner sign-in' },
      });
      const idp = createIdentityProvider.identityProvider!;
      const email = `pat@${t.slug}.test`;
      const { link } = await inviteEndUser(server, admin, { email, identityProviderId: idp.id });
      expect(link).toContain(`/portal/partner-${t.slug}/activate?token=`);

      const page = await (await context(opened, skip)).newPage();
      await page.goto(link);
      expect(await page.textContent('header')).toContain('Partner sign-in');
      await snap(page, '10-partner-activate');
      await setPassword(page, FIRST);
      await page.getByRole('button', { name: 'Activate account' }).click();
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL(new RegExp(`/portal/partner-${t.slug}/sign-in`));
      await signIn(page, email, FIRST);
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account');
      expect(await page.textContent('header')).toContain('Partner sign-in');
      // The session belongs to this portal only: the default portal does not know it.
      await page.goto(`${originOf(server)}/portal/${t.slug}-idp/account`);
      await poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });
});

describe('GraphQL explorer', { timeout: 240_000 }, () => {
  test('GET /graphql in a browser serves GraphiQL from the server itself, under a CSP without inline scripts', async ({ server, skip }) => {
    const opened: BrowserContext[] = [];
    try {
      const page = await (await context(opened, skip)).newPage();
      const external: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(originOf(server)) && !r.url().startsWith('data:')) external.push(r.url());
      });
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      const res = await page.goto(server.url);
      expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
      await page.waitForSelector('.graphiql-container', { timeout: 60_000 });
      await snap(page, '11-graphql-explorer');
      expect(external).toEqual([]);
      expect(problems.filter((p) => /Content Security Policy|Refused/i.test(p))).toEqual([]);
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });
});
