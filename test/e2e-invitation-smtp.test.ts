import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { expect } from 'vitest';
import {
  CompleteAccountSetupDocument,
  CreateGroupDocument,
  CreateIdentityProviderDocument,
  CreateUserDocument,
  LoginDocument,
  ReinviteUserDocument,
  UserInvitationsDocument,
} from '../client/src/index.js';
import { decodeQuotedPrintable } from './support/directory-api.js';
import { rosterTest } from './support/fixtures.js';
import { seedTenant, startTestServer, type TestServer } from './support/harness.js';

interface SmtpPeer {
  url: string;
  /** Every message it received, raw (quoted-printable decoded). */
  received: { to: string[]; raw: string }[];
}

/** A real SMTP peer for the file, and the server sending through it. */
const test = rosterTest().extend<{ smtp: SmtpPeer; server: TestServer }>({
  smtp: [
    async ({}, use) => {
      const received: SmtpPeer['received'] = [];
      const smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        onData(stream, session, callback) {
          let raw = '';
          stream.on('data', (d: Buffer) => (raw += d.toString()));
          stream.on('end', () => {
            received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: decodeQuotedPrintable(raw) });
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
      const port = (smtp.server.address() as AddressInfo).port;
      try {
        await use({ url: `smtp://127.0.0.1:${port}`, received });
      } finally {
        await new Promise<void>((resolve) => smtp.close(() => resolve()));
      }
    },
    { scope: 'file' },
  ],
  server: [
    async ({ smtp }, use) => {
      const ts = await startTestServer({ SMTP_URL: smtp.url, PORTAL_BASE_URL: 'https://login.roster.test/portal' });
      try {
        await use(ts);
      } finally {
        await ts.close();
      }
    },
    { scope: 'file' },
  ],
});

async function mailTo(received: SmtpPeer['received'], address: string, nth: number): Promise<string> {
  const end = Date.now() + 20_000;
  for (;;) {
    const mine = received.filter((m) => m.to.includes(address));
    if (mine.length >= nth) return mine[nth - 1]!.raw;
    if (Date.now() > end) throw new Error(`no mail #${nth} for ${address}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const linkIn = (raw: string) => /https:\/\/login\.roster\.test\/portal\/[^\s"<]+/.exec(raw)![0];

test('user with two groups, invited to a non-default IdP over real SMTP, completes setup; re-invite voids the old link', async ({
  server: ts,
  smtp,
  clientFor,
}) => {
  const t = await seedTenant(ts, { features: ['IDP_SELECTION_FOR_INVITES'] });
  const client = clientFor(t.token);
  const anon = clientFor();

  const g1 = (await client.request(CreateGroupDocument, { input: { name: 'Finance' } })).createGroup.group!.id;
  const g2 = (await client.request(CreateGroupDocument, { input: { name: 'Admins-EU' } })).createGroup.group!.id;
  const idp = (await client.request(CreateIdentityProviderDocument, { input: { name: 'finance-sso' } })).createIdentityProvider
    .identityProvider!;

  const created = await client.request(CreateUserDocument, {
    input: {
      email: 'Carol@Example.test',
      firstName: 'Carol',
      lastName: 'C',
      groupIds: [g1, g2],
      identityProviderId: idp.id,
      sendInvite: true,
    },
  });
  expect(created.createUser.errors).toEqual([]);
  const user = created.createUser.user!;
  expect(user.groups.map((g) => g.name).sort()).toEqual(['Admins-EU', 'Finance', 'Users']);

  const first = await mailTo(smtp.received, 'carol@example.test', 1);
  expect(first).toMatch(/^Subject: You're invited to/m);
  const link1 = linkIn(first);
  expect(link1.startsWith('https://login.roster.test/portal/finance-sso/activate?token=')).toBe(true);

  const re = await client.request(ReinviteUserDocument, { input: { userId: user.id } });
  expect(re.reinviteUser.errors).toEqual([]);
  const link2 = linkIn(await mailTo(smtp.received, 'carol@example.test', 2));
  expect(link2).not.toBe(link1);

  const token = (l: string) => new URL(l).searchParams.get('token')!;
  const old = await anon.request(CompleteAccountSetupDocument, { input: { token: token(link1), password: 'Car0l!secret' } });
  expect(old.completeAccountSetup.errors.map((e) => e.code)).toEqual(['TOKEN_USED']);

  const done = await anon.request(CompleteAccountSetupDocument, { input: { token: token(link2), password: 'Car0l!secret' } });
  expect(done.completeAccountSetup).toMatchObject({
    success: true,
    email: 'carol@example.test',
    portalUrl: 'https://login.roster.test/portal/finance-sso',
  });

  const after = await client.request(UserInvitationsDocument, { id: user.id });
  expect(after.user!.status).toBe('ACTIVE');
  expect(after.user!.identityProvider!.name).toBe('finance-sso');
  expect(after.user!.invitations.map((i) => [i.status, i.emailDelivery?.status])).toEqual([
    ['ACCEPTED', 'SENT'],
    ['REVOKED', 'SENT'],
  ]);
  // Carol is not an admin: she cannot use the admin API, with the same answer as a wrong password.
  const login = await anon.request(LoginDocument, { input: { tenant: t.slug, email: 'carol@example.test', password: 'Car0l!secret' } });
  expect(login.login.errors.map((e) => e.code)).toEqual(['INVALID_CREDENTIALS']);
});
