import type { Executor } from '../../shared/db.js';
import { isUuid } from '../../shared/ids.js';
import { diff } from '../audit/audit.service.js';
import type { AuditEntry } from '../audit/audit.types.js';
import { listResponse } from './scim-discovery.js';
import { groupFilterSql } from './scim-filter.store.js';
import { groupChange, parsePatch, type GroupChange } from './scim-patch.js';
import { GROUP_SCHEMA, parseGroup, parseProjection, project, renderGroup, versionOf, wants } from './scim-resources.js';
import { invalidFilter, invalidValue, notFound } from './scim.errors.js';
import { checkIfMatch, paging, type ListQuery, type ScimPrincipal, type ScimResponse, type ScimService } from './scim.service.js';
import type { ScimGroupRow, ScimStore } from './scim.store.js';
import { heldBy } from './scim-users.service.js';

/**
 * The audit event of a SCIM write to an MFA group: name and externalId before/after, and the
 * membership change (a count when the list is replaced, the SCIM ids added and removed otherwise).
 */
function groupEvent(
  action: string,
  before: ScimGroupRow | null,
  after: ScimGroupRow | null,
  members: Record<string, unknown> | null,
): AuditEntry[] {
  const g = (after ?? before)!;
  const changes = { ...diff(before, after, ['name', 'externalId', 'provisioningId']) };
  for (const [field, value] of Object.entries(members ?? {})) {
    if (Array.isArray(value) && !value.length) continue;
    changes[field] = { before: null, after: value };
  }
  return [{ action, targetType: 'MfaGroup', targetId: g.id, targetName: g.name, changes: Object.keys(changes).length ? changes : null }];
}

/**
 * /Groups: MFA groups whose source is the provisioning. Members can only be users of the same
 * provisioning (its token reaches nothing else). Membership changes are set-based SQL, so an
 * Entra batch of member adds/removes costs a few statements whatever the group's size.
 */
export class ScimGroupService {
  constructor(private readonly d: { scim: ScimService; store: ScimStore }) {}

  private async render(p: ScimPrincipal, groups: ScimGroupRow[], withMembers: boolean, tx?: Executor) {
    const members = withMembers
      ? await this.d.store.membersOf(
          p.tenantId,
          groups.map((g) => g.id),
          tx,
        )
      : [];
    return groups.map((g) => renderGroup(g, withMembers ? members.filter((m) => m.groupId === g.id) : null, p.base));
  }

  /** Inside the write's transaction (on PGlite, the one connection: a read outside it would wait for it forever). */
  private async one(p: ScimPrincipal, g: ScimGroupRow, status: number, result: string, tx: Executor): Promise<ScimResponse> {
    const [body] = await this.render(p, [g], true, tx);
    return { status, body, location: `${p.base}/Groups/${g.id}`, etag: versionOf(g), result };
  }

  async get(p: ScimPrincipal, id: string, q: ListQuery): Promise<ScimResponse> {
    const projection = parseProjection(q.attributes, q.excludedAttributes, GROUP_SCHEMA);
    const g = isUuid(id) ? await this.d.store.group(p.tenantId, p.provisioningId, id) : null;
    if (!g) throw notFound(`Group ${id} not found.`);
    const [body] = await this.render(p, [g], wants(projection, 'members'));
    return { status: 200, body: project(body!, projection), location: `${p.base}/Groups/${g.id}`, etag: versionOf(g) };
  }

  async list(p: ScimPrincipal, q: ListQuery): Promise<ScimResponse> {
    const projection = parseProjection(q.attributes, q.excludedAttributes, GROUP_SCHEMA);
    const { startIndex, count } = paging(q);
    if (q.filter !== undefined && typeof q.filter !== 'string') throw invalidFilter('Give one "filter".');
    const where = typeof q.filter === 'string' && q.filter.trim() ? groupFilterSql(q.filter) : undefined;
    const rows = count ? await this.d.store.groupPage(p.tenantId, p.provisioningId, where, startIndex - 1, count) : [];
    const total =
      startIndex === 1 && rows.length < count ? rows.length : await this.d.store.groupCount(p.tenantId, p.provisioningId, where);
    const resources = (await this.render(p, rows, wants(projection, 'members'))).map((r) => project(r, projection));
    return { status: 200, body: listResponse(resources, total, startIndex) };
  }

  /** Member ids must be users of this provisioning; anything else is named in a 400. */
  private async checkMembers(p: ScimPrincipal, ids: readonly string[], tx: Executor): Promise<void> {
    const bad = ids.find((id) => !isUuid(id));
    if (bad) throw invalidValue(`Member "${bad}" is not a User of this provisioning.`);
    const owned = await this.d.store.ownedUserIds(p.tenantId, p.provisioningId, [...new Set(ids)], tx);
    const unknown = ids.find((id) => !owned.has(id));
    if (unknown) throw invalidValue(`Member "${unknown}" is not a User of this provisioning.`);
  }

  private async applyMembers(p: ScimPrincipal, groupId: string, c: Pick<GroupChange, 'replaceMembers' | 'add' | 'remove'>, tx: Executor) {
    const adding = [...(c.replaceMembers ?? []), ...c.add];
    await this.checkMembers(p, adding, tx);
    if (c.replaceMembers) await this.d.store.clearMembers(groupId, tx);
    await this.d.store.addMembers(p.tenantId, groupId, [...new Set(adding)], tx);
    await this.d.store.removeMembers(groupId, [...c.remove], tx);
  }

