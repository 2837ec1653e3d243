import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch } from '../../shared/ids.js';
import { SessionOnly } from '../../shared/scopes.js';
import { Provisioning, type ProvisioningRow } from '../provisioning/provisioning.types.js';
import { RotateScimTokenInput, RotateScimTokenPayload, ScimActivityConnection } from './scim.types.js';

@Resolver(() => Provisioning)
export class ScimProvisioningResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: 'SCIM only: the base URL to give the identity provider (`<public origin>/scim/v2/<id>`); null for EAA.',
  })
  scimBaseUrl(@Root() p: ProvisioningRow, @Ctx() ctx: Context): string | null {
    return p.kind === 'SCIM' ? ctx.services.scim.baseUrl(p.id) : null;
  }

  @FieldResolver(() => ScimActivityConnection, {
    description: 'SCIM only: what the identity provider did (writes and refused requests), newest first; kept 30 days. Empty for EAA.',
  })
  scimActivity(
    @Root() p: ProvisioningRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
  ) {
    return ctx.services.scim.activityPage(viewerOf(ctx), p.id, { first, after });
  }

  // Minting a credential is for admin sessions only, as with API tokens: a service token must
  // not be able to hand itself (or anyone) another credential.
  @SessionOnly()
  @Mutation(() => RotateScimTokenPayload, {
    description: 'Issues a new bearer token for a SCIM provisioning (shown once); the previous ones keep working for the grace period.',
  })
  rotateScimToken(
    @Ctx() ctx: Context,
    @Arg('input', () => RotateScimTokenInput, { description: 'Provisioning and grace.' }) input: RotateScimTokenInput,
  ) {
    return toPayload(async () => {
      const r = await ctx.services.scim.rotateToken(viewerOf(ctx), idOrNoMatch(input.id, 'Provisioning'), input.graceMinutes);
      return { provisioning: r.provisioning, scimToken: r.token, previousTokenExpiresAt: r.previousTokenExpiresAt };
    });
  }
}
