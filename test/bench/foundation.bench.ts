import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { gql, seedTenant, startTestServer } from '../support/harness.js';
import { hashPassword } from '../../server/shared/passwords.js';

/** Sign-in throughput and user-list latency on the engine selected by TEST_DATABASE_URL. */
it('foundation: login and users query', async () => {
  const ts = await startTestServer();
  try {
    const t = await seedTenant(ts);
    const engine = ts.database.engine;

    const n = 20;
    let started = Date.now();
    await Promise.all(
      Array.from({ length: n }, () =>
        gql(ts.url, `mutation($i: LoginInput!) { login(input: $i) { token } }`, {
          i: { tenant: t.slug, email: t.adminEmail, password: t.adminPassword },
        }),
      ),
    );
    const loginPerSec = n / ((Date.now() - started) / 1000);

    started = Date.now();
    await Promise.all(Array.from({ length: n }, () => hashPassword('Bench!pass1')));
    const rawHashPerSec = n / ((Date.now() - started) / 1000);

    // 5,000 users in one multi-row INSERT, then page through them 100 at a time.
    await ts.database.db.execute(sql`
      insert into users (tenant_id, directory_id, email, username, first_name, last_name, status)
      select ${t.tenantId}, ${t.directoryId}, 'u' || g || '@bench.test', 'u' || g || '@bench.test', 'First' || g, 'Last' || g, 'INVITED'
      from generate_series(1, 5000) g`);
    const q = `query($after: String) { users(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { id email groups { name } directory { name } } } }`;
    let after: string | null = null;
    let pages = 0;
    started = Date.now();
    for (;;) {
      const res: any = await gql(ts.url, q, { after }, t.token);
      pages++;
      if (!res.data.users.pageInfo.hasNextPage) break;
      after = res.data.users.pageInfo.endCursor;
    }
    const msPerPage = (Date.now() - started) / pages;

    console.log(
      `\n[bench foundation/${engine}] login: ${loginPerSec.toFixed(1)}/s (raw argon2id hash: ${rawHashPerSec.toFixed(1)}/s); ` +
        `users pages of 100 with groups+directory: ${msPerPage.toFixed(1)} ms/page over ${pages} pages\n`,
    );
  } finally {
    await ts.close();
  }
});
