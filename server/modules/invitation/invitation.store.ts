import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { identityProviders, invitations, tenants, users } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import type { InvitationRow } from './invitation.types.js';

const invitationColumns = {
  id: invitations.id,
  tenantId: invitations.tenantId,
  userId: invitations.userId,
  identityProviderId: invitations.identityProviderId,
  kind: invitations.kind,
  expiresAt: invitations.expiresAt,
  acceptedAt: invitations.acceptedAt,
  revokedAt: invitations.revokedAt,
  createdAt: invitations.createdAt,
};

export interface InviteTarget {
  id: string;
  email: string | null;
  firstName: string;
  status: string;
  directoryId: string;
  identityProviderId: string | null;
}

export class InvitationStore {
  constructor(private readonly db: Db) {}

  async targets(tenantId: string, userIds: readonly string[], tx: Executor = this.db): Promise<InviteTarget[]> {
    if (!userIds.length) return [];
    return tx
      .select({
        id: users.id,
        email: users.email,
        firstName: users.firstName,
        status: users.status,
        directoryId: users.directoryId,
        identityProviderId: users.identityProviderId,
      })
      .from(users)
      .where(and(eq(users.tenantId, tenantId), inArray(users.id, [...userIds])));
  }

  async tenantAndIdps(tenantId: string, tx: Executor = this.db) {
    const [tenant] = await tx
      .select({ name: tenants.name, slug: tenants.slug, features: tenants.features })
      .from(tenants)
      .where(eq(tenants.id, tenantId));
    const idps = await tx
      .select({
        id: identityProviders.id,
        name: identityProviders.name,
        isDefault: identityProviders.isDefault,
        directoryId: identityProviders.directoryId,
      })
      .from(identityProviders)
      .where(eq(identityProviders.tenantId, tenantId));
    return { tenant: tenant!, idps };
  }

  /** Voids every still-usable link of these users (of one kind, or all kinds). */
  async revokePending(tenantId: string, userIds: readonly string[], kind: string | null, tx: Executor = this.db): Promise<void> {
    if (!userIds.length) return;
    await tx
      .update(invitations)
      .set({ revokedAt: new Date() })
      .where(
        and(
          eq(invitations.tenantId, tenantId),
          inArray(invitations.userId, [...userIds]),
          kind ? eq(invitations.kind, kind) : undefined,
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
        ),
      );
  }

  async insertMany(
    rows: {
      tenantId: string;
      userId: string;
      identityProviderId: string;
      kind: string;
      tokenHash: string;
      expiresAt: Date;
      createdBy: string | null;
    }[],
    tx: Executor = this.db,
  ): Promise<{ id: string; userId: string }[]> {
    if (!rows.length) return [];
    return tx.insert(invitations).values(rows).returning({ id: invitations.id, userId: invitations.userId });
  }

  /** Sets last_invited_at and, for invitations, the IdP each user was invited to: one UPDATE … FROM (VALUES …). */
  async markInvited(
    tenantId: string,
    rows: { userId: string; identityProviderId: string | null }[],
    tx: Executor = this.db,
  ): Promise<void> {
    if (!rows.length) return;
    const values = sql.join(
      rows.map((r) => sql`(${r.userId}::uuid, ${r.identityProviderId}::uuid)`),
      sql`, `,
    );
    await tx.execute(sql`
      update ${users} u set last_invited_at = now(), updated_at = now(),
        identity_provider_id = coalesce(v.idp, u.identity_provider_id)
      from (values ${values}) as v(id, idp)
      where u.id = v.id and u.tenant_id = ${tenantId}`);
  }

  async byTokenHash(tokenHash: string, tx: Executor = this.db) {
    const [row] = await tx
      .select({
        ...invitationColumns,
        userStatus: users.status,
        userEmail: users.email,
        username: users.username,
        tenantSlug: tenants.slug,
        idpName: identityProviders.name,
      })
      .from(invitations)
      .innerJoin(users, eq(users.id, invitations.userId))
      .innerJoin(tenants, eq(tenants.id, invitations.tenantId))
      .leftJoin(identityProviders, eq(identityProviders.id, invitations.identityProviderId))
      .where(eq(invitations.tokenHash, tokenHash));
    return row ?? null;
  }

  /** The single-use guarantee: only one concurrent caller gets the row back. */
  async accept(id: string, tx: Executor = this.db): Promise<boolean> {
    const rows = await tx
      .update(invitations)
      .set({ acceptedAt: new Date() })
      .where(
        and(eq(invitations.id, id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), sql`${invitations.expiresAt} > now()`),
      )
      .returning({ id: invitations.id });
    return rows.length === 1;
  }

  async setPassword(userId: string, passwordHash: string, tx: Executor = this.db): Promise<void> {
    await tx
      .update(users)
      .set({ passwordHash, status: 'ACTIVE', activatedAt: sql`coalesce(${users.activatedAt}, now())`, updatedAt: new Date() })
      .where(eq(users.id, userId));
  }

  async byUsers(tenantId: string, userIds: readonly string[], tx: Executor = this.db): Promise<InvitationRow[]> {
    if (!userIds.length) return [];
    return tx
      .select(invitationColumns)
      .from(invitations)
      .where(and(eq(invitations.tenantId, tenantId), inArray(invitations.userId, [...userIds])))
      .orderBy(desc(invitations.createdAt));
  }
}
