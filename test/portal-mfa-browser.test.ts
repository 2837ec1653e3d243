import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { poll, sharedBrowser, snap } from './support/browser.js';
import { rosterTest } from './support/fixtures.js';
import { base32Decode, hotp, stepOf } from './support/mfa-api.js';
import { activatedEndUser, mailedLink, originOf } from './support/portal-api.js';
import { papi } from './support/provisioning-api.js';

// Browsers refuse WebAuthn on an IP-address origin: the server listens on `localhost`, so its
// links, the relying-party id and the expected origin are all http://localhost:<port>.
const test = rosterTest({ HOST: 'localhost' });

const PASSWORD = 'Str0ng!browser-mfa';

const { context } = sharedBrowser({ width: 720, height: 900 });

const heading = (page: Page) => poll(() => page.getByRole('heading', { level: 1 }).textContent());

async function signIn(page: Page, signInUrl: string, login: string): Promise<void> {
  await page.goto(signInUrl);
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('MFA in the end-user portal, in a real browser', { timeout: 240_000 }, () => {
  test('enrolment link → authenticator app (QR code, secret, code) → sign in with password and a TOTP code', async ({
    server,
    admin,
    tenant,
    skip,
  }) => {
    const opened: BrowserContext[] = [];
    try {
      const email = `ana@${tenant.slug}.test`;
      await activatedEndUser(server, admin, { email, password: PASSWORD });
      const { createMfaUser } = await admin.createMfaUser({ input: { username: 'ana', email, sendEnrollmentEmail: true } });
      expect(createMfaUser.errors).toEqual([]);
      const link = await mailedLink(server, email, { kind: 'mfa' });
      const page = await (await context(opened, skip)).newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });

      await page.goto(link);
      expect(page.url()).toBe(`${originOf(server)}/portal/mfa/enroll`);
      await heading(page).toBe('Set up two-step verification');
      expect(await page.textContent('main')).toContain(email);
      expect(await page.textContent('header')).toContain(`Tenant ${tenant.slug}`);
      // The browser has WebAuthn: the script shows the security-key part.
      await poll(() => page.getByRole('button', { name: 'Register a security key or passkey' }).isVisible()).toBe(true);
      await snap(page, 'mfa-01-enrol-choice');

      await page.getByRole('button', { name: 'Use an authenticator app' }).click();
      await heading(page).toBe('Set up your authenticator app');
      // The QR code (a data: image) is allowed by this page's CSP and decodes as an image.
      await poll(() => page.$eval('img.qr', (img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(100);
      await snap(page, 'mfa-02-totp-qr');
      // An authenticator app of our own: the secret as the page shows it, codes from RFC 6238 in the test.
      const key = base32Decode((await page.textContent('#totp-secret'))!.replace(/\s+/g, ''));
      expect(await page.textContent('#totp-uri')).toContain('otpauth://totp/');
      await page.getByLabel('The 6-digit code from the app').fill(hotp(key, stepOf()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      await heading(page).toBe('Your authenticator app is set up');
      await snap(page, 'mfa-03-totp-done');

      const signInUrl = `${originOf(server)}/portal/${tenant.slug}-idp/sign-in`;
      await signIn(page, signInUrl, email);
      await heading(page).toBe('Two-step verification');
      await snap(page, 'mfa-04-second-factor');
      // The next step's code: the enrolment used this step's.
      await page.getByLabel('Code from your authenticator app').fill(hotp(key, stepOf() + 1));
      await page.getByRole('button', { name: 'Verify', exact: true }).click();
      await heading(page).toBe('Your account');
      expect(await page.textContent('table.devices')).toContain('Authenticator app');
      await snap(page, 'mfa-05-account-devices');
      expect(problems.filter((p) => /Content Security Policy|Refused/i.test(p))).toEqual([]);
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });

  test('a synced user registers a security key (CDP virtual authenticator) and signs in with it', async ({
    server,
    admin,
    tenant,
    skip,
  }) => {
    const opened: BrowserContext[] = [];
    try {
      // Provisioned by an EAA sync: the MFA user is linked to the directory user, and emailed.
      const { createGroup } = await admin.createGroup({ input: { name: 'Keys' } });
      const email = `kim@${tenant.slug}.test`;
      const { userId } = await activatedEndUser(server, admin, { email, password: PASSWORD, firstName: 'Kim' });
      expect(
        (await admin.addGroupMembers({ input: { groupId: createGroup.group!.id, userIds: [userId] } })).addGroupMembers.errors,
      ).toEqual([]);
      const p = papi(server, tenant.token);
      const created = await p.create();
      const id = created.provisioning!.id;
      await p.configure(id, await p.cloudDirectoryId(), [createGroup.group!.id], { sendEnrollmentEmails: true });
      await p.deploy(id);
      expect((await p.syncAndWait(id)).status).toBe('COMPLETED');
      const link = await mailedLink(server, email, { kind: 'mfa' });

      const c = await context(opened, skip);
      const page = await c.newPage();
      const cdp = await c.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });

      await page.goto(link);
      await heading(page).toBe('Set up two-step verification');
      await page.getByLabel('Name for this key').fill('Laptop passkey');
      await page.getByRole('button', { name: 'Register a security key or passkey' }).click();
      await heading(page).toBe('Your security key is set up');
      await snap(page, 'mfa-06-key-registered');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);

      await signIn(page, `${originOf(server)}/portal/${tenant.slug}-idp/sign-in`, email);
      await heading(page).toBe('Two-step verification');
      await snap(page, 'mfa-07-second-factor-key');
      await page.getByRole('button', { name: 'Use your security key or passkey' }).click();
      await heading(page).toBe('Your account');
      expect(await page.textContent('table.devices')).toContain('Laptop passkey');
      expect(await page.textContent('table.devices')).toContain('Security key / passkey');
      await snap(page, 'mfa-08-account-key');
      const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(after.credentials[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);
    } finally {
      await Promise.all(opened.map((c) => c.close()));
    }
  });
});
