import { isCommonPassword } from './common-passwords.js';
import { ErrorCode, userError, type UserError } from './errors.js';
import { SPECIAL_CHARACTERS } from './passwords.js';

export const MIN_PASSWORD_LENGTH = 8;

/**
 * How a rule is tested, as data: the server evaluates it here and the portal's browser script
 * evaluates the same descriptors (served with the page), so the live checklist and the server
 * check cannot drift apart.
 */
export type PasswordTest =
  | { kind: 'minLength'; min: number }
  | { kind: 'notIdentity' }
  | { kind: 'pattern'; source: string; flags: string }
  | { kind: 'anyOf'; characters: string };

export interface PasswordRule {
  code: ErrorCode;
  message: string;
  test: PasswordTest;
}

/** The password policy of PRODUCT.md §2, in the order failures are reported. */
export const PASSWORD_RULES: readonly PasswordRule[] = [
  {
    code: ErrorCode.PASSWORD_TOO_SHORT,
    message: `Use at least ${MIN_PASSWORD_LENGTH} characters.`,
    test: { kind: 'minLength', min: MIN_PASSWORD_LENGTH },
  },
  {
    code: ErrorCode.PASSWORD_MATCHES_IDENTITY,
    message: 'The password must not equal the username, email, login id, user id or account id.',
    test: { kind: 'notIdentity' },
  },
  {
    code: ErrorCode.PASSWORD_MISSING_UPPERCASE,
    message: 'Include at least one uppercase letter.',
    test: { kind: 'pattern', source: '\\p{Lu}', flags: 'u' },
  },
  {
    code: ErrorCode.PASSWORD_MISSING_LOWERCASE,
    message: 'Include at least one lowercase letter.',
    test: { kind: 'pattern', source: '\\p{Ll}', flags: 'u' },
  },
  { code: ErrorCode.PASSWORD_MISSING_DIGIT, message: 'Include at least one digit.', test: { kind: 'pattern', source: '[0-9]', flags: '' } },
  {
    code: ErrorCode.PASSWORD_MISSING_SPECIAL,
    message: `Include at least one special character from ${SPECIAL_CHARACTERS}`,
    test: { kind: 'anyOf', characters: SPECIAL_CHARACTERS },
  },
];

/** Whether `password` passes one rule (the browser script mirrors exactly this switch). */
export function passesRule(test: PasswordTest, password: string, identities: (string | null | undefined)[]): boolean {
  switch (test.kind) {
    case 'minLength':
      return [...password].length >= test.min;
    case 'notIdentity': {
      const lower = password.toLowerCase();
      return !identities.some((id) => id && id.toLowerCase() === lower);
    }
    case 'pattern':
      return new RegExp(test.source, test.flags).test(password);
    case 'anyOf':
      return [...password].some((c) => test.characters.includes(c));
  }
}

/**
 * The password policy, rule by rule. Returns every failed rule, so an administrator fixes a
 * password in one go. `identities` are the username, email, login id, user id and account
 * (tenant) id the password must not equal, ignoring case.
 */
export function checkPasswordPolicy(
  password: string,
  identities: (string | null | undefined)[],
  field: string[] = ['input', 'password'],
): UserError[] {
  const errors = PASSWORD_RULES.filter((r) => !passesRule(r.test, password, identities)).map((r) => userError(r.code, r.message, field));
  // Its own rule, checked whatever the others say, on the server only (the list is 100k entries,
  // not shipped to the portal's checklist): "password" is both too weak and too common.
  if (isCommonPassword(password)) {
    errors.push(
      userError(
        ErrorCode.PASSWORD_TOO_COMMON,
        'This password is on a list of commonly used passwords (ignoring case); choose another.',
        field,
      ),
    );
  }
  return errors;
}

/** Who a password belongs to: the values it must not equal (PASSWORD_MATCHES_IDENTITY). */
export interface PasswordOwner {
  email?: string | null;
  /** The login id (in the Cloud Directory it defaults to the email). */
  username?: string | null;
  userId?: string | null;
  /** The account id as stored (uuid) … */
  tenantId?: string | null;
  /** … and as people type it at sign-in (the tenant slug). */
  tenantSlug?: string | null;
}

/**
 * The identity set every path checks a user's password against (createUser, CSV rows,
 * account setup). One builder, because three hand-written lists had drifted: account setup
 * refused the tenant slug while createUser and CSV rows accepted it.
 */
export function passwordIdentities(owner: PasswordOwner): (string | null | undefined)[] {
  return [owner.email, owner.username, owner.userId, owner.tenantId, owner.tenantSlug];
}
