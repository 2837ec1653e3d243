import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from 'type-graphql';
import { ApiScope, RequiresScope, SessionOnly } from '../../shared/scopes.js';
import type { Context } from '../../context.js';
import { viewerOf } from '../../context.js';
import { Public } from '../../shared/auth-guard.js';
import { toPayload } from '../../shared/errors.js';
import { idOrNoMatch, toGlobalId } from '../../shared/ids.js';
import type { ConnectionShape } from '../../shared/pagination.js';
import {
  BeginTotpEnrollmentInput,
  BeginTotpEnrollmentPayload,
  ConfirmTotpEnrollmentInput,
  ConfirmTotpEnrollmentPayload,
  CreateMfaBypassCodesInput,
  CreateMfaBypassCodesPayload,
  MfaDeviceInput,
  MfaUserChangePayload,
  MfaUserInput,
  MfaVerificationConnection,
  ResetMfaFactorsPayload,
  VerifyMfaInput,
  VerifyMfaPayload,
  type VerificationRow,
} from './mfa-factor.types.js';
import { MfaUser, MfaUserStatus, type MfaUserRow } from './mfa.types.js';

/** Enrolment of real factors, verification, and the administrator's device operations. */
@Resolver(() => MfaUser)
export class MfaFactorResolver {
  @Public()
  @Mutation(() => BeginTotpEnrollmentPayload, {
    description:
      'Public, authenticated by the token of an enrolment link: a new TOTP secret for an authenticator app (URI and QR code). Nothing is enrolled until `confirmTotpEnrollment`; calling again replaces the secret.',
  })
  beginTotpEnrollment(
    @Arg('input', () => BeginTotpEnrollmentInput, { description: 'Token and device name.' }) input: BeginTotpEnrollmentInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(() => ctx.services.mfaEnrollment.beginTotp(ctx.client, input));
  }

  @Public()
  @Mutation(() => ConfirmTotpEnrollmentPayload, {
    description:
      'Public: the first code from the app. When it is right the device becomes ACTIVE and the link is used up; a wrong code counts against the link (sign-in limits).',
  })
  confirmTotpEnrollment(
    @Arg('input', () => ConfirmTotpEnrollmentInput, { description: 'Token and code.' }) input: ConfirmTotpEnrollmentInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(
      async () => {
        const r = await ctx.services.mfaEnrollment.confirmTotp(ctx.client, input);
        return { success: true, deviceId: toGlobalId('MfaDevice', r.deviceId), mfaUserId: toGlobalId('MfaUser', r.mfaUserId) };
      },
      { success: false },
    );
  }

