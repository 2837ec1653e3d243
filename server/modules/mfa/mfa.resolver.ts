import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ApiScope, RequiresScope } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import { nodesFields, rowKeysFor } from '../../shared/lookahead.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import {
  CreateMfaUserInput,
  MfaDevice,
  MfaGroup,
  MfaGroupConnection,
  MfaGroupFilterInput,
  MfaUser,
  MfaUserConnection,
  MfaUserFilterInput,
  MfaUserPayload,
  ProvisioningSourceKind,
  SendMfaEnrollmentInput,
  type MfaGroupRow,
  type MfaDeviceRow,
  type MfaUserRow,
} from './mfa.types.js';

/**
 * The `MfaUserRow` properties each `MfaUser` field's resolver reads (here and in
 * mfa-factor.resolver.ts), beyond the id and username a page always reads: a list page reads
 * only the columns of the fields selected. A field missing here makes the page read every
 * column (`rowKeysFor`); `mfa-directory.test.ts` checks each field alone against all of them.
 */
const MFA_USER_READS: Record<string, readonly (keyof MfaUserRow)[]> = {
  id: [],
  username: [],
  email: ['email'],
  firstName: ['firstName'],
  lastName: ['lastName'],
  status: ['status', 'suspendedAt'],
  suspendedAt: ['suspendedAt'],
  source: ['provisioningId'],
  provisioningId: ['provisioningId'],
  directoryUserId: ['directoryUserId'],
  createdAt: ['createdAt'],
  // Read by loaders or services from the user's id.
  devices: [],
  groups: [],
  failedVerifications: [],
  verificationLockedUntil: [],
  verifications: [],
};

/** The same for a page's devices: each `MfaDevice` field is its row's property of that name. */
const MFA_DEVICE_READS: Record<string, readonly (keyof MfaDeviceRow)[]> = {
  id: [],
  name: ['name'],
  kind: ['kind'],
  status: ['status'],
  lastUsedAt: ['lastUsedAt'],
  enrolledAt: ['enrolledAt'],
};

@Resolver(() => MfaGroup)
export class MfaGroupResolver {
  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => MfaGroupConnection, { description: 'Groups of the MFA directory, ordered by name.' })
  mfaGroups(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => MfaGroupFilterInput, { nullable: true, description: 'Filters.' }) filter?: MfaGroupFilterInput,
  ): Promise<ConnectionShape<MfaGroupRow>> {
    return ctx.services.mfa.listGroups(viewerOf(ctx), {
      first,
      after,
      filter: {
        source: filter?.source,
        search: filter?.search,
        provisioningId: filter?.provisioningId ? idOrNoMatch(filter.provisioningId, 'Provisioning') : undefined,
      },
    });
  }

  @FieldResolver(() => ID)
  id(@Root() g: MfaGroupRow): string {
    return toGlobalId('MfaGroup', g.id);
  }

  @FieldResolver(() => ProvisioningSourceKind)
  source(@Root() g: MfaGroupRow): ProvisioningSourceKind {
    return g.provisioningId ? ProvisioningSourceKind.PROVISIONING : ProvisioningSourceKind.MANUAL;
  }

  @FieldResolver(() => ID, { nullable: true })
  provisioningId(@Root() g: MfaGroupRow): string | null {
    return g.provisioningId ? toGlobalId('Provisioning', g.provisioningId) : null;
  }

  @FieldResolver(() => ID, { nullable: true })
  directoryGroupId(@Root() g: MfaGroupRow): string | null {
    return g.directoryGroupId ? toGlobalId('Group', g.directoryGroupId) : null;
  }

  @FieldResolver(() => Int)
  memberCount(@Root() g: MfaGroupRow, @Ctx() ctx: Context): Promise<number> {
    return ctx.loaders.mfaGroupMemberCount.load(g.id);
  }
}

@Resolver(() => MfaUser)
export class MfaResolver {
  @RequiresScope(ApiScope.PROVISIONING_READ)
  @Query(() => MfaUserConnection, { description: 'Users of the MFA directory, ordered by username.' })
  mfaUsers(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
    @Arg('filter', () => MfaUserFilterInput, { nullable: true, description: 'Filters.' }) filter?: MfaUserFilterInput,
    @Info() info?: GraphQLResolveInfo,
  ): Promise<ConnectionShape<MfaUserRow>> {
    const fields = info ? nodesFields(info) : null;
    return ctx.services.mfa.list(viewerOf(ctx), {
      first,
      after,
      devices: fields?.has('devices') ?? false,
      keys: fields ? rowKeysFor(fields, MFA_USER_READS) : undefined,
      deviceKeys: info ? rowKeysFor(nodesFields(info, 'devices'), MFA_DEVICE_READS) : undefined,
      filter: {
        source: filter?.source,
        status: filter?.status,
        search: filter?.search,
        provisioningId: filter?.provisioningId ? idOrNoMatch(filter.provisioningId, 'Provisioning') : undefined,
      },
    });
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserPayload, { description: 'Creates an MFA user by hand (source MANUAL).' })
  createMfaUser(
    @Ctx() ctx: Context,
    @Arg('input', () => CreateMfaUserInput, { description: 'The new MFA user.' }) input: CreateMfaUserInput,
  ) {
    return toPayload(async () => ({ mfaUser: await ctx.services.mfa.createManual(viewerOf(ctx), input) }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserPayload, {
    description: 'Emails the MFA user a new enrolment link (e.g. for another device); unused earlier links stop working.',
  })
  sendMfaEnrollment(
    @Ctx() ctx: Context,
    @Arg('input', () => SendMfaEnrollmentInput, { description: 'The MFA user.' }) input: SendMfaEnrollmentInput,
  ) {
    return toPayload(async () => ({
      mfaUser: await ctx.services.mfa.resendEnrollment(viewerOf(ctx), idOrNoMatch(input.mfaUserId, 'MfaUser')),
    }));
  }

  @FieldResolver(() => ID)
  id(@Root() u: MfaUserRow): string {
    return toGlobalId('MfaUser', u.id);
  }

  @FieldResolver(() => ProvisioningSourceKind)
  source(@Root() u: MfaUserRow): ProvisioningSourceKind {
    return u.provisioningId ? ProvisioningSourceKind.PROVISIONING : ProvisioningSourceKind.MANUAL;
  }

  @FieldResolver(() => ID, { nullable: true })
  provisioningId(@Root() u: MfaUserRow): string | null {
    return u.provisioningId ? toGlobalId('Provisioning', u.provisioningId) : null;
  }

  @FieldResolver(() => ID, { nullable: true })
  directoryUserId(@Root() u: MfaUserRow): string | null {
    return u.directoryUserId ? toGlobalId('User', u.directoryUserId) : null;
  }

  @FieldResolver(() => [MfaDevice])
  devices(@Root() u: MfaUserRow, @Ctx() ctx: Context) {
    const withIds = (list: MfaDeviceRow[]) => list.map((d) => ({ ...d, id: toGlobalId('MfaDevice', d.id) }));
    // A value, not a promise, when the page read them: the page then completes synchronously.
    return u.devices ? withIds(u.devices) : ctx.loaders.mfaDevicesByUser.load(u.id).then(withIds);
  }

  @FieldResolver(() => [String])
  groups(@Root() u: MfaUserRow, @Ctx() ctx: Context): Promise<string[]> {
    return ctx.loaders.mfaGroupNamesByUser.load(u.id);
  }
}
