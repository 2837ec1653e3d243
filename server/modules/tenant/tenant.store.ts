import { eq, sql } from 'drizzle-orm';
import { directories, groupMemberships, groups, identityProviders, tenants, users } from '../../../drizzle/schema/index.js';
import type { Db, Executor } from '../../shared/db.js';
import { DomainError, ErrorCode, pgErrorInfo } from '../../shared/errors.js';
import type { TenantRow } from './tenant.types.js';

export interface NewTenant {
  slug: string;
  name: string;
  entitlements: string[];
  features: string[];
  adminEmail: string;
  adminPasswordHash: string;
  adminFirstName: string;
  adminLastName: string;
}

export interface CreatedTenant {
  tenant: TenantRow;
  directoryId: string;
  adminUserId: string;
  usersGroupId: string;
  adminsGroupId: string;
  identityProviderId: string;
}

export class TenantStore {
  constructor(private readonly db: Db) {}

  async byId(id: string, tx: Executor = this.db): Promise<TenantRow | null> {
    const [row] = await tx.select().from(tenants).where(eq(tenants.id, id));
    return row ?? null;
  }

  async bySlug(slug: string, tx: Executor = this.db): Promise<TenantRow | null> {
    const [row] = await tx.select().from(tenants).where(eq(tenants.slug, slug));
    return row ?? null;
  }

  async count(tx: Executor = this.db): Promise<number> {
    const [row] = await tx.select({ n: sql<number>`count(*)::int` }).from(tenants);
    return row?.n ?? 0;
  }

  /** The tenant, its Cloud Directory, built-in groups, default IdP and first admin, in one transaction. */
  async create(input: NewTenant): Promise<CreatedTenant> {
    try {
      return await this.db.transaction(async (tx) => {
        const [tenant] = await tx
          .insert(tenants)
          .values({ slug: input.slug, name: input.name, entitlements: input.entitlements, features: input.features })
          .returning();
        const t = tenant!;
        const [dir] = await tx
          .insert(directories)
          .values({ tenantId: t.id, name: 'Cloud Directory', kind: 'CLOUD', description: 'Users managed in Roster.' })
          .returning({ id: directories.id });
        const directoryId = dir!.id;
        const [usersGroup, adminsGroup] = await tx
          .insert(groups)
          .values([
            { tenantId: t.id, directoryId, name: 'Users', builtIn: 'USERS', description: 'Every user of the directory.' },
            { tenantId: t.id, directoryId, name: 'Admins', builtIn: 'ADMINS', description: 'Administrators of the tenant.' },
          ])
          .returning({ id: groups.id });
        const [idp] = await tx
          .insert(identityProviders)
          .values({ tenantId: t.id, directoryId, name: `${input.slug}-idp`, isDefault: true, description: 'Default login portal.' })
          .returning({ id: identityProviders.id });
        const now = new Date();
        const [admin] = await tx
          .insert(users)
          .values({
            tenantId: t.id,
            directoryId,
            email: input.adminEmail,
            username: input.adminEmail,
            firstName: input.adminFirstName,
            lastName: input.adminLastName,
            status: 'ACTIVE',
            passwordHash: input.adminPasswordHash,
            identityProviderId: idp!.id,
            activatedAt: now,
          })
          .returning({ id: users.id });
        await tx.insert(groupMemberships).values([
          { tenantId: t.id, groupId: usersGroup!.id, userId: admin!.id },
          { tenantId: t.id, groupId: adminsGroup!.id, userId: admin!.id },
        ]);
        return {
          tenant: t,
          directoryId,
          adminUserId: admin!.id,
          usersGroupId: usersGroup!.id,
          adminsGroupId: adminsGroup!.id,
          identityProviderId: idp!.id,
        };
      });
    } catch (err) {
      if (pgErrorInfo(err).constraint === 'uniq_tenants_slug') {
        throw DomainError.of(ErrorCode.SLUG_TAKEN, `A tenant with slug "${input.slug}" already exists.`, ['slug']);
      }
      throw err;
    }
  }
}
