import { isCommonPassword } from './common-passwords.js';
import { ErrorCode, userError, type UserError } from './errors.js';
import { SPECIAL_CHARACTERS } from './passwords.js';

export const MIN_PASSWORD_LENGTH = 8;

/**
 * The password policy of PRODUCT.md §2, rule by rule. Returns every failed rule, so an
 * administrator fixes a password in one go. `identities` are the username, email, login id,
 * user id and account (tenant) id the password must not equal, ignoring case.
 */
export function checkPasswordPolicy(
  password: string,
  identities: (string | null | undefined)[],
  field: string[] = ['input', 'password'],
): UserError[] {
  const errors: UserError[] = [];
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    errors.push(userError(ErrorCode.PASSWORD_TOO_SHORT, `Use at least ${MIN_PASSWORD_LENGTH} characters.`, field));
  }
  const lower = password.toLowerCase();
  if (identities.some((id) => id && id.toLowerCase() === lower)) {
    errors.push(
      userError(
        ErrorCode.PASSWORD_MATCHES_IDENTITY,
        'The password must not equal the username, email, login id, user id or account id.',
        field,
      ),
    );
  }
  if (!/\p{Lu}/u.test(password)) {
    errors.push(userError(ErrorCode.PASSWORD_MISSING_UPPERCASE, 'Include at least one uppercase letter.', field));
  }
  if (!/\p{Ll}/u.test(password)) {
    errors.push(userError(ErrorCode.PASSWORD_MISSING_LOWERCASE, 'Include at least one lowercase letter.', field));
  }
  if (!/[0-9]/.test(password)) {
    errors.push(userError(ErrorCode.PASSWORD_MISSING_DIGIT, 'Include at least one digit.', field));
  }
  if (![...password].some((c) => SPECIAL_CHARACTERS.includes(c))) {
    errors.push(userError(ErrorCode.PASSWORD_MISSING_SPECIAL, `Include at least one special character from ${SPECIAL_CHARACTERS}`, field));
  }
  // Its own rule, checked whatever the others say: "password" is both too weak and too common.
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
