import { SCHEDULER_ACTOR } from '../audit/audit.service.js';
import { AuditActorKind, type AuditActor, type AuditEntry } from '../audit/audit.types.js';
import { SyncTrigger, type SyncRunRow } from './sync-run.types.js';

/**
 * The audit events of a sync run's effects: one per MFA user created, updated, claimed or
 * removed (written set-based with each chunk, in its transaction) and a summary when the run
 * ends. All carry the run as their source (`SyncRun.auditEvents`).
 */

/** Who a run acts for: the scheduler, or the admin or API token that asked for it. */
export function runActor(r: SyncRunRow): AuditActor {
  if (r.trigger === SyncTrigger.MANUAL && r.requestedByTokenId)
    return { kind: AuditActorKind.API_TOKEN, id: r.requestedByTokenId, name: null, requestId: null, address: null };
  if (r.trigger !== SyncTrigger.MANUAL || !r.requestedBy) return SCHEDULER_ACTOR;
  return { kind: AuditActorKind.ADMIN, id: r.requestedBy, name: null, requestId: null, address: null };
}

/** Asking for, approving or cancelling a run: the run is the target and its own source. */
export function runRequestEvent(action: string, r: SyncRunRow, provisioningName: string | null): AuditEntry {
  return { action, targetType: 'SyncRun', targetId: r.id, targetName: provisioningName, changes: null, sourceId: r.id };
}

export function mfaUserEvent(
  r: SyncRunRow,
  action: string,
  m: { id: string; username: string },
  changes: AuditEntry['changes'],
): AuditEntry {
  return { action, targetType: 'MfaUser', targetId: m.id, targetName: m.username, changes, sourceId: r.id };
}

/** `{ field: [before, after] }` → the fields that differ, as audit changes. */
export function changedFields(fields: Record<string, [unknown, unknown]>): AuditEntry['changes'] {
  const out: NonNullable<AuditEntry['changes']> = {};
  for (const [f, [before, after]] of Object.entries(fields)) if (before !== after) out[f] = { before, after };
  return out;
}

/** The run's summary: its outcome and counts. */
export function runSummary(r: SyncRunRow): AuditEntry {
  const counts = {
    status: r.status,
    created: r.created,
    updated: r.updated,
    claimed: r.claimed,
    removed: r.removed,
    devicesRemoved: r.devicesRemoved,
    skipped: r.skipped,
    failed: r.failed,
  };
  return {
    action: 'sync.run',
    targetType: 'SyncRun',
    targetId: r.id,
    targetName: r.trigger,
    changes: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, { before: null, after: v }])),
    sourceId: r.id,
  };
}
