import type { Executor } from '../../shared/db.js';
import { isUuid } from '../../shared/ids.js';
import { diff } from '../audit/audit.service.js';
import type { AuditEntry } from '../audit/audit.types.js';
import type { MfaService } from '../mfa/mfa.service.js';
import { listResponse } from './scim-discovery.js';
import { userFilterSql } from './scim-filter.store.js';
import { parsePatch, patchUser } from './scim-patch.js';
import { parseProjection, parseUser, project, renderUser, USER_SCHEMA, versionOf, wants, type UserFields } from './scim-resources.js';
import { invalidFilter, notFound, uniqueness } from './scim.errors.js';
import { checkIfMatch, paging, type ListQuery, type ScimPrincipal, type ScimResponse, type ScimService } from './scim.service.js';
import type { Holder, ScimStore, ScimUserRow } from './scim.store.js';
import type { ScimActivityStore } from './scim-activity.store.js';

const AUDITED = ['username', 'email', 'firstName', 'lastName', 'externalId', 'displayName', 'suspendedAt', 'provisioningId'] as const;

/** The audit event of a SCIM write to an MFA user, with the fields it changed. */
function userEvent(action: string, before: ScimUserRow | null, after: ScimUserRow | null): AuditEntry[] {
  const u = (after ?? before)!;
  return [
    {
      action,
      targetType: 'MfaUser',
      targetId: u.id,
      targetName: u.username,
      changes: diff(before, after, AUDITED),
    },
  ];
}

/** Why a userName held elsewhere cannot be taken: the 409 names the owner. */
export function heldBy(what: string, value: string, h: Holder, p: ScimPrincipal): Error {
  if (h.provisioningId === null) {
    return uniqueness(
      `${what} "${value}" is held by a manually provisioned (MANUAL) MFA entry; turn on "include manually provisioned users" on provisioning "${p.provisioningName}" to claim it.`,
    );
  }
  if (h.provisioningId === p.provisioningId) return uniqueness(`${what} "${value}" already exists.`);
  return uniqueness(`${what} "${value}" is owned by provisioning "${h.ownerName}" (${h.ownerKind}); this SCIM client cannot change it.`);
}

/** /Users: SCIM users are MFA users whose source is the provisioning of the token. */
export class ScimUserService {
  constructor(
    private readonly d: {
      scim: ScimService;
      store: ScimStore;
      activity: Pick<ScimActivityStore, 'createUserLogged'>;
      mfa: Pick<MfaService, 'sendEnrollment'>;
    },
  ) {}

  private async render(p: ScimPrincipal, users: ScimUserRow[], withGroups: boolean) {
    const groups = withGroups
      ? await this.d.store.groupsOfUsers(
          p.tenantId,
          users.map((u) => u.id),
        )
      : [];
    return users.map((u) => renderUser(u, withGroups ? groups.filter((g) => g.userId === u.id) : null, p.base));
  }

  private one(p: ScimPrincipal, u: ScimUserRow, status: number, result?: string): ScimResponse {
    return {
      status,
      body: renderUser(u, null, p.base),
      location: `${p.base}/Users/${u.id}`,
      etag: versionOf(u),
      ...(result ? { result } : {}),
    };
  }

  async get(p: ScimPrincipal, id: string, q: ListQuery): Promise<ScimResponse> {
    const projection = parseProjection(q.attributes, q.excludedAttributes, USER_SCHEMA);
    const u = isUuid(id) ? await this.d.store.user(p.tenantId, p.provisioningId, id) : null;
    if (!u) throw notFound(`User ${id} not found.`);
    const [body] = await this.render(p, [u], wants(projection, 'groups'));
    return { status: 200, body: project(body!, projection), location: `${p.base}/Users/${u.id}`, etag: versionOf(u) };
  }

  /**
   * Filtered, paged list. Okta asks `userName eq "…"` with startIndex=1&count=100 before every
   * create: a first page shorter than `count` is its own total, so that costs one query.
   */
  async list(p: ScimPrincipal, q: ListQuery): Promise<ScimResponse> {
    const projection = parseProjection(q.attributes, q.excludedAttributes, USER_SCHEMA);
    const { startIndex, count } = paging(q);
    if (q.filter !== undefined && typeof q.filter !== 'string') throw invalidFilter('Give one "filter".');
    const where = typeof q.filter === 'string' && q.filter.trim() ? userFilterSql(q.filter) : undefined;
    const rows = count ? await this.d.store.userPage(p.tenantId, p.provisioningId, where, startIndex - 1, count) : [];
    const total = startIndex === 1 && rows.length < count ? rows.length : await this.d.store.userCount(p.tenantId, p.provisioningId, where);
    const resources = (await this.render(p, rows, wants(projection, 'groups'))).map((r) => project(r, projection));
    return { status: 200, body: listResponse(resources, total, startIndex) };
  }

