import { sql } from 'drizzle-orm';
import { queryRows, type Executor } from '../../shared/db.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';

/**
 * The "last active admin" rule. Any transaction that can reduce the set of active admins
 * (remove from Admins, disable, delete, bulk delete) calls `lockAdmins` first, makes its
 * change, then `assertActiveAdminRemains` before commit. The per-tenant advisory lock
 * serialises such transactions, so two admins removed concurrently cannot both succeed
 * into zero (a plain count-then-write would let them).
 */
export async function lockAdmins(tx: Executor, tenantId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`roster:admins:${tenantId}`}))`);
}

export async function activeAdminCount(tx: Executor, tenantId: string): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    tx,
    sql`select count(*)::int as n from group_memberships m
        join groups g on g.id = m.group_id and g.built_in = 'ADMINS'
        join users u on u.id = m.user_id and u.status = 'ACTIVE'
        where m.tenant_id = ${tenantId}`,
  );
  return rows[0]?.n ?? 0;
}

/** Throws LAST_ADMIN (rolling the transaction back) when the change left no active admin. */
export async function assertActiveAdminRemains(tx: Executor, tenantId: string): Promise<void> {
  if ((await activeAdminCount(tx, tenantId)) === 0) {
    throw DomainError.of(ErrorCode.LAST_ADMIN, 'The tenant must keep at least one active admin.');
  }
}
