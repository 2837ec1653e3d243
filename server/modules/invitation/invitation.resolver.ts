import { Arg, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from 'type-graphql';
import { Public } from '../../shared/auth-guard.js';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import { User, type UserRow } from '../user/user.types.js';
import { invitationStatus } from './invitation.service.js';
import {
  CompleteAccountSetupInput,
  CompleteAccountSetupPayload,
  EmailDelivery,
  EmailDeliveryStatus,
  Invitation,
  InviteUserInput,
  InvitationStatus,
  InviteUserPayload,
  type InvitationRow,
} from './invitation.types.js';

@Resolver(() => Invitation)
export class InvitationResolver {
  private async invite(ctx: Context, input: InviteUserInput) {
    return toPayload(async () => {
      const v = viewerOf(ctx);
      const r = await ctx.services.users.invite(v, {
        userId: idOrNoMatch(input.userId, 'User'),
        identityProviderId: input.identityProviderId ? idOrNoMatch(input.identityProviderId, 'IdentityProvider') : null,
      });
      const invitations = await ctx.services.invitations.byUsers(v.tenantId, [r.user.id]);
      return { user: r.user, invitation: invitations.find((i) => i.id === r.invitationId) ?? null };
    });
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => InviteUserPayload, {
    description:
      'Emails the user a single-use link: account setup if they are not active yet, a password reset if they are. Earlier pending links of the same kind stop working.',
  })
  inviteUser(@Ctx() ctx: Context, @Arg('input', () => InviteUserInput, { description: 'User and optional IdP.' }) input: InviteUserInput) {
    return this.invite(ctx, input);
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => InviteUserPayload, { description: 'Issues a new link and voids the previous one (same rules as `inviteUser`).' })
  reinviteUser(
    @Ctx() ctx: Context,
    @Arg('input', () => InviteUserInput, { description: 'User and optional IdP.' }) input: InviteUserInput,
  ) {
    return this.invite(ctx, input);
  }

  @Public()
  @Mutation(() => CompleteAccountSetupPayload, {
    description: 'Public, authenticated by the emailed token: sets the password and activates the account. Each link works once.',
  })
  completeAccountSetup(
    @Ctx() ctx: Context,
    @Arg('input', () => CompleteAccountSetupInput, { description: 'Token and new password.' }) input: CompleteAccountSetupInput,
  ) {
    return toPayload(
      async () => {
        const r = await ctx.services.invitations.completeAccountSetup(ctx.client, input);
        return {
          success: true,
          email: r.email,
          portalUrl: r.idpName ? ctx.services.identityProviders.portalUrl({ name: r.idpName }) : null,
        };
      },
      { success: false },
    );
  }

  @FieldResolver(() => ID)
  id(@Root() i: InvitationRow): string {
    return toGlobalId('Invitation', i.id);
  }

  @FieldResolver(() => InvitationStatus)
  status(@Root() i: InvitationRow): InvitationStatus {
    return invitationStatus(i);
  }

  @FieldResolver(() => EmailDelivery, { nullable: true })
  async emailDelivery(@Root() i: InvitationRow, @Ctx() ctx: Context): Promise<EmailDelivery | null> {
    const s = await ctx.loaders.mailStatusByReference.load(`invitation:${i.id}`);
    return s ? { status: s.status.toUpperCase() as EmailDeliveryStatus, sentAt: s.sentAt, lastError: s.lastError } : null;
  }
}

@Resolver(() => User)
export class UserInvitationsResolver {
  @FieldResolver(() => [Invitation], { description: 'Links sent to the user, newest first, with their state and email delivery.' })
  invitations(@Root() u: UserRow, @Ctx() ctx: Context): Promise<InvitationRow[]> {
    return ctx.loaders.invitationsByUser.load(u.id);
  }
}
