import { index, pgTable, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';
import { identityProviders } from './directory.js';
import { users } from './user.js';

/**
 * Single-use account links (invitations and password resets). Only the SHA-256 of the token
 * is stored. State is derived: accepted_at → ACCEPTED, revoked_at → REVOKED, past
 * expires_at → EXPIRED, else PENDING.
 */
export const invitations = pgTable(
  'invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    identityProviderId: uuid('identity_provider_id').references(() => identityProviders.id, { onDelete: 'set null' }),
    /** INVITATION | PASSWORD_RESET */
    kind: text('kind').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdBy: uuid('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('uniq_invitations_token_hash').on(t.tokenHash), index('idx_invitations_user').on(t.userId, t.createdAt)],
);
