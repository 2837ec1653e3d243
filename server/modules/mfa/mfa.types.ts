import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/errors.js';
import { ConnectionType } from '../../shared/pagination.js';
import { Node } from '../node/node.types.js';

export enum MfaUserStatus {
  UNENROLLED = 'UNENROLLED',
  ACTIVE = 'ACTIVE',
  DEVICES_DISABLED = 'DEVICES_DISABLED',
  PROVISIONING_DISABLED = 'PROVISIONING_DISABLED',
}
registerEnumType(MfaUserStatus, {
  name: 'MfaUserStatus',
  description: 'State of an MFA user, as the MFA vendor models it.',
  valuesConfig: {
    UNENROLLED: { description: 'No device enrolled (or every device removed).' },
    ACTIVE: { description: 'At least one enabled device.' },
    DEVICES_DISABLED: { description: 'Devices enrolled, every one disabled by an administrator: verification is refused.' },
    PROVISIONING_DISABLED: {
      description:
        'Suspended by its source (directory user disabled but still selected, or SCIM active=false): devices kept, verification refused; enabled again, the user is back to its device state without re-enrolling.',
    },
  },
});

export enum MfaDeviceStatus {
  ACTIVE = 'ACTIVE',
  DISABLED = 'DISABLED',
}
registerEnumType(MfaDeviceStatus, {
  name: 'MfaDeviceStatus',
  description: 'Whether a device is accepted by verification.',
  valuesConfig: {
    ACTIVE: { description: 'Accepted by `verifyMfa`.' },
    DISABLED: { description: 'Kept, but refused by `verifyMfa` until an administrator enables it again.' },
  },
});

export enum ProvisioningSourceKind {
  MANUAL = 'MANUAL',
  PROVISIONING = 'PROVISIONING',
}
registerEnumType(ProvisioningSourceKind, {
  name: 'ProvisioningSourceKind',
  description: 'Where an MFA user or group comes from.',
  valuesConfig: {
    MANUAL: { description: 'Created by hand in the MFA directory.' },
    PROVISIONING: { description: 'Created (or claimed) and kept in sync by a provisioning.' },
  },
});

export enum MfaDeviceKind {
  TOTP = 'TOTP',
  PUSH = 'PUSH',
  WEBAUTHN = 'WEBAUTHN',
  SMS = 'SMS',
}
registerEnumType(MfaDeviceKind, {
  name: 'MfaDeviceKind',
  description: 'Kind of authenticator.',
  valuesConfig: {
    TOTP: { description: 'An authenticator app producing time-based one-time codes.' },
    PUSH: { description: 'A mobile app approving sign-ins by push notification.' },
    WEBAUTHN: { description: 'A security key or platform authenticator (WebAuthn/FIDO2).' },
    SMS: { description: 'One-time codes by text message.' },
  },
});

@ObjectType({ description: 'An enrolled authenticator.' })
export class MfaDevice {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'Name the user gave the device.' })
  name!: string;

  @Field(() => MfaDeviceKind, { description: 'Kind of authenticator.' })
  kind!: MfaDeviceKind;

  @Field(() => MfaDeviceStatus, { description: 'ACTIVE, or DISABLED by an administrator (kept, refused by verification).' })
  status!: MfaDeviceStatus;

  @Field(() => Date, { nullable: true, description: 'When a code or key of this device was last accepted (enrolment included).' })
  lastUsedAt!: Date | null;

  @Field(() => Date, { description: 'When it was enrolled.' })
  enrolledAt!: Date;
}

@ObjectType({ implements: Node, description: 'A user of the MFA directory.' })
export class MfaUser {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, { description: 'Username, unique in the MFA directory ignoring case.' })
  username!: string;

  @Field(() => String, { nullable: true, description: 'Email; users without one get no enrolment email.' })
  email!: string | null;

  @Field(() => String, { description: 'Given name.' })
  firstName!: string;

  @Field(() => String, { description: 'Family name.' })
  lastName!: string;

  @Field(() => MfaUserStatus, {
    description: 'PROVISIONING_DISABLED while its source suspends it (`suspendedAt`), else the state of its devices.',
  })
  status!: MfaUserStatus;

  @Field(() => Date, { nullable: true, description: 'When its source suspended it (PROVISIONING_DISABLED); null when not suspended.' })
  suspendedAt!: Date | null;

  @Field(() => ProvisioningSourceKind, { description: 'MANUAL, or PROVISIONING (see `provisioningId`).' })
  source!: ProvisioningSourceKind;

  @Field(() => ID, { nullable: true, description: 'Global id of the owning provisioning; null for MANUAL.' })
  provisioningId!: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the directory user it is provisioned from.' })
  directoryUserId!: string | null;

  @Field(() => [MfaDevice], { description: 'Enrolled devices.' })
  devices!: MfaDevice[];

  @Field(() => [String], { description: 'Names of the MFA groups the user is in.' })
  groups!: string[];

  @Field(() => Date, { description: 'When the MFA user was created.' })
  createdAt!: Date;
}

