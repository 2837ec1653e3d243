import { createHash } from 'node:crypto';
import type { RequestClient } from '../../shared/client.js';
import { DomainError, type ErrorCode } from '../../shared/errors.js';
import type { Admission, LimitPolicy, LimitState, SignInLimitStore } from './sign-in-limit.store.js';

export interface SignInLimitConfig {
  /** Per account (tenant and email, or token). */
  account: LimitPolicy;
  /** Per client address, across every account and every kind of credential. */
  address: LimitPolicy;
  /** Per MFA user, for second-factor verification (`verifyMfa`); addresses are not counted. */
  factor: LimitPolicy;
}

/**
 * What a credential check found: the right credential (and what it unlocked), or a wrong one.
 * A wrong one may carry its own refusal (a right enrolment link with a wrong TOTP code counts
 * against the link, but says what was wrong).
 */
export type CheckOutcome<T> = { ok: true; value: T } | { ok: false; refusal?: Refusal };

/** The answer for a wrong credential; a locked one gets the same, with `retryAfter`. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  field?: string[];
}

/** The account subject of a sign-in: the tenant (or the unknown slug given) and the email. */
export function loginSubject(tenant: { id: string } | { slug: string }, email: string): string {
  return 'id' in tenant ? `login:${tenant.id}:${email}` : `login:slug:${tenant.slug}:${email}`;
}

/**
 * The one gate in front of every credential check (sign-in, account-setup and enrolment
 * tokens, and any later one): at most one check per operation, counted per account and per
 * client address in the database, with exponential delays and then a lock. While a key is
 * locked the credential is not checked at all (no argon2 work) and the answer is the same as
 * for a wrong credential, plus `retryAfter`.
 */
export class SignInLimitService {
  constructor(
    private readonly store: SignInLimitStore,
    private readonly config: SignInLimitConfig,
  ) {}

  async guard<T>(
    client: RequestClient,
    /**
     * The account the credential is for (read only once the operation may check one).
     * `countFirst` for guessable credentials (passwords): the attempt is counted before it is
     * checked, so a parallel burst cannot slip past a stale count. High-entropy tokens count
     * only when wrong, so concurrent uses of one valid link are not mistaken for guessing;
     * guessing tokens is bounded by the client address, which always counts first.
     */
    account: () => Promise<{ subject: string; tenantId: string | null; countFirst: boolean }>,
    refusal: Refusal,
    check: () => Promise<CheckOutcome<T>>,
  ): Promise<T> {
    const refuse = (retryAfter: number | null, message = refusal.message, r: Refusal = refusal) =>
      DomainError.of(r.code, message === refusal.message ? r.message : message, r.field, retryAfter === null ? undefined : { retryAfter });
    client.credentialChecks += 1;
    if (client.credentialChecks > 1) {
      throw refuse(null, 'Only one credential is checked per request; this one was not. Send it in a request of its own.');
    }
    const { subject, tenantId, countFirst } = await account();
    const { address: addressPolicy, account: accountPolicy } = this.config;
    const addressKey = client.address ? keyOf(`address:${client.address}`) : null;
    const accountKey = keyOf(subject);
    const address = addressKey ? { key: addressKey, policy: addressPolicy } : null;
    const takeBackAddress = async () => {
      if (addressKey) await this.store.takeBack(addressKey, addressPolicy);
    };
    let retryAfter: number | null = null;
    if (countFirst) {
      // Both counts in one statement: the account is counted only once the address was admitted.
      const account = { key: accountKey, scope: 'account', tenantId, policy: accountPolicy };
      const [a, b] = addressKey
        ? await this.store.admitBoth({ key: addressKey, scope: 'address', tenantId: null, policy: addressPolicy }, account)
        : [null, await this.store.admit(accountKey, 'account', tenantId, accountPolicy)];
      if (a && !a.allowed) throw refuse(a.retryAfter);
      if (!b!.allowed) {
        // Refused unchecked, at no cost: not held against the address.
        await takeBackAddress();
        throw refuse(b!.retryAfter);
      }
      retryAfter = maxOrNull(a?.retryAfter ?? null, b!.retryAfter);
    } else {
      if (addressKey) {
        const a = await this.store.admit(addressKey, 'address', null, addressPolicy);
        if (!a.allowed) throw refuse(a.retryAfter);
        retryAfter = a.retryAfter;
      }
      const locked = await this.store.lockedFor(accountKey);
      if (locked !== null) {
        await takeBackAddress();
        throw refuse(locked);
      }
    }

    let outcome: CheckOutcome<T>;
    try {
      outcome = await check();
    } catch (err) {
      // The credential was right but something else refused (a used link, a weak new password):
      // not a guess, so it does not count.
      await this.store.settle(accountKey, address);
      throw err;
    }
    if (!outcome.ok) {
      if (!countFirst)
        retryAfter = maxOrNull(retryAfter, (await this.store.admit(accountKey, 'account', tenantId, accountPolicy)).retryAfter);
      throw refuse(retryAfter, refusal.message, outcome.refusal ?? refusal);
    }
    await this.store.settle(accountKey, address);
    return outcome.value;
  }

  /**
   * Counts one second-factor attempt on `subject` before it is checked (codes are guessable),
   * per subject only: a relying service verifies many users from one address, so the address
   * is not counted. Refused while locked; `clear` takes a right code's count back.
   */
  admitFactor(subject: string, tenantId: string): Promise<Admission> {
    return this.store.admit(keyOf(subject), 'mfa', tenantId, this.config.factor);
  }

  /** Second-factor failures still remembered and a running lock, by subject. */
  async factorStates(subjects: readonly string[]): Promise<LimitState[]> {
    const keys = subjects.map(keyOf);
    const found = await this.store.states(keys, this.config.factor.lockSeconds);
    return keys.map((k) => found.get(k) ?? { failures: 0, lockedUntil: null });
  }

  /** Failures still remembered and a running lock, by account subject (for administrators). */
  async states(subjects: readonly string[]): Promise<LimitState[]> {
    const keys = subjects.map(keyOf);
    const found = await this.store.states(keys, this.config.account.lockSeconds);
    return keys.map((k) => found.get(k) ?? { failures: 0, lockedUntil: null });
  }

  /** Forgets an account's failures and ends its lock (an administrator's `unlockUser`). */
  clear(subject: string): Promise<void> {
    return this.store.clear(keyOf(subject));
  }

  purge(): Promise<void> {
    return this.store.purge(Math.max(this.config.account.lockSeconds, this.config.address.lockSeconds, this.config.factor.lockSeconds));
  }
}

function keyOf(subject: string): string {
  return createHash('sha256').update(subject).digest('hex');
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
