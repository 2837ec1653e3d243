import type { MfaService } from '../mfa/mfa.service.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, isConnectionError, safeMessage } from '../../shared/errors.js';
import { ChunkedRunner, type ChunkedWork } from '../../shared/jobs/chunked-run.js';
import { PermanentJobError, type JobContext, type JobQueue } from '../../shared/jobs/queue.js';
import type { Logger } from '../../shared/logger.js';
import type { PubSub } from '../../shared/pubsub.js';
import type { SecretBox } from '../../shared/secret-key.js';
import type { GroupService } from '../group/group.service.js';
import type { InvitationService } from '../invitation/invitation.service.js';
import type { UserService } from '../user/user.service.js';
import { BulkList, LIST_CHUNK, nextIds, type ListInput } from './bulk-list.js';
import { bulkEvent } from './bulk-operation.events.js';
import type { BulkOperationStore } from './bulk-operation.store.js';
import { BulkOperationStatus, TERMINAL_STATUSES, type BulkOperationRow } from './bulk-operation.types.js';
import type { AuditService } from '../audit/audit.service.js';
import { AuditActorKind } from '../audit/audit.types.js';
import { BulkUpload, indexFile, type Item, type UploadChunk, type UploadInput } from './bulk-upload.js';
import { openUpload, UNREADABLE_UPLOAD } from './upload-seal.js';

export const BULK_QUEUE = 'bulk.run';

/** Kept here too: tests and callers knew it from this module. */

/** The run the engine advances: the locked operation row and its checkpoint (the highest recorded seq). */
interface Run {
  op: BulkOperationRow;
  after: number;
  /** Users the chunk just committed deleted (their sessions went with them): announced after the commit. */
  deletedUserIds?: string[];
}

export interface BulkJobDeps {
  db: Db;
  store: BulkOperationStore;
  users: UserService;
  groups: GroupService;
  invitations: InvitationService;
  mfa: MfaService;
  jobs: JobQueue;
  pubsub: PubSub;
  log: Logger;
  sharesOneConnection: boolean;
  /** Opens the sealed uploads. */
  secretBox: SecretBox;
  audit: AuditService;
}

/** The last row a chunk covers: its checkpoint once it commits (`after` for an empty chunk). */
function chunkEnd(chunk: UploadChunk): number {
  return chunk.rows.length ? chunk.rows[chunk.rows.length - 1]!.row : chunk.after;
}

/**
 * The background job of every bulk operation, on the shared chunk engine
 * (`shared/jobs/chunked-run.ts`): each chunk locks the operation row (`FOR UPDATE`), stops
 * when it is no longer RUNNING (a cancel takes the same lock), applies the chunk through the
 * user and group services and records its outcomes and counters in the same transaction, so a
 * resumed job continues after the last committed item and never applies one twice. The chunk
 * that records the last item also completes the operation.
 */
export class BulkOperationJob {
  private readonly runner: ChunkedRunner;
  private readonly list: BulkList;

  constructor(private readonly d: BulkJobDeps) {
    // Chunks stay at their nominal size unless slow (maxPace 1): a nominal upload chunk takes
    // a few hundred ms, and smaller ones only cost throughput. On PGlite the engine yields to
    // queued requests before each chunk; the pause after it is left out (pauseFraction 0)
    // because uploads plan and hash between chunks, outside any transaction, which already
    // leaves the connection to requests, and the pause cost a quarter of upload throughput.
    this.runner = new ChunkedRunner(d.db, d.log, {
      sharesOneConnection: d.sharesOneConnection,
      targetMs: 1000,
      maxPace: 1,
      pauseFraction: 0,
    });
    this.list = new BulkList(d.users, d.groups, d.invitations, d.mfa);
  }

  register(): void {
    // One at a time per process: hashing and chunk transactions should not starve requests.
    this.d.jobs.register(BULK_QUEUE, (ctx) => this.execute(ctx), 1);
  }

  async publish(op: BulkOperationRow | null): Promise<void> {
    if (op) await this.d.pubsub.publish('bulkOperation', op.id, bulkEvent(op));
  }

