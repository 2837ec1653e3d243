import type { Viewer } from '../../shared/viewer.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, type UserError } from '../../shared/errors.js';
import { keysetPage, sortValueAndIdKey, type ConnectionShape } from '../../shared/pagination.js';
import { actorOf, diff, type AuditService } from '../audit/audit.service.js';
import type { AuthService } from '../auth/auth.service.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import type { UserStore } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import { checkDescription, checkName } from '../../shared/validation.js';
import type { GroupFilter, GroupStore, GroupWriteStore, MembershipPairsSql } from './group.store.js';
import type { GroupRow } from './group.types.js';

export const MAX_MEMBERS_PER_CALL = 1000;

/** The group name rule (1–MAX_NAME_LENGTH characters, trimmed), for createGroup, updateGroup and CSV-created groups. */
export function checkGroupName(value: string, errors: UserError[], field: string[] = ['input', 'name'], label = 'Name'): string {
  return checkName(value, label, field, errors);
}

export class GroupService {
  constructor(
    private readonly db: Db,
    private readonly store: GroupStore,
    private readonly writes: GroupWriteStore,
    private readonly directories: DirectoryStore,
    private readonly users: UserStore,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
  ) {}

  /** One event per user whose membership changed (so a user's own trail shows "added to Admins" and by whom). */
  private membershipEvents(action: string, g: GroupRow, users: readonly UserRow[]) {
    const [before, after] = action === 'group.add_member' ? [null, g.name] : [g.name, null];
    return users.map((u) => ({
      action,
      targetType: 'User',
      targetId: u.id,
      targetName: u.email ?? u.username,
      changes: { group: { before, after } },
    }));
  }

