import DataLoader from 'dataloader';
import type { GroupStore } from './group.store.js';
import type { GroupRow } from './group.types.js';

export function createGroupLoaders(store: GroupStore, tenantId: string) {
  const groupById = new DataLoader<string, GroupRow | null>(async (ids) => {
    const rows = await store.byIds(tenantId, ids);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  });
  return {
    groupById,
    /** Each user's groups sorted by name (the store sorts), one statement per batch; the groups found also answer `groupById`. */
    groupsByUser: new DataLoader<string, GroupRow[]>(async (userIds) => {
      const byUser = await store.ofUsers(tenantId, userIds);
      for (const list of byUser.values()) for (const g of list) groupById.prime(g.id, g);
      return userIds.map((id) => byUser.get(id) ?? []);
    }),
    groupMemberCount: new DataLoader<string, number>(async (ids) => {
      const counts = await store.memberCounts(tenantId, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
  };
}
