import { randomUUID } from 'node:crypto';
import type { Executor } from '../../shared/db.js';
import { normalizeEmail } from '../../shared/email.js';
import { ErrorCode, type UserError } from '../../shared/errors.js';
import { bulkHashConcurrency } from '../../shared/passwords.js';
import { checkGroupName, type GroupService } from '../group/group.service.js';
import type { InvitationService } from '../invitation/invitation.service.js';
import { checkNewUser, type NewUserContext } from '../user/user-rules.js';
import type { HashedNewUser, UserService } from '../user/user.service.js';
import { rowsAt, scanUserCsv, toRow, type CsvIndex, type CsvRow } from './csv.js';
import type { BulkItemRow } from './bulk-operation.types.js';

/**
 * CSV upload rows → validated plans → writes through the user and group services. This file
 * decides what each row does; it writes nothing itself: users are created by the user
 * module's create rule and `insertMany`, groups by the group module, memberships by its one
 * `addMemberships`.
 */

export type Item = Omit<BulkItemRow, 'operationId'>;

/** The options of an upload operation, as stored in `bulk_operations.input`. */
export interface UploadInput {
  uploadId: string;
  directoryId: string;
  /** External directories (AD, LDAP) never store passwords and have no invitations. */
  cloud?: boolean;
  sendInvites: boolean;
  createMissingGroups: boolean;
  onExisting: 'FAIL' | 'SKIP' | 'UPDATE';
  validateOnly: boolean;
}

/** Upload rows per transaction, at most. */
export const UPLOAD_CHUNK = 1000;
/**
 * Password rows per chunk and hashing thread: a chunk ends after about a second of hashing,
 * so counters (and progress events) move at least that often even in all-password files.
 */
const PASSWORDS_PER_HASHER = 24;

/**
 * What is decided from the whole file before any chunk, so a row's outcome does not depend
 * on where chunk boundaries fall or on a resume: the first row of each email (later ones are
 * duplicates) and the first spelling of each group name (a missing group is created once,
 * under the spelling it first has in the file). The rows themselves are not kept: a chunk
 * parses its own slice of the file (`rowsAt`).
 */
export interface UploadFile {
  csv: CsvIndex;
  /** Per row (by index): the number of the first row with the same email when this row repeats it, else 0. */
  duplicateOf: Int32Array;
  groupSpelling: Map<string, string>;
}

/** Scans and indexes an uploaded file (CsvFileError when it is not a valid upload). */
export async function indexFile(bytes: Buffer): Promise<UploadFile> {
  // Emails by first row while scanning only: afterwards each row keeps just its duplicate mark.
  const firstRowOfEmail = new Map<string, number>();
  const dups: [number, number][] = [];
  const groupSpelling = new Map<string, string>();
  let i = 0;
  const csv = await scanUserCsv(bytes, (record, line) => {
    const r = toRow(record, line);
    const email = normalizeEmail(r.email);
    if (email) {
      const first = firstRowOfEmail.get(email);
      if (first === undefined) firstRowOfEmail.set(email, line);
      else dups.push([i, first]);
    }
    for (const g of r.groups) if (!groupSpelling.has(g.toLowerCase())) groupSpelling.set(g.toLowerCase(), g);
    i++;
  });
  const duplicateOf = new Int32Array(csv.count);
  for (const [row, first] of dups) duplicateOf[row] = first;
  return { csv, duplicateOf, groupSpelling };
}