  /**
   * `memberCount`: the page's rows carry their member counts (read in the page's statement).
   * `keys`: the row properties the caller reads (unset: all; see `GroupStore.page`).
   */
  async list(
    viewer: Viewer,
    args: { first?: number | null; after?: string | null; filter: GroupFilter; memberCount?: boolean; keys?: readonly (keyof GroupRow)[] },
  ): Promise<ConnectionShape<GroupRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) =>
        this.store.page(viewer.tenantId, args.filter, limit, after, { memberCount: args.memberCount, keys: args.keys }),
      cursorOf: (r) => [r.name.toLowerCase(), r.id],
      count: () => this.store.count(viewer.tenantId, args.filter),
    });
  }

  async members(
    viewer: Viewer,
    groupId: string,
    args: { first?: number | null; after?: string | null },
    count: () => Promise<number>,
  ): Promise<ConnectionShape<UserRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) => this.store.members(viewer.tenantId, groupId, limit, after),
      cursorOf: (r) => [r.email ?? '', r.id],
      count,
    });
  }

  private async get(viewer: Viewer, id: string): Promise<GroupRow> {
    const [g] = await this.store.byIds(viewer.tenantId, [id]);
    if (!g) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
    return g;
  }

  async create(viewer: Viewer, input: { directoryId?: string | null; name: string; description?: string | null }): Promise<GroupRow> {
    const errors: UserError[] = [];
    const name = checkGroupName(input.name, errors);
    const description = checkDescription(input.description, ['input', 'description'], errors);
    if (errors.length) throw new DomainError(errors);
    const dir = input.directoryId
      ? (await this.directories.byIds(viewer.tenantId, [input.directoryId]))[0]
      : await this.directories.cloud(viewer.tenantId);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    return this.db.transaction(async (tx) => {
      const g = await this.writes.insert({ tenantId: viewer.tenantId, directoryId: dir.id, name, description }, tx);
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'group.create',
        targetType: 'Group',
        targetId: g.id,
        targetName: g.name,
        changes: diff(null, g as unknown as Record<string, unknown>, ['name', 'description']),
      });
      return g;
    });
  }

  async update(viewer: Viewer, input: { id: string; name?: string | null; description?: string | null }): Promise<GroupRow> {
    const g = await this.get(viewer, input.id);
    const errors: UserError[] = [];
    const patch: { name?: string; description?: string | null } = {};
    if (input.name != null) {
      patch.name = checkGroupName(input.name, errors);
      if (g.builtIn === 'USERS' && patch.name !== g.name) {
        throw DomainError.of(ErrorCode.BUILT_IN_GROUP, 'The built-in Users group cannot be renamed.', ['input', 'name']);
      }
    }
    if (input.description !== undefined) patch.description = checkDescription(input.description, ['input', 'description'], errors);
    if (errors.length) throw new DomainError(errors);
    return this.db.transaction(async (tx) => {
      const updated = await this.writes.update(viewer.tenantId, g.id, patch, tx);
      if (!updated) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
      const changes = diff(g as unknown as Record<string, unknown>, updated as unknown as Record<string, unknown>, ['name', 'description']);
      if (changes)
        await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
          action: 'group.update',
          targetType: 'Group',
          targetId: g.id,
          targetName: updated.name,
          changes,
        });
      return updated;
    });
  }

  async delete(viewer: Viewer, id: string): Promise<string> {
    const g = await this.get(viewer, id);
    if (g.builtIn) throw DomainError.of(ErrorCode.BUILT_IN_GROUP, `The built-in ${g.name} group cannot be deleted.`, ['input', 'id']);
    await this.db.transaction(async (tx) => {
      if (!(await this.writes.delete(viewer.tenantId, g.id, tx)))
        throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'group.delete',
        targetType: 'Group',
        targetId: g.id,
        targetName: g.name,
        changes: diff(g as unknown as Record<string, unknown>, null, ['name', 'description']),
      });
    });
    return g.id;
  }

  private async checkMembers(viewer: Viewer, group: GroupRow, userIds: string[]): Promise<UserRow[]> {
    const ids = [...new Set(userIds)];
    if (ids.length > MAX_MEMBERS_PER_CALL) {
      throw DomainError.of(ErrorCode.INVALID_INPUT, `At most ${MAX_MEMBERS_PER_CALL} users per call; use bulkAddUsersToGroups for more.`, [
        'input',
        'userIds',
      ]);
    }
    const found = await this.users.byIds(viewer.tenantId, ids);
    if (found.length !== ids.length || found.some((u) => u.directoryId !== group.directoryId)) {
      throw DomainError.of(ErrorCode.NOT_FOUND, "Every user must exist in the group's directory.", ['input', 'userIds']);
    }
    return found;
  }

  async addMembers(viewer: Viewer, groupId: string, userIds: string[]): Promise<GroupRow> {
    const g = await this.get(viewer, groupId);
    const users = await this.checkMembers(viewer, g, userIds);
    await this.db.transaction(async (tx) => {
      await this.writes.addMemberships(
        tx,
        viewer.tenantId,
        users.map((u) => ({ groupId: g.id, userId: u.id })),
      );
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), this.membershipEvents('group.add_member', g, users));
    });
    return g;
  }

  async removeMembers(viewer: Viewer, groupId: string, userIds: string[]): Promise<GroupRow> {
    const g = await this.get(viewer, groupId);
    if (g.builtIn === 'USERS') {
      throw DomainError.of(ErrorCode.BUILT_IN_GROUP, 'Every user is a member of the built-in Users group; delete the user instead.', [
        'input',
        'groupId',
      ]);
    }
    const users = await this.checkMembers(viewer, g, userIds);
    const ids = users.map((u) => u.id);
    await this.db.transaction(async (tx) => {
      await this.audit.record(tx, viewer.tenantId, actorOf(viewer), this.membershipEvents('group.remove_member', g, users));
      if (g.builtIn === 'ADMINS') await this.writes.lockAdmins(tx, viewer.tenantId);
      await this.writes.removeMemberships(viewer.tenantId, g.id, ids, tx);
      if (g.builtIn === 'ADMINS') {
        await this.assertActiveAdminRemains(tx, viewer.tenantId);
        // Sessions are for admins only: whoever left Admins is signed out everywhere.
        await this.auth.revokeUserSessions(tx, viewer.tenantId, ids);
      }
    });
    if (g.builtIn === 'ADMINS') await this.auth.announceEnded({ tenantId: viewer.tenantId, userIds: ids });
    return g;
  }

  // ---- for other modules' services (createUser, bulk operations): writes in their transaction ----

  /**
   * The last-admin rule. A transaction that can reduce the set of active admins (remove from
   * Admins, disable, delete, bulk delete) calls `lockAdmins` first, makes its change, then
   * this before commit: it throws LAST_ADMIN, rolling the change back, when none is left.
   */
  async assertActiveAdminRemains(tx: Executor, tenantId: string): Promise<void> {
    if ((await this.store.activeAdminCount(tenantId, tx)) === 0) {
      throw DomainError.of(ErrorCode.LAST_ADMIN, 'The tenant must keep at least one active admin.');
    }
  }

  lockAdmins(tx: Executor, tenantId: string): Promise<void> {
    return this.writes.lockAdmins(tx, tenantId);
  }

  /** The active admins now (a bulk delete plans with it, under `lockAdmins`). */
  activeAdminIds(tx: Executor, tenantId: string): Promise<Set<string>> {
    return this.store.activeAdminIds(tenantId, tx);
  }

  byIds(tenantId: string, ids: readonly string[], tx: Executor = this.db): Promise<GroupRow[]> {
    return this.store.byIds(tenantId, ids, tx);
  }

  inDirectory(tenantId: string, directoryId: string, tx: Executor = this.db): Promise<GroupRow[]> {
    return this.store.inDirectory(tenantId, directoryId, tx);
  }

  builtIn(tenantId: string, directoryId: string, kind: 'USERS' | 'ADMINS', tx: Executor = this.db): Promise<GroupRow | null> {
    return this.store.builtIn(tenantId, directoryId, kind, tx);
  }

  addMemberships(tx: Executor, tenantId: string, pairs: readonly { groupId: string; userId: string }[]): Promise<void> {
    return this.writes.addMemberships(tx, tenantId, pairs);
  }

  /**
   * `addMemberships` for a statement of another module that computes the pairs itself (the
   * users insert of `UserService.insertNewUsers`): its CTE for that statement.
   */
  membershipsCte(tenantId: string): (pairs: MembershipPairsSql) => MembershipPairsSql {
    return (pairs) => this.writes.membershipsCte(tenantId, pairs);
  }

  /**
   * Creates the groups of `names` missing in the directory (names compare ignoring case; a
   * name created meanwhile is kept as it is) and returns every group of the directory. Each
   * name must pass the group name rule: the caller checked it with `checkGroupName`, this
   * refuses one that does not rather than write it.
   */
  async createMissing(tx: Executor, tenantId: string, directoryId: string, names: readonly string[]): Promise<GroupRow[]> {
    const errors: UserError[] = [];
    const clean = names.map((n) => checkGroupName(n, errors));
    if (errors.length) throw new DomainError(errors);
    const existing = new Set((await this.store.inDirectory(tenantId, directoryId, tx)).map((g) => g.name.toLowerCase()));
    const missing = [...new Map(clean.filter((n) => !existing.has(n.toLowerCase())).map((n) => [n.toLowerCase(), n])).values()];
    if (missing.length) await this.writes.insertNames(tx, tenantId, directoryId, missing);
    return this.store.inDirectory(tenantId, directoryId, tx);
  }
}
