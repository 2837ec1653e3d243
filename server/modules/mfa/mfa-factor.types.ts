import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { MfaUser } from './mfa.types.js';

export enum MfaVerificationResult {
  VERIFIED = 'VERIFIED',
  REJECTED = 'REJECTED',
  LOCKED = 'LOCKED',
}
registerEnumType(MfaVerificationResult, {
  name: 'MfaVerificationResult',
  description: 'The answer of `verifyMfa`.',
  valuesConfig: {
    VERIFIED: { description: 'The second factor is right (and is now used: the same code is not accepted again).' },
    REJECTED: { description: 'Wrong, expired or reused; counted towards the lock.' },
    LOCKED: { description: "The user's factor is locked after repeated failures; nothing was checked. See `retryAfter`." },
  },
});

export enum MfaVerificationMethod {
  TOTP = 'TOTP',
  WEBAUTHN = 'WEBAUTHN',
  BYPASS_CODE = 'BYPASS_CODE',
}
registerEnumType(MfaVerificationMethod, {
  name: 'MfaVerificationMethod',
  description: 'What a verification attempt presented.',
  valuesConfig: {
    TOTP: { description: 'A 6-digit code from an authenticator app.' },
    WEBAUTHN: { description: 'A security key or passkey assertion.' },
    BYPASS_CODE: { description: 'A one-time bypass code issued by an administrator.' },
  },
});

@ObjectType({ description: 'One recorded `verifyMfa` attempt of an MFA user.' })
export class MfaVerification {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => MfaVerificationResult, { description: 'What the attempt was answered.' })
  result!: MfaVerificationResult;

  @Field(() => MfaVerificationMethod, { description: 'What it presented.' })
  method!: MfaVerificationMethod;

  @Field(() => ID, { nullable: true, description: 'The device whose code was accepted or that the caller named; null otherwise.' })
  deviceId!: string | null;

  @Field(() => Date, { description: 'When the attempt was made.' })
  createdAt!: Date;
}

/** A `mfa_verifications` row as the store returns it. */
export interface VerificationRow {
  id: string;
  deviceId: string | null;
  method: string;
  result: string;
  createdAt: Date;
  /** The exact `created_at` as text (microseconds kept), the cursor's sort value. */
  sortKey: string;
}

export const MfaVerificationConnection = ConnectionType(MfaVerification, 'MfaVerification');

@InputType({ description: 'Starts a TOTP enrolment with the token of an emailed enrolment link.' })
export class BeginTotpEnrollmentInput {
  @Field(() => String, { description: 'The `token` parameter of the enrolment link (it is used only by the confirmation).' })
  token!: string;

  @Field(() => String, { nullable: true, description: 'A name for the device (1–100 characters; default "Authenticator app").' })
  deviceName?: string;
}

@ObjectType({ description: 'Result of `beginTotpEnrollment`: what the authenticator app needs. Shown during enrolment only.' })
export class BeginTotpEnrollmentPayload {
  @Field(() => String, {
    nullable: true,
    description: '`otpauth://totp/…` URI (issuer: the tenant, label: the username; SHA-1, 6 digits, 30 s).',
  })
  otpauthUri?: string | null;

  @Field(() => String, { nullable: true, description: 'The URI as a QR code: a `data:image/png;base64,…` URL for an `<img>`.' })
  qrCodeDataUrl?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The base32 secret, for apps that cannot scan. Never returned again once confirmed.',
  })
  secret?: string | null;

  @Field(() => String, { nullable: true, description: 'Username of the MFA user.' })
  username?: string | null;

  @Field(() => [UserError], {
    description: 'TOKEN_INVALID, TOKEN_USED, TOKEN_EXPIRED, INVALID_INPUT, or INVALID_STATE (device limit).',
  })
  errors!: UserError[];
}

@InputType({ description: 'Finishes a TOTP enrolment with the first code the app shows.' })
export class ConfirmTotpEnrollmentInput {
  @Field(() => String, { description: 'The same enrolment-link token `beginTotpEnrollment` was called with; confirming uses it up.' })
  token!: string;

  @Field(() => String, { description: 'The 6-digit code the app shows now.' })
  code!: string;
}

@ObjectType({ description: 'Result of `confirmTotpEnrollment`.' })
export class ConfirmTotpEnrollmentPayload {
  @Field(() => Boolean, { description: 'True when the device is now ACTIVE.' })
  success!: boolean;

  @Field(() => ID, { nullable: true, description: 'Global id of the new device.' })
  deviceId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the MFA user.' })
  mfaUserId?: string | null;

