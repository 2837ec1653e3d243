import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { groups, users } from '../../../drizzle/schema/index.js';
import type { Viewer } from '../../shared/viewer.js';
import { queryRows, type Db, type Executor } from '../../shared/db.js';
import { isValidEmail, normalizeEmail } from '../../shared/email.js';
import { badUserInput, DomainError, ErrorCode } from '../../shared/errors.js';
import { toGlobalId } from '../../shared/ids.js';
import { keysetPage } from '../../shared/pagination.js';
import { liveProgress } from '../../shared/progress.js';
import { PermanentJobError, type JobContext, type JobQueue } from '../../shared/jobs/queue.js';
import { checkPasswordPolicy } from '../../shared/password-policy.js';
import { hashPassword } from '../../shared/passwords.js';
import type { PubSub } from '../../shared/pubsub.js';
import { MAX_NAME_LENGTH } from '../../shared/validation.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import { activeAdminCount, assertActiveAdminRemains, lockAdmins } from '../group/admin-guard.js';
import type { InvitationService } from '../invitation/invitation.service.js';
import { CsvFileError, MAX_ROWS, parseUserCsv, type CsvRow } from './csv.js';
import type { BulkOperationStore } from './bulk-operation.store.js';
import type { BulkItemRow, BulkOperationRow } from './bulk-operation.types.js';

export const BULK_QUEUE = 'bulk.run';
const CHUNK = 500;
/** Upload rows per transaction, at most. */
const UPLOAD_CHUNK = 1000;
/**
 * Password rows per chunk and hashing thread: a chunk ends after about a second of hashing,
 * so counters (and progress events) move at least that often even in all-password files.
 */
const PASSWORDS_PER_HASHER = 24;
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

type Item = Omit<BulkItemRow, 'operationId'>;
interface ListInput {
  /** [position, given id, uuid or null when it did not decode] */
  ids: [number, string, string | null][];
  groupIds?: string[];
}
interface UploadInput {
  uploadId: string;
  directoryId: string;
  /** External directories (AD, LDAP) never store passwords and have no invitations. */
  cloud?: boolean;
  sendInvites: boolean;
  createMissingGroups: boolean;
  onExisting: 'FAIL' | 'SKIP' | 'UPDATE';
  validateOnly: boolean;
}

/**
 * argon2 runs on libuv's thread pool (UV_THREADPOOL_SIZE, 4 unless the operator raised it).
 * Bulk hashing uses up to one hash per core but always leaves at least one pool thread free,
 * so a sign-in's verify never queues behind a whole chunk of bulk hashes.
 */
export function bulkHashConcurrency(cores = availableParallelism(), poolSize = 4): number {
  return Math.max(1, Math.min(cores, poolSize - 1));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Consecutive rows, cut at UPLOAD_CHUNK rows or `maxPasswords` rows to hash, whichever comes first. */
function* uploadChunks(rows: CsvRow[], maxPasswords: number): Generator<CsvRow[]> {
  let cur: CsvRow[] = [];
  let passwords = 0;
  for (const r of rows) {
    cur.push(r);
    if (r.password) passwords++;
    if (cur.length >= UPLOAD_CHUNK || passwords >= maxPasswords) {
      yield cur;
      cur = [];
      passwords = 0;
    }
  }
  if (cur.length) yield cur;
}

/**
 * An error's message without query parameters: a failed chunk statement carries emails and
 * password hashes as parameters, and drizzle puts them in its message ("Failed query: …
 * params: …"). This text is stored as the operation's `error` and logged, so only the
 * database's own message (e.g. "deadlock detected") is kept.
 */
export function safeMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  if (msg.startsWith('Failed query:')) return `Database error: ${e.cause?.message ?? 'the statement failed'}`;
  return msg;
}

export function bulkEvent(op: BulkOperationRow) {
  const { input: _input, ...rest } = op;
  return { ...rest, validateOnly: (op.input as { validateOnly?: boolean }).validateOnly === true };
}

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `bulkOperation:<id>`: the operation's counters and status after each chunk. */
    bulkOperation: ReturnType<typeof bulkEvent>;
  }
}

