import { GraphQLError } from 'graphql';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';

/**
 * Expected outcomes of a mutation, returned as data in its payload (tier one). Clients switch
 * on the code; the message is for people.
 */
export enum ErrorCode {
  NOT_FOUND = 'NOT_FOUND',
  INVALID_INPUT = 'INVALID_INPUT',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  NAME_TAKEN = 'NAME_TAKEN',
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  SLUG_TAKEN = 'SLUG_TAKEN',
  PASSWORD_TOO_SHORT = 'PASSWORD_TOO_SHORT',
  PASSWORD_MATCHES_IDENTITY = 'PASSWORD_MATCHES_IDENTITY',
  PASSWORD_MISSING_UPPERCASE = 'PASSWORD_MISSING_UPPERCASE',
  PASSWORD_MISSING_LOWERCASE = 'PASSWORD_MISSING_LOWERCASE',
  PASSWORD_MISSING_DIGIT = 'PASSWORD_MISSING_DIGIT',
  PASSWORD_MISSING_SPECIAL = 'PASSWORD_MISSING_SPECIAL',
  PASSWORD_TOO_COMMON = 'PASSWORD_TOO_COMMON',
  BUILT_IN_GROUP = 'BUILT_IN_GROUP',
  LAST_ADMIN = 'LAST_ADMIN',
  FEATURE_DISABLED = 'FEATURE_DISABLED',
  ENTITLEMENT_MISSING = 'ENTITLEMENT_MISSING',
  TOKEN_INVALID = 'TOKEN_INVALID',
  TOKEN_EXPIRED = 'TOKEN_EXPIRED',
  TOKEN_USED = 'TOKEN_USED',
  INVALID_STATE = 'INVALID_STATE',
  ALREADY_EXISTS = 'ALREADY_EXISTS',
  USERNAME_TAKEN = 'USERNAME_TAKEN',
  CLAIM_CONFLICT = 'CLAIM_CONFLICT',
  CODE_INVALID = 'CODE_INVALID',
}

registerEnumType(ErrorCode, {
  name: 'ErrorCode',
  description: 'Machine-readable reason of an expected failure reported in a mutation payload.',
  valuesConfig: {
    NOT_FOUND: { description: 'The referenced object does not exist in this tenant.' },
    INVALID_INPUT: { description: 'A field is malformed or out of range; `field` names it.' },
    INVALID_CREDENTIALS: { description: 'Sign-in failed. Deliberately says nothing about which part was wrong.' },
    NAME_TAKEN: { description: 'The name is already used (names compare case-insensitively).' },
    EMAIL_TAKEN: { description: 'The email is already used in this directory (case-insensitive).' },
    SLUG_TAKEN: { description: 'The tenant slug is already used.' },
    PASSWORD_TOO_SHORT: { description: 'Password policy: fewer than 8 characters.' },
    PASSWORD_MATCHES_IDENTITY: {
      description: 'Password policy: equal, ignoring case, to the username, email, login id, user id or account id.',
    },
    PASSWORD_MISSING_UPPERCASE: { description: 'Password policy: no uppercase letter.' },
    PASSWORD_MISSING_LOWERCASE: { description: 'Password policy: no lowercase letter.' },
    PASSWORD_MISSING_DIGIT: { description: 'Password policy: no digit.' },
    PASSWORD_MISSING_SPECIAL: { description: 'Password policy: no special character from the allowed set.' },
    PASSWORD_TOO_COMMON: {
      description:
        'Password policy: on the bundled list of commonly used passwords (ignoring case; the 100,000 most common of the SecLists top million, and every entry of that million the other rules would accept).',
    },
    BUILT_IN_GROUP: { description: 'The operation is not allowed on a built-in group.' },
    LAST_ADMIN: { description: 'The change would leave the tenant without an active admin.' },
    FEATURE_DISABLED: { description: 'The tenant does not have the feature flag this needs.' },
    ENTITLEMENT_MISSING: { description: 'The tenant does not hold the entitlement this needs.' },
    TOKEN_INVALID: { description: 'The link or token is unknown or malformed.' },
    TOKEN_EXPIRED: { description: 'The link or token has expired; ask for a new one.' },
    TOKEN_USED: { description: 'The link or token was already used or has been replaced.' },
    INVALID_STATE: { description: 'The object is not in a state that allows this operation.' },
    ALREADY_EXISTS: { description: 'Only one object of this kind is allowed and it already exists (e.g. the tenant’s EAA provisioning).' },
    USERNAME_TAKEN: {
      description:
        'The username is already held by another user (usernames compare case-insensitively); in a sync run, by another MFA user or by a selected user who takes precedence.',
    },
    CLAIM_CONFLICT: { description: 'A sync run meant to claim a MANUAL MFA user that was claimed or removed meanwhile.' },
    CODE_INVALID: {
      description: 'A one-time code (TOTP) is wrong, out of its time window or already used; counted by the sign-in limits.',
    },
  },
});