  /**
   * `publish` when, and only if, `tx` commits (a NOTIFY in the transaction of the change): for
   * mutations, which must not answer with an error for a change that was made because a
   * publish after the commit failed.
   */
  publishOnCommit(tx: Executor, op: BulkOperationRow): Promise<void> {
    return this.d.pubsub.publishOnCommit(tx, 'bulkOperation', op.id, bulkEvent(op));
  }

  /**
   * Uploads hold passwords (sealed, but still), so they do not linger: the run that writes an upload
   * deletes it when it ends (a validateOnly run keeps it for the real run that follows), and
   * housekeeping deletes any upload older than a day that no active operation still needs.
   */
  private async releaseUpload(op: BulkOperationRow): Promise<void> {
    const o = op.input as Partial<UploadInput>;
    if (op.kind !== 'UPLOAD_USERS' || o.validateOnly || !o.uploadId) return;
    await this.d.store.deleteUploads({ tenantId: op.tenantId, id: o.uploadId });
  }

  private async execute({ job, signal }: JobContext): Promise<void> {
    const { operationId } = job.payload as { operationId: string };
    const op = await this.d.store.byId(operationId);
    if (!op) return;
    if (TERMINAL_STATUSES.has(op.status)) return this.releaseUpload(op);
    const started = await this.d.store.transition(op.id, ['QUEUED', 'RUNNING'], {
      status: 'RUNNING',
      startedAt: op.startedAt ?? new Date(),
      error: null,
    });
    if (!started) return this.releaseUpload(op); // cancelled in the meantime
    try {
      // Another worker may hold the same operation after a lease lapsed: chunks take turns on
      // the row lock and each reads the checkpoint under it, so no row is applied twice.
      const { work, cursor } = started.kind === 'UPLOAD_USERS' ? await this.uploadWork(started) : this.listWork(started);
      await this.runner.run<Run, UploadChunk | undefined>({ op: started, after: cursor(started.processed) }, work, signal);
      await this.releaseUpload(op);
    } catch (err) {
      // Shutdown, a lost lease or a dropped database connection: the job is resumed from the
      // checkpoint (the queue re-runs it), so the operation is not failed for it.
      if (signal.aborted || isConnectionError(err)) throw err;
      const message = safeMessage(err);
      if (job.attempts >= job.maxAttempts || err instanceof PermanentJobError) {
        await this.publish(
          await this.d.store.transition(operationId, ['RUNNING'], { status: 'FAILED', error: message, finishedAt: new Date() }),
        );
        await this.releaseUpload(op);
      }
      // A fresh error for the queue's log: the original may carry the failed query's parameters.
      throw err instanceof PermanentJobError ? err : new Error(message);
    }
  }

  /**
   * What every kind shares: the row lock with the checkpoint, progress, and recording a chunk.
   * The checkpoint is derived from `processed`, which moves with the recorded outcomes in the
   * same transaction (one per item, items in order): `cursor(processed)` is the last recorded seq.
   */
  private work(
    opId: string,
    cursor: (processed: number) => number,
    step: ChunkedWork<Run, UploadChunk | undefined>['step'],
    prepare?: ChunkedWork<Run, UploadChunk | undefined>['prepare'],
    ahead?: ChunkedWork<Run, UploadChunk | undefined>['ahead'],
  ): ChunkedWork<Run, UploadChunk | undefined> {
    return {
      lock: async (tx) => {
        const op = await this.d.store.lock(opId, tx);
        return op ? { op, after: cursor(op.processed) } : null;
      },
      isActive: (run) => run.op.status === BulkOperationStatus.RUNNING,
      prepare,
      ahead,
      step,
      publish: (run) => this.publish(run.op),
      committed: async (run) => {
        if (run.deletedUserIds?.length) await this.d.users.announceDeleted(run.op.tenantId, run.deletedUserIds);
      },
    };
  }

