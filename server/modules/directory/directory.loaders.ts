import DataLoader from 'dataloader';
import type { DirectoryStore } from './directory.store.js';
import type { DirectoryRow } from './directory.types.js';

export function createDirectoryLoaders(store: DirectoryStore, tenantId: string) {
  return {
    directoryById: new DataLoader<string, DirectoryRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    directoryUserCount: new DataLoader<string, number>(async (ids) => {
      const counts = await store.userCounts(tenantId, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    directoryGroupCount: new DataLoader<string, number>(async (ids) => {
      const counts = await store.groupCounts(tenantId, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
  };
}