  @RequiresScope(ApiScope.MFA_VERIFY)
  @Mutation(() => VerifyMfaPayload, {
    description: "Checks a user's second factor for a relying service: VERIFIED, REJECTED or LOCKED, each recorded on the MFA user.",
  })
  verifyMfa(@Arg('input', () => VerifyMfaInput, { description: 'The user and one factor.' }) input: VerifyMfaInput, @Ctx() ctx: Context) {
    return toPayload(async () => {
      const r = await ctx.services.mfaVerify.verify(viewerOf(ctx), {
        user: input.user,
        code: input.code,
        bypassCode: input.bypassCode,
        webauthnResponse: input.webauthnResponse,
        deviceId: input.deviceId ? idOrNoMatch(input.deviceId, 'MfaDevice') : null,
      });
      return {
        result: r.result,
        mfaUserId: toGlobalId('MfaUser', r.mfaUserId),
        deviceId: r.deviceId ? toGlobalId('MfaDevice', r.deviceId) : null,
        retryAfter: r.retryAfter,
      };
    });
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserChangePayload, { description: 'Disables a device: kept, but refused by verification until enabled again.' })
  disableMfaDevice(@Arg('input', () => MfaDeviceInput, { description: 'The device.' }) input: MfaDeviceInput, @Ctx() ctx: Context) {
    return toPayload(async () => ({
      mfaUser: await ctx.services.mfaDevices.setDeviceStatus(viewerOf(ctx), idOrNoMatch(input.deviceId, 'MfaDevice'), 'DISABLED'),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserChangePayload, { description: 'Enables a disabled device again.' })
  enableMfaDevice(@Arg('input', () => MfaDeviceInput, { description: 'The device.' }) input: MfaDeviceInput, @Ctx() ctx: Context) {
    return toPayload(async () => ({
      mfaUser: await ctx.services.mfaDevices.setDeviceStatus(viewerOf(ctx), idOrNoMatch(input.deviceId, 'MfaDevice'), 'ACTIVE'),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserChangePayload, { description: 'Removes a device and its secret for good.' })
  removeMfaDevice(@Arg('input', () => MfaDeviceInput, { description: 'The device.' }) input: MfaDeviceInput, @Ctx() ctx: Context) {
    return toPayload(async () => ({
      mfaUser: await ctx.services.mfaDevices.removeDevice(viewerOf(ctx), idOrNoMatch(input.deviceId, 'MfaDevice')),
    }));
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => ResetMfaFactorsPayload, {
    description:
      'A lost device: removes every device, unused enrolment link and bypass code, ends the verification lock and emails a new enrolment link.',
  })
  resetMfaFactors(@Arg('input', () => MfaUserInput, { description: 'The MFA user.' }) input: MfaUserInput, @Ctx() ctx: Context) {
    return toPayload(async () => {
      const r = await ctx.services.mfaDevices.resetFactors(viewerOf(ctx), idOrNoMatch(input.mfaUserId, 'MfaUser'));
      return { mfaUser: r.mfaUser, devicesRemoved: r.devicesRemoved, enrollmentEmailSent: r.emailSent };
    });
  }

  @SessionOnly() // bypass codes are credentials: minted by a person at the help desk, never by a token
  @Mutation(() => CreateMfaBypassCodesPayload, { description: 'One-time bypass codes, shown once in this payload.' })
  createMfaBypassCodes(
    @Arg('input', () => CreateMfaBypassCodesInput, { description: 'User, count and lifetime.' }) input: CreateMfaBypassCodesInput,
    @Ctx() ctx: Context,
  ) {
    return toPayload(() =>
      ctx.services.mfaDevices.createBypassCodes(viewerOf(ctx), {
        mfaUserId: idOrNoMatch(input.mfaUserId, 'MfaUser'),
        count: input.count ?? 1,
        expiresInMinutes: input.expiresInMinutes ?? 1440,
      }),
    );
  }

  @RequiresScope(ApiScope.PROVISIONING_WRITE)
  @Mutation(() => MfaUserChangePayload, { description: "Ends an MFA user's verification lock and forgets its failed attempts." })
  unlockMfaUser(@Arg('input', () => MfaUserInput, { description: 'The MFA user.' }) input: MfaUserInput, @Ctx() ctx: Context) {
    return toPayload(async () => ({
      mfaUser: await ctx.services.mfaDevices.unlock(viewerOf(ctx), idOrNoMatch(input.mfaUserId, 'MfaUser')),
    }));
  }

  @FieldResolver(() => MfaUserStatus)
  status(@Root() u: MfaUserRow): MfaUserStatus {
    return u.suspendedAt ? MfaUserStatus.PROVISIONING_DISABLED : (u.status as MfaUserStatus);
  }

  @FieldResolver(() => Int, { description: 'Failed verifications within the lock period (reset by a right one or `unlockMfaUser`).' })
  async failedVerifications(@Root() u: MfaUserRow, @Ctx() ctx: Context): Promise<number> {
    return (await ctx.loaders.mfaVerifyLockByUser.load(u.id)).failures;
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description: 'Until when verification is locked after repeated failures; null when not locked.',
  })
  async verificationLockedUntil(@Root() u: MfaUserRow, @Ctx() ctx: Context): Promise<Date | null> {
    return (await ctx.loaders.mfaVerifyLockByUser.load(u.id)).lockedUntil;
  }

  @FieldResolver(() => MfaVerificationConnection, { description: 'Recorded `verifyMfa` attempts, newest first.' })
  async verifications(
    @Root() u: MfaUserRow,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, description: 'Page size, at most 100 (default 50).' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after?: string,
  ): Promise<ConnectionShape<unknown>> {
    const page = await ctx.services.mfaDevices.verifications(viewerOf(ctx), u.id, { first, after });
    const out = (r: VerificationRow) => ({
      ...r,
      id: toGlobalId('MfaVerification', r.id),
      deviceId: r.deviceId ? toGlobalId('MfaDevice', r.deviceId) : null,
    });
    return { ...page, nodes: page.nodes.map(out), edges: page.edges.map((e) => ({ cursor: e.cursor, node: out(e.node) })) };
  }
}
