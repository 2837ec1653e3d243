import { Ctx, FieldResolver, Query, Resolver, Root, ID } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toGlobalId } from '../../shared/ids.js';
import { Tenant, type TenantRow } from './tenant.types.js';

@Resolver(() => Tenant)
export class TenantResolver {
  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => Tenant, { description: "The signed-in administrator's tenant." })
  tenant(@Ctx() ctx: Context): Promise<TenantRow> {
    return ctx.services.tenants.forViewer(viewerOf(ctx));
  }

  @FieldResolver(() => ID)
  id(@Root() t: TenantRow): string {
    return toGlobalId('Tenant', t.id);
  }
}
