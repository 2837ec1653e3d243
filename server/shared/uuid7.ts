import { randomFillSync } from 'node:crypto';

/**
 * Time-ordered UUIDs (RFC 9562, version 7) for users, the rows written in bulk. A random
 * (version 4) key puts each new row at a random place in every index keyed by it: the users
 * primary key and both indexes of `group_memberships` (whose key starts or ends with the user
 * id). Ids that grow with time are appended at the right edge of those indexes instead, which
 * touches a few hot pages per batch rather than one page per row: a 1,000-row upload chunk's
 * users and memberships inserts took 34 ms with random ids and 27 ms with these (PostgreSQL 15,
 * 100k users, docs/benchmarks.md).
 *
 * Layout: 48 bits of Unix milliseconds, the version, a 12-bit counter (method 1 of RFC 9562
 * §6.2: ids made in the same millisecond by this process stay in order), the variant, 62
 * random bits. Ids are not secrets (every read is tenant-scoped); what a time-ordered id tells
 * is when the user was created, which `createdAt` says anyway.
 */
const pool = Buffer.alloc(8 * 512);
let poolAt = pool.length;
let lastMs = 0;
let counter = 0;

export function uuidV7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    // A random start leaves most of the counter for the ids that follow in this millisecond.
    counter = randomByte() << 2;
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next one, so the order still holds.
    lastMs++;
    counter = 0;
  }
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const ms = lastMs.toString(16).padStart(12, '0');
  const rand = pool.toString('hex', poolAt, poolAt + 8);
  poolAt += 8;
  // Variant 10xx in the top bits of the 9th byte.
  const variant = ((parseInt(rand.slice(0, 1), 16) & 0x3) | 0x8).toString(16);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${counter.toString(16).padStart(3, '0')}-${variant}${rand.slice(1, 4)}-${rand.slice(4, 16)}`;
}

function randomByte(): number {
  if (poolAt + 1 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]!;
}
