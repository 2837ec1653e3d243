import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { Public } from '../../shared/auth-guard.js';
import { toPayload } from '../../shared/errors.js';
import { toGlobalId } from '../../shared/ids.js';
import {
  BeginWebAuthnRegistrationInput,
  FinishWebAuthnRegistrationInput,
  FinishWebAuthnRegistrationPayload,
  WebAuthnAuthenticationOptionsInput,
  WebAuthnOptionsPayload,
} from './mfa-webauthn.types.js';

@Resolver()
export class MfaWebauthnResolver {
  @Public()
  @Mutation(() => WebAuthnOptionsPayload, {
    description: 'Public, authenticated by an enrolment link: creation options for a security key or passkey.',
  })
  beginWebAuthnRegistration(
    @Arg('input', () => BeginWebAuthnRegistrationInput, { description: 'Token and key name.' }) input: BeginWebAuthnRegistrationInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(() => ctx.services.mfaWebauthn.beginRegistration(ctx.client, input));
  }

  @Public()
  @Mutation(() => FinishWebAuthnRegistrationPayload, {
    description: 'Public: the browser’s registration response. When it verifies the key becomes an ACTIVE device and the link is used up.',
  })
  finishWebAuthnRegistration(
    @Arg('input', () => FinishWebAuthnRegistrationInput, { description: 'Token and response.' }) input: FinishWebAuthnRegistrationInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(
      async () => {
        const r = await ctx.services.mfaWebauthn.finishRegistration(ctx.client, input);
        return { success: true, deviceId: toGlobalId('MfaDevice', r.deviceId) };
      },
      { success: false },
    );
  }

  @RequiresScope(ApiScope.MFA_VERIFY)
  @Mutation(() => WebAuthnOptionsPayload, {
    description:
      "Request options (a new single-use challenge) for the user's enabled security keys; answer with `verifyMfa(webauthnResponse)`.",
  })
  webAuthnAuthenticationOptions(
    @Arg('input', () => WebAuthnAuthenticationOptionsInput, { description: 'The user.' }) input: WebAuthnAuthenticationOptionsInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(() => ctx.services.mfaVerify.authenticationOptions(viewerOf(ctx), input.user));
  }
}
