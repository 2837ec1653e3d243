import type { Viewer } from '../../shared/viewer.js';
import type { Db } from '../../shared/db.js';
import { DomainError, ErrorCode, forbidden, userError, type UserError } from '../../shared/errors.js';
import { sessionOnlyMessage } from '../../shared/scopes.js';
import { checkName } from '../../shared/validation.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import type { GroupStore } from '../group/group.store.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import type { SyncRunStore } from '../sync-run/sync-run.store.js';
import type { ScimService } from '../scim/scim.service.js';
import { diff, type AuditService } from '../audit/audit.service.js';
import type { ProvisioningStore } from './provisioning.store.js';
import { configOf, DEFAULT_CONFIG, type ConfigJson, type ProvisioningRow } from './provisioning.types.js';

/** A provisioning as an audit target. */
function provisioningTarget(p: ProvisioningRow) {
  return { type: 'Provisioning', id: p.id, name: p.name };
}

/** Provisioning configuration: entitlement rules, the draft, and Save & Deploy. */
export class ProvisioningService {
  constructor(
    private readonly db: Db,
    private readonly store: ProvisioningStore,
    private readonly tenants: TenantStore,
    private readonly directories: DirectoryStore,
    private readonly groups: GroupStore,
    /** The sync-run module's store: deleting is refused while a run is active. */
    private readonly runs: Pick<SyncRunStore, 'active'>,
    /** Issues a SCIM provisioning's first bearer token in the creating transaction. */
    private readonly scim: Pick<ScimService, 'issueToken'>,
    private readonly audit: AuditService,
  ) {}

  /** Name and draft settings as one flat snapshot, so a change shows field by field. */
  private static snapshot(p: ProvisioningRow): Record<string, unknown> {
    return { name: p.name, ...configOf(p.draft) };
  }

  list(viewer: Viewer): Promise<ProvisioningRow[]> {
    return this.store.list(viewer.tenantId);
  }

  /** EAA: one per tenant, EAA and MFA entitlements. SCIM: many (names unique), MFA entitlement; returns its token once. */
  async create(
    viewer: Viewer,
    input: { kind: string; name: string },
  ): Promise<{ provisioning: ProvisioningRow; scimToken: string | null }> {
    const scim = input.kind === 'SCIM';
    // A SCIM provisioning comes with its bearer token, a new credential: minting one is for
    // admin sessions only (as rotateScimToken and API tokens), or a service token could hand
    // itself a credential beyond its own scopes.
    if (scim && viewer.apiToken) throw forbidden(sessionOnlyMessage('Creating a SCIM provisioning (it issues a bearer token)'));
    const tenant = await this.tenants.byId(viewer.tenantId);
    const missing = (scim ? ['MFA'] : ['EAA', 'MFA']).filter((e) => !tenant!.entitlements.includes(e));
    if (missing.length) {
      throw DomainError.of(
        ErrorCode.ENTITLEMENT_MISSING,
        `An ${input.kind} provisioning needs the ${scim ? 'MFA entitlement' : 'EAA and MFA entitlements'} (missing: ${missing.join(', ')}).`,
        ['input', 'kind'],
      );
    }
    const errors: UserError[] = [];
    const name = checkName(input.name, 'Name', ['input', 'name'], errors);
    if (errors.length) throw new DomainError(errors);
    // Friendly answers first; the unique indexes still decide under concurrency.
    const existing = await this.store.list(viewer.tenantId);
    if (existing.some((p) => p.name.toLowerCase() === name.toLowerCase())) {
      throw DomainError.of(ErrorCode.NAME_TAKEN, 'A provisioning with this name already exists.', ['input', 'name']);
    }
    if (!scim && existing.some((p) => p.kind === input.kind)) {
      throw DomainError.of(ErrorCode.ALREADY_EXISTS, 'The tenant already has an EAA provisioning (at most one is allowed).', [
        'input',
        'kind',
      ]);
    }
    return this.db.transaction(async (tx) => {
      const provisioning = await this.store.insert({ tenantId: viewer.tenantId, kind: input.kind, name, draft: DEFAULT_CONFIG }, tx);
      const scimToken = scim ? await this.scim.issueToken(viewer.tenantId, provisioning.id, tx) : null;
      const snapshot = ProvisioningService.snapshot(provisioning);
      await this.audit.change(
        tx,
        viewer,
        'provisioning.create',
        provisioningTarget(provisioning),
        diff(null, { kind: provisioning.kind, ...snapshot }, ['kind', ...Object.keys(snapshot)]),
      );
      return { provisioning, scimToken };
    });
  }

