import type { Viewer } from '../../shared/context.js';
import { decodeCursor, encodeCursor, pageSize, toConnection, type ConnectionShape } from '../../shared/pagination.js';
import type { DirectoryStore } from './directory.store.js';
import type { DirectoryRow } from './directory.types.js';

export class DirectoryService {
  constructor(private readonly store: DirectoryStore) {}

  async list(viewer: Viewer, args: { first?: number | null; after?: string | null }): Promise<ConnectionShape<DirectoryRow>> {
    const limit = pageSize(args.first);
    const c = decodeCursor(args.after);
    const after = c ? { name: String(c[0]), id: String(c[1]) } : null;
    const rows = await this.store.page(viewer.tenantId, limit + 1, after);
    return toConnection(
      rows,
      limit,
      after !== null,
      (r) => encodeCursor([r.name.toLowerCase(), r.id]),
      () => this.store.count(viewer.tenantId),
    );
  }

  cloudDirectory(viewer: Viewer): Promise<DirectoryRow> {
    return this.store.cloud(viewer.tenantId);
  }
}
