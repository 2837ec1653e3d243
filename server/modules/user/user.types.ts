import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
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
}
