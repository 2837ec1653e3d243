import type { Executor } from '../../shared/db.js';
import { ErrorCode } from '../../shared/errors.js';
import type { GroupService } from '../group/group.service.js';
import type { InvitationService } from '../invitation/invitation.service.js';
import type { MfaService } from '../mfa/mfa.service.js';
import type { UserService } from '../user/user.service.js';
import type { Item } from './bulk-upload.js';

/**
 * Chunks of the id-list kinds (delete, re-invite, add to groups). Each runs in the chunk's
 * transaction, with set-based calls into the user, group and invitation services: no query
 * per id, and no SQL of their own.
 */

/** Ids per chunk at the nominal pace. */
export const LIST_CHUNK = 500;

export interface ListInput {
  /** [position, given id, uuid or null when it did not decode] */
  ids: [number, string, string | null][];
  groupIds?: string[];
}

export type ListEntry = ListInput['ids'][number];

/** The entries after position `after`, at most `size` (positions are 1…n in order). */
export function nextIds(input: ListInput, after: number, size: number): ListEntry[] {
  return input.ids.slice(after, after + size);
}

function notFound(seq: number, given: string): Item {
  return {
    seq,
    userId: null,
    reference: given,
    email: null,
    outcome: 'FAILED',
    errorCode: ErrorCode.NOT_FOUND,
    message: 'No such user in this tenant.',
  };
}

export class BulkList {
  constructor(
    private readonly users: UserService,
    private readonly groups: GroupService,
    private readonly invitations: InvitationService,
    private readonly mfa: MfaService,
  ) {}

  private async found(tx: Executor, tenantId: string, chunk: ListEntry[]) {
    const ids = [...new Set(chunk.map(([, , id]) => id).filter((x): x is string => !!x))];
    return new Map((await this.users.byIds(tenantId, ids, tx)).map((u) => [u.id, u]));
  }

  apply(tx: Executor, kind: string, tenantId: string, input: ListInput, chunk: ListEntry[], actorUserId: string | null): Promise<Item[]> {
    if (kind === 'DELETE_USERS') return this.delete(tx, tenantId, chunk);
    if (kind === 'REINVITE_USERS') return this.reinvite(tx, tenantId, chunk, actorUserId);
    if (kind === 'SEND_MFA_ENROLLMENT') return this.mfaEnrollment(tx, tenantId, chunk);
    return this.addToGroups(tx, tenantId, chunk, input.groupIds ?? []);
  }

  /**
   * The last-admin rule as in deleteUser: under the admin lock, the chunk deletes admins only
   * while another active one remains (the rest fail LAST_ADMIN), and the group service's
   * assertion after the delete is the rule's safety net.
   */
  private async delete(tx: Executor, tenantId: string, chunk: ListEntry[]): Promise<Item[]> {
    await this.groups.lockAdmins(tx, tenantId);
    const found = await this.found(tx, tenantId, chunk);
    const admins = await this.groups.activeAdminIds(tx, tenantId);
    let remaining = admins.size;
    const items: Item[] = [];
    const victims: string[] = [];
    const seen = new Set<string>();
    for (const [seq, given, id] of chunk) {
      const u = id ? found.get(id) : undefined;
      if (!u || seen.has(u.id)) {
        items.push(
          u
            ? {
                seq,
                userId: u.id,
                reference: given,
                email: u.email,
                outcome: 'SUCCEEDED',
                errorCode: null,
                message: 'Listed twice; deleted once.',
              }
            : notFound(seq, given),
        );
        continue;
      }
      seen.add(u.id);
      if (admins.has(u.id)) {
        if (remaining <= 1) {
          items.push({
            seq,
            userId: u.id,
            reference: given,
            email: u.email,
            outcome: 'FAILED',
            errorCode: ErrorCode.LAST_ADMIN,
            message: 'The tenant must keep at least one active admin.',
          });
          continue;
        }
        remaining--;
      }
      victims.push(u.id);
      items.push({ seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: null });
    }
    if (victims.length) {
      await this.users.deleteMany(tx, tenantId, victims);
      await this.groups.assertActiveAdminRemains(tx, tenantId);
    }
    return items;
  }

