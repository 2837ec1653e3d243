import type { Viewer } from '../../shared/viewer.js';
import { DomainError, ErrorCode, type UserError } from '../../shared/errors.js';
import { checkDescription } from '../../shared/validation.js';
import type { Db } from '../../shared/db.js';
import { diff, type AuditService } from '../audit/audit.service.js';
import type { DirectoryStore } from '../directory/directory.store.js';

const IDP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
import type { IdentityProviderStore } from './identity-provider.store.js';
import type { IdentityProviderRow } from './identity-provider.types.js';

export class IdentityProviderService {
  constructor(
    private readonly store: IdentityProviderStore,
    private readonly portalBaseUrl: () => string,
    private readonly directories: DirectoryStore,
    private readonly db: Db,
    private readonly audit: AuditService,
  ) {}

  async create(
    viewer: Viewer,
    input: { name: string; description?: string | null; directoryId?: string | null },
  ): Promise<IdentityProviderRow> {
    const name = input.name.trim();
    if (!IDP_NAME.test(name)) {
      throw DomainError.of(ErrorCode.INVALID_INPUT, 'Name: 1–63 lowercase letters, digits and inner hyphens (it is part of URLs).', [
        'input',
        'name',
      ]);
    }
    const problems: UserError[] = [];
    const description = checkDescription(input.description, ['input', 'description'], problems);
    if (problems.length) throw new DomainError(problems);
    const dir = input.directoryId
      ? (await this.directories.byIds(viewer.tenantId, [input.directoryId]))[0]
      : await this.directories.cloud(viewer.tenantId);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    return this.db.transaction(async (tx) => {
      const idp = await this.store.insert({ tenantId: viewer.tenantId, directoryId: dir.id, name, description }, tx);
      const changes = diff(null, { ...idp, directory: dir.name }, ['name', 'description', 'directory']);
      await this.audit.change(tx, viewer, 'identity_provider.create', { type: 'IdentityProvider', id: idp.id, name: idp.name }, changes);
      return idp;
    });
  }

  list(viewer: Viewer): Promise<IdentityProviderRow[]> {
    return this.store.list(viewer.tenantId);
  }

  /** `<portal base>/<idp name>`: the IdP's name is part of every link users follow. */
  portalUrl(idp: Pick<IdentityProviderRow, 'name'>): string {
    return `${this.portalBaseUrl().replace(/\/+$/, '')}/${encodeURIComponent(idp.name)}`;
  }
}
