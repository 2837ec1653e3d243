import { randomUUID } from 'node:crypto';
import type { Viewer } from '../../shared/viewer.js';
import type { Db } from '../../shared/db.js';
import type { AuditService } from '../audit/audit.service.js';
import { DomainError, ErrorCode } from '../../shared/errors.js';
import { toGlobalId } from '../../shared/ids.js';
import { integerKey, keysetPage } from '../../shared/pagination.js';
import { liveProgress } from '../../shared/progress.js';
import type { JobQueue } from '../../shared/jobs/queue.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { SecretBox } from '../../shared/secret-key.js';
import type { GroupService } from '../group/group.service.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { UserService } from '../user/user.service.js';
import type { ListInput } from './bulk-list.js';
import { bulkEvent } from './bulk-operation.events.js';
import { BULK_QUEUE, type BulkOperationJob } from './bulk-operation.job.js';
import type { BulkOperationStore } from './bulk-operation.store.js';
import { TERMINAL_STATUSES, type BulkItemRow, type BulkOperationRow } from './bulk-operation.types.js';
import type { UploadInput } from './bulk-upload.js';
import { CsvFileError, MAX_ROWS, scanUserCsv } from './csv.js';
import { openUpload, sealUpload, UNREADABLE_UPLOAD } from './upload-seal.js';

/**
 * The API commands of bulk operations: create the four kinds (each a row plus its job, in one
 * transaction), cancel, read, results and live progress. The work itself is the job's
 * (`bulk-operation.job.ts`).
 */
/** A bulk operation as an audit target (and source: its item events carry it too). */
function opTarget(op: BulkOperationRow) {
  return { type: 'BulkOperation', id: op.id, name: op.kind };
}

export class BulkOperationService {
  constructor(
    private readonly db: Db,
    private readonly store: BulkOperationStore,
    private readonly users: UserService,
    private readonly groups: GroupService,
    private readonly job: BulkOperationJob,
    private readonly jobs: JobQueue,
    private readonly pubsub: PubSub,
    private readonly secretBox: SecretBox,
    private readonly mfa: MfaService,
    private readonly audit: AuditService,
  ) {}

  private async create(viewer: Viewer, kind: string, input: unknown, total: number): Promise<BulkOperationRow> {
    const op = await this.db.transaction(async (tx) => {
      const created = await this.store.insert(
        { tenantId: viewer.tenantId, kind, input, total, actorUserId: viewer.userId, actorTokenId: viewer.apiToken?.id ?? null },
        tx,
      );
      // The start itself (each item is audited as the job applies it).
      await this.audit.change(tx, viewer, 'bulk.start', opTarget(created), { total: { before: null, after: total } }, created.id);
      await this.jobs.enqueue({ queue: BULK_QUEUE, tenantId: viewer.tenantId, payload: { operationId: created.id }, maxAttempts: 3 }, tx);
      await this.job.publishOnCommit(tx, created);
      return created;
    });
    return op;
  }

  private listInput(userIds: string[], decode: (id: string) => string | null): ListInput {
    if (!userIds.length) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give at least one user.', ['input', 'userIds']);
    if (userIds.length > MAX_ROWS)
      throw DomainError.of(ErrorCode.INVALID_INPUT, `At most ${MAX_ROWS} users per operation.`, ['input', 'userIds']);
    return { ids: userIds.map((id, i) => [i + 1, id, decode(id)]) };
  }

  deleteUsers(viewer: Viewer, userIds: string[], decode: (id: string) => string | null) {
    const input = this.listInput(userIds, decode);
    return this.create(viewer, 'DELETE_USERS', input, input.ids.length);
  }

  reinviteUsers(viewer: Viewer, userIds: string[], decode: (id: string) => string | null) {
    const input = this.listInput(userIds, decode);
    return this.create(viewer, 'REINVITE_USERS', input, input.ids.length);
  }

  /**
   * Enrolment emails for MFA users, by id list or by filter (the matching users at the time of
   * the call: at most MAX_ROWS).
   */
  async sendMfaEnrollment(
    viewer: Viewer,
    input: { mfaUserIds?: string[] | null; filter?: { status?: string; provisioningId?: string } | null },
    decode: (id: string) => string | null,
    encode: (id: string) => string,
  ) {
    if (!!input.mfaUserIds === !!input.filter)
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give either `mfaUserIds` or `filter`.', ['input']);
    const ids = input.mfaUserIds ?? (await this.mfa.idsMatching(viewer.tenantId, input.filter ?? {}, MAX_ROWS)).map(encode);
    if (!ids.length) throw DomainError.of(ErrorCode.INVALID_INPUT, 'No MFA user matches.', ['input']);
    const list = this.listInput(ids, decode);
    return this.create(viewer, 'SEND_MFA_ENROLLMENT', list, list.ids.length);
  }

  async addUsersToGroups(viewer: Viewer, userIds: string[], groupIds: (string | null)[], decode: (id: string) => string | null) {
    const input = this.listInput(userIds, decode);
    const ids = [...new Set(groupIds)];
    if (!ids.length || ids.length > 100) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give 1 to 100 groups.', ['input', 'groupIds']);
    const found = ids.every((g) => g) ? await this.groups.byIds(viewer.tenantId, ids as string[]) : [];
    if (found.length !== ids.length)
      throw DomainError.of(ErrorCode.NOT_FOUND, 'Every group must exist in this tenant.', ['input', 'groupIds']);
    return this.create(viewer, 'ADD_USERS_TO_GROUPS', { ...input, groupIds: ids }, input.ids.length);
  }