export const MfaUserConnection = ConnectionType(MfaUser, 'MfaUser');

@ObjectType({ implements: Node, description: 'A group of the MFA directory.' })
export class MfaGroup {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => String, {
    description: 'Name, unique in the MFA directory ignoring case (a provisioned group follows its directory group’s name).',
  })
  name!: string;

  @Field(() => ProvisioningSourceKind, { description: 'MANUAL, or PROVISIONING (see `provisioningId`).' })
  source!: ProvisioningSourceKind;

  @Field(() => ID, { nullable: true, description: 'Global id of the owning provisioning; null for MANUAL.' })
  provisioningId!: string | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the directory group it is provisioned from.' })
  directoryGroupId!: string | null;

  @Field(() => Int, { description: 'Number of MFA users in the group.' })
  memberCount!: number;

  @Field(() => Date, { description: 'When the MFA group was created.' })
  createdAt!: Date;
}

export const MfaGroupConnection = ConnectionType(MfaGroup, 'MfaGroup');

export interface MfaGroupRow {
  id: string;
  tenantId: string;
  provisioningId: string | null;
  directoryGroupId: string | null;
  name: string;
  createdAt: Date;
}

@InputType({ description: 'Filters of the MFA group list.' })
export class MfaGroupFilterInput {
  @Field(() => ProvisioningSourceKind, { nullable: true, description: 'Only MANUAL or only provisioned groups.' })
  source?: ProvisioningSourceKind;

  @Field(() => ID, { nullable: true, description: 'Only groups owned by this provisioning.' })
  provisioningId?: string;

  @Field(() => String, { nullable: true, description: 'Case-insensitive prefix of the name.' })
  search?: string;
}

export interface MfaUserRow {
  id: string;
  tenantId: string;
  provisioningId: string | null;
  directoryUserId: string | null;
  username: string;
  email: string | null;
  firstName: string;
  lastName: string;
  status: string;
  suspendedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** Set when a page read them in its own statement (the client selected `devices`). */
  devices?: MfaDeviceRow[];
}

/** An enrolled device as the API shows it (never its secret or key material). */
export interface MfaDeviceRow {
  id: string;
  mfaUserId: string;
  name: string;
  kind: string;
  status: string;
  lastUsedAt: Date | null;
  enrolledAt: Date;
}

@InputType({ description: 'Filters of the MFA user list.' })
export class MfaUserFilterInput {
  @Field(() => ProvisioningSourceKind, { nullable: true, description: 'Only MANUAL or only provisioned users.' })
  source?: ProvisioningSourceKind;

  @Field(() => ID, { nullable: true, description: 'Only users owned by this provisioning.' })
  provisioningId?: string;

  @Field(() => MfaUserStatus, { nullable: true, description: 'Only users in this state (PROVISIONING_DISABLED: suspended by the source).' })
  status?: MfaUserStatus;

  @Field(() => String, { nullable: true, description: 'Case-insensitive prefix of username, email or names.' })
  search?: string;
}

@InputType({ description: 'A manually created MFA user.' })
export class CreateMfaUserInput {
  @Field(() => String, { description: 'Username, unique in the MFA directory ignoring case.' })
  username!: string;

  @Field(() => String, { nullable: true, description: 'Email.' })
  email?: string;

  @Field(() => String, { nullable: true, description: 'Given name.' })
  firstName?: string;

  @Field(() => String, { nullable: true, description: 'Family name.' })
  lastName?: string;

  @Field(() => Boolean, { nullable: true, description: 'Email an enrolment link now (needs an email). Default false.' })
  sendEnrollmentEmail?: boolean;
}

@ObjectType({ description: 'Result of `createMfaUser`.' })
export class MfaUserPayload {
  @Field(() => MfaUser, { nullable: true, description: 'The MFA user.' })
  mfaUser?: unknown;

  @Field(() => [UserError], { description: 'Expected failures; empty on success.' })
  errors!: UserError[];
}

@InputType({ description: 'Emails an MFA user a new enrolment link.' })
export class SendMfaEnrollmentInput {
  @Field(() => ID, { description: 'The MFA user (it needs an email address).' })
  mfaUserId!: string;
}
