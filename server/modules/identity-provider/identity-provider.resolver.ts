import { Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../shared/context.js';
import { viewerOf } from '../../shared/context.js';
import { toGlobalId } from '../../shared/ids.js';
import { IdentityProvider, type IdentityProviderRow } from './identity-provider.types.js';

@Resolver(() => IdentityProvider)
export class IdentityProviderResolver {
  @Query(() => [IdentityProvider], { description: "The tenant's identity providers, the default one first." })
  identityProviders(@Ctx() ctx: Context): Promise<IdentityProviderRow[]> {
    return ctx.services.identityProviders.list(viewerOf(ctx));
  }

  @FieldResolver(() => ID)
  id(@Root() idp: IdentityProviderRow): string {
    return toGlobalId('IdentityProvider', idp.id);
  }

  @FieldResolver(() => String)
  portalUrl(@Root() idp: IdentityProviderRow, @Ctx() ctx: Context): string {
    return ctx.services.identityProviders.portalUrl(idp);
  }
}
