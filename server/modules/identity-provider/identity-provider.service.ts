import type { Viewer } from '../../shared/context.js';
import type { IdentityProviderStore } from './identity-provider.store.js';
import type { IdentityProviderRow } from './identity-provider.types.js';

export class IdentityProviderService {
  constructor(
    private readonly store: IdentityProviderStore,
    private readonly portalBaseUrl: string,
  ) {}

  list(viewer: Viewer): Promise<IdentityProviderRow[]> {
    return this.store.list(viewer.tenantId);
  }

  /** `<portal base>/<idp name>`: the IdP's name is part of every link users follow. */
  portalUrl(idp: IdentityProviderRow): string {
    return `${this.portalBaseUrl.replace(/\/+$/, '')}/${encodeURIComponent(idp.name)}`;
  }
}
