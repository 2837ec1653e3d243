import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType } from '../../shared/pagination.js';
import { Node } from '../node/node.types.js';

/** Who made a change. */
export enum AuditActorKind {
  ADMIN = 'ADMIN',
  API_TOKEN = 'API_TOKEN',
  SCHEDULER = 'SCHEDULER',
  END_USER = 'END_USER',
  SCIM = 'SCIM',
  SYSTEM = 'SYSTEM',
}

registerEnumType(AuditActorKind, {
  name: 'AuditActorKind',
  description: 'Who made a change.',
  valuesConfig: {
    ADMIN: { description: 'An administrator signed in with a session (`actor.id` is the user).' },
    API_TOKEN: { description: 'A service with an API token (`actor.id` is the token, `actor.name` its name).' },
    SCHEDULER: { description: 'The scheduler (automatic sync runs).' },
    END_USER: { description: 'An end user acting on their own account (sign-in, account setup, enrolment).' },
    SCIM: { description: "A SCIM client with a provisioning's bearer token (`actor.id` is the Provisioning, `actor.name` its name)." },
    SYSTEM: { description: 'Roster itself (e.g. operator commands).' },
  },
});

/** The actor of an event, as written (ids raw; the resolver makes them global). */
export interface AuditActor {
  kind: AuditActorKind;
  id: string | null;
  name: string | null;
  requestId: string | null;
  address: string | null;
}

/** One event to write. `changes`: field → before/after, secrets already redacted (see `redact`). */
export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | null;
  targetName: string | null;
  changes?: Record<string, { before: unknown; after: unknown }> | null;
  sourceId?: string | null;
}

/** Conditions of an audit query (raw ids). */
export interface AuditQuery {
  actorId?: string | null;
  actorKind?: string | null;
  targetId?: string | null;
  /** Exact action, or a prefix when it ends in a dot. */
  action?: string | null;
  since?: Date | null;
  until?: Date | null;
  sourceId?: string | null;
  /** Only events about this type of target (`User`, `MfaUser`, …). */
  targetType?: string | null;
}

/** The `seq` values one insert wrote (first and last): what a live feed reads after the commit. */
export interface SeqRange {
  from: number;
  to: number;
}

declare module '../../shared/pubsub.js' {
  interface Topics {
    /** `auditEvents:<tenant id>`: a committed insert wrote the tenant's events `from`…`to` (seq). */
    auditEvents: SeqRange;
  }
}

export interface AuditEventRow {
  /** The key, and the global id's (`AuditEvent:<seq>`). */
  seq: number;
  tenantId: string;
  at: Date;
  actorKind: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  targetName: string | null;
  changes: unknown;
  sourceId: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

@ObjectType({ description: 'Who made a change.' })
export class AuditEventActor {
  @Field(() => AuditActorKind, { description: 'Admin, API token, scheduler, end user or system.' })
  kind!: AuditActorKind;

  @Field(() => ID, { nullable: true, description: 'Global id of the admin user, end user or API token; null for the scheduler.' })
  id!: string | null;

  @Field(() => String, { nullable: true, description: 'Its display name when the event was written (token name, email).' })
  name!: string | null;
}

@ObjectType({ description: 'What a change was made to.' })
export class AuditEventTarget {
  @Field(() => String, { description: 'The GraphQL type of the target (`User`, `Group`, `ApiToken`, `SyncRun`, …).' })
  type!: string;

  @Field(() => ID, { nullable: true, description: 'Its global id (it may no longer exist).' })
  id!: string | null;

  @Field(() => String, { nullable: true, description: 'Its display name when the event was written (email, group name, …).' })
  name!: string | null;
}

@ObjectType({ description: 'One changed field with its value before and after, as JSON text. Secrets read "[redacted]".' })
export class AuditChange {
  @Field(() => String, { description: 'The field (e.g. `firstName`, `status`, `groupIds`).' })
  field!: string;

  @Field(() => String, { nullable: true, description: 'JSON of the value before the change; null when it did not exist.' })
  before!: string | null;

  @Field(() => String, { nullable: true, description: 'JSON of the value after the change; null when it no longer exists.' })
  after!: string | null;
}

@ObjectType({
  implements: Node,
  description: 'One change (or sign-in) in the audit trail, written in the same transaction as the change itself.',
})
export class AuditEvent {
  @Field(() => ID, { description: 'Global id.' })
  id!: string;

  @Field(() => Date, { description: 'When the change was made (its transaction).' })
  at!: Date;

  @Field(() => AuditEventActor, { description: 'Who made it.' })
  actor!: AuditEventActor;

  @Field(() => String, { description: 'What was done, `<type>.<verb>` (e.g. `user.update`, `auth.sign_in_failed`, `sync.remove`).' })
  action!: string;

  @Field(() => AuditEventTarget, { description: 'What it was done to.' })
  target!: AuditEventTarget;

  @Field(() => [AuditChange], {
    description: 'The fields that changed, with before and after values, sorted by field name; empty when none apply.',
  })
  changes!: AuditChange[];

  @Field(() => String, {
    nullable: true,
    description: 'The request id (`x-request-id`) of the request that made it; null for background work.',
  })
  requestId!: string | null;

  @Field(() => String, { nullable: true, description: 'The client address of that request.' })
  clientAddress!: string | null;
}

export const AuditEventConnection = ConnectionType(AuditEvent, 'AuditEvent');

@InputType({ description: 'Narrows `auditEvents`; every given condition must hold.' })
export class AuditEventFilter {
  @Field(() => ID, { nullable: true, description: 'Global id of the actor (a User or an ApiToken).' })
  actor?: string | null;

  @Field(() => AuditActorKind, { nullable: true, description: 'Only events by this kind of actor.' })
  actorKind?: AuditActorKind | null;

  @Field(() => ID, { nullable: true, description: 'Global id of the target (any type).' })
  target?: string | null;

  @Field(() => String, { nullable: true, description: 'Exact action (`user.update`), or a prefix ending in a dot (`user.`).' })
  action?: string | null;

  @Field(() => Date, { nullable: true, description: 'Events at or after this time.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Events before this time; must be after `since`, at most 366 days apart.' })
  until?: Date | null;
}

@InputType({ description: 'Narrows the `auditEvents` subscription; every given condition must hold.' })
export class AuditEventStreamFilter {
  @Field(() => String, {
    nullable: true,
    description: 'Exact action (`user.update`), or a prefix ending in a dot (`user.`, `scim.`) for a family of actions.',
  })
  action?: string | null;

  @Field(() => String, { nullable: true, description: 'Only events about this type of target (`User`, `MfaUser`, `Group`, `SyncRun`, …).' })
  targetType?: string | null;

  @Field(() => AuditActorKind, { nullable: true, description: 'Only events by this kind of actor.' })
  actorKind?: AuditActorKind | null;
}
