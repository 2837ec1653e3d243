import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
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
  /** Set when a page read it in its own statement (the client selected `memberCount`). */
  memberCount?: number;
}

@InputType({ description: 'A new group.' })
export class CreateGroupInput {
  @Field(() => ID, { nullable: true, description: "Directory of the group; default: the tenant's Cloud Directory." })
  directoryId?: string;

  @Field(() => String, { description: 'Name (1–100 characters), unique in the directory ignoring case.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Free-text description.' })
  description?: string;
}

@InputType({ description: 'Changes to a group. The built-in Users group cannot be renamed.' })
export class UpdateGroupInput {
  @Field(() => ID, { description: 'The group.' })
  id!: string;

  @Field(() => String, { nullable: true, description: 'New name.' })
  name?: string;

  @Field(() => String, { nullable: true, description: 'New description.' })
  description?: string;
}

@InputType({ description: 'The group to delete. Built-in groups cannot be deleted.' })
export class DeleteGroupInput {
  @Field(() => ID, { description: 'The group.' })
  id!: string;
}

@InputType({ description: 'Users to add to or remove from a group (the Associate / Remove User dialog).' })
export class GroupMembersInput {
  @Field(() => ID, { description: 'The group.' })
  groupId!: string;

  @Field(() => [ID], { description: 'Users of the same directory (at most 1000 per call; use bulk operations for more).' })
  userIds!: string[];
}

@ObjectType({ description: 'Result of a group mutation.' })
export class GroupPayload {
  @Field(() => Group, { nullable: true, description: 'The group after the change.' })
  group?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `deleteGroup`.' })
export class DeleteGroupPayload {
  @Field(() => ID, { nullable: true, description: 'Global id of the deleted group.' })
  deletedGroupId?: string | null;

  @Field(() => [UserError], { description: 'NOT_FOUND or BUILT_IN_GROUP; empty on success.' })
  errors!: UserError[];
}
