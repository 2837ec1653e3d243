import { bigint, index, json, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The audit trail: one row per change, written in the transaction of the change. `seq` is the
 * key (the global id is `AuditEvent:<seq>`), orders events (newest first in the API) and is the
 * keyset cursor. Ids of actors and targets carry no foreign key: the record must outlive the
 * user, token or group it names (their display name is copied for that reason). `changes`
 * holds `{ field: [before, after] }` with secrets already redacted.
 *
 * A sync or an upload writes one event per user, so each insert's cost counts (issue 13's
 * budget is 25 % of the work audited): there is no random uuid key (its B-tree insert lands
 * on a random page per row) and no foreign key to tenants (a per-row trigger and row lock;
 * tenant ids come only from the viewer, and tenants are never deleted). Measured on 100k
 * rows in one INSERT … SELECT: 2.2–2.4 s with both, 1.2–1.5 s without. `changes` is `json`,
 * not `jsonb`: it is written once and only ever read whole, so the binary form's conversion on
 * every insert buys nothing (with the narrower target index, a further 15–25 % per insert).
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** ADMIN, API_TOKEN, SCHEDULER, END_USER, SYSTEM. */
    actorKind: text('actor_kind').notNull(),
    actorId: uuid('actor_id'),
    actorName: text('actor_name'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: uuid('target_id'),
    targetName: text('target_name'),
    changes: json('changes'),
    /** The sync run or bulk operation whose work this is (SyncRun.auditEvents). */
    sourceId: uuid('source_id'),
    requestId: text('request_id'),
    clientAddress: text('client_address'),
  },
  (t) => [
    index('idx_audit_events_tenant_seq').on(t.tenantId, t.seq),
    // Target ids are uuids (unique across tenants) with few events each: the id alone finds them
    // (reads still filter by tenant), and a 16-byte key lands on fewer random pages than (tenant, id, seq).
    index('idx_audit_events_target').on(t.targetId),
    index('idx_audit_events_actor').on(t.tenantId, t.actorId, t.seq),
    index('idx_audit_events_source').on(t.sourceId, t.seq),
    // BRIN: events arrive in time order, so block ranges summarise `at` well; retention purges
    // and time ranges use it, and it costs next to nothing per insert (a sync writes 100k).
    index('idx_audit_events_at').using('brin', t.at),
  ],
);
