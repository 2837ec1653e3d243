import { randomBytes, randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

/**
 * argon2id at OWASP's minimum (m=19 MiB, t=2, p=1). argon2 runs on libuv's thread pool, so
 * callers hash many passwords with Promise.all, never one after another in a loop.
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/**
 * argon2 runs on libuv's thread pool (UV_THREADPOOL_SIZE, 4 unless the operator raised it).
 * Hashing many passwords uses up to one hash per core but always leaves at least one pool
 * thread free, so a sign-in's verify never queues behind a whole batch of hashes.
 */
export function bulkHashConcurrency(cores = availableParallelism(), poolSize = 4): number {
  return Math.max(1, Math.min(cores, poolSize - 1));
}

/**
 * Hashes many passwords (null stays null) with at most `concurrency` in flight. Call it
 * outside any transaction: a batch takes about a second and must not hold locks meanwhile.
 */
export async function hashPasswords(
  passwords: readonly (string | null)[],
  concurrency = bulkHashConcurrency(),
): Promise<(string | null)[]> {
  const out = new Array<string | null>(passwords.length).fill(null);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, passwords.length) }, async () => {
      while (next < passwords.length) {
        const i = next++;
        const p = passwords[i];
        if (p != null) out[i] = await hashPassword(p);
      }
    }),
  );
  return out;
}

export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (!hash) {
    // Spend the same time as a real check so response time does not reveal unknown accounts.
    await argon2.verify(await dummyHash(), password).catch(() => false);
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;
function dummyHash(): Promise<string> {
  dummy ??= argon2.hash(randomBytes(16).toString('hex'), ARGON2_OPTIONS);
  return dummy;
}

export const SPECIAL_CHARACTERS = '~!@#$%^&*_-+=`|(){}[]:;"\'<>,.?/';

/** A random 20-character password that satisfies the policy, for one-time admin credentials. */
export function generatePassword(): string {
  const sets = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%*+-=?@_'];
  const all = sets.join('');
  const chars = sets.map((s) => s[randomInt(s.length)]!);
  while (chars.length < 20) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
