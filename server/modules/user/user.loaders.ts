import DataLoader from 'dataloader';
import type { UserStore } from './user.store.js';
import type { UserRow } from './user.types.js';

export function createUserLoaders(store: UserStore, tenantId: string) {
  return {
    userById: new DataLoader<string, UserRow | null>(async (ids) => {
      const rows = await store.byIds(tenantId, ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
