import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ErrorCode, UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { MfaUserStatus } from '../mfa/mfa.types.js';
import { Node } from '../node/node.types.js';

export enum BulkOperationKind {
  DELETE_USERS = 'DELETE_USERS',
  REINVITE_USERS = 'REINVITE_USERS',
  ADD_USERS_TO_GROUPS = 'ADD_USERS_TO_GROUPS',
  UPLOAD_USERS = 'UPLOAD_USERS',
  SEND_MFA_ENROLLMENT = 'SEND_MFA_ENROLLMENT',
}
registerEnumType(BulkOperationKind, {
  name: 'BulkOperationKind',
  description: 'What a bulk operation does.',
  valuesConfig: {
    DELETE_USERS: { description: 'Deletes users.' },
    REINVITE_USERS: { description: 'New invitation for users not yet active; password reset for active ones.' },
    ADD_USERS_TO_GROUPS: { description: 'Adds every user to every group.' },
    UPLOAD_USERS: { description: 'Creates (or updates) users from a CSV file.' },
    SEND_MFA_ENROLLMENT: {
      description: 'Emails MFA users a new enrolment link (voiding unused ones); results name the MFA user in `reference`.',
    },
  },
});

export enum BulkOperationStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(BulkOperationStatus, {
  name: 'BulkOperationStatus',
  description: 'State of a bulk operation.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for a worker.' },
    RUNNING: { description: 'Being processed.' },
    COMPLETED: { description: 'Every item has an outcome (some may have failed).' },
    FAILED: { description: 'Stopped by an error; `error` says why. Items done stay done.' },
    CANCELLED: { description: 'Cancelled; items done stay done, none is half-done.' },
  },
});

