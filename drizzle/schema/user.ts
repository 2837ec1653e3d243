import { sql } from 'drizzle-orm';
import { foreignKey, index, pgTable, primaryKey, text, timestamp, uuid, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';
import { directories, identityProviders } from './directory.js';

/** A person in a directory. `password_hash` is argon2id and never selected by default. */
export const users = pgTable(
  'users',
  {
    // Random (version 4) on purpose: sync chunks are slices of this key space (sync-plan.ts).
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull(),
    directoryId: uuid('directory_id').notNull(),
    // Stored trimmed and lower-cased, so equality and prefix search use the plain index.
    email: text('email'),
    username: text('username'),
    firstName: text('first_name').notNull().default(''),
    lastName: text('last_name').notNull().default(''),
    status: text('status').notNull(),
    passwordHash: text('password_hash'),
    identityProviderId: uuid('identity_provider_id').references(() => identityProviders.id, {
      onDelete: 'set null',
    }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    lastInvitedAt: timestamp('last_invited_at', { withTimezone: true }),
    activatedAt: timestamp('activated_at', { withTimezone: true }),
    /** Last successful sign-in, admin API or end-user portal. */
    lastSignInAt: timestamp('last_sign_in_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('uniq_users_directory_email').on(t.directoryId, sql`lower(${t.email})`),
    // The login id: unique per directory ignoring case (migration 0008 renamed earlier duplicates).
    uniqueIndex('uniq_users_directory_username').on(t.directoryId, sql`lower(${t.username})`),
    index('idx_users_tenant_created').on(t.tenantId, t.createdAt, t.id),
    // One key for both: the directory exists and belongs to the user's tenant. The database
    // checks each foreign key once per inserted row, and two keys (tenant, directory) were two
    // checks per user of an upload; this one also rules out a user whose tenant is not its
    // directory's. Deleting a tenant still deletes its users (through its directories).
    foreignKey({
      name: 'users_directory_tenant_fk',
      columns: [t.directoryId, t.tenantId],
      foreignColumns: [directories.id, directories.tenantId],
    }).onDelete('cascade'),
  ],
);

/** A named set of users inside one directory. `built_in` is USERS or ADMINS for the two system groups. */
export const groups = pgTable(
  'groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    directoryId: uuid('directory_id')
      .notNull()
      .references(() => directories.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    builtIn: text('built_in'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('uniq_groups_directory_name').on(t.directoryId, sql`lower(${t.name})`),
    uniqueIndex('uniq_groups_directory_builtin')
      .on(t.directoryId, t.builtIn)
      .where(sql`${t.builtIn} is not null`),
    index('idx_groups_tenant').on(t.tenantId),
    // The key of memberships' (group, tenant) foreign key.
    uniqueIndex('uniq_groups_id_tenant').on(t.id, t.tenantId),
  ],
);

/** Group membership. The tenant id is repeated so every scoped query filters on one column. */
export const groupMemberships = pgTable(
  'group_memberships',
  {
    groupId: uuid('group_id').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tenantId: uuid('tenant_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'group_memberships_pkey', columns: [t.groupId, t.userId] }),
    index('idx_group_memberships_user').on(t.userId),
    // The group and the membership's tenant in one key, as users' (directory, tenant) above:
    // one check per membership row instead of two, and no membership in another tenant's group.
    foreignKey({
      name: 'group_memberships_group_tenant_fk',
      columns: [t.groupId, t.tenantId],
      foreignColumns: [groups.id, groups.tenantId],
    }).onDelete('cascade'),
  ],
);

/**
 * Login ids renamed by migration 0008, which made usernames unique per directory ignoring case:
 * the oldest holder of a duplicated username kept it, later ones got `<username>~<first 8 hex
 * digits of their id>`. Kept for operators and administrators to review; nothing reads it.
 */
export const usernameRenames = pgTable('username_renames', {
  userId: uuid('user_id').primaryKey(),
  tenantId: uuid('tenant_id').notNull(),
  directoryId: uuid('directory_id').notNull(),
  oldUsername: text('old_username').notNull(),
  newUsername: text('new_username').notNull(),
  renamedAt: timestamp('renamed_at', { withTimezone: true }).notNull().defaultNow(),
});
