import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { Node } from '../node/node.types.js';
import { ConnectionType } from '../../shared/pagination.js';

export enum UserStatus {
  INVITED = 'INVITED',
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
}
registerEnumType(UserStatus, {
  name: 'UserStatus',
  description: 'Lifecycle state of a directory user.',
  valuesConfig: {
    INVITED: { description: 'Created; has not completed account setup yet.' },
    ACTIVE: { description: 'Has an active account.' },
    DISABLED: { description: 'Blocked by an administrator; cannot sign in.' },
  },
});

export enum UserOrder {
  EMAIL_ASC = 'EMAIL_ASC',
  CREATED_AT_DESC = 'CREATED_AT_DESC',
  CREATED_AT_ASC = 'CREATED_AT_ASC',
  LAST_NAME_ASC = 'LAST_NAME_ASC',
}
registerEnumType(UserOrder, {
  name: 'UserOrder',
  description: 'Sort order of a user list.',
  valuesConfig: {
    EMAIL_ASC: { description: 'By email, A to Z (default).' },
    CREATED_AT_DESC: { description: 'Newest first.' },
    CREATED_AT_ASC: { description: 'Oldest first.' },
    LAST_NAME_ASC: { description: 'By last name then first name, A to Z.' },
  },
});

@ObjectType({ implements: Node, description: 'A person in a directory.' })
export class User {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Email, lower-cased; unique per directory. Always set in the Cloud Directory, may be missing in external ones.',
  })
  email!: string | null;

  @Field(() => String, { nullable: true, description: 'Login id. In the Cloud Directory it defaults to the email.' })
  username!: string | null;

  @Field(() => String, { description: 'Given name.' })
  firstName!: string;

  @Field(() => String, { description: 'Family name.' })
  lastName!: string;

  @Field(() => UserStatus, { description: 'Lifecycle state.' })
  status!: UserStatus;

  @Field(() => Date, { description: 'When the user was created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When the user was last changed.' })
  updatedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the user was last sent an invitation.' })
  lastInvitedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the user completed account setup.' })
  activatedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When the user last signed in successfully, to the admin API or to an end-user login portal; null if never.',
  })
  lastSignInAt!: Date | null;
}

export const UserConnection = ConnectionType(User, 'User');

/** A user row without its password hash, which is never selected by default. */
export interface UserRow {
  id: string;
  tenantId: string;
  directoryId: string;
  email: string | null;
  username: string | null;
  firstName: string;
  lastName: string;
  status: string;
  identityProviderId: string | null;
  createdAt: Date;
  updatedAt: Date;
  lastInvitedAt: Date | null;
  activatedAt: Date | null;
  lastSignInAt: Date | null;
}

@InputType({ description: 'A new directory user.' })
export class CreateUserInput {
  @Field(() => ID, { nullable: true, description: "Directory to create the user in; default: the tenant's Cloud Directory." })
  directoryId?: string;

  @Field(() => String, {
    nullable: true,
    description: 'Email; required in the Cloud Directory, unique per directory ignoring case. Stored lower-cased.',
  })
  email?: string;

  @Field(() => String, { nullable: true, description: 'Login id; defaults to the email.' })
  username?: string;

  @Field(() => String, { description: 'Given name (1–100 characters).' })
  firstName!: string;

  @Field(() => String, { description: 'Family name (1–100 characters).' })
  lastName!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Default password (Cloud Directory only), checked against the password policy. A user created with one is ACTIVE at once; without one the user is INVITED until they complete setup.',
  })
  password?: string;

  @Field(() => [ID], { nullable: true, description: 'Groups of the same directory to add the user to (Users is implicit).' })
  groupIds?: string[];

  @Field(() => ID, {
    nullable: true,
    description:
      'Identity provider for the invitation (now or later). A non-default one needs the tenant flag IDP_SELECTION_FOR_INVITES, else the user is refused with FEATURE_DISABLED, whether or not an invitation is sent now.',
  })
  identityProviderId?: string;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Send the invitation email now (only for users created without a password). Default false.',
  })
  sendInvite?: boolean;
}

@InputType({ description: 'Changes to a user; omitted fields stay as they are.' })
export class UpdateUserInput {
  @Field(() => ID, { description: 'The user.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'New email (unique per directory ignoring case).' })
  email?: string;

  @Field(() => String, { nullable: true, description: 'New login id.' })
  username?: string;

  @Field(() => String, { nullable: true, description: 'New given name.' })
  firstName?: string;

  @Field(() => String, { nullable: true, description: 'New family name.' })
  lastName?: string;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'true disables the account (DISABLED: cannot sign in; refused for the last active admin); false re-enables it (ACTIVE if it was ever activated, else INVITED).',
  })
  disabled?: boolean;
}

@InputType({ description: 'The user to delete.' })
export class DeleteUserInput {
  @Field(() => ID, { description: 'The user.' })
  id!: string;
}

@InputType({ description: 'The user whose sign-in lock to end.' })
export class UnlockUserInput {
  @Field(() => ID, { description: 'The user.' })
  id!: string;
}

@ObjectType({ description: 'Result of `createUser` / `updateUser` / `unlockUser`.' })
export class UserPayload {
  @Field(() => User, { nullable: true, description: 'The user after the change.' })
  user?: unknown;

  @Field(() => [UserError], { description: 'Expected failures (every failed password rule, EMAIL_TAKEN, NOT_FOUND, …); empty on success.' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `deleteUser`.' })
export class DeleteUserPayload {
  @Field(() => ID, { nullable: true, description: 'Global id of the deleted user.' })
  deletedUserId?: string | null;

  @Field(() => [UserError], { description: 'NOT_FOUND or LAST_ADMIN; empty on success.' })
  errors!: UserError[];
}

/** Filters of a user list (resolved ids; the tenant comes from the viewer). */
export interface UserFilter {
  directoryId?: string;
  groupId?: string;
  status?: string;
  search?: string;
}