/**
 * Bulk operations: one job model for all four kinds. Items are processed in chunks; each
 * chunk's effects, its per-item outcomes and the counters commit together, so a resumed job
 * continues after the last committed item and never applies one twice.
 */
export class BulkOperationService {
  constructor(
    private readonly db: Db,
    private readonly store: BulkOperationStore,
    private readonly directories: DirectoryStore,
    private readonly invitations: InvitationService,
    private readonly jobs: JobQueue,
    private readonly pubsub: PubSub,
  ) {}

  register(): void {
    // One at a time per process: hashing and chunk transactions should not starve requests.
    this.jobs.register(BULK_QUEUE, (ctx) => this.execute(ctx), 1);
  }

  private async publish(op: BulkOperationRow | null): Promise<void> {
    if (op) await this.pubsub.publish('bulkOperation', op.id, bulkEvent(op));
  }

  private async create(viewer: Viewer, kind: string, input: unknown, total: number): Promise<BulkOperationRow> {
    const op = await this.db.transaction(async (tx) => {
      const created = await this.store.insert({ tenantId: viewer.tenantId, kind, input, total, actorUserId: viewer.userId }, tx);
      await this.jobs.enqueue({ queue: BULK_QUEUE, tenantId: viewer.tenantId, payload: { operationId: created.id }, maxAttempts: 3 }, tx);
      return created;
    });
    await this.publish(op);
    return op;
  }

