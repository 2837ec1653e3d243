import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch } from '../../shared/ids.js';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toGlobalId } from '../../shared/ids.js';
import {
  CreateIdentityProviderInput,
  IdentityProvider,
  IdentityProviderPayload,
  type IdentityProviderRow,
} from './identity-provider.types.js';

@Resolver(() => IdentityProvider)
export class IdentityProviderResolver {
  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => [IdentityProvider], { description: "The tenant's identity providers, the default one first." })
  identityProviders(@Ctx() ctx: Context): Promise<IdentityProviderRow[]> {
    return ctx.services.identityProviders.list(viewerOf(ctx));
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => IdentityProviderPayload, { description: 'Adds an identity provider (login portal) to the tenant.' })
  createIdentityProvider(
    @Ctx() ctx: Context,
    @Arg('input', () => CreateIdentityProviderInput, { description: 'The new identity provider.' }) input: CreateIdentityProviderInput,
  ) {
    return toPayload(async () => ({
      identityProvider: await ctx.services.identityProviders.create(viewerOf(ctx), {
        ...input,
        directoryId: input.directoryId ? idOrNoMatch(input.directoryId, 'Directory') : null,
      }),
    }));
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
