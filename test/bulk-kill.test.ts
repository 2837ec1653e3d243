import { describe, expect, it } from 'vitest';
import { gql } from './support/harness.js';
import { freshStorage, startServerProcess } from './support/storage.js';
import { spawnNode, waitUntil } from './support/process.js';

/**
 * The real thing: a server process SIGKILLed in the middle of a CSV upload, another started on
 * the same database finishes it, and every row is applied exactly once.
 */
describe('bulk upload survives a killed process', () => {
  it('SIGKILL mid-upload, restart, every row applied once', async () => {
    const s = await freshStorage();
    try {
      const env = { ...s.env, SEED_DEMO: 'false', JOB_LEASE_MS: '1500', JOB_POLL_MS: '50' };
      const created = spawnNode(
        'dist/server/cli.js',
        ['tenant', 'create', '--slug', 'kill', '--name', 'Kill', '--admin-email', 'a@kill.test', '--admin-password-stdin'],
        env,
        'K1ll!admin\n',
      );
      expect(await created.exited).toBe(0);

      const first = await startServerProcess(env);
      const login = await gql<any>(
        first.url,
        `mutation { login(input: { tenant: "kill", email: "a@kill.test", password: "K1ll!admin" }) { token } }`,
      );
      const token = login.data.login.token as string;
      // Password rows make each chunk take a while (argon2id), so the kill lands mid-job.
      const csv = Array.from({ length: 320 }, (_, i) => `k${i}@kill.test,K,${i},Kil1ed!pw${i},`).join('\n');
      const up = await gql<any>(
        first.url,
        `mutation($i: BulkUploadUsersInput!) { bulkUploadUsers(input: $i) { bulkOperation { id } errors { code } } }`,
        { i: { csv } },
        token,
      );
      const id = up.data.bulkUploadUsers.bulkOperation.id as string;
      const progress = (url: string) =>
        gql<any>(url, `query($id: ID!) { bulkOperation(id: $id) { status processed succeeded failed total } }`, { id }, token);
      await waitUntil(async () => (await progress(first.url)).data.bulkOperation.processed > 0, 60_000);
      first.p.child.kill('SIGKILL');
      await first.p.exited;

      const second = await startServerProcess(env);
      try {
        const mid = (await progress(second.url)).data.bulkOperation;
        expect(mid.processed).toBeLessThan(320);
        const done = await waitUntil(async () => {
          const o = (await progress(second.url)).data.bulkOperation;
          return o.status === 'COMPLETED' && o;
        }, 120_000);
        expect(done).toMatchObject({ processed: 320, succeeded: 320, failed: 0, total: 320 });
        const users = await gql<any>(second.url, `{ users(filter: { search: "k" }) { totalCount } }`, {}, token);
        expect(users.data.users.totalCount).toBe(320);
        const results = await gql<any>(second.url, `query($id: ID!) { bulkOperation(id: $id) { results { totalCount } } }`, { id }, token);
        expect(results.data.bulkOperation.results.totalCount).toBe(320);
      } finally {
        second.p.child.kill('SIGTERM');
        await second.p.exited;
      }
    } finally {
      await s.cleanup();
    }
  }, 240_000);
});