  /**
   * Records a chunk's outcomes in `tx` and, when nothing is left, completes the operation there
   * too. Each item that changed something gets its audit event in the statement that records
   * it (`bulk.<kind>`, e.g. `bulk.upload_users`); a `validateOnly` upload wrote nothing and is
   * not audited.
   */
  private async commit(tx: Executor, run: Run, items: Item[], lastSeq: number, done: boolean): Promise<Run> {
    const op = run.op;
    const validateOnly = (op.input as { validateOnly?: boolean } | null)?.validateOnly === true;
    const audit = validateOnly
      ? null
      : this.d.audit.inStatement(
          op.tenantId,
          // Bulk operations are started through the API only: by an admin or an API token.
          {
            kind: op.actorUserId ? AuditActorKind.ADMIN : AuditActorKind.API_TOKEN,
            id: op.actorUserId ?? op.actorTokenId,
            name: null,
            requestId: null,
            address: null,
          },
        );
    let next = (await this.d.store.record(op.id, items, tx, audit && { ...audit, action: `bulk.${op.kind.toLowerCase()}` })) ?? op;
    if (done) next = (await this.d.store.transition(next.id, ['RUNNING'], { status: 'COMPLETED', finishedAt: new Date() }, tx)) ?? next;
    return { op: next, after: Math.max(run.after, lastSeq) };
  }

  private listWork(op: BulkOperationRow): { work: ChunkedWork<Run, UploadChunk | undefined>; cursor: (processed: number) => number } {
    const input = op.input as ListInput;
    // Positions are 1…n: after n processed items, the cursor is n.
    const cursor = (processed: number) => processed;
    const work = this.work(op.id, cursor, async (tx, run, _prepared, pace) => {
      const chunk = nextIds(input, run.after, Math.max(10, Math.round(LIST_CHUNK * pace)));
      const items = chunk.length ? await this.list.apply(tx, run.op.kind, run.op.tenantId, input, chunk, run.op.actorUserId) : [];
      const last = chunk.length ? chunk[chunk.length - 1]![0] : run.after;
      const next = await this.commit(tx, run, items, last, last >= input.ids.length);
      if (run.op.kind !== 'DELETE_USERS') return next;
      return { ...next, deletedUserIds: [...new Set(items.filter((i) => i.outcome === 'SUCCEEDED' && i.userId).map((i) => i.userId!))] };
    });
    return { work, cursor };
  }

  private async uploadWork(
    op: BulkOperationRow,
  ): Promise<{ work: ChunkedWork<Run, UploadChunk | undefined>; cursor: (processed: number) => number }> {
    const o = op.input as UploadInput;
    const upload = await this.d.store.upload(op.tenantId, o.uploadId);
    if (!upload)
      throw new PermanentJobError(
        'The uploaded file is no longer available (uploads are deleted after use or after 24 hours); upload it again.',
      );
    const bytes = openUpload(this.d.secretBox, upload.id, upload.content);
    if (bytes === null) throw new PermanentJobError(UNREADABLE_UPLOAD);
    // Offsets and per-row marks only: each chunk parses its own rows when it is planned.
    const file = await indexFile(bytes);
    let ctx;
    try {
      ctx = await this.d.users.newUserContext(op.tenantId, o.directoryId);
    } catch (err) {
      if (err instanceof DomainError) throw new PermanentJobError(err.message);
      throw err;
    }
    const upl = new BulkUpload(this.d.users, this.d.groups, this.d.invitations, o, ctx, file);
    const lines = file.csv.lines;
    const lastRow = lines[lines.length - 1]!;
    // Every row gets one outcome, chunks are consecutive rows: n outcomes end at the n-th row's line.
    const cursor = (processed: number) => (processed === 0 ? 0 : lines[Math.min(processed, lines.length) - 1]!);
    const work = this.work(
      op.id,
      cursor,
      async (tx, run, prepared) => {
        // Planned from an older checkpoint (another worker advanced it meanwhile): plan again.
        if (!prepared || prepared.after !== run.after) return run;
        const items = await upl.apply(tx, prepared, run.op.actorUserId);
        const last = chunkEnd(prepared);
        return this.commit(tx, run, items, last, last >= lastRow);
      },
      // Outside the transaction: validation reads and password hashing.
      (run, pace) => upl.plan(run.after, pace),
      // The next chunk is planned while this one is written. Its reads may miss what this one
      // writes, as any plan's may miss a concurrent change: the file's own duplicates are
      // marked when it is scanned, and the writes re-check (ON CONFLICT, groups created once).
      {
        prepare: (prepared, pace) => upl.plan(chunkEnd(prepared!), pace),
        follows: (prepared, run) => prepared !== undefined && prepared.after === run.after,
      },
    );
    return { work, cursor };
  }
}
