import { describe, expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { USER, expectScimError, scimClient, scimProvisioning } from './support/scim-api.js';

// A low per-token rate, so the limit is reachable in a test.
const test = rosterTest({ SCIM_RATE_LIMIT_PER_MINUTE: '8' });

describe('SCIM: abuse limits and tokens', () => {
  test.concurrent(
    'per-token rate limit: 429 with Retry-After, other tokens unaffected',
    async ({ server: ts, tenant: t }) => {
      const a = await scimProvisioning(ts, t.token, 'Rate A');
      const b = await scimProvisioning(ts, t.token, 'Rate B');
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await a.scim.get('/Users'));
      expect(answers.slice(0, 8).every((r) => r.status === 200)).toBe(true);
      const limited = answers[9]!;
      expectScimError(limited, 429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect((await b.scim.get('/Users')).status).toBe(200);
    },
    180_000,
  );

  test.concurrent(
    'bodies over 1 MB are refused with 413 before parsing',
    async ({ server: ts, tenant: t }) => {
      const { scim } = await scimProvisioning(ts, t.token, 'Big');
      const r = await scim.post('/Users', { schemas: [USER], userName: 'big', displayName: 'x'.repeat(1_100_000) });
      expectScimError(r, 413);
    },
    180_000,
  );

  test.concurrent(
    'rotateScimToken: the new token works, the old one for its grace period only',
    async ({ server: ts, tenant: t }) => {
      const { id, base, token: first, p } = await scimProvisioning(ts, t.token, 'Rotate');
      const r1 = (await p.client.rotateScimToken({ input: { id } })).rotateScimToken;
      expect(r1.errors).toEqual([]);
      expect(r1.scimToken).toMatch(/^scim_/);
      expect(new Date(r1.previousTokenExpiresAt!).getTime()).toBeGreaterThan(Date.now() + 55 * 60_000);
      expect((await scimClient(base, first).get('/ServiceProviderConfig')).status).toBe(200);
      expect((await scimClient(base, r1.scimToken!).get('/ServiceProviderConfig')).status).toBe(200);
      // A rotation with no grace ends every earlier token at once.
      const r2 = (await p.client.rotateScimToken({ input: { id, graceMinutes: 0 } })).rotateScimToken;
      expectScimError(await scimClient(base, first).get('/ServiceProviderConfig'), 401);
      expectScimError(await scimClient(base, r1.scimToken!).get('/ServiceProviderConfig'), 401);
      expect((await scimClient(base, r2.scimToken!).get('/ServiceProviderConfig')).status).toBe(200);
      expect((await p.client.rotateScimToken({ input: { id, graceMinutes: -1 } })).rotateScimToken.errors.map((e) => e.code)).toEqual([
        'INVALID_INPUT',
      ]);
      // The token is never readable again.
      expect(JSON.stringify((await p.client.provisionings()).provisionings)).not.toContain(r2.scimToken!);
    },
    180_000,
  );
});
