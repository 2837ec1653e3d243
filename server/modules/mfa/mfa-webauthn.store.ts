import { and, desc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import { mfaDevices, mfaEnrollmentTokens, mfaUsers, mfaWebauthnChallenges } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';

export interface WebauthnCredentialRow {
  id: string;
  mfaUserId: string;
  status: string;
  credentialId: string;
  publicKey: string;
  signCount: number;
}

/** WebAuthn SQL: server-side challenges (single use, expiring) and credentials on devices. */
export class MfaWebauthnStore {
  constructor(private readonly db: Db) {}

  async insertChallenge(
    row: {
      tenantId: string;
      mfaUserId: string;
      purpose: 'REGISTER' | 'AUTHENTICATE';
      challenge: string;
      enrollmentTokenId?: string | null;
      deviceName?: string | null;
      expiresAt: Date;
    },
    tx: Executor = this.db,
  ): Promise<void> {
    await tx.insert(mfaWebauthnChallenges).values(row);
  }

  /** The newest unused, unexpired REGISTER challenge begun with this enrolment link. */
  async registrationChallenge(tokenId: string, tx: Executor = this.db) {
    const c = mfaWebauthnChallenges;
    const [r] = await tx
      .select({ id: c.id, challenge: c.challenge, deviceName: c.deviceName })
      .from(c)
      .where(and(eq(c.enrollmentTokenId, tokenId), eq(c.purpose, 'REGISTER'), isNull(c.usedAt), gt(c.expiresAt, sql`now()`)))
      .orderBy(desc(c.createdAt))
      .limit(1);
    return r ?? null;
  }

  /** An unused, unexpired AUTHENTICATE challenge of this user with exactly this value. */
  async authenticationChallenge(mfaUserId: string, challenge: string, tx: Executor = this.db) {
    const c = mfaWebauthnChallenges;
    const [r] = await tx
      .select({ id: c.id, challenge: c.challenge })
      .from(c)
      .where(
        and(
          eq(c.mfaUserId, mfaUserId),
          eq(c.challenge, challenge),
          eq(c.purpose, 'AUTHENTICATE'),
          isNull(c.usedAt),
          gt(c.expiresAt, sql`now()`),
        ),
      );
    return r ?? null;
  }

  /** Uses a challenge (single use: the conditional UPDATE decides between concurrent attempts). */
  async useChallenge(id: string, tx: Executor = this.db): Promise<boolean> {
    const r = await tx
      .update(mfaWebauthnChallenges)
      .set({ usedAt: new Date() })
      .where(and(eq(mfaWebauthnChallenges.id, id), isNull(mfaWebauthnChallenges.usedAt)))
      .returning({ id: mfaWebauthnChallenges.id });
    return r.length > 0;
  }

  /** The user's WebAuthn credentials (not PENDING). */
  async credentialsOf(mfaUserId: string, tx: Executor = this.db): Promise<WebauthnCredentialRow[]> {
    const rows = await tx
      .select({
        id: mfaDevices.id,
        mfaUserId: mfaDevices.mfaUserId,
        status: mfaDevices.status,
        credentialId: mfaDevices.credentialId,
        publicKey: mfaDevices.publicKey,
        signCount: mfaDevices.signCount,
      })
      .from(mfaDevices)
      .where(and(eq(mfaDevices.mfaUserId, mfaUserId), eq(mfaDevices.kind, 'WEBAUTHN'), ne(mfaDevices.status, 'PENDING')));
    return rows.flatMap((r) =>
      r.credentialId && r.publicKey ? [{ ...r, credentialId: r.credentialId, publicKey: r.publicKey, signCount: r.signCount ?? 0 }] : [],
    );
  }

  /**
   * Uses the link and the challenge, and adds the security key as an ACTIVE device (at most
   * `max` devices, counted under the user's row lock). A credential registered before is refused.
   */
  async register(
    t: { id: string; tenantId: string; mfaUserId: string },
    challengeId: string,
    device: { name: string; credentialId: string; publicKey: string; signCount: number },
    max: number,
    countDevices: (tx: Executor) => Promise<number>,
    tx: Executor,
  ): Promise<{ outcome: 'OK'; deviceId: string } | { outcome: 'USED' | 'TOO_MANY' }> {
    const used = await tx
      .update(mfaEnrollmentTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(mfaEnrollmentTokens.id, t.id), isNull(mfaEnrollmentTokens.usedAt)))
      .returning({ id: mfaEnrollmentTokens.id });
    if (!used.length || !(await this.useChallenge(challengeId, tx))) return { outcome: 'USED' };
    await tx.select({ id: mfaUsers.id }).from(mfaUsers).where(eq(mfaUsers.id, t.mfaUserId)).for('update');
    if ((await countDevices(tx)) >= max) return { outcome: 'TOO_MANY' };
    try {
      const [d] = await tx
        .insert(mfaDevices)
        .values({
          tenantId: t.tenantId,
          mfaUserId: t.mfaUserId,
          name: device.name,
          kind: 'WEBAUTHN',
          status: 'ACTIVE',
          credentialId: device.credentialId,
          publicKey: device.publicKey,
          signCount: device.signCount,
          lastUsedAt: new Date(),
        })
        .returning({ id: mfaDevices.id });
      return { outcome: 'OK', deviceId: d!.id };
    } catch (err) {
      if (pgErrorInfo(err).constraint === 'uniq_mfa_devices_credential')
        throw DomainError.of(ErrorCode.ALREADY_EXISTS, 'This security key is already registered.', ['input', 'response']);
      throw err;
    }
  }

  /** Moves the counter forward from the value the assertion was checked against (a concurrent use of the same assertion loses). */
  async advanceCounter(deviceId: string, from: number, to: number, tx: Executor = this.db): Promise<boolean> {
    const r = await tx
      .update(mfaDevices)
      .set({ signCount: to, lastUsedAt: new Date() })
      .where(and(eq(mfaDevices.id, deviceId), eq(mfaDevices.status, 'ACTIVE'), sql`coalesce(${mfaDevices.signCount}, 0) = ${from}`))
      .returning({ id: mfaDevices.id });
    return r.length > 0;
  }
}