  private async reinvite(tx: Executor, tenantId: string, chunk: ListEntry[], actorUserId: string | null): Promise<Item[]> {
    const found = await this.found(tx, tenantId, chunk);
    const results = await this.invitations.issueMany(
      tx,
      tenantId,
      [...found.values()].map((u) => ({
        userId: u.id,
        kind: u.status === 'ACTIVE' ? ('PASSWORD_RESET' as const) : ('INVITATION' as const),
      })),
      actorUserId,
    );
    return chunk.map(([seq, given, id]): Item => {
      const u = id ? found.get(id) : undefined;
      if (!u) return notFound(seq, given);
      const r = results.get(u.id)!;
      return r.ok
        ? {
            seq,
            userId: u.id,
            reference: given,
            email: u.email,
            outcome: 'SUCCEEDED',
            errorCode: null,
            message: u.status === 'ACTIVE' ? 'Password reset sent.' : 'Invitation sent.',
          }
        : { seq, userId: u.id, reference: given, email: u.email, outcome: 'FAILED', errorCode: r.error.code, message: r.error.message };
    });
  }

  /**
   * Enrolment links for a chunk of MFA users, set-based through the MFA service. The MFA
   * user's global id is the item's `reference` (`userId` names directory users only).
   */
  private async mfaEnrollment(tx: Executor, tenantId: string, chunk: ListEntry[]): Promise<Item[]> {
    const ids = [...new Set(chunk.map(([, , id]) => id).filter((x): x is string => !!x))];
    const found = new Map((await this.mfa.byIdsFor(tenantId, ids, tx)).map((u) => [u.id, u]));
    const sent = new Set<string>();
    const items = chunk.map(([seq, given, id]): Item => {
      const u = id ? found.get(id) : undefined;
      const base = { seq, userId: null, reference: given, email: u?.email ?? null };
      if (!u) return { ...base, outcome: 'FAILED', errorCode: ErrorCode.NOT_FOUND, message: 'No such MFA user in this tenant.' };
      if (!u.email)
        return { ...base, outcome: 'FAILED', errorCode: ErrorCode.INVALID_STATE, message: 'This MFA user has no email address.' };
      if (sent.has(u.id)) return { ...base, outcome: 'SUCCEEDED', errorCode: null, message: 'Listed twice; sent once.' };
      sent.add(u.id);
      return { ...base, outcome: 'SUCCEEDED', errorCode: null, message: 'Enrolment link sent.' };
    });
    await this.mfa.resendEnrollmentMany(
      tx,
      tenantId,
      [...sent].map((id) => found.get(id)!),
    );
    return items;
  }

  private async addToGroups(tx: Executor, tenantId: string, chunk: ListEntry[], groupIds: string[]): Promise<Item[]> {
    const found = await this.found(tx, tenantId, chunk);
    const gs = await this.groups.byIds(tenantId, groupIds, tx);
    const pairs: { groupId: string; userId: string }[] = [];
    const items = chunk.map(([seq, given, id]): Item => {
      const u = id ? found.get(id) : undefined;
      if (!u) return notFound(seq, given);
      const mine = gs.filter((g) => g.directoryId === u.directoryId);
      if (mine.length < gs.length) {
        return {
          seq,
          userId: u.id,
          reference: given,
          email: u.email,
          outcome: 'FAILED',
          errorCode: ErrorCode.INVALID_INPUT,
          message: "Some groups are in another directory than the user's.",
        };
      }
      for (const g of mine) pairs.push({ groupId: g.id, userId: u.id });
      return { seq, userId: u.id, reference: given, email: u.email, outcome: 'SUCCEEDED', errorCode: null, message: null };
    });
    await this.groups.addMemberships(tx, tenantId, pairs);
    return items;
  }
}
