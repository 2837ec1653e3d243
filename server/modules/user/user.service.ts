import type { Viewer } from '../../shared/context.js';
import { decodeCursor, encodeCursor, pageSize, toConnection, type ConnectionShape } from '../../shared/pagination.js';
import { UserOrder, type UserRow } from './user.types.js';
import { userCursorValue, type UserFilter, type UserStore } from './user.store.js';

export class UserService {
  constructor(private readonly store: UserStore) {}

  async list(
    viewer: Viewer,
    args: { first?: number | null; after?: string | null; filter: UserFilter; orderBy?: UserOrder | null },
  ): Promise<ConnectionShape<UserRow>> {
    const limit = pageSize(args.first);
    const order = args.orderBy ?? UserOrder.EMAIL_ASC;
    const c = decodeCursor(args.after);
    const after: [string | null, string] | null = c ? [c[0] === null ? null : String(c[0]), String(c[1])] : null;
    const rows = await this.store.page(viewer.tenantId, args.filter, order, limit + 1, after);
    return toConnection(
      rows,
      limit,
      after !== null,
      (r) => encodeCursor([userCursorValue(order, r), r.id]),
      () => this.store.count(viewer.tenantId, args.filter),
    );
  }
}