  async upload(
    viewer: Viewer,
    input: {
      uploadId?: string | null;
      csv?: string | null;
      directoryId?: string | null;
      sendInvites?: boolean | null;
      createMissingGroups?: boolean | null;
      onExisting?: string | null;
      validateOnly?: boolean | null;
    },
  ): Promise<BulkOperationRow> {
    let uploadId = input.uploadId ?? null;
    let bytes: Buffer;
    if (input.csv != null) {
      if (Buffer.byteLength(input.csv) > 1024 * 1024)
        throw DomainError.of(ErrorCode.INVALID_INPUT, 'Inline CSV is limited to 1 MB: use POST /uploads.', ['input', 'csv']);
      if (input.csv.includes('\u0000'))
        throw DomainError.of(ErrorCode.INVALID_INPUT, 'The file looks binary (it contains NUL characters); send UTF-8 CSV text.', [
          'input',
          'csv',
        ]);
      bytes = Buffer.from(input.csv, 'utf8');
    } else if (uploadId) {
      const u = await this.store.upload(viewer.tenantId, uploadId);
      if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such upload.', ['input', 'uploadId']);
      const opened = openUpload(this.secretBox, u.id, u.content);
      if (opened === null) throw DomainError.of(ErrorCode.INVALID_STATE, UNREADABLE_UPLOAD, ['input', 'uploadId']);
      bytes = opened;
    } else {
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give `uploadId` or `csv`.', ['input']);
    }
    // Counted and checked for structure only: the rows are parsed again, chunk by chunk, by the job.
    let count: number;
    try {
      ({ count } = await scanUserCsv(bytes));
    } catch (err) {
      if (err instanceof CsvFileError)
        throw DomainError.of(ErrorCode.INVALID_INPUT, err.message, ['input', input.csv != null ? 'csv' : 'uploadId']);
      throw err;
    }
    // The directory as the create-user rule sees it (NOT_FOUND when it is not this tenant's).
    const dir = await this.users.newUserContext(viewer.tenantId, input.directoryId);
    if (!dir.cloud && input.sendInvites)
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Only Cloud Directory users can be invited.', ['input', 'sendInvites']);
    if (uploadId === null) {
      uploadId = await this.storeUpload(viewer, bytes, null);
    }
    const options: UploadInput = {
      uploadId,
      directoryId: dir.directoryId,
      cloud: dir.cloud,
      sendInvites: input.sendInvites ?? false,
      createMissingGroups: input.createMissingGroups ?? false,
      onExisting: (input.onExisting as UploadInput['onExisting']) ?? 'FAIL',
      validateOnly: input.validateOnly ?? false,
    };
    return this.create(viewer, 'UPLOAD_USERS', options, count);
  }

  /**
   * Stores a file streamed to POST /uploads (the route has checked size, encoding and that it
   * is text) or given inline, sealed with the server key: the plaintext never reaches the database.
   */
  async storeUpload(viewer: { tenantId: string; userId: string | null }, bytes: Buffer, filename: string | null): Promise<string> {
    const id = randomUUID();
    const content = sealUpload(this.secretBox, id, bytes);
    return this.store.insertUpload({ id, tenantId: viewer.tenantId, createdBy: viewer.userId, filename, size: bytes.length, content });
  }

  /** Hourly housekeeping: uploads older than a day that no active operation reads (they hold passwords). */
  async purgeUploads(olderThanHours = 24): Promise<void> {
    await this.store.deleteUploads({ olderThanHours });
  }

  async get(viewer: Viewer, id: string): Promise<BulkOperationRow | null> {
    const [op] = await this.store.byIds(viewer.tenantId, [id]);
    return op ?? null;
  }

  /** A page of per-item outcomes in input order (the caller has authorised the operation). */
  results(operationId: string, args: { first?: number | null; after?: string | null; outcome: string | null }) {
    return keysetPage(args, {
      // A row number within `integer` (9007199254740993 failed the comparison in SQL).
      key: integerKey,
      fetch: (limit, afterSeq) => this.store.items(operationId, args.outcome, limit, afterSeq ?? 0),
      cursorOf: (r) => [r.seq],
      count: () => this.store.itemCount(operationId, args.outcome),
      map: (r) => ({ ...r, row: r.seq, userId: r.userId ? toGlobalId('User', r.userId) : null }),
    });
  }

  /** Outcomes after `afterSeq`, for the results download. */
  resultItems(operationId: string, afterSeq: number, limit: number): Promise<BulkItemRow[]> {
    return this.store.items(operationId, null, limit, afterSeq);
  }

  /** The operation's state now, then its progress events until it ends; null when not in this tenant. */
  async progress(viewer: Viewer, id: string) {
    const op = await this.get(viewer, id);
    if (!op) return null;
    return liveProgress({
      pubsub: this.pubsub,
      kind: 'bulkOperation',
      id: op.id,
      current: async () => bulkEvent((await this.store.byId(op.id))!),
      isTerminal: (e) => TERMINAL_STATUSES.has(e.status),
    });
  }

  async cancel(viewer: Viewer, id: string): Promise<BulkOperationRow> {
    const [op] = await this.store.byIds(viewer.tenantId, [id]);
    if (!op) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such bulk operation.', ['input', 'id']);
    if (TERMINAL_STATUSES.has(op.status))
      throw DomainError.of(ErrorCode.INVALID_STATE, 'The operation has already ended.', ['input', 'id']);
    return this.db.transaction(async (tx) => {
      const row = await this.store.transition(op.id, ['QUEUED', 'RUNNING'], { status: 'CANCELLED', finishedAt: new Date() }, tx);
      if (!row) throw DomainError.of(ErrorCode.INVALID_STATE, 'The operation has already ended.', ['input', 'id']);
      await this.audit.change(tx, viewer, 'bulk.cancel', opTarget(row), { status: { before: op.status, after: row.status } }, row.id);
      await this.job.publishOnCommit(tx, row);
      return row;
    });
  }
}
