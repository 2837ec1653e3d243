import { SyncRunPhase, SyncRunStatus } from './sync-run.types.js';

/**
 * The planning rules of a sync, pure: no SQL, no I/O. The store fetches the rows these need;
 * the service, the job and the preview decide with these, so a rule exists once.
 */

// Key ranges ---------------------------------------------------------------------------------

/**
 * A slice of the uuid key space: `[lo, hi)`, or `[lo, ∞)` for the last one. Chunks walk key
 * ranges rather than "the next N keys after a cursor": ids are random (v4), so `k` equal
 * ranges hold about `total / k` rows each, and a range condition is an index range whatever
 * the planner's statistics say (after a bulk load they lag, and a LIMIT-after-cursor plan
 * can turn into sorting everything that follows the cursor, once per chunk). Keys must stay
 * random: with time-ordered (version 7) ids, every user of one upload shares its first 32 bits
 * and a whole upload would be one slice, one chunk (tried, and reverted for this).
 */
export interface KeyRange {
  lo: string;
  hi: string | null;
}

/** Size of the key space chunks walk: the first 32 bits of a uuid. */
export const KEY_SPACE = 2 ** 32;

/** The keys whose first 32 bits are in `[from, from + width)`. */
export function keySpan(from: number, width: number): KeyRange {
  const at = (j: number) => `${j.toString(16).padStart(8, '0')}-0000-0000-0000-000000000000`;
  return { lo: at(from), hi: from + width >= KEY_SPACE ? null : at(from + width) };
}

/** Range `i` of `k` equal slices of the key space. */
export function keySlice(i: number, k: number): KeyRange {
  const from = Math.floor((i * KEY_SPACE) / k);
  return keySpan(from, Math.floor(((i + 1) * KEY_SPACE) / k) - from);
}

/** How many ranges give about `chunk` rows each for `total` rows. */
export function rangeCount(total: number, chunk: number): number {
  return Math.max(1, Math.min(2 ** 20, Math.ceil(total / chunk)));
}

// Actions and lists --------------------------------------------------------------------------

/** Actions a plan gives a desired directory user. */
export enum PlanAction {
  CREATE = 'CREATE',
  UPDATE = 'UPDATE',
  KEEP = 'KEEP',
  CLAIM = 'CLAIM',
  SKIP = 'SKIP',
  FAIL = 'FAIL',
}

/** A user of a plan list (desired users by `userId`, removals by `mfaUserId`). */
export interface PlanListRow {
  userId: string | null;
  mfaUserId: string | null;
  username: string;
  email: string | null;
  devices: number;
}

/** The order of plan lists (code-point order of the lower-cased username, then id), as `collate "C"` sorts. */
export function planOrder(key: 'userId' | 'mfaUserId') {
  return (a: PlanListRow, b: PlanListRow): number => {
    const x = a.username.toLowerCase();
    const y = b.username.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
    const i = a[key] ?? '';
    const j = b[key] ?? '';
    return i < j ? -1 : i > j ? 1 : 0;
  };
}

/** Merges one key range's first rows of a list into the running first `limit` rows. */
export function mergeList(
  so_far: readonly PlanListRow[] | undefined,
  rows: readonly PlanListRow[],
  key: 'userId' | 'mfaUserId',
  limit: number,
): PlanListRow[] {
  return [...(so_far ?? []), ...rows].sort(planOrder(key)).slice(0, limit);
}

// Username collisions among the desired users (defect 7) ----------------------------------

/** A selected user whose lower-cased username another selected user shares, with the action classification gave it. */
export interface CollisionCandidate {
  userId: string;
  /** The username as PostgreSQL lower-cases it (the grouping key). */
  key: string;
  action: PlanAction;
}

/** Who may hold a contested username: owned users first, then claims, then creates; others do not take it. */
function precedence(a: PlanAction): number | null {
  if (a === PlanAction.UPDATE || a === PlanAction.KEEP) return 0;
  if (a === PlanAction.CLAIM) return 1;
  if (a === PlanAction.CREATE) return 2;
  return null;
}