  /** Directories, groups and deploys belong to EAA provisionings; a SCIM one is fed by its identity provider. */
  private static eaaOnly(p: ProvisioningRow, what: string): void {
    if (p.kind === 'SCIM') {
      throw DomainError.of(ErrorCode.INVALID_STATE, `A SCIM provisioning has no ${what}: its identity provider pushes users and groups.`, [
        'input',
        'id',
      ]);
    }
  }

  private async editDraft(
    action: string,
    viewer: Viewer,
    id: string,
    edit: (draft: ConfigJson) => Promise<ConfigJson> | ConfigJson,
    { eaaOnly, ...extra }: { name?: string; eaaOnly?: string } = {},
  ) {
    return this.db.transaction(async (tx) => {
      const p = await this.store.lock(viewer.tenantId, id, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      if (eaaOnly) ProvisioningService.eaaOnly(p, eaaOnly);
      const draft = await edit(configOf(p.draft));
      const updated = await this.store.update(viewer.tenantId, id, { draft, ...extra }, tx);
      const before = ProvisioningService.snapshot(p);
      const after = ProvisioningService.snapshot(updated);
      const changes = diff(before, after, [...new Set([...Object.keys(before), ...Object.keys(after)])]);
      if (changes) await this.audit.change(tx, viewer, action, provisioningTarget(updated), changes);
      return updated;
    });
  }

  async update(
    viewer: Viewer,
    input: {
      id: string;
      name?: string | null;
      sendEnrollmentEmails?: boolean | null;
      includeManuallyProvisionedUsers?: boolean | null;
      syncIntervalMinutes?: number | null;
      removalGuardMaxUsers?: number | null;
      removalGuardMaxPercent?: number | null;
      scimDeletedUsers?: 'REMOVE' | 'KEEP_AS_MANUAL' | null;
    },
  ): Promise<ProvisioningRow> {
    const errors: UserError[] = [];
    const name = input.name != null ? checkName(input.name, 'Name', ['input', 'name'], errors) : undefined;
    if (
      input.syncIntervalMinutes != null &&
      (!Number.isInteger(input.syncIntervalMinutes) || input.syncIntervalMinutes < 1 || input.syncIntervalMinutes > 10080)
    ) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'The sync interval is 1 to 10080 minutes.', ['input', 'syncIntervalMinutes']));
    }
    if (input.removalGuardMaxUsers != null && input.removalGuardMaxUsers < 0) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'Must be 0 or more.', ['input', 'removalGuardMaxUsers']));
    }
    if (input.removalGuardMaxPercent != null && (input.removalGuardMaxPercent < 0 || input.removalGuardMaxPercent > 100)) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'Must be 0 to 100.', ['input', 'removalGuardMaxPercent']));
    }
    if (errors.length) throw new DomainError(errors);
    return this.editDraft(
      'provisioning.update',
      viewer,
      input.id,
      (d) => ({
        ...d,
        ...(input.sendEnrollmentEmails != null ? { sendEnrollmentEmails: input.sendEnrollmentEmails } : {}),
        ...(input.includeManuallyProvisionedUsers != null
          ? { includeManuallyProvisionedUsers: input.includeManuallyProvisionedUsers }
          : {}),
        ...(input.syncIntervalMinutes != null ? { syncIntervalMinutes: input.syncIntervalMinutes } : {}),
        ...(input.removalGuardMaxUsers != null ? { removalGuardMaxUsers: input.removalGuardMaxUsers } : {}),
        ...(input.removalGuardMaxPercent != null ? { removalGuardMaxPercent: input.removalGuardMaxPercent } : {}),
        ...(input.scimDeletedUsers != null ? { scimDeletedUsers: input.scimDeletedUsers } : {}),
      }),
      name ? { name } : {},
    );
  }

  async setDirectories(viewer: Viewer, id: string, directoryIds: string[]): Promise<ProvisioningRow> {
    const ids = [...new Set(directoryIds)];
    const found = await this.directories.byIds(viewer.tenantId, ids);
    if (found.length !== ids.length)
      throw DomainError.of(ErrorCode.NOT_FOUND, 'Every directory must exist in this tenant.', ['input', 'directoryIds']);
    return this.editDraft(
      'provisioning.set_directories',
      viewer,
      id,
      (d) => ({
        ...d,
        directories: ids.map((directoryId) => d.directories.find((x) => x.directoryId === directoryId) ?? { directoryId, groupIds: [] }),
      }),
      { eaaOnly: 'directories' },
    );
  }

  async setGroups(viewer: Viewer, id: string, directoryId: string, groupIds: string[]): Promise<ProvisioningRow> {
    const ids = [...new Set(groupIds)];
    const found = await this.groups.byIds(viewer.tenantId, ids);
    if (found.length !== ids.length || found.some((g) => g.directoryId !== directoryId)) {
      throw DomainError.of(ErrorCode.NOT_FOUND, 'Every group must exist in that directory.', ['input', 'groupIds']);
    }
    return this.editDraft(
      'provisioning.set_groups',
      viewer,
      id,
      (d) => {
        if (!d.directories.some((x) => x.directoryId === directoryId)) {
          throw DomainError.of(ErrorCode.INVALID_STATE, 'Associate the directory first (setProvisioningDirectories).', [
            'input',
            'directoryId',
          ]);
        }
        return { ...d, directories: d.directories.map((x) => (x.directoryId === directoryId ? { directoryId, groupIds: ids } : x)) };
      },
      { eaaOnly: 'groups' },
    );
  }

  /** Save & Deploy: the draft becomes the deployed configuration; the schedule starts from now. */
  async deploy(viewer: Viewer, id: string): Promise<ProvisioningRow> {
    return this.db.transaction(async (tx) => {
      const p = await this.store.lock(viewer.tenantId, id, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      ProvisioningService.eaaOnly(p, 'deploy (its settings apply at once)');
      const draft = configOf(p.draft);
      const intervalMs = draft.syncIntervalMinutes * 60_000;
      const deployed = await this.store.update(
        viewer.tenantId,
        id,
        { deployed: draft, deployedVersion: p.deployedVersion + 1, deployedAt: new Date(), nextSyncAt: new Date(Date.now() + intervalMs) },
        tx,
      );
      await this.audit.change(tx, viewer, 'provisioning.deploy', provisioningTarget(p), {
        deployedVersion: { before: p.deployedVersion, after: p.deployedVersion + 1 },
        ...diff({ config: p.deployed }, { config: draft }, ['config']),
      });
      return deployed;
    });
  }

  async delete(viewer: Viewer, id: string, ownedUsers: 'KEEP_AS_MANUAL' | 'REMOVE') {
    return this.db.transaction(async (tx) => {
      const p = await this.store.lock(viewer.tenantId, id, tx);
      if (!p) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such provisioning.', ['input', 'id']);
      if (await this.runs.active(id, tx)) {
        throw DomainError.of(ErrorCode.INVALID_STATE, 'A sync run is active: wait for it or cancel it first.', ['input', 'id']);
      }
      const r =
        ownedUsers === 'REMOVE'
          ? await this.store.removeOwned(viewer.tenantId, id, tx)
          : { users: await this.store.releaseOwned(viewer.tenantId, id, tx), devices: 0 };
      await this.store.delete(viewer.tenantId, id, tx);
      await this.audit.change(tx, viewer, 'provisioning.delete', provisioningTarget(p), {
        ownedUsers: { before: null, after: ownedUsers },
        affectedUsers: { before: null, after: r.users },
        devicesRemoved: { before: null, after: r.devices },
      });
      return { id, affectedUsers: r.users, devicesRemoved: r.devices };
    });
  }
}