@ObjectType({ description: 'An expected failure of a mutation, reported as data.' })
export class UserError {
  @Field(() => ErrorCode, { description: 'Machine-readable reason.' })
  code!: ErrorCode;

  @Field(() => String, { description: 'Human-readable explanation, safe to show to an administrator.' })
  message!: string;

  @Field(() => [String], {
    nullable: true,
    description: 'Path of the input field at fault, e.g. `["input", "password"]`; null when not tied to one field.',
  })
  field?: string[] | null;

  @Field(() => Int, {
    nullable: true,
    description:
      'Seconds to wait before another attempt can succeed: set when credential checks (sign-in, links) are being throttled after repeated failures, whether this attempt was wrong or refused unchecked.',
  })
  retryAfter?: number | null;
}

export function userError(code: ErrorCode, message: string, field?: string[], extra?: { retryAfter?: number }): UserError {
  return { code, message, field: field ?? null, retryAfter: extra?.retryAfter ?? null };
}

/**
 * Thrown inside a service to abort its transaction with expected failures. Resolvers turn it
 * into the payload's `errors`; anything else thrown is a bug and is masked.
 */
export class DomainError extends Error {
  constructor(readonly errors: UserError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'DomainError';
  }
  static of(code: ErrorCode, message: string, field?: string[], extra?: { retryAfter?: number }): DomainError {
    return new DomainError([userError(code, message, field, extra)]);
  }
}

/**
 * Runs a service call and maps expected failures to `{ errors }`; `onFailure` supplies the
 * payload's non-null fields for that case (e.g. `{ success: false }`).
 */
export async function toPayload<T extends object>(
  fn: () => Promise<T>,
  onFailure: Partial<T> = {},
): Promise<T | (Partial<T> & { errors: UserError[] })> {
  try {
    const result = await fn();
    return { errors: [], ...result };
  } catch (err) {
    if (err instanceof DomainError) return { ...onFailure, errors: err.errors };
    throw err;
  }
}

/** Tier two: transport, authentication and authorization failures. */
export function unauthenticated(message = 'Sign in first: send a valid session token.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

export function forbidden(message = 'You are not allowed to do this.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
}

export function badUserInput(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}) } });
}

/** The codes a client may see; anything else is masked as INTERNAL_SERVER_ERROR. */
export const PUBLIC_ERROR_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'TOO_MANY_REQUESTS',
  'OPERATION_TOO_COMPLEX',
  // A query argument out of range (audit time ranges); mutations report it in their payload instead.
  'INVALID_INPUT',
]);

/** Postgres error details, whichever driver raised them (drizzle wraps the driver error as `cause`). */
export function pgErrorInfo(err: unknown): { code?: string; constraint?: string } {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const o = e as { code?: unknown; constraint?: unknown; constraint_name?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code)) {
      const constraint =
        typeof o.constraint === 'string' ? o.constraint : typeof o.constraint_name === 'string' ? o.constraint_name : undefined;
      return { code: o.code, constraint };
    }
    e = o.cause;
  }
  return {};
}

/** postgres.js and Node socket codes of a connection that closed, never opened or timed out. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * Whether an error means the database connection went away (a restart, failover, terminated
 * backend, proxy blip) rather than that the statement was wrong: SQLSTATE class 08
 * (connection exception), 57P01–57P03 (admin/crash shutdown, cannot connect now), or a
 * driver/socket code. Such work is retried once the database answers again; it is never
 * recorded as a failure of the work itself.
 */
export function isConnectionError(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * An error's message without query parameters, for text that is stored or shown (a job's
 * last error, a bulk operation's or sync run's `error`): drizzle writes a failed statement as
 * "Failed query: … params: …" with emails and password hashes among the parameters, so only
 * the database's own message (e.g. "deadlock detected") is kept.
 */
export function safeMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  if (msg.startsWith('Failed query:')) return `Database error: ${e.cause?.message ?? 'the statement failed'}`;
  return msg;
}