/**
 * The selected users that would be created but lose their username to another selected user
 * (they FAIL with USERNAME_TAKEN). Among users with the same key, the holder is the one already
 * owning an MFA user of this provisioning, else one claiming a MANUAL MFA user, else the one
 * with the smallest directory-user id. Decided over the whole desired set (not per chunk), so
 * the preview and every chunking of a run agree, and deterministic (no dependence on order).
 */
export function collisionLosers(candidates: readonly CollisionCandidate[]): Set<string> {
  const byKey = new Map<string, CollisionCandidate[]>();
  for (const c of candidates) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c]);
  const losers = new Set<string>();
  for (const group of byKey.values()) {
    let holder: CollisionCandidate | null = null;
    for (const c of group) {
      const p = precedence(c.action);
      if (p === null) continue;
      const h = holder ? precedence(holder.action)! : Infinity;
      if (p < h || (p === h && c.userId < holder!.userId)) holder = c;
    }
    for (const c of group) if (c.action === PlanAction.CREATE && c !== holder) losers.add(c.userId);
  }
  return losers;
}

// Groups --------------------------------------------------------------------------------------

export interface GroupPlan {
  /** Enabled directory groups that exist in the associated directories. */
  groupIds: string[];
  /** Enabled groups that will have an owned MFA group. */
  targetGroupIds: string[];
  creates: number;
  claims: number;
  renames: number;
  removes: number;
  skips: number;
}

/**
 * Which MFA groups the plan keeps, creates, claims, renames or removes, given the enabled
 * directory groups (id order) and the MFA groups that are owned or hold one of their names.
 * Groups are few, so this is decided once and stored with the run; the GROUPS phase applies it.
 */
export function groupPlan(
  enabled: readonly { id: string; name: string }[],
  mfa: readonly { id: string; provisioningId: string | null; directoryGroupId: string | null; name: string }[],
  o: { provisioningId: string; includeManual: boolean },
): GroupPlan {
  const enabledIds = new Set(enabled.map((g) => g.id));
  const owned = mfa.filter((g) => g.provisioningId === o.provisioningId);
  const ownedByDirGroup = new Map(owned.filter((g) => g.directoryGroupId).map((g) => [g.directoryGroupId!, g]));
  const removed = owned.filter((g) => !g.directoryGroupId || !enabledIds.has(g.directoryGroupId));
  const removedIds = new Set(removed.map((g) => g.id));
  // Names held after the GROUPS phase by groups it does not remove.
  const held = new Map<string, string>();
  for (const g of mfa) if (!removedIds.has(g.id)) held.set(g.name.toLowerCase(), g.id);
  const targets: string[] = [];
  let creates = 0;
  let claims = 0;
  let renames = 0;
  let skips = 0;
  for (const g of enabled) {
    const mine = ownedByDirGroup.get(g.id);
    if (!mine) continue;
    targets.push(g.id);
    const holder = held.get(g.name.toLowerCase());
    if (mine.name !== g.name && (!holder || holder === mine.id)) {
      held.delete(mine.name.toLowerCase());
      held.set(g.name.toLowerCase(), mine.id);
      renames++;
    }
  }
  for (const g of enabled) {
    if (ownedByDirGroup.has(g.id)) continue;
    const key = g.name.toLowerCase();
    const holderId = held.get(key);
    if (!holderId) {
      targets.push(g.id);
      held.set(key, `new:${g.id}`);
      creates++;
      continue;
    }
    // A MANUAL group of that name is claimed when asked; any other holder (an owned group,
    // or a group this plan creates or claims for another directory) makes it a skip.
    const holder = mfa.find((m) => m.id === holderId);
    if (holder && holder.provisioningId === null && o.includeManual) {
      targets.push(g.id);
      held.set(key, `claimed:${g.id}`);
      claims++;
    } else {
      skips++;
    }
  }
  return { groupIds: enabled.map((g) => g.id), targetGroupIds: targets.sort(), creates, claims, renames, removes: removed.length, skips };
}

