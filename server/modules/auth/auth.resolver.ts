import { SessionOnly } from '../../shared/scopes.js';
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Public } from '../../shared/auth-guard.js';
import { ChecksOwnText } from '../../shared/input-guard.js';
import type { Context, Viewer } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { LoginInput, LoginPayload, LogoutPayload, ViewerInfo } from './auth.types.js';

async function viewerInfo(ctx: Context, v: Viewer & { userId: string }) {
  const [user, tenant, exp] = await Promise.all([
    ctx.loaders.userById.load(v.userId),
    ctx.services.tenants.forViewer(v),
    ctx.services.auth.sessionExpiresAt(v),
  ]);
  return { user, tenant, sessionExpiresAt: exp };
}

@Resolver()
export class AuthResolver {
  @Public()
  @Query(() => ViewerInfo, {
    nullable: true,
    description: 'The signed-in administrator; null without a valid session, and for an API token (it acts for no person).',
  })
  async viewer(@Ctx() ctx: Context) {
    const v = ctx.viewer;
    return v?.userId ? viewerInfo(ctx, { ...v, userId: v.userId }) : null;
  }

  @Public()
  @ChecksOwnText()
  @Mutation(() => LoginPayload, {
    description: 'Signs a tenant administrator in. Every failure gives the same INVALID_CREDENTIALS error.',
  })
  login(@Ctx() ctx: Context, @Arg('input', () => LoginInput, { description: 'Credentials.' }) input: LoginInput) {
    return toPayload(async () => {
      const r = await ctx.services.auth.login(ctx.client, input, ctx.requestId);
      // This request started signed out: the rest of it (the payload's fields) runs as the new viewer.
      ctx.viewer = r.viewer;
      ctx.loaders = ctx.loadersFor(r.viewer.tenantId);
      // The sign-in read the tenant and wrote the user (lastSignInAt): the viewer is answered from those rows.
      const info = { user: r.user, tenant: r.tenant, sessionExpiresAt: r.expiresAt };
      ctx.log.info({ tenantId: r.viewer.tenantId, userId: r.viewer.userId }, 'admin signed in');
      return { token: r.token, expiresAt: r.expiresAt, viewer: info };
    });
  }

  @SessionOnly()
  @Mutation(() => LogoutPayload, { description: 'Ends the current session; its token stops working at once.' })
  logout(@Ctx() ctx: Context) {
    return toPayload(
      async () => {
        await ctx.services.auth.logout(viewerOf(ctx));
        return { success: true };
      },
      { success: false },
    );
  }
}