/** The statuses an operation never leaves: defined once, used by cancel, the job and progress. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<BulkOperationStatus>([
  BulkOperationStatus.COMPLETED,
  BulkOperationStatus.FAILED,
  BulkOperationStatus.CANCELLED,
]);

export enum BulkItemOutcome {
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}
registerEnumType(BulkItemOutcome, {
  name: 'BulkItemOutcome',
  description: 'Outcome of one row or item.',
  valuesConfig: {
    SUCCEEDED: { description: 'Applied (or, with validateOnly, would be applied).' },
    FAILED: { description: 'Not applied; nothing of it was written. See the error.' },
    SKIPPED: { description: 'Left alone on purpose (onExisting: SKIP).' },
  },
});

export enum OnExisting {
  FAIL = 'FAIL',
  SKIP = 'SKIP',
  UPDATE = 'UPDATE',
}
registerEnumType(OnExisting, {
  name: 'OnExisting',
  description: 'What a CSV row does when its email already exists in the directory.',
  valuesConfig: {
    FAIL: { description: 'The row fails with EMAIL_TAKEN (default).' },
    SKIP: { description: 'The row is skipped.' },
    UPDATE: { description: 'Names are updated and the listed groups added.' },
  },
});

@ObjectType({ description: 'The outcome of one item of a bulk operation.' })
export class BulkOperationResult {
  @Field(() => Int, {
    description:
      'CSV line number on which the record starts (uploads; header and empty lines count) or 1-based position in the input list.',
  })
  row!: number;

  @Field(() => ID, { nullable: true, description: 'Global id of the user, when known.' })
  userId!: string | null;

  @Field(() => String, { nullable: true, description: 'The id as given, for items that did not resolve to a user.' })
  reference!: string | null;

  @Field(() => String, { nullable: true, description: 'Email of the row or user.' })
  email!: string | null;

  @Field(() => BulkItemOutcome, { description: 'Outcome.' })
  outcome!: BulkItemOutcome;

  @Field(() => ErrorCode, {
    nullable: true,
    description:
      'Why the item failed; null unless FAILED. A row with several problems reports the first (checked in this order: the row shape, the user fields, duplicate or existing email, groups, then the password) and its `message` lists every problem; a password failing several policy rules reports the first failed rule (PASSWORD_TOO_SHORT before PASSWORD_MATCHES_IDENTITY, PASSWORD_MISSING_UPPERCASE, _LOWERCASE, _DIGIT, _SPECIAL, PASSWORD_TOO_COMMON) and the message names every failed rule.',
  })
  errorCode!: ErrorCode | null;

  @Field(() => String, { nullable: true, description: 'Explanation.' })
  message!: string | null;
}

export const BulkOperationResultConnection = ConnectionType(BulkOperationResult, 'BulkOperationResult');

@ObjectType({ implements: Node, description: 'A tracked background bulk operation.' })
export class BulkOperation {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => BulkOperationKind, { description: 'Kind.' })
  kind!: BulkOperationKind;

  @Field(() => BulkOperationStatus, { description: 'State.' })
  status!: BulkOperationStatus;

  @Field(() => Int, { description: 'Items in the operation.' })
  total!: number;

  @Field(() => Int, { description: 'Items with an outcome so far.' })
  processed!: number;

  @Field(() => Int, { description: 'Items that succeeded.' })
  succeeded!: number;

  @Field(() => Int, { description: 'Items that failed.' })
  failed!: number;

  @Field(() => Int, { description: 'Items skipped.' })
  skipped!: number;

  @Field(() => Boolean, { description: 'Uploads: whether this was a dry run (nothing written).' })
  validateOnly!: boolean;

  @Field(() => String, { nullable: true, description: 'Why the operation failed.' })
  error!: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the admin who started it.' })
  actorUserId!: string | null;

  @Field(() => String, { description: 'Path of the results as CSV (GET with the same bearer token).' })
  resultsCsvPath!: string;

  @Field(() => Date, { description: 'When it was requested.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When a worker started it.' })
  startedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it ended.' })
  finishedAt!: Date | null;
}

export interface BulkOperationRow {
  id: string;
  tenantId: string;
  kind: string;
  status: string;
  input: unknown;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  skipped: number;
  actorUserId: string | null;
  actorTokenId: string | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface BulkItemRow {
  operationId: string;
  seq: number;
  userId: string | null;
  reference: string | null;
  email: string | null;
  outcome: string;
  errorCode: ErrorCode | null;
  message: string | null;
}

@InputType({ description: 'Users for a bulk operation.' })
export class BulkUsersInput {
  @Field(() => [ID], { description: 'Users (at most 100,000).' })
  userIds!: string[];
}

@InputType({ description: 'Users and groups for `bulkAddUsersToGroups`.' })
export class BulkAddUsersToGroupsInput {
  @Field(() => [ID], { description: 'Users (at most 100,000).' })
  userIds!: string[];

  @Field(() => [ID], { description: 'Groups (at most 100); each user joins those of its directory.' })
  groupIds!: string[];
}

@InputType({ description: 'A CSV upload: `email, first_name, last_name, password, "group1, group2"` per row.' })
export class BulkUploadUsersInput {
  @Field(() => ID, {
    nullable: true,
    description:
      'An id returned by `POST /uploads` (the file streamed there). The file holds passwords, so it is deleted when an operation that writes it ends (a validateOnly run keeps it for the real run) or after 24 hours.',
  })
  uploadId?: string;

  @Field(() => String, { nullable: true, description: 'The CSV inline, for small files (at most 1 MB).' })
  csv?: string;

  @Field(() => ID, { nullable: true, description: 'Target directory; default: the Cloud Directory.' })
  directoryId?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Rows without a password become INVITED users and get an invitation. Default false.',
  })
  sendInvites?: boolean;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Create groups that do not exist (default false: an unknown group fails the row with NOT_FOUND). Names follow the rules of `createGroup` (a name it would refuse fails the row with INVALID_INPUT); a name spelled in several ways (ignoring case) is created once, under its first spelling in the file.',
  })
  createMissingGroups?: boolean;

  @Field(() => OnExisting, { nullable: true, description: 'What a row with an existing email does (default FAIL).' })
  onExisting?: OnExisting;

  @Field(() => Boolean, { nullable: true, description: 'Report every row’s outcome without writing anything.' })
  validateOnly?: boolean;
}

@InputType({ description: 'Identifies a bulk operation.' })
export class BulkOperationIdInput {
  @Field(() => ID, { description: 'The operation.' })
  id!: string;
}

@ObjectType({ description: 'Result of starting or cancelling a bulk operation.' })
export class BulkOperationPayload {
  @Field(() => BulkOperation, { nullable: true, description: 'The operation (follow it with `bulkOperationProgress`).' })
  bulkOperation?: unknown;

  @Field(() => [UserError], {
    description: 'Whole-request failures (bad file, limits, unknown groups); per-item outcomes are in `results`.',
  })
  errors!: UserError[];
}

@InputType({ description: 'Which MFA users a bulk enrolment email goes to (the matching users when the operation is created).' })
export class BulkMfaEnrollmentFilterInput {
  @Field(() => MfaUserStatus, { nullable: true, description: 'Only users in this state, e.g. UNENROLLED.' })
  status?: MfaUserStatus;

  @Field(() => ID, { nullable: true, description: 'Only users owned by this provisioning.' })
  provisioningId?: string;
}

@InputType({ description: 'MFA users to email an enrolment link: exactly one of `mfaUserIds` and `filter`.' })
export class BulkSendMfaEnrollmentInput {
  @Field(() => [ID], { nullable: true, description: 'MFA users (global ids), at most 100,000.' })
  mfaUserIds?: string[];

  @Field(() => BulkMfaEnrollmentFilterInput, { nullable: true, description: 'Or: every MFA user matching this filter.' })
  filter?: BulkMfaEnrollmentFilterInput;
}
