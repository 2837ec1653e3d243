import type { Viewer } from '../../shared/viewer.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { checkDescription, checkName } from '../../shared/validation.js';
import { keysetPage, sortValueAndIdKey, type ConnectionShape } from '../../shared/pagination.js';
import { diff, type AuditService } from '../audit/audit.service.js';
import type { DirectoryStore } from './directory.store.js';
import type { DirectoryRow } from './directory.types.js';

export class DirectoryService {
  constructor(
    private readonly db: Db,
    private readonly store: DirectoryStore,
    private readonly audit: AuditService,
  ) {}

  async list(viewer: Viewer, args: { first?: number | null; after?: string | null }): Promise<ConnectionShape<DirectoryRow>> {
    return keysetPage(args, {
      key: sortValueAndIdKey,
      fetch: (limit, after) => this.store.page(viewer.tenantId, limit, after ? { name: after[0], id: after[1] } : null),
      cursorOf: (r) => [r.name.toLowerCase(), r.id],
      count: () => this.store.count(viewer.tenantId),
    });
  }

  async create(viewer: Viewer, input: { name: string; kind: string; description?: string | null }): Promise<DirectoryRow> {
    const errors: UserError[] = [];
    const name = checkName(input.name, 'Name', ['input', 'name'], errors);
    const description = checkDescription(input.description, ['input', 'description'], errors);
    if (input.kind === 'CLOUD') {
      errors.push(
        userError(ErrorCode.INVALID_INPUT, 'A tenant has exactly one Cloud Directory; create ACTIVE_DIRECTORY or LDAP ones.', [
          'input',
          'kind',
        ]),
      );
    }
    if (errors.length) throw new DomainError(errors);
    return this.db.transaction(async (tx) => {
      const dir = await this.store.insertWithUsersGroup({ tenantId: viewer.tenantId, name, kind: input.kind, description }, tx);
      const changes = diff(null, dir, ['name', 'kind', 'description']);
      await this.audit.change(tx, viewer, 'directory.create', { type: 'Directory', id: dir.id, name: dir.name }, changes);
      return dir;
    });
  }
}