// The run -------------------------------------------------------------------------------------

/** The deployed configuration a run plans and applies, resolved and frozen when it starts planning. */
export interface RunConfig {
  deployedVersion: number;
  directoryIds: string[];
  groupIds: string[];
  targetGroupIds: string[];
  sendEnrollmentEmails: boolean;
  includeManual: boolean;
  removalGuardMaxUsers: number;
  removalGuardMaxPercent: number;
  groups: Omit<GroupPlan, 'groupIds' | 'targetGroupIds'>;
  /** Slices of the key space holding about one chunk of desired users each. */
  ranges: number;
  /** Slices holding about one chunk of owned MFA users each (the REMOVE phase's), fixed when the desired set is planned. */
  ownedRanges?: number;
  /**
   * Removals are planned with the desired users of each key range (their owned users by
   * directory-user id), then the owned users whose directory user is gone. Unset in runs
   * planned before: they walk the owned users by their own ids after the desired set.
   */
  removalsWithUsers?: boolean;
}

export function guardTrips(
  removals: number,
  owned: number,
  cfg: { removalGuardMaxUsers: number; removalGuardMaxPercent: number },
): boolean {
  if (removals === 0) return false;
  return removals > cfg.removalGuardMaxUsers || (owned > 0 && (removals * 100) / owned > cfg.removalGuardMaxPercent);
}

type ProgressFields = 'status' | 'phase' | 'staged' | 'desiredTotal' | 'planned' | 'created' | 'updated' | 'removed' | 'claimed';

/** Progress 0–100: planning is the first 10 %, applying the plan the rest. */
export function percentOf(r: {
  [K in ProgressFields]: K extends 'status' ? SyncRunStatus : K extends 'phase' ? SyncRunPhase : number;
}): number {
  if (r.status === SyncRunStatus.COMPLETED) return 100;
  if (r.phase === SyncRunPhase.QUEUED) return 0;
  if (r.phase === SyncRunPhase.PLANNING) return r.desiredTotal > 0 ? Math.round(10 * Math.min(1, r.staged / r.desiredTotal) * 10) / 10 : 0;
  if (r.phase === SyncRunPhase.AWAITING_APPROVAL || !r.planned) return 10;
  const done = r.created + r.updated + r.removed + r.claimed;
  return Math.min(99, Math.round((10 + (90 * done) / r.planned) * 10) / 10);
}

/** Apply phases in order, with the planned count that makes each worth visiting. */
const APPLY_PHASES: { phase: SyncRunPhase; planned: (r: PlannedCounts) => number }[] = [
  { phase: SyncRunPhase.GROUPS, planned: () => 1 },
  { phase: SyncRunPhase.CLAIM, planned: (r) => r.plannedClaims },
  { phase: SyncRunPhase.CREATE, planned: (r) => r.plannedCreates },
  { phase: SyncRunPhase.UPDATE, planned: (r) => r.plannedUpdates },
  { phase: SyncRunPhase.REMOVE, planned: (r) => r.plannedRemovals },
];

type PlannedCounts = { plannedClaims: number; plannedCreates: number; plannedUpdates: number; plannedRemovals: number };

/** The apply phase after `after` with something planned, or null when the run is done. */
export function nextApplyPhase(after: SyncRunPhase, r: PlannedCounts): SyncRunPhase | null {
  const i = APPLY_PHASES.findIndex((p) => p.phase === after);
  return APPLY_PHASES.slice(i + 1).find((p) => p.planned(r) > 0)?.phase ?? null;
}

/** Whether a uuid (lower-case text) lies in a key range: the same comparison PostgreSQL makes on uuids. */
export function inKeyRange(id: string, r: KeyRange): boolean {
  return id >= r.lo && (r.hi === null || id < r.hi);
}