  /** POST: creates the MFA group, or claims a MANUAL one of the same displayName when the setting allows. */
  async create(p: ScimPrincipal, body: unknown): Promise<ScimResponse> {
    const f = parseGroup(body);
    return this.d.scim.write(p, 'POST', 'Groups', async (tx) => {
      const holder = await this.d.store.groupHolder(p.tenantId, f.name, tx);
      let g: ScimGroupRow;
      let result: string;
      if (holder) {
        if (holder.provisioningId !== null || !p.config.includeManuallyProvisionedUsers) throw heldBy('displayName', f.name, holder, p);
        g = await this.d.store.updateGroup(
          p.tenantId,
          holder.id,
          { provisioningId: p.provisioningId, name: f.name, externalId: f.externalId },
          tx,
        );
        result = `claimed MANUAL group ${g.id}`;
      } else {
        g = await this.d.store.insertGroup(
          { tenantId: p.tenantId, provisioningId: p.provisioningId, name: f.name, externalId: f.externalId },
          tx,
        );
        result = `created ${g.id}`;
      }
      // A claimed group's members become the identity provider's list when it sends one.
      if (f.members !== undefined) await this.applyMembers(p, g.id, { replaceMembers: f.members, add: new Set(), remove: new Set() }, tx);
      return {
        ...(await this.one(p, g, 201, result, tx)),
        audit: groupEvent(
          holder ? 'scim.group.claim' : 'scim.group.create',
          holder ? g : null,
          g,
          f.members ? { members: f.members.length } : null,
        ),
      };
    });
  }

  private async locked(p: ScimPrincipal, id: string, tx: Executor, ifMatch: string | undefined): Promise<ScimGroupRow> {
    const g = isUuid(id) ? await this.d.store.group(p.tenantId, p.provisioningId, id, tx, true) : null;
    if (!g) throw notFound(`Group ${id} not found.`);
    checkIfMatch(ifMatch, versionOf(g));
    return g;
  }

  private async rename(p: ScimPrincipal, g: ScimGroupRow, name: string, tx: Executor): Promise<void> {
    if (name.toLowerCase() === g.name.toLowerCase()) return;
    const holder = await this.d.store.groupHolder(p.tenantId, name, tx);
    if (holder && holder.id !== g.id) throw heldBy('displayName', name, holder, p);
  }

  async replace(p: ScimPrincipal, id: string, body: unknown, ifMatch?: string): Promise<ScimResponse> {
    const f = parseGroup(body);
    return this.d.scim.write(p, 'PUT', `Groups/${id}`, async (tx) => {
      const g = await this.locked(p, id, tx, ifMatch);
      await this.rename(p, g, f.name, tx);
      await this.applyMembers(p, g.id, { replaceMembers: f.members ?? [], add: new Set(), remove: new Set() }, tx);
      const updated = await this.d.store.updateGroup(p.tenantId, g.id, { name: f.name, externalId: f.externalId }, tx);
      return {
        ...(await this.one(p, updated, 200, 'replaced', tx)),
        audit: groupEvent('scim.group.replace', g, updated, { members: f.members?.length ?? 0 }),
      };
    });
  }

  /** PATCH answers 204 (RFC 7644 §3.5.2 allows it): membership batches need not read the members back. */
  async patch(p: ScimPrincipal, id: string, body: unknown, ifMatch?: string): Promise<ScimResponse> {
    const c = groupChange(parsePatch(body));
    return this.d.scim.write(p, 'PATCH', `Groups/${id}`, async (tx) => {
      const g = await this.locked(p, id, tx, ifMatch);
      if (c.name !== undefined) {
        const name = c.name.trim();
        if (!name || [...name].length > 100) throw invalidValue('"displayName" must be 1 to 100 characters.');
        await this.rename(p, g, name, tx);
        c.name = name;
      }
      await this.applyMembers(p, g.id, c, tx);
      const updated = await this.d.store.updateGroup(
        p.tenantId,
        g.id,
        { ...(c.name !== undefined ? { name: c.name } : {}), ...(c.externalId !== undefined ? { externalId: c.externalId } : {}) },
        tx,
      );
      const members = c.replaceMembers ? `members set to ${c.replaceMembers.length}` : `+${c.add.size}/-${c.remove.size} members`;
      const memberChange = c.replaceMembers
        ? { members: c.replaceMembers.length }
        : { addedMemberIds: [...c.add], removedMemberIds: [...c.remove] };
      return {
        status: 204,
        etag: versionOf(updated),
        result: `updated (${members})`,
        audit: groupEvent('scim.group.patch', g, updated, memberChange),
      };
    });
  }

  /** DELETE removes the group and its memberships; its members stay. */
  async delete(p: ScimPrincipal, id: string, ifMatch?: string): Promise<ScimResponse> {
    return this.d.scim.write(p, 'DELETE', `Groups/${id}`, async (tx) => {
      const g = await this.locked(p, id, tx, ifMatch);
      await this.d.store.deleteGroup(p.tenantId, g.id, tx);
      return { status: 204, result: 'deleted', audit: groupEvent('scim.group.delete', g, null, null) };
    });
  }
}
