import type { Viewer } from '../../shared/viewer.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, type UserError } from '../../shared/errors.js';
import { decodeCursor, encodeCursor, pageSize, toConnection, type ConnectionShape } from '../../shared/pagination.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import type { UserStore } from '../user/user.store.js';
import type { UserRow } from '../user/user.types.js';
import { checkName } from '../../shared/validation.js';
import { assertActiveAdminRemains, lockAdmins } from './admin-guard.js';
import type { GroupFilter, GroupStore, GroupWriteStore } from './group.store.js';
import type { GroupRow } from './group.types.js';

export const MAX_MEMBERS_PER_CALL = 1000;

export class GroupService {
  constructor(
    private readonly db: Db,
    private readonly store: GroupStore,
    private readonly writes: GroupWriteStore,
    private readonly directories: DirectoryStore,
    private readonly users: UserStore,
  ) {}

  async list(
    viewer: Viewer,
    args: { first?: number | null; after?: string | null; filter: GroupFilter },
  ): Promise<ConnectionShape<GroupRow>> {
    const limit = pageSize(args.first);
    const c = decodeCursor(args.after);
    const after: [string, string] | null = c ? [String(c[0]), String(c[1])] : null;
    const rows = await this.store.page(viewer.tenantId, args.filter, limit + 1, after);
    return toConnection(
      rows,
      limit,
      after !== null,
      (r) => encodeCursor([r.name.toLowerCase(), r.id]),
      () => this.store.count(viewer.tenantId, args.filter),
    );
  }

  async members(
    viewer: Viewer,
    groupId: string,
    args: { first?: number | null; after?: string | null },
    count: () => Promise<number>,
  ): Promise<ConnectionShape<UserRow>> {
    const limit = pageSize(args.first);
    const c = decodeCursor(args.after);
    const after: [string, string] | null = c ? [String(c[0]), String(c[1])] : null;
    const rows = await this.store.members(viewer.tenantId, groupId, limit + 1, after);
    return toConnection(rows, limit, after !== null, (r) => encodeCursor([r.email ?? '', r.id]), count);
  }

  private async get(viewer: Viewer, id: string): Promise<GroupRow> {
    const [g] = await this.store.byIds(viewer.tenantId, [id]);
    if (!g) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
    return g;
  }

  async create(viewer: Viewer, input: { directoryId?: string | null; name: string; description?: string | null }): Promise<GroupRow> {
    const errors: UserError[] = [];
    const name = checkName(input.name, 'Name', ['input', 'name'], errors);
    if (errors.length) throw new DomainError(errors);
    const dir = input.directoryId
      ? (await this.directories.byIds(viewer.tenantId, [input.directoryId]))[0]
      : await this.directories.cloud(viewer.tenantId);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    return this.writes.insert({ tenantId: viewer.tenantId, directoryId: dir.id, name, description: input.description?.trim() || null });
  }

  async update(viewer: Viewer, input: { id: string; name?: string | null; description?: string | null }): Promise<GroupRow> {
    const g = await this.get(viewer, input.id);
    const errors: UserError[] = [];
    const patch: { name?: string; description?: string | null } = {};
    if (input.name != null) {
      patch.name = checkName(input.name, 'Name', ['input', 'name'], errors);
      if (g.builtIn === 'USERS' && patch.name !== g.name) {
        throw DomainError.of(ErrorCode.BUILT_IN_GROUP, 'The built-in Users group cannot be renamed.', ['input', 'name']);
      }
    }
    if (input.description !== undefined) patch.description = input.description?.trim() || null;
    if (errors.length) throw new DomainError(errors);
    const updated = await this.writes.update(viewer.tenantId, g.id, patch);
    if (!updated) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
    return updated;
  }

  async delete(viewer: Viewer, id: string): Promise<string> {
    const g = await this.get(viewer, id);
    if (g.builtIn) throw DomainError.of(ErrorCode.BUILT_IN_GROUP, `The built-in ${g.name} group cannot be deleted.`, ['input', 'id']);
    if (!(await this.writes.delete(viewer.tenantId, g.id))) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such group.', ['input', 'id']);
    return g.id;
  }

  private async checkMembers(viewer: Viewer, group: GroupRow, userIds: string[]): Promise<string[]> {
    const ids = [...new Set(userIds)];
    if (ids.length > MAX_MEMBERS_PER_CALL) {
      throw DomainError.of(ErrorCode.INVALID_INPUT, `At most ${MAX_MEMBERS_PER_CALL} users per call; use bulkAddUsersToGroups for more.`, ['input', 'userIds']);
    }
    const found = await this.users.byIds(viewer.tenantId, ids);
    if (found.length !== ids.length || found.some((u) => u.directoryId !== group.directoryId)) {
      throw DomainError.of(ErrorCode.NOT_FOUND, "Every user must exist in the group's directory.", ['input', 'userIds']);
    }
    return ids;
  }

  async addMembers(viewer: Viewer, groupId: string, userIds: string[]): Promise<GroupRow> {
    const g = await this.get(viewer, groupId);
    const ids = await this.checkMembers(viewer, g, userIds);
    await this.writes.addMemberships(viewer.tenantId, ids.map((userId) => ({ groupId: g.id, userId })));
    return g;
  }

  async removeMembers(viewer: Viewer, groupId: string, userIds: string[]): Promise<GroupRow> {
    const g = await this.get(viewer, groupId);
    if (g.builtIn === 'USERS') {
      throw DomainError.of(ErrorCode.BUILT_IN_GROUP, 'Every user is a member of the built-in Users group; delete the user instead.', ['input', 'groupId']);
    }
    const ids = await this.checkMembers(viewer, g, userIds);
    await this.db.transaction(async (tx) => {
      if (g.builtIn === 'ADMINS') await lockAdmins(tx, viewer.tenantId);
      await this.writes.removeMemberships(viewer.tenantId, g.id, ids, tx);
      if (g.builtIn === 'ADMINS') await assertActiveAdminRemains(tx, viewer.tenantId);
    });
    return g;
  }
}
