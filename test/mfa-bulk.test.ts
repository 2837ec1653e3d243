import { describe, expect, vi } from 'vitest';
import { rosterTest } from './support/fixtures.js';
import { bulkApi } from './support/bulk-api.js';
import { tokenOf, waitForMailLink } from './support/directory-api.js';
import { seedTenant } from './support/harness.js';

const test = rosterTest();
vi.setConfig({ testTimeout: 180_000 });
const codes = (errors: { code: string }[]) => errors.map((e) => e.code);

describe('bulk enrolment emails', () => {
  test.concurrent(
    'by ids: per-user results (no email → failed with its reason, unknown → NOT_FOUND); links work',
    async ({ server: ts, tenant: t, admin }) => {
      const mk = async (username: string, email?: string) =>
        (await admin.createMfaUser({ input: { username, email } })).createMfaUser.mfaUser!.id;
      const a = await mk('ada', 'ada@bulk.test');
      const b = await mk('bo');
      const c = await mk('cy', 'cy@bulk.test');
      const foreign = (
        await (await import('./support/directory-api.js')).clientOf(ts, (await seedTenant(ts)).token).createMfaUser({
          input: { username: 'zed', email: 'zed@bulk.test' },
        })
      ).createMfaUser.mfaUser!.id;
      const started = (await admin.bulkSendMfaEnrollment({ input: { mfaUserIds: [a, b, c, foreign, 'garbage'] } })).bulkSendMfaEnrollment;
      expect(started.errors).toEqual([]);
      expect(started.bulkOperation).toMatchObject({ kind: 'SEND_MFA_ENROLLMENT', total: 5 });
      const op = await bulkApi(ts, t.token).wait(started.bulkOperation!.id);
      expect(op).toMatchObject({ status: 'COMPLETED', succeeded: 2, failed: 3 });
      expect(op.results.nodes.map((r) => [r.row, r.reference, r.outcome, r.errorCode])).toEqual([
        [1, a, 'SUCCEEDED', null],
        [2, b, 'FAILED', 'INVALID_STATE'],
        [3, c, 'SUCCEEDED', null],
        [4, foreign, 'FAILED', 'NOT_FOUND'],
        [5, 'garbage', 'FAILED', 'NOT_FOUND'],
      ]);
      expect(op.results.nodes[1]!.message).toMatch(/no email/);
      const token = tokenOf(await waitForMailLink(ts, 'ada@bulk.test'));
      expect((await admin.mfaUsers({ filter: { search: 'ada' } })).mfaUsers.nodes[0]!.status).toBe('UNENROLLED');
      expect(token).toMatch(/^mfa_/);
      await waitForMailLink(ts, 'cy@bulk.test');
    },
  );

  test.concurrent(
    'by filter: every UNENROLLED user; neither ids nor filter, or both, is refused',
    async ({ server: ts, tenant: t, admin }) => {
      for (const n of ['fa', 'fb', 'fc']) await admin.createMfaUser({ input: { username: n, email: `${n}@filter.test` } });
      const r = (await admin.bulkSendMfaEnrollment({ input: { filter: { status: 'UNENROLLED' } } })).bulkSendMfaEnrollment;
      expect(r.errors).toEqual([]);
      const op = await bulkApi(ts, t.token).wait(r.bulkOperation!.id);
      expect(op).toMatchObject({ status: 'COMPLETED', total: 3, succeeded: 3 });
      for (const n of ['fa', 'fb', 'fc']) await waitForMailLink(ts, `${n}@filter.test`);
      expect(codes((await admin.bulkSendMfaEnrollment({ input: {} })).bulkSendMfaEnrollment.errors)).toEqual(['INVALID_INPUT']);
      expect(codes((await admin.bulkSendMfaEnrollment({ input: { filter: { status: 'ACTIVE' } } })).bulkSendMfaEnrollment.errors)).toEqual([
        'INVALID_INPUT',
      ]);
    },
  );
});
