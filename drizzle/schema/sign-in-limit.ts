import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/**
 * Failed credential checks (sign-in, account-setup and enrolment tokens), counted in the
 * database so every replica sees the same counts and locks. One row per account (tenant and
 * email, or token hash) and one per client address; `key` is the SHA-256 of scope and subject,
 * so no email or address is stored in clear and any input is a valid key.
 */
export const signInLimits = pgTable(
  'sign_in_limits',
  {
    key: text('key').primaryKey(),
    /** `account` or `address`. */
    scope: text('scope').notNull(),
    /** The account's tenant (null for addresses and unknown tenants): lets a tenant's data go with it. */
    tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    failures: integer('failures').notNull(),
    lastFailureAt: timestamp('last_failure_at', { withTimezone: true }).notNull(),
    /** Attempts before this time are refused without checking the credential. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
  },
  (t) => [index('idx_sign_in_limits_last_failure').on(t.lastFailureAt)],
);
