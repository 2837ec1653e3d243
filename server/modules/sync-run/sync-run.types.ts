import { Field, ID, Int, Float, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { ErrorCode, UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { Node } from '../node/node.types.js';

export enum SyncTrigger {
  MANUAL = 'MANUAL',
  SCHEDULED = 'SCHEDULED',
}
registerEnumType(SyncTrigger, {
  name: 'SyncTrigger',
  description: 'What started a sync run.',
  valuesConfig: { MANUAL: { description: 'An admin pressed Sync.' }, SCHEDULED: { description: 'The sync interval elapsed.' } },
});

export enum SyncRunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  AWAITING_APPROVAL = 'AWAITING_APPROVAL',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(SyncRunStatus, {
  name: 'SyncRunStatus',
  description: 'State of a sync run.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for a worker.' },
    RUNNING: { description: 'Being applied.' },
    AWAITING_APPROVAL: { description: 'Stopped by the removal guard: approve (`approveSyncRun`) or cancel (`cancelSyncRun`) its plan.' },
    COMPLETED: { description: 'Finished; counts are final.' },
    FAILED: { description: 'Stopped by an error; `error` says why. What was applied stays applied; the next run converges.' },
    CANCELLED: { description: 'Cancelled before completing.' },
  },
});

/**
 * The statuses of a run that holds its provisioning: at most one such run per provisioning
 * (the partial unique index `uniq_sync_runs_active` lists the same three; keep them equal).
 */
export const ACTIVE_RUN_STATUSES: readonly SyncRunStatus[] = [SyncRunStatus.QUEUED, SyncRunStatus.RUNNING, SyncRunStatus.AWAITING_APPROVAL];

/** The run has ended for good: nothing more will happen to it, its staging rows can go. */
export const ENDED_RUN_STATUSES: readonly SyncRunStatus[] = [SyncRunStatus.COMPLETED, SyncRunStatus.FAILED, SyncRunStatus.CANCELLED];

/**
 * A progress stream ends here: the ended statuses plus AWAITING_APPROVAL, where the run waits for
 * a person (approval starts a new job; a client subscribes again to follow it).
 */
export const STREAM_END_STATUSES: readonly SyncRunStatus[] = [...ENDED_RUN_STATUSES, SyncRunStatus.AWAITING_APPROVAL];

/** The statuses a run's job may advance (QUEUED only for its first chunk). */
export const WORKABLE_RUN_STATUSES: readonly SyncRunStatus[] = [SyncRunStatus.QUEUED, SyncRunStatus.RUNNING];

export function isRunEnded(status: SyncRunStatus): boolean {
  return ENDED_RUN_STATUSES.includes(status);
}

/** Phases of a run. The GraphQL name stays `SyncPhase` (the published contract). */
export enum SyncRunPhase {
  QUEUED = 'QUEUED',
  PLANNING = 'PLANNING',
  AWAITING_APPROVAL = 'AWAITING_APPROVAL',
  GROUPS = 'GROUPS',
  CLAIM = 'CLAIM',
  CREATE = 'CREATE',
  UPDATE = 'UPDATE',
  REMOVE = 'REMOVE',
  DONE = 'DONE',
}
registerEnumType(SyncRunPhase, {
  name: 'SyncPhase',
  description: 'Where a sync run is. Phases with nothing planned are skipped.',
  valuesConfig: {
    QUEUED: { description: 'Not started yet.' },
    PLANNING: {
      description:
        'Computing the plan: the desired users with their actions, then the removal set. Nothing is written to the MFA directory.',
    },
    AWAITING_APPROVAL: { description: 'Stopped by the removal guard with its plan stored.' },
    GROUPS: { description: 'Creating, claiming, renaming and removing MFA groups.' },
    CLAIM: { description: 'Claiming matching MANUAL users.' },
    CREATE: { description: 'Creating MFA users (and queueing enrolment emails).' },
    UPDATE: { description: 'Updating names, emails, usernames and group memberships.' },
    REMOVE: { description: 'Removing MFA users no longer selected, with their devices.' },
    DONE: { description: 'Finished.' },
  },
});

export enum PlanSource {
  DEPLOYED = 'DEPLOYED',
  DRAFT = 'DRAFT',
  RUN = 'RUN',
}
registerEnumType(PlanSource, {
  name: 'PlanSource',
  description: 'Which configuration a plan was computed from.',
  valuesConfig: {
    DEPLOYED: { description: 'The deployed configuration, now (`previewSync`).' },
    DRAFT: { description: 'The draft, now (`previewSync(draft: true)`, or before the first deploy).' },
    RUN: { description: 'The plan a run computed and applies (`SyncRun.plan`).' },
  },
});

