import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import { SessionOnly } from '../../shared/scopes.js';
import {
  ApiToken,
  ApiTokenConnection,
  ApiTokenIdInput,
  ApiTokenSecretPayload,
  CreateApiTokenInput,
  RevokeApiTokenPayload,
  type ApiTokenRow,
} from './api-token.types.js';

@Resolver(() => ApiToken)
export class ApiTokenResolver {
  @SessionOnly()
  @Query(() => ApiTokenConnection, { description: "The tenant's API tokens, newest first, revoked ones included. Admin sessions only." })
  apiTokens(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return ctx.services.apiTokens.page(viewerOf(ctx), { first, after });
  }

  @SessionOnly()
  @Mutation(() => ApiTokenSecretPayload, {
    description: 'Creates an API token for a service and returns its secret once. Admin sessions only: a token cannot create tokens.',
  })
  createApiToken(
    @Ctx() ctx: Context,
    @Arg('input', () => CreateApiTokenInput, { description: 'The new token.' }) input: CreateApiTokenInput,
  ) {
    return toPayload(async () => {
      const r = await ctx.services.apiTokens.create(viewerOf(ctx), input);
      return { apiToken: r.token, secret: r.secret };
    });
  }

  @SessionOnly()
  @Mutation(() => ApiTokenSecretPayload, {
    description:
      'Gives a token a new secret, returned once. The previous secret keeps working for the grace period (API_TOKEN_ROTATION_GRACE_HOURS, default 24 h); rotating again ends it at once.',
  })
  rotateApiToken(@Ctx() ctx: Context, @Arg('input', () => ApiTokenIdInput, { description: 'The token.' }) input: ApiTokenIdInput) {
    return toPayload(async () => {
      const r = await ctx.services.apiTokens.rotate(viewerOf(ctx), idOrNoMatch(input.id, 'ApiToken'));
      return { apiToken: r.token, secret: r.secret };
    });
  }

  @SessionOnly()
  @Mutation(() => RevokeApiTokenPayload, {
    description: 'Revokes a token (every secret of it) at once; its open websockets are closed with 4403.',
  })
  revokeApiToken(@Ctx() ctx: Context, @Arg('input', () => ApiTokenIdInput, { description: 'The token.' }) input: ApiTokenIdInput) {
    return toPayload(async () => ({ apiToken: await ctx.services.apiTokens.revoke(viewerOf(ctx), idOrNoMatch(input.id, 'ApiToken')) }));
  }

  @FieldResolver(() => ID)
  id(@Root() t: ApiTokenRow): string {
    return toGlobalId('ApiToken', t.id);
  }

  @FieldResolver(() => ID, { nullable: true })
  createdById(@Root() t: ApiTokenRow): string | null {
    return t.createdBy ? toGlobalId('User', t.createdBy) : null;
  }

  @FieldResolver(() => Date, { nullable: true })
  previousSecretExpiresAt(@Root() t: ApiTokenRow): Date | null {
    return t.rotatedAt ? t.previousExpiresAt : null;
  }
}
