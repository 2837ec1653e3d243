import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp, uuid, uniqueIndex, boolean } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/** A tenant's user store: its one CLOUD directory plus imported external ones. */
export const directories = pgTable(
  'directories',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    description: text('description'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('uniq_directories_tenant_name').on(t.tenantId, sql`lower(${t.name})`),
    // The key of users' (directory, tenant) foreign key (drizzle/schema/user.ts).
    uniqueIndex('uniq_directories_id_tenant').on(t.id, t.tenantId),
    // Exactly one cloud directory per tenant, enforced by the database.
    uniqueIndex('uniq_directories_tenant_cloud')
      .on(t.tenantId)
      .where(sql`${t.kind} = 'CLOUD'`),
  ],
);

/** Where users sign in; its name appears in invitation links. */
export const identityProviders = pgTable(
  'identity_providers',
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
    isDefault: boolean('is_default').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('uniq_identity_providers_tenant_name').on(t.tenantId, sql`lower(${t.name})`),
    uniqueIndex('uniq_identity_providers_tenant_default')
      .on(t.tenantId)
      .where(sql`${t.isDefault}`),
    index('idx_identity_providers_directory').on(t.directoryId),
  ],
);
