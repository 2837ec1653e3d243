import DataLoader from 'dataloader';
import type { GroupStore } from './group.store.js';
import type { GroupRow } from './group.types.js';

export function createGroupLoaders(store: GroupStore, tenantId: string) {
  return {
    groupById: new DataLoader<string, GroupRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    groupMemberCount: new DataLoader<string, number>(async (ids) => {
      const counts = await store.memberCounts(tenantId, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
  };
}
