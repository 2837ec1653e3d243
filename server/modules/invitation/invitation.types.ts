import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { User } from '../user/user.types.js';

export enum InvitationKind {
  INVITATION = 'INVITATION',
  PASSWORD_RESET = 'PASSWORD_RESET',
}
registerEnumType(InvitationKind, {
  name: 'InvitationKind',
  description: 'What a single-use account link is for.',
  valuesConfig: {
    INVITATION: { description: 'Account setup for a user who has not activated yet.' },
    PASSWORD_RESET: { description: 'A new password for an active user.' },
  },
});

export enum InvitationStatus {
  PENDING = 'PENDING',
  ACCEPTED = 'ACCEPTED',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
}
registerEnumType(InvitationStatus, {
  name: 'InvitationStatus',
  description: 'State of an account link.',
  valuesConfig: {
    PENDING: { description: 'Sent and still usable.' },
    ACCEPTED: { description: 'Used: the user completed setup (or reset the password).' },
    EXPIRED: { description: 'Not used before its expiry.' },
    REVOKED: { description: 'Voided by a later link (re-invite) or by the account being set up another way.' },
  },
});

export enum EmailDeliveryStatus {
  PENDING = 'PENDING',
  SENT = 'SENT',
  FAILED = 'FAILED',
}
registerEnumType(EmailDeliveryStatus, {
  name: 'EmailDeliveryStatus',
  description: 'Delivery state of an email in the outbox.',
  valuesConfig: {
    PENDING: { description: 'Queued or being retried.' },
    SENT: { description: 'Accepted by the mail server (or written to the local mailbox).' },
    FAILED: { description: 'Given up after repeated failures; `lastError` says why.' },
  },
});

@ObjectType({ description: 'Delivery state of the email that carried a link.' })
export class EmailDelivery {
  @Field(() => EmailDeliveryStatus, { description: 'Delivery state.' })
  status!: EmailDeliveryStatus;

  @Field(() => Date, { nullable: true, description: 'When the mail server accepted it.' })
  sentAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Last delivery error, if any.' })
  lastError!: string | null;
}

@ObjectType({ description: 'A single-use link sent to a user. The token itself is never readable.' })
export class Invitation {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => InvitationKind, { description: 'Invitation or password reset.' })
  kind!: InvitationKind;

  @Field(() => InvitationStatus, { description: 'Current state.' })
  status!: InvitationStatus;

  @Field(() => Date, { description: 'When the link stops working.' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it was used.' })
  acceptedAt!: Date | null;

  @Field(() => Date, { description: 'When it was issued.' })
  createdAt!: Date;

  @Field(() => EmailDelivery, { nullable: true, description: 'Delivery of the email that carried it.' })
  emailDelivery!: EmailDelivery | null;
}

export interface InvitationRow {
  id: string;
  tenantId: string;
  userId: string;
  identityProviderId: string | null;
  kind: string;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

@InputType({ description: 'Sends a user an invitation (or, for an active user, a password reset).' })
export class InviteUserInput {
  @Field(() => ID, { description: 'The user.' })
  userId!: string;

  @Field(() => ID, {
    nullable: true,
    description:
      "Identity provider whose portal the link opens. Other than the default needs the tenant flag IDP_SELECTION_FOR_INVITES (else FEATURE_DISABLED). Default: the user's current one, else the tenant default.",
  })
  identityProviderId?: string;
}

@ObjectType({ description: 'Result of `inviteUser` / `reinviteUser`.' })
export class InviteUserPayload {
  @Field(() => User, { nullable: true, description: 'The user, with `lastInvitedAt` updated.' })
  user?: unknown;

  @Field(() => Invitation, { nullable: true, description: 'The new link (earlier pending links of the user are now REVOKED).' })
  invitation?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}

@InputType({ description: 'Completes account setup (or a password reset) from an emailed link.' })
export class CompleteAccountSetupInput {
  @Field(() => String, { description: 'The `token` parameter of the link.' })
  token!: string;

  @Field(() => String, { description: 'The new password; must satisfy the password policy.' })
  password!: string;
}

@ObjectType({ description: 'Result of `completeAccountSetup`.' })
export class CompleteAccountSetupPayload {
  @Field(() => Boolean, { description: 'True when the password was set and the account is active.' })
  success!: boolean;

  @Field(() => String, { nullable: true, description: 'Email of the account that was set up.' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Portal to sign in at from now on.' })
  portalUrl?: string | null;

  @Field(() => [UserError], {
    description: 'TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_USED, INVALID_STATE, or every failed password rule.',
  })
  errors!: UserError[];
}
