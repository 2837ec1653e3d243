import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, Field, FieldResolver, ID, Info, InputType, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { toPayload } from '../../shared/errors.js';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { fromGlobalId, NO_MATCH, toGlobalId } from '../../shared/ids.js';
import { nodesFields, rowKeysFor } from '../../shared/lookahead.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import { Directory, type DirectoryRow } from '../directory/directory.types.js';
import { Group, type GroupRow } from '../group/group.types.js';
import { IdentityProvider, type IdentityProviderRow } from '../identity-provider/identity-provider.types.js';
import {
  CreateUserInput,
  DeleteUserInput,
  DeleteUserPayload,
  UnlockUserInput,
  UpdateUserInput,
  User,
  UserConnection,
  UserOrder,
  UserPayload,
  UserStatus,
  type UserRow,
} from './user.types.js';
import type { UserFilter } from './user.types.js';

@InputType({ description: 'Filters of a user list; all given filters must match.' })
export class UserFilterInput {
  @Field(() => ID, { nullable: true, description: 'Only users of this directory.' })
  directoryId?: string;

  @Field(() => ID, { nullable: true, description: 'Only members of this group.' })
  groupId?: string;

  @Field(() => UserStatus, { nullable: true, description: 'Only users in this state.' })
  status?: UserStatus;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive prefix of the email, first name, last name or full name.',
  })
  search?: string;
}

/** A users-page row with its groups and directory read ahead (see `UserResolver.users`). */
type PageUser = UserRow & { groupRows?: GroupRow[]; directoryRow?: DirectoryRow };

/**
 * Reads the groups and the directories of a page's users, when the client selected them, as
 * two batches in parallel (the same loaders and statements as field by field) and puts them on
 * the rows. The page then completes synchronously: graphql-js otherwise waits on a promise per
 * user and field, and those promises and their bookkeeping were a large share of the page's
 * garbage (test/bench/users-page.bench.ts).
 */
async function readAhead(ctx: Context, fields: Set<string>, rows: PageUser[]): Promise<void> {
  const groups = fields.has('groups');
  const directories = fields.has('directory');
  await Promise.all([
    groups
      ? ctx.loaders.groupsByUser.loadMany(rows.map((u) => u.id)).then((lists) =>
          lists.forEach((l, i) => {
            if (Array.isArray(l)) rows[i]!.groupRows = l;
          }),
        )
      : null,
    directories
      ? ctx.loaders.directoryById.loadMany([...new Set(rows.map((u) => u.directoryId))]).then((dirs) => {
          const byId = new Map(dirs.flatMap((d) => (d && !(d instanceof Error) ? [[d.id, d] as const] : [])));
          for (const u of rows) u.directoryRow = byId.get(u.directoryId);
        })
      : null,
  ]);
}

/**
 * The `UserRow` properties each `User` field's resolver reads (here, in audit.resolver.ts and
 * invitation.resolver.ts): a users page reads only the columns of the fields selected, the id
 * and its order's cursor (a field missing here: every column, see `rowKeysFor`).
 * `directory-users.test.ts` checks each field alone against all of them.
 */
