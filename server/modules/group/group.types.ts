import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Node } from '../node/node.types.js';
import { ConnectionType } from '../../shared/pagination.js';

export enum BuiltInGroup {
  USERS = 'USERS',
  ADMINS = 'ADMINS',
}
registerEnumType(BuiltInGroup, {
  name: 'BuiltInGroup',
  description: 'The system groups every Cloud Directory has.',
  valuesConfig: {
    USERS: { description: 'Every user of the directory; cannot be renamed, deleted or left.' },
    ADMINS: { description: 'Its active members may use the admin API; cannot be deleted.' },
  },
});

@ObjectType({ implements: Node, description: 'A named set of users in one directory.' })
export class Group {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'Name, unique in the directory (case-insensitive).' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description!: string | null;

  @Field(() => Boolean, { description: 'True for the system groups Users and Admins.' })
  isBuiltIn!: boolean;

  @Field(() => BuiltInGroup, { nullable: true, description: 'Which system group this is, if any.' })
  builtIn!: BuiltInGroup | null;

  @Field(() => Int, { description: 'Number of members.' })
  memberCount!: number;

  @Field(() => Date, { description: 'When the group was created.' })
  createdAt!: Date;

  @Field(() => Date, { description: 'When the group was last changed.' })
  updatedAt!: Date;
}

export const GroupConnection = ConnectionType(Group, 'Group');

export interface GroupRow {
  id: string;
  tenantId: string;
  directoryId: string;
  name: string;
  description: string | null;
  builtIn: string | null;
  createdAt: Date;
  updatedAt: Date;
}
