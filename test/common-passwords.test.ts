import { describe, expect } from 'vitest';
import { DomainError } from '../server/shared/errors.js';
import { COMMON_PASSWORDS_TOP, isCommonPassword, loadCommonPasswords } from '../server/shared/common-passwords.js';
import { checkPasswordPolicy } from '../server/shared/password-policy.js';
import { bulkApi } from './support/bulk-api.js';
import { api, completeSetup, tokenOf, waitForMailLink } from './support/directory-api.js';
import { rosterTest } from './support/fixtures.js';

/**
 * Issue 10, finding 12: predictable passwords such as `Passw0rd!` passed the policy. The
 * common-password blocklist is its own rule (PASSWORD_TOO_COMMON), case-insensitive, on every
 * path that sets a password.
 */
const test = rosterTest({ JOB_POLL_MS: '50' });
const COMMON = 'Passw0rd!';
const codes = (errors: { code: string }[]) => errors.map((e) => e.code).sort();

describe('the blocklist', () => {
  test('holds at least the 100,000 most common passwords, and Passw0rd! in any case', () => {
    const list = loadCommonPasswords();
    expect(COMMON_PASSWORDS_TOP).toBeGreaterThanOrEqual(100_000);
    expect(list.size).toBeGreaterThanOrEqual(100_000);
    for (const p of ['123456', 'password', 'qwerty', COMMON, 'PASSW0RD!', 'pAsSw0Rd!']) expect(isCommonPassword(p)).toBe(true);
    expect(isCommonPassword('Adm1n!pass-word')).toBe(false);
    // Its own rule: a password passing every other rule fails it alone.
    expect(codes(checkPasswordPolicy(COMMON, []))).toEqual(['PASSWORD_TOO_COMMON']);
    // And independent of the others: a short common one fails both.
    expect(codes(checkPasswordPolicy('password', []))).toContain('PASSWORD_TOO_COMMON');
    expect(checkPasswordPolicy('Adm1n!pass-word', [])).toEqual([]);
  });
});

describe('every path that sets a password refuses a common one', () => {
  test('createUser', async ({ server: ts, tenant: t }) => {
    const a = api(ts, t.token);
    for (const password of [COMMON, 'pASSW0RD!']) {
      const r = await a.createUser({ email: `common-${password.length}@x.test`, firstName: 'C', lastName: 'P', password });
      expect(r.user).toBeNull();
      expect(r.errors).toEqual([expect.objectContaining({ code: 'PASSWORD_TOO_COMMON', field: ['input', 'password'] })]);
    }
    const ok = await a.createUser({ email: 'uncommon@x.test', firstName: 'U', lastName: 'C', password: 'Unc0mmon!horse-staple' });
    expect(ok.errors).toEqual([]);
  });

  test('CSV upload rows (inline and streamed) report the rule per item', async ({ server: ts, tenant: t }) => {
    const b = bulkApi(ts, t.token);
    const csv = [
      `common-a@csv.test,Com,Mon,${COMMON},`,
      `common-b@csv.test,Com,Mon,PASSW0RD!x,`,
      `common-c@csv.test,Com,Mon,pASSw0rd!,`,
      `fine@csv.test,Fi,Ne,Unc0mmon!horse-staple,`,
    ].join('\n');
    const inline = await b.uploadAndWait({ csv });
    const byEmail = Object.fromEntries(inline.results.nodes.map((r) => [r.email, r]));
    expect(byEmail['common-a@csv.test']).toMatchObject({ outcome: 'FAILED', errorCode: 'PASSWORD_TOO_COMMON' });
    expect(byEmail['common-c@csv.test']).toMatchObject({ outcome: 'FAILED', errorCode: 'PASSWORD_TOO_COMMON' });
    expect(byEmail['common-a@csv.test']!.message).toMatch(/common/i);
    expect(byEmail['common-b@csv.test']).toMatchObject({ outcome: 'SUCCEEDED' });
    expect(byEmail['fine@csv.test']).toMatchObject({ outcome: 'SUCCEEDED' });

    const res = await fetch(ts.url.replace(/\/graphql$/, '/uploads'), {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'text/csv' },
      body: `streamed@csv.test,Str,Eamed,${COMMON},\n`,
    });
    const { uploadId } = (await res.json()) as { uploadId: string };
    const streamed = await b.uploadAndWait({ uploadId });
    expect(streamed.results.nodes).toEqual([expect.objectContaining({ outcome: 'FAILED', errorCode: 'PASSWORD_TOO_COMMON' })]);
  });

  test('completeAccountSetup, from an invitation and from a password reset', async ({ server: ts, tenant: t }) => {
    const a = api(ts, t.token);
    const created = await a.createUser({ email: 'invitee@x.test', firstName: 'In', lastName: 'Vitee' });
    const userId = created.user!.id;
    await a.invite(userId);
    const invitation = tokenOf(await waitForMailLink(ts, 'invitee@x.test'));
    const refused = await completeSetup(ts, invitation, COMMON);
    expect(refused.success).toBe(false);
    expect(codes(refused.errors)).toEqual(['PASSWORD_TOO_COMMON']);
    // The link is not spent by a refused password.
    const done = await completeSetup(ts, invitation, 'Unc0mmon!horse-staple');
    expect(done.success).toBe(true);

    const reset = await a.reinvite(userId);
    expect(reset.errors).toEqual([]);
    const resetToken = tokenOf(await waitForMailLink(ts, 'invitee@x.test', 2));
    const refusedReset = await completeSetup(ts, resetToken, 'passw0rd!');
    expect(codes(refusedReset.errors)).toContain('PASSWORD_TOO_COMMON');
    expect((await completeSetup(ts, resetToken, 'An0ther!uncommon-one')).success).toBe(true);
  });

  test('tenant creation (operator CLI) refuses a common admin password', async ({ server: ts }) => {
    const attempt = ts.server.services.tenants.createTenant({
      slug: `common-${Date.now().toString(36)}`,
      name: 'Common',
      entitlements: [],
      adminEmail: 'a@common.test',
      adminPassword: COMMON,
    });
    await expect(attempt).rejects.toBeInstanceOf(DomainError);
    const err = (await attempt.catch((e: unknown) => e)) as DomainError;
    expect(err.errors.map((e) => e.code)).toEqual(['PASSWORD_TOO_COMMON']);
  });
});
