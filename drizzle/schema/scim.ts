import { index, integer, pgTable, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { provisionings } from './mfa.js';
import { tenants } from './tenant.js';

/**
 * Bearer tokens of SCIM provisionings: only the SHA-256 is stored. A rotation inserts the new
 * token and gives the older ones an `expires_at` (the grace period), so an identity provider
 * keeps working until its configuration is updated. The row also holds the token's rate
 * window (requests counted per minute in the database, so every replica shares the count).
 */
export const scimTokens = pgTable(
  'scim_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provisioningId: uuid('provisioning_id')
      .notNull()
      .references(() => provisionings.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    /** Null while current; set by a rotation to the end of the old token's grace period. */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    rateWindowStart: timestamp('rate_window_start', { withTimezone: true }),
    rateCount: integer('rate_count').notNull().default(0),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('uniq_scim_tokens_hash').on(t.tokenHash), index('idx_scim_tokens_provisioning').on(t.provisioningId)],
);

/**
 * What the identity provider did: one row per SCIM write and per refused request (reads that
 * succeed are not recorded: Okta reads before every write). Purged after 30 days.
 */
export const scimActivity = pgTable(
  'scim_activity',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provisioningId: uuid('provisioning_id')
      .notNull()
      .references(() => provisionings.id, { onDelete: 'cascade' }),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    method: text('method').notNull(),
    /** The path below the base URL, e.g. `Users/<id>` (no query string: filters can hold personal data). */
    resource: text('resource').notNull(),
    status: integer('status').notNull(),
    /** `created`, `updated`, `deleted`, or the SCIM error's scimType/detail. */
    result: text('result').notNull(),
  },
  (t) => [index('idx_scim_activity_provisioning').on(t.provisioningId, t.at, t.id), index('idx_scim_activity_at').on(t.at)],
);
