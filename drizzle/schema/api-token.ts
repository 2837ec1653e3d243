import { index, pgTable, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/**
 * Scoped API tokens for services. Only the SHA-256 of each secret is stored. A rotation moves
 * the current hash to `previous_token_hash`, which keeps working until `previous_expires_at`
 * (the grace period), so a service can roll its secret without downtime.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** `ApiScope` values (`directory:read`, …). */
    scopes: text('scopes').array().notNull(),
    tokenHash: text('token_hash').notNull(),
    previousTokenHash: text('previous_token_hash'),
    previousExpiresAt: timestamp('previous_expires_at', { withTimezone: true }),
    /** No foreign key: a token outlives the admin who created it (it belongs to a service). */
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
    /** Written at most once a minute per token, so a busy service does not write on every request. */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    lastUsedAddress: text('last_used_address'),
  },
  (t) => [
    uniqueIndex('uniq_api_tokens_token_hash').on(t.tokenHash),
    uniqueIndex('uniq_api_tokens_previous_token_hash').on(t.previousTokenHash),
    index('idx_api_tokens_tenant_created').on(t.tenantId, t.createdAt),
  ],
);