  private listInput(userIds: string[], decode: (id: string) => string | null): ListInput {
    if (!userIds.length) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give at least one user.', ['input', 'userIds']);
    if (userIds.length > MAX_ROWS) throw DomainError.of(ErrorCode.INVALID_INPUT, `At most ${MAX_ROWS} users per operation.`, ['input', 'userIds']);
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

  async addUsersToGroups(viewer: Viewer, userIds: string[], groupIds: (string | null)[], decode: (id: string) => string | null) {
    const input = this.listInput(userIds, decode);
    const ids = [...new Set(groupIds)];
    if (!ids.length || ids.length > 100) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give 1 to 100 groups.', ['input', 'groupIds']);
    const found = ids.every((g) => g) ? await this.db.select({ id: groups.id }).from(groups).where(and(eq(groups.tenantId, viewer.tenantId), inArray(groups.id, ids as string[]))) : [];
    if (found.length !== ids.length) throw DomainError.of(ErrorCode.NOT_FOUND, 'Every group must exist in this tenant.', ['input', 'groupIds']);
    return this.create(viewer, 'ADD_USERS_TO_GROUPS', { ...input, groupIds: ids }, input.ids.length);
  }

  async upload(
    viewer: Viewer,
    input: { uploadId?: string | null; csv?: string | null; directoryId?: string | null; sendInvites?: boolean | null; createMissingGroups?: boolean | null; onExisting?: string | null; validateOnly?: boolean | null },
  ): Promise<BulkOperationRow> {
    let uploadId = input.uploadId ?? null;
    let text: string;
    if (input.csv != null) {
      if (Buffer.byteLength(input.csv) > 1024 * 1024) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Inline CSV is limited to 1 MB: use POST /uploads.', ['input', 'csv']);
      if (input.csv.includes('\u0000')) throw DomainError.of(ErrorCode.INVALID_INPUT, 'The file looks binary (it contains NUL characters); send UTF-8 CSV text.', ['input', 'csv']);
      text = input.csv;
    } else if (uploadId) {
      const u = await this.store.upload(viewer.tenantId, uploadId);
      if (!u) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such upload.', ['input', 'uploadId']);
      text = u.content;
    } else {
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Give `uploadId` or `csv`.', ['input']);
    }
    let rows: CsvRow[];
    try {
      rows = await parseUserCsv(text);
    } catch (err) {
      if (err instanceof CsvFileError) throw DomainError.of(ErrorCode.INVALID_INPUT, err.message, ['input', input.csv != null ? 'csv' : 'uploadId']);
      throw err;
    }
    const dir = input.directoryId ? (await this.directories.byIds(viewer.tenantId, [input.directoryId]))[0] : await this.directories.cloud(viewer.tenantId);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    if (dir.kind !== 'CLOUD' && input.sendInvites) throw DomainError.of(ErrorCode.INVALID_INPUT, 'Only Cloud Directory users can be invited.', ['input', 'sendInvites']);
    if (uploadId === null) {
      uploadId = await this.store.insertUpload({ tenantId: viewer.tenantId, createdBy: viewer.userId, filename: null, size: Buffer.byteLength(text), content: text });
    }
    const options: UploadInput = {
      uploadId,
      directoryId: dir.id,
      cloud: dir.kind === 'CLOUD',
      sendInvites: input.sendInvites ?? false,
      createMissingGroups: input.createMissingGroups ?? false,
      onExisting: (input.onExisting as UploadInput['onExisting']) ?? 'FAIL',
      validateOnly: input.validateOnly ?? false,
    };
    return this.create(viewer, 'UPLOAD_USERS', options, rows.length);
  }

  /** Stores a file streamed to POST /uploads (the route has checked size, encoding and that it is text). */
  async storeUpload(viewer: { tenantId: string; userId: string }, text: string, size: number, filename: string | null): Promise<string> {
    return this.store.insertUpload({ tenantId: viewer.tenantId, createdBy: viewer.userId, filename, size, content: text });
  }

  /**
   * Uploads hold plaintext passwords, so they do not linger: the run that writes an upload
   * deletes it when it ends (a validateOnly run keeps it for the real run that follows), and
   * housekeeping deletes any upload older than a day that no active operation still needs.
   */
  private async releaseUpload(op: BulkOperationRow): Promise<void> {
    const o = op.input as Partial<UploadInput>;
    if (op.kind !== 'UPLOAD_USERS' || o.validateOnly || !o.uploadId) return;
    await this.store.deleteUploads({ tenantId: op.tenantId, id: o.uploadId });
  }

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
      key: (c) => {
        const seq = c[0];
        if (c.length !== 1 || typeof seq !== 'number' || !Number.isInteger(seq)) throw badUserInput('Invalid cursor: pass an endCursor returned by this connection.', 'after');
        return seq;
      },
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
      isTerminal: (e) => TERMINAL.has(e.status),
    });
  }

  async cancel(viewer: Viewer, id: string): Promise<BulkOperationRow> {
    const [op] = await this.store.byIds(viewer.tenantId, [id]);
    if (!op) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such bulk operation.', ['input', 'id']);
    if (TERMINAL.has(op.status)) throw DomainError.of(ErrorCode.INVALID_STATE, 'The operation has already ended.', ['input', 'id']);
    const updated = await this.store.transition(op.id, ['QUEUED', 'RUNNING'], { status: 'CANCELLED', finishedAt: new Date() });
    if (!updated) throw DomainError.of(ErrorCode.INVALID_STATE, 'The operation has already ended.', ['input', 'id']);
    await this.publish(updated);
    return updated;
  }

  // ---- execution ----

  private async execute({ job, signal }: JobContext): Promise<void> {
    const { operationId } = job.payload as { operationId: string };
    let op = await this.store.byId(operationId);
    if (!op) return;
    if (TERMINAL.has(op.status)) return this.releaseUpload(op);
    const started = await this.store.transition(op.id, ['QUEUED', 'RUNNING'], { status: 'RUNNING', startedAt: op.startedAt ?? new Date(), error: null });
    if (!started) return this.releaseUpload(op); // cancelled in the meantime
    op = started;
    let latest = op;
    const ticker = setInterval(() => void this.publish(latest), 500);
    const proceed = async () => {
      // Let requests queued behind this job's transactions go first (PGlite has one connection).
      await new Promise((resolve) => setTimeout(resolve, 1));
      const cur = await this.store.byId(operationId);
      if (!cur || cur.status === 'CANCELLED') return false;
      latest = cur;
      if (signal.aborted) throw new Error('interrupted');
      return true;
    };
    const afterChunk = async () => {
      latest = (await this.store.byId(operationId))!;
      await this.publish(latest);
    };
    try {
      const done = op.kind === 'UPLOAD_USERS' ? await this.runUpload(op, proceed, afterChunk) : await this.runList(op, proceed, afterChunk);
      if (!done) {
        await this.publish(await this.store.byId(operationId));
        await this.releaseUpload(op);
        return;
      }
      latest = (await this.store.transition(operationId, ['RUNNING'], { status: 'COMPLETED', finishedAt: new Date() })) ?? (await this.store.byId(operationId))!;
      await this.publish(latest);
      await this.releaseUpload(op);
    } catch (err) {
      if (signal.aborted) throw err;
      const message = safeMessage(err);
      if (job.attempts >= job.maxAttempts || err instanceof PermanentJobError) {
        latest = (await this.store.transition(operationId, ['RUNNING'], { status: 'FAILED', error: message, finishedAt: new Date() })) ?? latest;
        await this.publish(latest);
        await this.releaseUpload(op);
      }
      // A fresh error for the queue's log: the original may carry the failed query's parameters.
      throw err instanceof PermanentJobError ? err : new Error(message);
    } finally {
      clearInterval(ticker);
    }
  }

  private async runList(op: BulkOperationRow, proceed: () => Promise<boolean>, afterChunk: () => Promise<void>): Promise<boolean> {
    const input = op.input as ListInput;
    const from = await this.store.maxSeq(op.id);
    const todo = input.ids.filter(([seq]) => seq > from);
    for (let i = 0; i < todo.length; i += CHUNK) {
      if (!(await proceed())) return false;
      const chunk = todo.slice(i, i + CHUNK);
      await this.db.transaction(async (tx) => {
        const items =
          op.kind === 'DELETE_USERS'
            ? await this.deleteChunk(tx, op, chunk)
            : op.kind === 'REINVITE_USERS'
              ? await this.reinviteChunk(tx, op, chunk)
              : await this.addChunk(tx, op, chunk, input.groupIds ?? []);
        await this.store.record(op.id, items, tx);
      });
      await afterChunk();
    }
    return true;
  }

  private async usersOf(tx: Executor, tenantId: string, ids: string[]) {
    if (!ids.length) return new Map<string, { id: string; email: string | null; status: string; directoryId: string }>();
    const rows = await tx
      .select({ id: users.id, email: users.email, status: users.status, directoryId: users.directoryId })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), inArray(users.id, ids)));
    return new Map(rows.map((r) => [r.id, r]));
  }

  private notFound(seq: number, given: string): Item {
    return { seq, userId: null, reference: given, email: null, outcome: 'FAILED', errorCode: ErrorCode.NOT_FOUND, message: 'No such user in this tenant.' };
  }

  private async deleteChunk(tx: Executor, op: BulkOperationRow, chunk: ListInput['ids']): Promise<Item[]> {
    await lockAdmins(tx, op.tenantId);
    const found = await this.usersOf(tx, op.tenantId, chunk.map(([, , id]) => id).filter((x): x is string => !!x));
    const admins = new Set(
      (
        await queryRows<{ id: string }>(
          tx,
          sql`select u.id from users u join group_memberships m on m.user_id = u.id join groups g on g.id = m.group_id and g.built_in = 'ADMINS'
              where u.tenant_id = ${op.tenantId} and u.status = 'ACTIVE'`,
        )
      ).map((r) => r.id),
    );
    let remaining = await activeAdminCount(tx, op.tenantId);
    const items: Item[] = [];
    const victims: string[] = [];
    const seen = new Set<string>();
    for (const [seq, given, id] of chunk) {
      const u = id ? found.get(id) : undefined;
      if (!u || seen.has(u.id)) {
        items.push(u ? { seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: 'Listed twice; deleted once.' } : this.notFound(seq, given));
        continue;
      }
      seen.add(u.id);
      if (admins.has(u.id)) {
        if (remaining <= 1) {
          items.push({ seq, userId: u.id, reference: given, email: u.email, outcome: 'FAILED', errorCode: ErrorCode.LAST_ADMIN, message: 'The tenant must keep at least one active admin.' });
          continue;
        }
        remaining--;
      }
      victims.push(u.id);
      items.push({ seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: null });
    }
    if (victims.length) {
      await tx.delete(users).where(and(eq(users.tenantId, op.tenantId), inArray(users.id, victims)));
      // The plan above keeps one admin; this check-after-write is the rule's safety net.
      await assertActiveAdminRemains(tx, op.tenantId);
    }
    return items;
  }

  private async reinviteChunk(tx: Executor, op: BulkOperationRow, chunk: ListInput['ids']): Promise<Item[]> {
    const found = await this.usersOf(tx, op.tenantId, chunk.map(([, , id]) => id).filter((x): x is string => !!x));
    const distinct = [...new Set([...found.keys()])];
    const results = await this.invitations.issueMany(
      tx,
      op.tenantId,
      distinct.map((id) => ({ userId: id, kind: found.get(id)!.status === 'ACTIVE' ? ('PASSWORD_RESET' as const) : ('INVITATION' as const) })),
      op.actorUserId,
    );
    return chunk.map(([seq, given, id]) => {
      const u = id ? found.get(id) : undefined;
      if (!u) return this.notFound(seq, given);
      const r = results.get(u.id)!;
      return r.ok
        ? { seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: u.status === 'ACTIVE' ? 'Password reset sent.' : 'Invitation sent.' }
        : { seq, userId: u.id, reference: given, email: u.email, outcome: 'FAILED', errorCode: r.error.code, message: r.error.message };
    });
  }

  private async addChunk(tx: Executor, op: BulkOperationRow, chunk: ListInput['ids'], groupIds: string[]): Promise<Item[]> {
    const found = await this.usersOf(tx, op.tenantId, chunk.map(([, , id]) => id).filter((x): x is string => !!x));
    const gs = await tx.select({ id: groups.id, directoryId: groups.directoryId }).from(groups).where(and(eq(groups.tenantId, op.tenantId), inArray(groups.id, groupIds)));
    const pairs: { groupId: string; userId: string }[] = [];
    const items = chunk.map(([seq, given, id]): Item => {
      const u = id ? found.get(id) : undefined;
      if (!u) return this.notFound(seq, given);
      const mine = gs.filter((g) => g.directoryId === u.directoryId);
      if (mine.length < gs.length) {
        return { seq, userId: u.id, reference: given, email: u.email, outcome: 'FAILED', errorCode: ErrorCode.INVALID_INPUT, message: "Some groups are in another directory than the user's." };
      }
      for (const g of mine) pairs.push({ groupId: g.id, userId: u.id });
      return { seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: null };
    });
    await this.store.addMemberships(op.tenantId, pairs, tx);
    return items;
  }

  private async runUpload(op: BulkOperationRow, proceed: () => Promise<boolean>, afterChunk: () => Promise<void>): Promise<boolean> {
    const o = op.input as UploadInput;
    const upload = await this.store.upload(op.tenantId, o.uploadId);
    if (!upload) throw new PermanentJobError('The uploaded file is no longer available (uploads are deleted after use or after 24 hours); upload it again.');
    const rows = await parseUserCsv(upload.content);
    const firstRow = new Map<string, number>();
    for (const r of rows) {
      const e = normalizeEmail(r.email);
      if (e && !firstRow.has(e)) firstRow.set(e, r.row);
    }
    const from = await this.store.maxSeq(op.id);
    const todo = rows.filter((r) => r.row > from);
    const hashers = bulkHashConcurrency();
    for (const chunk of uploadChunks(todo, o.validateOnly ? Infinity : hashers * PASSWORDS_PER_HASHER)) {
      if (!(await proceed())) return false;
      await this.uploadChunk(op, o, chunk, firstRow, hashers);
      await afterChunk();
    }
    return true;
  }

  private async uploadChunk(op: BulkOperationRow, o: UploadInput, chunk: CsvRow[], firstRow: Map<string, number>, hashers: number): Promise<void> {
    const t = op.tenantId;
    const groupRows = await this.db.select({ id: groups.id, name: groups.name, builtIn: groups.builtIn }).from(groups).where(eq(groups.directoryId, o.directoryId));
    const groupByName = new Map(groupRows.map((g) => [g.name.toLowerCase(), g.id]));
    const usersGroup = groupRows.find((g) => g.builtIn === 'USERS')?.id ?? null;
    const emails = chunk.map((r) => normalizeEmail(r.email)).filter((e) => isValidEmail(e));
    const existing = new Map(
      (emails.length
        ? await this.db.select({ id: users.id, email: users.email }).from(users).where(and(eq(users.directoryId, o.directoryId), inArray(users.email, emails)))
        : []
      ).map((u) => [u.email!, u.id]),
    );

    type Plan = { row: CsvRow; email: string; id: string; groups: string[]; missing: string[]; existingId: string | null };
    const items: Item[] = [];
    const plans: Plan[] = [];
    const fail = (r: CsvRow, code: string, message: string, email: string | null = null) =>
      items.push({ seq: r.row, userId: null, reference: null, email: email ?? (r.email || null), outcome: 'FAILED', errorCode: code, message });
    for (const r of chunk) {
      const email = normalizeEmail(r.email);
      if (r.shapeError) {
        fail(r, ErrorCode.INVALID_INPUT, r.shapeError);
        continue;
      }
      const problems: string[] = [];
      if (!isValidEmail(email)) problems.push('invalid email');
      if (!r.firstName || [...r.firstName].length > MAX_NAME_LENGTH) problems.push(`first name must be 1–${MAX_NAME_LENGTH} characters`);
      if (!r.lastName || [...r.lastName].length > MAX_NAME_LENGTH) problems.push(`last name must be 1–${MAX_NAME_LENGTH} characters`);
      if (problems.length) {
        fail(r, ErrorCode.INVALID_INPUT, `Row ${r.row}: ${problems.join('; ')}.`);
        continue;
      }
      const first = firstRow.get(email);
      if (first !== undefined && first !== r.row) {
        fail(r, ErrorCode.EMAIL_TAKEN, `Row ${r.row}: duplicate of row ${first} in this file.`, email);
        continue;
      }
      const existingId = existing.get(email) ?? null;
      if (existingId && o.onExisting === 'FAIL') {
        fail(r, ErrorCode.EMAIL_TAKEN, `Row ${r.row}: a user with this email already exists.`, email);
        continue;
      }
      if (existingId && o.onExisting === 'SKIP') {
        items.push({ seq: r.row, userId: existingId, reference: null, email, outcome: 'SKIPPED', errorCode: null, message: 'Already exists.' });
        continue;
      }
      const missing = r.groups.filter((g) => !groupByName.has(g.toLowerCase()));
      if (missing.length && !o.createMissingGroups) {
        fail(r, ErrorCode.NOT_FOUND, `Row ${r.row}: unknown group(s): ${missing.join(', ')}.`, email);
        continue;
      }
      if (r.password && o.cloud === false) {
        fail(r, ErrorCode.INVALID_INPUT, `Row ${r.row}: external directories never store passwords; leave the password empty.`, email);
        continue;
      }
      if (r.password && !existingId) {
        const policy = checkPasswordPolicy(r.password, [email, t]);
        if (policy.length) {
          fail(r, policy.length === 1 ? policy[0]!.code : 'PASSWORD_POLICY', `Row ${r.row}: password fails ${policy.map((p) => p.code).join(', ')}.`, email);
          continue;
        }
      }
      plans.push({ row: r, email, id: existingId ?? randomUUID(), groups: r.groups, missing, existingId });
    }

    const hashes = o.validateOnly ? [] : await mapLimit(plans, hashers, (p) => (p.row.password && !p.existingId ? hashPassword(p.row.password) : Promise.resolve(null)));

    await this.db.transaction(async (tx) => {
      if (!o.validateOnly && plans.length) {
        const missing = [...new Set(plans.flatMap((p) => p.missing.map((m) => m.trim())))];
        if (missing.length) {
          const distinct = [...new Map(missing.map((m) => [m.toLowerCase(), m])).values()];
          await tx.insert(groups).values(distinct.map((name) => ({ tenantId: t, directoryId: o.directoryId, name }))).onConflictDoNothing();
          const fresh = await tx.select({ id: groups.id, name: groups.name }).from(groups).where(eq(groups.directoryId, o.directoryId));
          for (const g of fresh) groupByName.set(g.name.toLowerCase(), g.id);
        }
        const creates = plans.map((p, i) => ({ p, hash: hashes[i] ?? null })).filter((x) => !x.p.existingId);
        const inserted = new Set(
          await this.store.insertUsers(
            t,
            o.directoryId,
            creates.map(({ p, hash }) => ({
              id: p.id,
              email: p.email,
              firstName: p.row.firstName,
              lastName: p.row.lastName,
              // As createUser: external users are active at once (their directory signs them in).
              status: hash || o.cloud === false ? 'ACTIVE' : 'INVITED',
              passwordHash: hash,
            })),
            tx,
          ),
        );
        // A user deleted since the plan was made is reported, not given memberships.
        const updated = new Set(
          await this.store.updateNames(
            t,
            o.directoryId,
            plans.filter((p) => p.existingId).map((p) => ({ id: p.existingId!, firstName: p.row.firstName, lastName: p.row.lastName })),
            tx,
          ),
        );
        const ok = (p: Plan) => (p.existingId ? updated.has(p.existingId) : inserted.has(p.id));
        const applied = plans.filter(ok);
        const pairs = applied.flatMap((p) =>
          [...new Set([...(usersGroup ? [usersGroup] : []), ...p.groups.map((g) => groupByName.get(g.toLowerCase())!)])].map((groupId) => ({ groupId, userId: p.id })),
        );
        await this.store.addMemberships(t, pairs, tx);
        const invite = o.sendInvites ? applied.filter((p) => !p.existingId && !p.row.password) : [];
        const invited = invite.length ? await this.invitations.issueMany(tx, t, invite.map((p) => ({ userId: p.id, kind: 'INVITATION' as const })), op.actorUserId) : new Map();
        for (const p of plans) {
          const inv = invited.get(p.id);
          const message = p.existingId
            ? p.row.password
              ? 'Updated (the password column is ignored for existing users).'
              : 'Updated.'
            : inv?.ok
              ? 'Created and invited.'
              : 'Created.';
          items.push(
            ok(p)
              ? { seq: p.row.row, userId: p.id, reference: null, email: p.email, outcome: 'SUCCEEDED', errorCode: null, message }
              : p.existingId
                ? { seq: p.row.row, userId: null, reference: null, email: p.email, outcome: 'FAILED', errorCode: ErrorCode.NOT_FOUND, message: `Row ${p.row.row}: the existing user was deleted meanwhile.` }
                : { seq: p.row.row, userId: null, reference: null, email: p.email, outcome: 'FAILED', errorCode: ErrorCode.EMAIL_TAKEN, message: `Row ${p.row.row}: a user with this email already exists.` },
          );
        }
      } else {
        for (const p of plans) items.push({ seq: p.row.row, userId: p.existingId, reference: null, email: p.email, outcome: 'SUCCEEDED', errorCode: null, message: 'Valid (not written: validateOnly).' });
      }
      items.sort((a, b) => a.seq - b.seq);
      await this.store.record(op.id, items, tx);
    });
  }
}
