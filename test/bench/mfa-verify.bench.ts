import { randomUUID } from 'node:crypto';
import { it } from 'vitest';
import { sql } from 'drizzle-orm';
import { MfaFactorStore } from '../../server/modules/mfa/mfa-factor.store.js';
import { totpContext } from '../../server/modules/mfa/mfa-enrollment.service.js';
import { MfaVerifyService } from '../../server/modules/mfa/mfa-verify.service.js';
import { newTotpSecret, totpCodeAt, totpStep } from '../../server/modules/mfa/totp.js';
import { SignInLimitService } from '../../server/modules/sign-in-limit/sign-in-limit.service.js';
import { SignInLimitStore } from '../../server/modules/sign-in-limit/sign-in-limit.store.js';
import type { Db } from '../../server/shared/db.js';
import { loadSecretBox } from '../../server/shared/secret-key.js';
import { gql, seedTenant, startTestServer } from '../support/harness.js';

/**
 * A database handle that counts round trips: every statement builder or `execute` started on
 * it is one statement sent (the verification path runs no transaction).
 */
function counting(db: Db): { db: Db; count: () => number } {
  let n = 0;
  const counted = new Set(['select', 'insert', 'update', 'delete', 'execute']);
  const proxy = new Proxy(db, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop === 'string' && counted.has(prop) && typeof v === 'function')
        return (...args: unknown[]) => {
          n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return v;
    },
  });
  return { db: proxy, count: () => n };
}

/** `verifyMfa` TOTP throughput: in the service (round trips counted) and through GraphQL over HTTP. */
it('mfa: verifyMfa TOTP verifications', async () => {
  const ts = await startTestServer();
  try {
    const t = await seedTenant(ts);
    const env = ts.server.env;
    const box = loadSecretBox({ secretKey: env.ROSTER_SECRET_KEY, previousKeys: env.ROSTER_SECRET_KEY_PREVIOUS, dataDir: env.DATA_DIR });
    // N users with one TOTP device each, written directly (enrolment is not what is measured).
    const n = 200;
    const users = Array.from({ length: n }, (_, i) => ({
      id: randomUUID(),
      deviceId: randomUUID(),
      username: `bench${i}`,
      secret: newTotpSecret(),
    }));
    for (const u of users) {
      await ts.database.db.execute(
        sql`insert into mfa_users (id, tenant_id, username, status) values (${u.id}::uuid, ${t.tenantId}::uuid, ${u.username}, 'ACTIVE')`,
      );
      await ts.database.db.execute(
        sql`insert into mfa_devices (id, tenant_id, mfa_user_id, name, kind, status, secret_sealed)
            values (${u.deviceId}::uuid, ${t.tenantId}::uuid, ${u.id}::uuid, 'Phone', 'TOTP', 'ACTIVE',
                    ${box.seal(u.secret, totpContext(u.deviceId)).toString('base64')})`,
      );
    }

    // Through GraphQL over HTTP first (real clock): each user once with its current code, 10 requests in flight.
    const q = `mutation($i: VerifyMfaInput!) { verifyMfa(input: $i) { result errors { code } } }`;
    let httpVerified = 0;
    let started = Date.now();
    for (let i = 0; i < n; i += 10) {
      const batch = users.slice(i, i + 10);
      const res = await Promise.all(
        batch.map((u) =>
          gql<{ verifyMfa: { result: string } }>(
            ts.url,
            q,
            { i: { user: u.username, code: totpCodeAt(u.secret, totpStep(Date.now())) } },
            t.token,
          ),
        ),
      );
      httpVerified += res.filter((r) => r.data?.verifyMfa.result === 'VERIFIED').length;
    }
    const httpPerSec = n / ((Date.now() - started) / 1000);

    // Then in the service, with a clock that moves one step per verification (a code is accepted once; the
    // steps are ahead of the real clock, so this part comes second).
    const c = counting(ts.database.db);
    const limits = new SignInLimitService(new SignInLimitStore(c.db), {
      account: { delayAfter: 3, maxFailures: 10, lockSeconds: 900 },
      address: { delayAfter: 20, maxFailures: 50, lockSeconds: 900 },
      factor: { delayAfter: 5, maxFailures: 5, lockSeconds: 900 },
    });
    let clock = Date.now() + 60_000;
    const webauthn = ts.server.services.mfaWebauthn;
    const service = new MfaVerifyService(new MfaFactorStore(c.db), limits, box, webauthn, () => clock);
    const rounds = 1000;
    let verified = 0;
    started = Date.now();
    for (let i = 0; i < rounds; i++) {
      clock += 30_000;
      const u = users[i % n]!;
      const r = await service.verify({ tenantId: t.tenantId }, { user: u.username, code: totpCodeAt(u.secret, totpStep(clock)) });
      if (r.result === 'VERIFIED') verified++;
    }
    const servicePerSec = rounds / ((Date.now() - started) / 1000);
    const perVerification = c.count() / rounds;

    console.log(
      `\n[bench mfa/${ts.database.engine}] verifyMfa TOTP: service ${servicePerSec.toFixed(0)}/s (${verified}/${rounds} VERIFIED), ` +
        `${perVerification.toFixed(1)} database round trips per verification; GraphQL over HTTP (10 in flight) ${httpPerSec.toFixed(0)}/s ` +
        `(${httpVerified}/${n} VERIFIED; each of those is recorded, as in the service)\n`,
    );
  } finally {
    await ts.close();
  }
});
