import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';

@InputType({ description: 'Starts registering a security key or passkey with the token of an enrolment link.' })
export class BeginWebAuthnRegistrationInput {
  @Field(() => String, { description: 'The `token` parameter of the enrolment link (used up by the finish step).' })
  token!: string;

  @Field(() => String, { nullable: true, description: 'A name for the key (1–100 characters; default "Security key").' })
  deviceName?: string;
}

@ObjectType({ description: 'WebAuthn options, as JSON for `navigator.credentials.create` / `.get` (e.g. via @simplewebauthn/browser).' })
export class WebAuthnOptionsPayload {
  @Field(() => String, {
    nullable: true,
    description:
      'PublicKeyCredentialCreationOptionsJSON or RequestOptionsJSON; its challenge is stored server-side, single-use, for 5 minutes.',
  })
  optionsJson?: string | null;

  @Field(() => [UserError], {
    description: 'TOKEN_INVALID, TOKEN_USED, TOKEN_EXPIRED, NOT_FOUND, INVALID_STATE (device limit, no security key).',
  })
  errors!: UserError[];
}

@InputType({ description: 'The browser’s answer to the registration options.' })
export class FinishWebAuthnRegistrationInput {
  @Field(() => String, { description: 'The same enrolment-link token; finishing uses it up.' })
  token!: string;

  @Field(() => String, { description: 'RegistrationResponseJSON, as JSON text.' })
  response!: string;
}

@ObjectType({ description: 'Result of `finishWebAuthnRegistration`.' })
export class FinishWebAuthnRegistrationPayload {
  @Field(() => Boolean, { description: 'True when the key is now an ACTIVE device.' })
  success!: boolean;

  @Field(() => ID, { nullable: true, description: 'Global id of the new device.' })
  deviceId?: string | null;

  @Field(() => [UserError], {
    description:
      'CODE_INVALID (the response does not verify: wrong challenge, origin or signature; counted against the link), ALREADY_EXISTS (key registered before), TOKEN_*, INVALID_INPUT, INVALID_STATE.',
  })
  errors!: UserError[];
}

@InputType({ description: 'Asks for a WebAuthn challenge for a user, to verify with `verifyMfa(webauthnResponse)`.' })
export class WebAuthnAuthenticationOptionsInput {
  @Field(() => String, { description: 'The MFA user: its global id, username or email.' })
  user!: string;
}