/** The index of the first row numbered after line `after`. */
function firstAfter(lines: Int32Array, count: number, after: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Rows after line `after`, cut at the chunk size or when `maxPasswords` passwords are to hash.
 * Parsed `maxPasswords` rows at a time: a file of passwords ends its chunks after a few dozen
 * rows, and parsing the whole chunk size each time would parse every row many times over.
 */
function nextChunk(file: UploadFile, after: number, size: number, maxPasswords: number): { rows: CsvRow[]; from: number } {
  const from = firstAfter(file.csv.lines, file.csv.count, after);
  const end = Math.min(file.csv.count, from + size);
  const step = Math.min(size, maxPasswords);
  const rows: CsvRow[] = [];
  let passwords = 0;
  for (let at = from; at < end && passwords < maxPasswords; at += step) {
    for (const r of rowsAt(file.csv, at, Math.min(end, at + step))) {
      if (passwords >= maxPasswords) break;
      rows.push(r);
      if (r.password) passwords++;
    }
  }
  return { rows, from };
}

/** A row's problems as one message: `Row 4: invalid email address; first name is required.` */
function rowMessage(row: number, problems: UserError[]): string {
  const parts = problems.map((p) => p.message.replace(/\.$/, '')).map((m) => m.charAt(0).toLowerCase() + m.slice(1));
  return `Row ${row}: ${parts.join('; ')}.`;
}

interface CreatePlan {
  row: CsvRow;
  user: HashedNewUser;
  groupKeys: string[];
}
interface UpdatePlan {
  row: CsvRow;
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  groupKeys: string[];
}

/** A chunk planned outside the transaction, from the checkpoint `after`. */
export interface UploadChunk {
  after: number;
  /** The chunk's rows (empty: the file is done). */
  rows: CsvRow[];
  /** Outcomes decided while planning (failures, skips). */
  decided: Item[];
  creates: CreatePlan[];
  updates: UpdatePlan[];
  /** The directory's groups when planned, by lower-cased name (read again only if one is missing). */
  groupIdByKey: Map<string, string>;
}

export class BulkUpload {
  constructor(
    private readonly users: UserService,
    private readonly groups: GroupService,
    private readonly invitations: InvitationService,
    private readonly o: UploadInput,
    private readonly ctx: NewUserContext,
    private readonly file: UploadFile,
  ) {}

  /**
   * Plans the rows after `after` outside any transaction: validates each with the create-user
   * rule, reads which emails and groups exist, and hashes passwords (`min(cores, 3)` at a
   * time). Reads may be stale by the time the chunk commits; the writes re-check (ON CONFLICT
   * DO NOTHING, "still exists") and report such rows.
   */
  async plan(after: number, pace: number): Promise<UploadChunk> {
    const o = this.o;
    const maxPasswords = o.validateOnly ? Infinity : bulkHashConcurrency() * PASSWORDS_PER_HASHER;
    const { rows, from } = nextChunk(this.file, after, Math.max(50, Math.round(UPLOAD_CHUNK * Math.min(1, pace))), maxPasswords);
    const out: UploadChunk = { after, rows, decided: [], creates: [], updates: [], groupIdByKey: new Map() };
    if (!rows.length) return out;
    const t = this.ctx.tenantId;
    const groupIdByKey = new Map((await this.groups.inDirectory(t, o.directoryId)).map((g) => [g.name.toLowerCase(), g.id]));
    out.groupIdByKey = groupIdByKey;
    const checked = rows.map((r) => ({
      r,
      ...checkNewUser(
        { id: randomUUID(), email: r.email, firstName: r.firstName, lastName: r.lastName, password: r.password || null },
        this.ctx,
      ),
    }));
    const existing = await this.users.idsByEmail(t, o.directoryId, [
      ...new Set(checked.filter((c) => c.user.email).map((c) => c.user.email!)),
    ]);

    const fail = (r: CsvRow, code: ErrorCode, message: string, email: string | null = null) =>
      out.decided.push({
        seq: r.row,
        userId: null,
        reference: null,
        email: email ?? (r.email || null),
        outcome: 'FAILED',
        errorCode: code,
        message,
      });
    const creates: { row: CsvRow; user: (typeof checked)[number]['user']; groupKeys: string[] }[] = [];
    for (const [i, { r, user, problems }] of checked.entries()) {
      if (r.shapeError) {
        fail(r, ErrorCode.INVALID_INPUT, r.shapeError);
        continue;
      }
      // Rows are matched by email, so a CSV row needs one in any directory.
      const fieldProblems = problems.filter((p) => p.field?.[1] !== 'password');
      if (!user.email && !fieldProblems.some((p) => p.field?.[1] === 'email'))
        fieldProblems.unshift({ code: ErrorCode.INVALID_INPUT, message: 'Email is required.', field: ['input', 'email'] });
      if (fieldProblems.length) {
        fail(r, fieldProblems[0]!.code, rowMessage(r.row, fieldProblems));
        continue;
      }
      const email = user.email!;
      const first = this.file.duplicateOf[from + i]!;
      if (first) {
        fail(r, ErrorCode.EMAIL_TAKEN, `Row ${r.row}: duplicate of row ${first} in this file.`, email);
        continue;
      }
      const existingId = existing.get(email) ?? null;
      if (existingId && o.onExisting === 'FAIL') {
        fail(r, ErrorCode.EMAIL_TAKEN, `Row ${r.row}: a user with this email already exists.`, email);
        continue;
      }
      if (existingId && o.onExisting === 'SKIP') {
        out.decided.push({
          seq: r.row,
          userId: existingId,
          reference: null,
          email,
          outcome: 'SKIPPED',
          errorCode: null,
          message: 'Already exists.',
        });
        continue;
      }
      const groupKeys = [...new Set(r.groups.map((g) => g.toLowerCase()))];
      const missing = groupKeys.filter((k) => !groupIdByKey.has(k));
      if (missing.length && !o.createMissingGroups) {
        fail(
          r,
          ErrorCode.NOT_FOUND,
          `Row ${r.row}: unknown group(s): ${missing.map((k) => this.file.groupSpelling.get(k) ?? k).join(', ')}.`,
          email,
        );
        continue;
      }
      // A group this row would create must pass the name rule of createGroup.
      const nameProblems: UserError[] = [];
      for (const k of missing) {
        const name = this.file.groupSpelling.get(k) ?? k;
        checkGroupName(name, nameProblems, ['input', 'groups'], `Group "${name.length > 40 ? `${name.slice(0, 40)}…` : name}"`);
      }
      if (nameProblems.length) {
        fail(r, ErrorCode.INVALID_INPUT, rowMessage(r.row, nameProblems), email);
        continue;
      }
      if (existingId) {
        out.updates.push({ row: r, id: existingId, email, firstName: user.firstName, lastName: user.lastName, groupKeys });
        continue;
      }
      const passwordProblems = problems.filter((p) => p.field?.[1] === 'password');
      if (passwordProblems.length) {
        // One code per row: the first failed rule; the message names every failed rule.
        const message =
          passwordProblems.length === 1
            ? rowMessage(r.row, passwordProblems)
            : `Row ${r.row}: the password fails ${passwordProblems.map((p) => `${p.code} (${p.message.replace(/\.$/, '')})`).join(', ')}.`;
        fail(r, passwordProblems[0]!.code, message, email);
        continue;
      }
      creates.push({ row: r, user, groupKeys });
    }
    const hashed = o.validateOnly
      ? creates.map((c) => ({ ...c.user, passwordHash: null }))
      : await this.users.hashNewUsers(creates.map((c) => c.user));
    out.creates = creates.map((c, i) => ({ row: c.row, user: hashed[i]!, groupKeys: c.groupKeys }));
    return out;
  }

  /** Applies a planned chunk in `tx` through the user and group services; returns every row's outcome. */
  async apply(tx: Executor, chunk: UploadChunk, actorUserId: string | null): Promise<Item[]> {
    const o = this.o;
    const t = this.ctx.tenantId;
    const items = [...chunk.decided];
    if (o.validateOnly) {
      for (const p of [...chunk.creates.map((c) => ({ row: c.row, id: null, email: c.user.email })), ...chunk.updates]) {
        items.push({
          seq: p.row.row,
          userId: p.id,
          reference: null,
          email: p.email,
          outcome: 'SUCCEEDED',
          errorCode: null,
          message: 'Valid (not written: validateOnly).',
        });
      }
      return items.sort((a, b) => a.seq - b.seq);
    }
    const keys = [...new Set([...chunk.creates, ...chunk.updates].flatMap((p) => p.groupKeys))];
    // Groups are read when planning (as createUser checks them before its transaction); only a
    // chunk that names a missing group creates it here, in its transaction.
    let groupIdByKey = chunk.groupIdByKey;
    const missing = keys.filter((k) => !groupIdByKey.has(k));
    if (missing.length) {
      const all = await this.groups.createMissing(
        tx,
        t,
        o.directoryId,
        missing.map((k) => this.file.groupSpelling.get(k) ?? k),
      );
      groupIdByKey = new Map(all.map((g) => [g.name.toLowerCase(), g.id]));
    }
    const idsOf = (groupKeys: string[]) => groupKeys.map((k) => groupIdByKey.get(k)!);
    const inserted = await this.users.insertNewUsers(
      tx,
      this.ctx,
      chunk.creates.map((c) => c.user),
      chunk.creates.map((c) => idsOf(c.groupKeys)),
    );
    // A user deleted since the plan was made is reported, not given memberships.
    const updated = await this.users.updateNames(
      tx,
      t,
      o.directoryId,
      chunk.updates.map((u) => ({ id: u.id, firstName: u.firstName, lastName: u.lastName })),
    );
    const usersGroup = this.ctx.usersGroupId;
    await this.groups.addMemberships(
      tx,
      t,
      chunk.updates
        .filter((u) => updated.has(u.id))
        .flatMap((u) =>
          [...new Set([...(usersGroup ? [usersGroup] : []), ...idsOf(u.groupKeys)])].map((groupId) => ({ groupId, userId: u.id })),
        ),
    );
    const invite = o.sendInvites ? chunk.creates.filter((c) => inserted.has(c.user.id) && !c.user.passwordHash) : [];
    const invited = invite.length
      ? await this.invitations.issueMany(
          tx,
          t,
          invite.map((c) => ({ userId: c.user.id, kind: 'INVITATION' as const })),
          actorUserId,
        )
      : new Map();
    const leftOut = chunk.creates.filter((c) => !inserted.has(c.user.id));
    const reasons = leftOut.length
      ? await this.users.notInsertedReasons(
          tx,
          this.ctx,
          leftOut.map((c) => c.user),
        )
      : [];
    const reasonOf = new Map(leftOut.map((c, i) => [c.user.id, reasons[i]!]));
    for (const c of chunk.creates) {
      const seq = c.row.row;
      const usernameTaken = reasonOf.get(c.user.id) === ErrorCode.USERNAME_TAKEN;
      items.push(
        inserted.has(c.user.id)
          ? {
              seq,
              userId: c.user.id,
              reference: null,
              email: c.user.email,
              outcome: 'SUCCEEDED',
              errorCode: null,
              message: invited.get(c.user.id)?.ok ? 'Created and invited.' : 'Created.',
            }
          : {
              seq,
              userId: null,
              reference: null,
              email: c.user.email,
              outcome: 'FAILED',
              errorCode: usernameTaken ? ErrorCode.USERNAME_TAKEN : ErrorCode.EMAIL_TAKEN,
              message: usernameTaken
                ? `Row ${seq}: another user of the directory already has this username (${c.user.username}).`
                : `Row ${seq}: a user with this email already exists.`,
            },
      );
    }
    for (const u of chunk.updates) {
      const seq = u.row.row;
      items.push(
        updated.has(u.id)
          ? {
              seq,
              userId: u.id,
              reference: null,
              email: u.email,
              outcome: 'SUCCEEDED',
              errorCode: null,
              message: u.row.password ? 'Updated (the password column is ignored for existing users).' : 'Updated.',
            }
          : {
              seq,
              userId: null,
              reference: null,
              email: u.email,
              outcome: 'FAILED',
              errorCode: ErrorCode.NOT_FOUND,
              message: `Row ${seq}: the existing user was deleted meanwhile.`,
            },
      );
    }
    return items.sort((a, b) => a.seq - b.seq);
  }
}
