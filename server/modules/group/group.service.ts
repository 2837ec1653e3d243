import type { Viewer } from '../../shared/context.js';
import { decodeCursor, encodeCursor, pageSize, toConnection, type ConnectionShape } from '../../shared/pagination.js';
import type { UserRow } from '../user/user.types.js';
import type { GroupFilter, GroupStore } from './group.store.js';
import type { GroupRow } from './group.types.js';

export class GroupService {
  constructor(private readonly store: GroupStore) {}

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
}
