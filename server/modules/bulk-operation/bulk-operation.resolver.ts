import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { forbidden, toPayload } from '../../shared/errors.js';
import { fromGlobalId, idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import { User } from '../user/user.types.js';
import {
  BulkSendMfaEnrollmentInput,
  BulkAddUsersToGroupsInput,
  BulkItemOutcome,
  BulkOperation,
  BulkOperationIdInput,
  BulkOperationPayload,
  BulkOperationResultConnection,
  BulkUploadUsersInput,
  BulkUsersInput,
  type BulkOperationRow,
} from './bulk-operation.types.js';

const decodeUser = (id: string) => fromGlobalId(id, 'User');

@Resolver(() => BulkOperation)
export class BulkOperationResolver {
  @RequiresScope(ApiScope.BULK_WRITE)
  @Query(() => BulkOperation, { nullable: true, description: 'A bulk operation by id; null if it does not exist in this tenant.' })
  bulkOperation(@Ctx() ctx: Context, @Arg('id', () => ID, { description: 'Global id.' }) id: string) {
    return ctx.loaders.bulkOperationById.load(idOrNoMatch(id, 'BulkOperation'));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, {
    description: 'Deletes many users in the background; the results list who was deleted and who was not, and why.',
  })
  bulkDeleteUsers(@Ctx() ctx: Context, @Arg('input', () => BulkUsersInput, { description: 'Users.' }) input: BulkUsersInput) {
    return toPayload(async () => ({ bulkOperation: await ctx.services.bulk.deleteUsers(viewerOf(ctx), input.userIds, decodeUser) }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, {
    description: 'Sends a new invitation to users not yet active and a password reset to active ones.',
  })
  bulkReinviteUsers(@Ctx() ctx: Context, @Arg('input', () => BulkUsersInput, { description: 'Users.' }) input: BulkUsersInput) {
    return toPayload(async () => ({ bulkOperation: await ctx.services.bulk.reinviteUsers(viewerOf(ctx), input.userIds, decodeUser) }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, {
    description:
      'Emails MFA users a new enrolment link in the background (unused earlier links stop working); users without an email fail with INVALID_STATE.',
  })
  bulkSendMfaEnrollment(
    @Ctx() ctx: Context,
    @Arg('input', () => BulkSendMfaEnrollmentInput, { description: 'MFA users by id or by filter.' }) input: BulkSendMfaEnrollmentInput,
  ) {
    return toPayload(async () => ({
      bulkOperation: await ctx.services.bulk.sendMfaEnrollment(
        viewerOf(ctx),
        {
          mfaUserIds: input.mfaUserIds,
          filter: input.filter
            ? {
                status: input.filter.status,
                provisioningId: input.filter.provisioningId ? idOrNoMatch(input.filter.provisioningId, 'Provisioning') : undefined,
              }
            : null,
        },
        (id) => fromGlobalId(id, 'MfaUser'),
        (id) => toGlobalId('MfaUser', id),
      ),
    }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, { description: 'Adds every user to every group; existing memberships count as success.' })
  bulkAddUsersToGroups(
    @Ctx() ctx: Context,
    @Arg('input', () => BulkAddUsersToGroupsInput, { description: 'Users and groups.' }) input: BulkAddUsersToGroupsInput,
  ) {
    return toPayload(async () => ({
      bulkOperation: await ctx.services.bulk.addUsersToGroups(
        viewerOf(ctx),
        input.userIds,
        input.groupIds.map((g) => fromGlobalId(g, 'Group')),
        decodeUser,
      ),
    }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, {
    description:
      'Creates users from a CSV file (`email, first_name, last_name, password, "g1, g2"`); each row succeeds or fails on its own.',
  })
  bulkUploadUsers(
    @Ctx() ctx: Context,
    @Arg('input', () => BulkUploadUsersInput, { description: 'The file and options.' }) input: BulkUploadUsersInput,
  ) {
    return toPayload(async () => ({
      bulkOperation: await ctx.services.bulk.upload(viewerOf(ctx), {
        ...input,
        uploadId: input.uploadId ? idOrNoMatch(input.uploadId, 'Upload') : null,
        directoryId: input.directoryId ? idOrNoMatch(input.directoryId, 'Directory') : null,
      }),
    }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Mutation(() => BulkOperationPayload, {
    description: 'Stops a bulk operation after its current chunk: items done stay done, none is half-done.',
  })
  cancelBulkOperation(
    @Ctx() ctx: Context,
    @Arg('input', () => BulkOperationIdInput, { description: 'The operation.' }) input: BulkOperationIdInput,
  ) {
    return toPayload(async () => ({
      bulkOperation: await ctx.services.bulk.cancel(viewerOf(ctx), idOrNoMatch(input.id, 'BulkOperation')),
    }));
  }

  @RequiresScope(ApiScope.BULK_WRITE)
  @Subscription(() => BulkOperation, {
    description:
      'Live progress of a bulk operation: its state at once, then at least one event a second while it runs, ending with a final event.',
    subscribe: ({ args, context }) => progress(context as Context, (args as { id: string }).id),
  })
  bulkOperationProgress(
    @Root() event: BulkOperationRow,
    @Arg('id', () => ID, { description: 'Global id of the operation.' }) _id: string,
  ): BulkOperationRow {
    return event;
  }

  @FieldResolver(() => ID)
  id(@Root() op: BulkOperationRow): string {
    return toGlobalId('BulkOperation', op.id);
  }

  @FieldResolver(() => Boolean)
  validateOnly(@Root() op: BulkOperationRow & { validateOnly?: boolean }): boolean {
    return op.validateOnly ?? (op.input as { validateOnly?: boolean } | undefined)?.validateOnly === true;
  }

  @FieldResolver(() => ID, { nullable: true })
  actorUserId(@Root() op: BulkOperationRow): string | null {
    return op.actorUserId ? toGlobalId('User', op.actorUserId) : null;
  }

  @FieldResolver(() => User, { nullable: true, description: 'The admin who started it; null once that user is deleted.' })
  actor(@Root() op: BulkOperationRow, @Ctx() ctx: Context) {
    return op.actorUserId ? ctx.loaders.userById.load(op.actorUserId) : null;
  }

  @FieldResolver(() => String)
  resultsCsvPath(@Root() op: BulkOperationRow): string {
    return `/bulk-operations/${toGlobalId('BulkOperation', op.id)}/results.csv`;
  }

  @FieldResolver(() => BulkOperationResultConnection, { description: 'Per-item outcomes in input order, optionally only one outcome.' })
  async results(
    @Root() op: BulkOperationRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100.' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor.' }) after?: string,
    @Arg('outcome', () => BulkItemOutcome, { nullable: true, description: 'Only this outcome.' }) outcome?: BulkItemOutcome,
  ) {
    return ctx.services.bulk.results(op.id, { first, after, outcome: outcome ?? null });
  }
}

async function progress(ctx: Context, globalId: string): Promise<AsyncIterableIterator<unknown>> {
  const id = fromGlobalId(globalId, 'BulkOperation');
  const live = id ? await ctx.services.bulk.progress(viewerOf(ctx), id) : null;
  if (!live) throw forbidden('No such bulk operation.');
  return live;
}