/** The rule of colliding usernames, stated once for the SDL (the code is `collisionLosers` in sync-plan.ts). */
export const COLLISION_RULE =
  'Among selected users whose usernames are equal ignoring case, one gets the username: the one already owning an MFA user of this provisioning, else one claiming a MANUAL MFA user, else the one with the smallest directory-user id; the others that would be created fail with USERNAME_TAKEN (in a preview as in the run).';

/** A per-user error stored in `sync_runs.errors` (ids are raw uuids). */
export interface SyncRunErrorRow {
  directoryUserId: string | null;
  username: string | null;
  code: ErrorCode;
  message: string;
}

@ObjectType({ description: `A per-user failure of a sync run. ${COLLISION_RULE}` })
export class SyncRunError {
  @Field(() => ID, { nullable: true, description: 'Global id of the directory user.' })
  directoryUserId!: string | null;

  @Field(() => String, { nullable: true, description: 'Username.' })
  username!: string | null;

  @Field(() => ErrorCode, { description: 'Machine-readable reason: USERNAME_TAKEN or CLAIM_CONFLICT.' })
  code!: ErrorCode;

  @Field(() => String, { description: 'Explanation.' })
  message!: string;
}

/** A `sync_runs` row as the module sees it: statuses as enums, `approved` a boolean. */
export interface SyncRunRow {
  id: string;
  tenantId: string;
  provisioningId: string;
  deployedVersion: number;
  jobId: string | null;
  /** The frozen configuration (`RunConfig`, sync-plan.ts) once planning started. */
  config: unknown;
  cursor: string | null;
  trigger: SyncTrigger;
  status: SyncRunStatus;
  phase: SyncRunPhase;
  approved: boolean;
  desiredTotal: number;
  staged: number;
  planned: number;
  plannedCreates: number;
  plannedUpdates: number;
  plannedClaims: number;
  plannedRemovals: number;
  plannedDevicesRemoved: number;
  ownedAtPlan: number;
  created: number;
  updated: number;
  removed: number;
  claimed: number;
  skipped: number;
  failed: number;
  devicesRemoved: number;
  /** Null when the row was decoded from a progress event (which leaves the list out). */
  errors: SyncRunErrorRow[] | null;
  error: string | null;
  requestedBy: string | null;
  requestedByTokenId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  plannedAt: Date | null;
  finishedAt: Date | null;
  stagingCleared: boolean;
}

@ObjectType({ implements: Node, description: 'One sync of a provisioning.' })
export class SyncRun {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => ID, { description: 'Global id of the provisioning.' })
  provisioningId!: string;

  @Field(() => Int, { description: 'Deployed configuration version it runs.' })
  deployedVersion!: number;

  @Field(() => SyncTrigger, { description: 'What started it.' })
  trigger!: SyncTrigger;

  @Field(() => SyncRunStatus, { description: 'State.' })
  status!: SyncRunStatus;

  @Field(() => SyncRunPhase, { description: 'Current phase (a failed or cancelled run keeps the phase it stopped in).' })
  phase!: SyncRunPhase;

  @Field(() => Boolean, { description: 'Whether an admin approved this run’s plan after the removal guard stopped it.' })
  approved!: boolean;

  @Field(() => Int, { description: 'Users in the desired set (members of an enabled group), known once planning starts.' })
  desiredUsers!: number;

  @Field(() => Int, { description: 'Desired users planned so far (equals `desiredUsers` once planning is done).' })
  stagedUsers!: number;

  @Field(() => Int, { description: 'Changes planned (creates + updates + claims + removals).' })
  planned!: number;

  @Field(() => Int, { description: 'Creations planned.' })
  plannedCreates!: number;

  @Field(() => Int, { description: 'Updates planned.' })
  plannedUpdates!: number;

  @Field(() => Int, { description: 'Claims planned.' })
  plannedClaims!: number;

  @Field(() => Int, { description: 'Removals planned.' })
  plannedRemovals!: number;

  @Field(() => Int, { description: 'Enrolled devices the planned removals destroy.' })
  plannedDevicesRemoved!: number;

  @Field(() => Int, { description: 'MFA users created.' })
  created!: number;

  @Field(() => Int, { description: 'MFA users updated.' })
  updated!: number;

  @Field(() => Int, { description: 'MFA users removed (with their devices).' })
  removed!: number;

  @Field(() => Int, { description: 'MANUAL users claimed.' })
  claimed!: number;

  @Field(() => Int, { description: 'MANUAL users left alone (include-manual is off).' })
  skipped!: number;

  @Field(() => Int, { description: 'Users that could not be provisioned (see `errors`).' })
  failed!: number;

  @Field(() => Int, { description: 'Enrolled devices destroyed by removals.' })
  devicesRemoved!: number;

  @Field(() => Float, { description: 'Progress 0–100.' })
  percent!: number;

  @Field(() => [SyncRunError], { description: 'Per-user errors (first 1000).' })
  errors!: SyncRunError[];

  @Field(() => String, { nullable: true, description: 'Why the run failed.' })
  error!: string | null;

  @Field(() => Date, { description: 'When it was requested.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When a worker started it.' })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When its plan was complete.' })
  plannedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it ended.' })
  finishedAt!: Date | null;
}