  /** POST: creates the MFA user, or claims a MANUAL one of the same userName when the setting allows. */
  async create(p: ScimPrincipal, body: unknown): Promise<ScimResponse> {
    const f = parseUser(body);
    if (!(p.config.sendEnrollmentEmails && f.email)) {
      const fast = await this.d.scim.writeLogged(
        p,
        (tx) => this.d.activity.createUserLogged({ tenantId: p.tenantId, provisioningId: p.provisioningId, ...columns(f, null) }, tx),
        (u) => userEvent('scim.user.create', null, u)[0]!,
      );
      if (fast) return this.one(p, fast, 201);
    }
    return this.d.scim.write(p, 'POST', 'Users', async (tx) => {
      const holder = await this.d.store.userHolder(p.tenantId, f.username, tx);
      if (holder) {
        if (holder.provisioningId !== null || !p.config.includeManuallyProvisionedUsers) throw heldBy('userName', f.username, holder, p);
        // The claim: source changes, devices and enrolment stay, no email.
        const current = await this.d.store.userById(p.tenantId, holder.id, tx);
        const u = await this.d.store.updateUser(
          p.tenantId,
          holder.id,
          { provisioningId: p.provisioningId, ...columns(f, current?.suspendedAt ?? null) },
          tx,
        );
        return { ...this.one(p, u, 201, `claimed MANUAL user ${u.id}`), audit: userEvent('scim.user.claim', current, u) };
      }
      const u = await this.d.store.insertUser({ tenantId: p.tenantId, provisioningId: p.provisioningId, ...columns(f, null) }, tx);
      if (p.config.sendEnrollmentEmails && u.email) await this.d.mfa.sendEnrollment(tx, p.tenantId, p.tenantName, [u]);
      return { ...this.one(p, u, 201, `created ${u.id}`), audit: userEvent('scim.user.create', null, u) };
    });
  }

  private async locked(p: ScimPrincipal, id: string, tx: Executor, ifMatch: string | undefined): Promise<ScimUserRow> {
    const u = isUuid(id) ? await this.d.store.user(p.tenantId, p.provisioningId, id, tx, true) : null;
    if (!u) throw notFound(`User ${id} not found.`);
    checkIfMatch(ifMatch, versionOf(u));
    return u;
  }

  private async save(p: ScimPrincipal, u: ScimUserRow, f: UserFields, tx: Executor): Promise<ScimUserRow> {
    if (f.username.toLowerCase() !== u.username.toLowerCase()) {
      const holder = await this.d.store.userHolder(p.tenantId, f.username, tx);
      if (holder && holder.id !== u.id) throw heldBy('userName', f.username, holder, p);
    }
    return this.d.store.updateUser(p.tenantId, u.id, columns(f, u.suspendedAt), tx);
  }

  async replace(p: ScimPrincipal, id: string, body: unknown, ifMatch?: string): Promise<ScimResponse> {
    const f = parseUser(body);
    return this.d.scim.write(p, 'PUT', `Users/${id}`, async (tx) => {
      const before = await this.locked(p, id, tx, ifMatch);
      const u = await this.save(p, before, f, tx);
      return { ...this.one(p, u, 200, describe(f)), audit: userEvent('scim.user.replace', before, u) };
    });
  }

  async patch(p: ScimPrincipal, id: string, body: unknown, ifMatch?: string): Promise<ScimResponse> {
    const ops = parsePatch(body);
    return this.d.scim.write(p, 'PATCH', `Users/${id}`, async (tx) => {
      const current = await this.locked(p, id, tx, ifMatch);
      const { meta: _m, ...representation } = renderUser(current, null, p.base);
      const f = patchUser({ ...representation, meta: { created: current.createdAt, lastModified: current.updatedAt } }, ops);
      const u = await this.save(p, current, f, tx);
      return { ...this.one(p, u, 200, describe(f)), audit: userEvent('scim.user.patch', current, u) };
    });
  }

  /**
   * DELETE: by the provisioning's removal setting, the MFA user is removed with its devices
   * (REMOVE, the default) or released to MANUAL with them (KEEP_AS_MANUAL). Either way it is
   * gone from this provisioning.
   */
  async delete(p: ScimPrincipal, id: string, ifMatch?: string): Promise<ScimResponse> {
    return this.d.scim.write(p, 'DELETE', `Users/${id}`, async (tx) => {
      const u = await this.locked(p, id, tx, ifMatch);
      if (p.config.scimDeletedUsers === 'KEEP_AS_MANUAL') {
        const released = await this.d.store.updateUser(p.tenantId, u.id, { provisioningId: null }, tx);
        return { status: 204, result: 'released to MANUAL (devices kept)', audit: userEvent('scim.user.release', u, released) };
      }
      await this.d.store.deleteUser(p.tenantId, u.id, tx);
      return { status: 204, result: 'deleted with its devices', audit: userEvent('scim.user.delete', u, null) };
    });
  }
}

/** `active=false` suspends (the first suspension's time is kept); `true` lifts it. Devices are never touched. */
function columns(f: UserFields, suspendedAt: Date | null) {
  return {
    username: f.username,
    email: f.email,
    firstName: f.firstName,
    lastName: f.lastName,
    externalId: f.externalId,
    displayName: f.displayName,
    suspendedAt: f.active ? null : (suspendedAt ?? new Date()),
  };
}

function describe(f: UserFields): string {
  return f.active ? 'updated' : 'updated (suspended: active=false)';
}