  @Field(() => [UserError], {
    description:
      'CODE_INVALID (wrong code; counted against the link), TOKEN_INVALID, TOKEN_USED, TOKEN_EXPIRED, INVALID_INPUT, or INVALID_STATE (not begun, restarted, device limit).',
  })
  errors!: UserError[];
}

@InputType({ description: 'A second factor to check for a user. Exactly one of `code`, `bypassCode` and `webauthnResponse`.' })
export class VerifyMfaInput {
  @Field(() => String, { description: 'The MFA user: its global id, username or email (case-insensitive).' })
  user!: string;

  @Field(() => String, {
    nullable: true,
    description: 'A 6-digit TOTP code; checked against every ACTIVE TOTP device unless `deviceId` is given.',
  })
  code?: string;

  @Field(() => String, { nullable: true, description: 'A one-time bypass code from `createMfaBypassCodes`.' })
  bypassCode?: string;

  @Field(() => String, {
    nullable: true,
    description: 'A WebAuthn assertion (AuthenticationResponseJSON as JSON text) answering `webAuthnAuthenticationOptions` for this user.',
  })
  webauthnResponse?: string;

  @Field(() => ID, { nullable: true, description: 'Only this device of the user (a disabled one is an error, not an attempt).' })
  deviceId?: string;
}

@ObjectType({ description: 'Result of `verifyMfa`. Each VERIFIED, REJECTED or LOCKED answer is recorded on the MFA user.' })
export class VerifyMfaPayload {
  @Field(() => MfaVerificationResult, { nullable: true, description: 'The answer; null when `errors` says the request was no attempt.' })
  result?: MfaVerificationResult | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the MFA user verified.' })
  mfaUserId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the device whose code was accepted.' })
  deviceId?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Seconds until the factor can be verified again, when locked (or locked by this attempt).',
  })
  retryAfter?: number | null;

  @Field(() => [UserError], {
    description:
      'NOT_FOUND (no such user or device), INVALID_INPUT (not one factor, malformed code), INVALID_STATE (suspended user, disabled device, no enabled device).',
  })
  errors!: UserError[];
}

@InputType({ description: 'Names one MFA device.' })
export class MfaDeviceInput {
  @Field(() => ID, { description: 'Global id of the device.' })
  deviceId!: string;
}

@InputType({ description: 'Names one MFA user.' })
export class MfaUserInput {
  @Field(() => ID, { description: 'Global id of the MFA user.' })
  mfaUserId!: string;
}

@ObjectType({ description: 'Result of a device or factor operation: the MFA user afterwards.' })
export class MfaUserChangePayload {
  @Field(() => MfaUser, { nullable: true, description: 'The MFA user, with its devices and status as they are now.' })
  mfaUser?: unknown;

  @Field(() => [UserError], { description: 'NOT_FOUND (no such device or user in this tenant).' })
  errors!: UserError[];
}

@ObjectType({ description: 'Result of `resetMfaFactors`.' })
export class ResetMfaFactorsPayload {
  @Field(() => MfaUser, { nullable: true, description: 'The MFA user, now UNENROLLED.' })
  mfaUser?: unknown;

  @Field(() => Int, { nullable: true, description: 'Devices removed.' })
  devicesRemoved?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether a new enrolment link was emailed (false when the user has no email).' })
  enrollmentEmailSent?: boolean | null;

  @Field(() => [UserError], { description: 'NOT_FOUND.' })
  errors!: UserError[];
}

@InputType({ description: 'Issues one-time bypass codes for a user who lost their device.' })
export class CreateMfaBypassCodesInput {
  @Field(() => ID, { description: 'Global id of the MFA user.' })
  mfaUserId!: string;

  @Field(() => Int, { nullable: true, description: 'How many codes, 1–10 (default 1).' })
  count?: number;

  @Field(() => Int, { nullable: true, description: 'Minutes until the codes expire, 1–43200 (default 1440: a day).' })
  expiresInMinutes?: number;
}

@ObjectType({ description: 'Result of `createMfaBypassCodes`. The codes are shown here only: only their hashes are stored.' })
export class CreateMfaBypassCodesPayload {
  @Field(() => [String], { nullable: true, description: 'The codes (10 digits as `12345-67890`), each accepted once by `verifyMfa`.' })
  codes?: string[] | null;

  @Field(() => Date, { nullable: true, description: 'When the codes stop working.' })
  expiresAt?: Date | null;

  @Field(() => MfaUser, { nullable: true, description: 'The MFA user.' })
  mfaUser?: unknown;

  @Field(() => [UserError], { description: 'NOT_FOUND, INVALID_INPUT (count or expiry out of range).' })
  errors!: UserError[];
}