export const SyncRunConnection = ConnectionType(SyncRun, 'SyncRun');

@ObjectType({ description: 'A user a sync would change.' })
export class SyncPlanUser {
  @Field(() => ID, { nullable: true, description: 'Global id of the directory user (null for removals of unlinked users).' })
  directoryUserId!: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the MFA user, when one exists.' })
  mfaUserId!: string | null;

  @Field(() => String, { description: 'Username.' })
  username!: string;

  @Field(() => String, { nullable: true, description: 'Email.' })
  email!: string | null;

  @Field(() => Int, { description: 'Enrolled devices a removal destroys (0 otherwise).' })
  enrolledDevices!: number;
}

@ObjectType({ description: 'What a sync does: counts of every action and the first users of each (lists are capped; counts are totals).' })
export class SyncPlan {
  @Field(() => PlanSource, { description: 'Which configuration it was computed from.' })
  basedOn!: PlanSource;

  @Field(() => Int, { description: 'Deployed configuration version at the time.' })
  deployedVersion!: number;

  @Field(() => Int, { description: 'Users in the desired set (members of at least one enabled group, not disabled).' })
  desiredCount!: number;

  @Field(() => Int, { description: 'MFA users the provisioning owned when the plan was made.' })
  ownedUserCount!: number;

  @Field(() => Int, { description: 'Users to create.' })
  createCount!: number;

  @Field(() => Int, { description: 'Users to update (names, email, username or group memberships).' })
  updateCount!: number;

  @Field(() => Int, { description: 'Owned users already up to date.' })
  keepCount!: number;

  @Field(() => Int, { description: 'MANUAL users to claim.' })
  claimCount!: number;

  @Field(() => Int, { description: 'Matching MANUAL users left alone (include-manual is off).' })
  skipCount!: number;

  @Field(() => Int, {
    description:
      'Users that cannot be provisioned: their username is used by another MFA user, or by another selected user who takes precedence.',
  })
  failCount!: number;

  @Field(() => Int, { description: 'Users to remove.' })
  removeCount!: number;

  @Field(() => Int, { description: 'Enrolled devices the removals destroy.' })
  devicesRemovedCount!: number;

  @Field(() => Int, { description: 'MFA groups to create.' })
  groupCreateCount!: number;

  @Field(() => Int, { description: 'MANUAL MFA groups to claim.' })
  groupClaimCount!: number;

  @Field(() => Int, { description: 'Owned MFA groups to rename after their directory group.' })
  groupRenameCount!: number;

  @Field(() => Int, { description: 'Owned MFA groups to remove (their group was deselected or deleted).' })
  groupRemoveCount!: number;

  @Field(() => Int, { description: 'Enabled groups without an MFA group because the name is used by another MFA group.' })
  groupSkipCount!: number;

  @Field(() => Boolean, { description: 'Whether the removal guard stops (or stopped) this plan for approval.' })
  requiresApproval!: boolean;

  @Field(() => Int, { description: 'How many users each list holds at most (0 when the lists are no longer available).' })
  listLimit!: number;

  @Field(() => [SyncPlanUser], { description: 'Users to create, by username.' })
  toCreate!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'Users to update, by username.' })
  toUpdate!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'MANUAL users to claim, by username.' })
  toClaim!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'MANUAL users to skip, by username.' })
  toSkip!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: `Users that cannot be provisioned (USERNAME_TAKEN), by username. ${COLLISION_RULE}` })
  toFail!: SyncPlanUser[];

  @Field(() => [SyncPlanUser], { description: 'Users to remove with their enrolled-device counts, by username.' })
  toRemove!: SyncPlanUser[];
}

@InputType({ description: 'Identifies a sync run.' })
export class SyncRunIdInput {
  @Field(() => ID, { description: 'The sync run.' })
  runId!: string;
}

@ObjectType({ description: 'Result of a sync-run mutation.' })
export class SyncRunPayload {
  @Field(() => SyncRun, { nullable: true, description: 'The run (for `syncProvisioning`: the new one, or the one already active).' })
  syncRun?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