const USER_READS: Record<string, readonly (keyof UserRow)[]> = {
  id: [],
  email: ['email'],
  username: ['username'],
  firstName: ['firstName'],
  lastName: ['lastName'],
  status: ['status'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  lastInvitedAt: ['lastInvitedAt'],
  activatedAt: ['activatedAt'],
  lastSignInAt: ['lastSignInAt'],
  // Sign-in limits are kept per email.
  failedSignIns: ['email'],
  signInLockedUntil: ['email'],
  directory: ['directoryId'],
  identityProvider: ['identityProviderId'],
  // Read by loaders or services from the user's id.
  groups: [],
  invitations: [],
  auditEvents: [],
};

@Resolver(() => User)
export class UserResolver {
  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => UserConnection, { description: "Users of the tenant's directories, filtered and sorted." })
  async users(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => UserFilterInput, { nullable: true, description: 'Filters.' }) filter?: UserFilterInput,
    @Arg('orderBy', () => UserOrder, { nullable: true, description: 'Sort order (default EMAIL_ASC).' })
    orderBy?: UserOrder,
    @Info() info?: GraphQLResolveInfo,
  ): Promise<ConnectionShape<UserRow>> {
    const f: UserFilter = { status: filter?.status, search: filter?.search };
    if (filter?.directoryId) f.directoryId = fromGlobalId(filter.directoryId, 'Directory') ?? NO_MATCH;
    if (filter?.groupId) f.groupId = fromGlobalId(filter.groupId, 'Group') ?? NO_MATCH;
    const fields = info ? nodesFields(info) : null;
    const keys = fields ? rowKeysFor(fields, USER_READS) : undefined;
    const page = await ctx.services.users.list(viewerOf(ctx), { first, after, filter: f, orderBy, keys });
    if (fields) await readAhead(ctx, fields, page.nodes);
    return page;
  }

  @RequiresScope(ApiScope.DIRECTORY_READ)
  @Query(() => User, { nullable: true, description: 'A user by id; null if it does not exist in this tenant.' })
  async user(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id of the user.' }) id: string) {
    const uuid = fromGlobalId(id, 'User');
    return uuid ? ctx.loaders.userById.load(uuid) : null;
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => UserPayload, { description: 'Adds a user to a directory (and to the Users group), optionally inviting them at once.' })
  createUser(@Ctx() ctx: Context, @Arg('input', () => CreateUserInput, { description: 'The new user.' }) input: CreateUserInput) {
    return toPayload(async () => {
      const v = viewerOf(ctx);
      const { user } = await ctx.services.users.create(v, {
        ...input,
        directoryId: input.directoryId ? (fromGlobalId(input.directoryId, 'Directory') ?? NO_MATCH) : null,
        groupIds: (input.groupIds ?? []).map((g) => fromGlobalId(g, 'Group') ?? NO_MATCH),
        identityProviderId: input.identityProviderId ? (fromGlobalId(input.identityProviderId, 'IdentityProvider') ?? NO_MATCH) : null,
      });
      return { user };
    });
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => UserPayload, { description: 'Changes names, email, username, or enables/disables a user.' })
  updateUser(@Ctx() ctx: Context, @Arg('input', () => UpdateUserInput, { description: 'The changes.' }) input: UpdateUserInput) {
    return toPayload(async () => ({
      user: await ctx.services.users.update(viewerOf(ctx), { ...input, id: fromGlobalId(input.id, 'User') ?? NO_MATCH }),
    }));
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => UserPayload, {
    description: 'Ends a sign-in lock of a user of this tenant and forgets their failed sign-ins (client-address limits are not affected).',
  })
  unlockUser(@Ctx() ctx: Context, @Arg('input', () => UnlockUserInput, { description: 'The user.' }) input: UnlockUserInput) {
    return toPayload(async () => ({
      user: await ctx.services.users.unlock(viewerOf(ctx), fromGlobalId(input.id, 'User') ?? NO_MATCH),
    }));
  }

  @FieldResolver(() => Int, {
    description: `Failed sign-ins with this user's email in the last lock period (SIGN_IN_LOCK_MINUTES), counted whatever the password; reset by a successful sign-in or \`unlockUser\`.`,
  })
  async failedSignIns(@Root() u: UserRow, @Ctx() ctx: Context): Promise<number> {
    return u.email ? (await ctx.loaders.signInStateByEmail.load(u.email)).failures : 0;
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description:
      'Until when sign-in with this email is refused after repeated failures (a short delay or a lock); null when not locked. `unlockUser` ends it.',
  })
  async signInLockedUntil(@Root() u: UserRow, @Ctx() ctx: Context): Promise<Date | null> {
    return u.email ? (await ctx.loaders.signInStateByEmail.load(u.email)).lockedUntil : null;
  }

  @RequiresScope(ApiScope.DIRECTORY_WRITE)
  @Mutation(() => DeleteUserPayload, { description: 'Deletes a user and their memberships. The last active admin cannot be deleted.' })
  deleteUser(@Ctx() ctx: Context, @Arg('input', () => DeleteUserInput, { description: 'The user.' }) input: DeleteUserInput) {
    return toPayload(async () => {
      const id = await ctx.services.users.delete(viewerOf(ctx), fromGlobalId(input.id, 'User') ?? NO_MATCH);
      return { deletedUserId: toGlobalId('User', id) };
    });
  }

  @FieldResolver(() => ID)
  id(@Root() u: UserRow): string {
    return toGlobalId('User', u.id);
  }

  @FieldResolver(() => Directory, { description: 'The directory the user belongs to.' })
  directory(@Root() u: PageUser, @Ctx() ctx: Context): DirectoryRow | Promise<DirectoryRow> {
    // A value, not a promise, when read ahead: the page then completes synchronously.
    if (u.directoryRow) return u.directoryRow;
    return ctx.loaders.directoryById.load(u.directoryId).then((d) => {
      if (!d) throw new Error('user without directory');
      return d;
    });
  }

  @FieldResolver(() => IdentityProvider, {
    nullable: true,
    description: 'The identity provider the user was invited to (its login portal).',
  })
  identityProvider(@Root() u: UserRow, @Ctx() ctx: Context): Promise<IdentityProviderRow | null> | null {
    return u.identityProviderId ? ctx.loaders.identityProviderById.load(u.identityProviderId) : null;
  }

  @FieldResolver(() => [Group], { description: 'Groups the user is a member of, including the built-in Users group.' })
  groups(@Root() u: PageUser, @Ctx() ctx: Context): GroupRow[] | Promise<GroupRow[]> {
    return u.groupRows ?? ctx.loaders.groupsByUser.load(u.id);
  }
}
