import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { Node } from '../node/node.types.js';
import { ConnectionType } from '../../shared/pagination.js';

export enum DirectoryKind {
  CLOUD = 'CLOUD',
  ACTIVE_DIRECTORY = 'ACTIVE_DIRECTORY',
  LDAP = 'LDAP',
}
registerEnumType(DirectoryKind, {
  name: 'DirectoryKind',
  description: 'Where the users of a directory come from.',
  valuesConfig: {
    CLOUD: { description: 'Users managed in Roster itself; the only kind with passwords and invitations.' },
    ACTIVE_DIRECTORY: { description: 'Users imported from Microsoft Active Directory; passwords are never stored.' },
    LDAP: { description: 'Users imported from an LDAP server; passwords are never stored.' },
  },
});

@ObjectType({ implements: Node, description: 'A store of users and groups inside a tenant.' })
export class Directory {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'Display name, unique in the tenant (case-insensitive).' })
  name!: string;

  @Field(() => DirectoryKind, { description: 'Kind of directory.' })
  kind!: DirectoryKind;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description!: string | null;

  @Field(() => Int, { description: 'Number of users in the directory.' })
  userCount!: number;

  @Field(() => Int, { description: 'Number of groups in the directory.' })
  groupCount!: number;

  @Field(() => Date, { description: 'When the directory was created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When the directory was last changed.' })
  updatedAt!: Date;
}

export const DirectoryConnection = ConnectionType(Directory, 'Directory');

export interface DirectoryRow {
  id: string;
  tenantId: string;
  name: string;
  kind: string;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

@InputType({ description: 'A new external directory. The Cloud Directory exists from tenant creation and is the only CLOUD one.' })
export class CreateDirectoryInput {
  @Field(() => String, { description: 'Name (1–100 characters), unique in the tenant ignoring case.' })
  name!: string;

  @Field(() => DirectoryKind, { description: 'ACTIVE_DIRECTORY or LDAP.' })
  kind!: DirectoryKind;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description?: string;
}

@ObjectType({ description: 'Result of `createDirectory`.' })
export class DirectoryPayload {
  @Field(() => Directory, { nullable: true, description: 'The new directory (with its built-in Users group).' })
  directory?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}
