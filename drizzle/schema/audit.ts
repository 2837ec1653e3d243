import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './tenant.js';

/**
 * The audit trail: one row per change, written in the transaction of the change. `seq` orders
 * events (newest first in the API) and is the keyset cursor. Ids of actors and targets carry
 * no foreign key: the record must outlive the user, token or group it names (their display
 * name is copied for that reason). `changes` holds `{ field: [before, after] }` with secrets
 * already redacted.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** ADMIN, API_TOKEN, SCHEDULER, END_USER, SYSTEM. */
    actorKind: text('actor_kind').notNull(),
    actorId: uuid('actor_id'),
    actorName: text('actor_name'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: uuid('target_id'),
    targetName: text('target_name'),
    changes: jsonb('changes'),
    /** The sync run or bulk operation whose work this is (SyncRun.auditEvents). */
    sourceId: uuid('source_id'),
    requestId: text('request_id'),
    clientAddress: text('client_address'),
  },
  (t) => [
    index('idx_audit_events_tenant_seq').on(t.tenantId, t.seq),
    index('idx_audit_events_target').on(t.tenantId, t.targetId, t.seq),
    index('idx_audit_events_actor').on(t.tenantId, t.actorId, t.seq),
    index('idx_audit_events_source').on(t.sourceId, t.seq),
    // BRIN: events arrive in time order, so block ranges summarise `at` well; retention purges
    // and time ranges use it, and it costs next to nothing per insert (a sync writes 100k).
    index('idx_audit_events_at').using('brin', t.at),
  ],
);
