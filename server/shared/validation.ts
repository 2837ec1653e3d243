import { ErrorCode, userError, type UserError } from './errors.js';

export const MAX_NAME_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 1000;

/**
 * Control characters no text argument may hold: C0 (NUL included: PostgreSQL refuses it in
 * text), DEL and C1. Tab, line feed and carriage return stay allowed in free text.
 */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/**
 * Names refuse every control character, tab and line breaks included (a name is one line: a
 * line break in it forges extra lines in e-mails, CSV exports and logs, a tab misaligns
 * tables), and bidi overrides/isolates and zero-width characters, which make a name look like
 * another.
 */
const NAME_FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2066-\u2069\uFEFF]/;

export function hasControlCharacters(value: string): boolean {
  return CONTROL.test(value);
}

/** Trims a display name and records an error when it is missing, too long or holds invisible or control characters. */
export function checkName(value: string | null | undefined, label: string, field: string[], errors: UserError[], required = true): string {
  const v = (value ?? '').trim();
  if (required && !v) errors.push(userError(ErrorCode.INVALID_INPUT, `${label} is required.`, field));
  if ([...v].length > MAX_NAME_LENGTH)
    errors.push(userError(ErrorCode.INVALID_INPUT, `${label} must be at most ${MAX_NAME_LENGTH} characters.`, field));
  if (NAME_FORBIDDEN.test(v))
    errors.push(
      userError(
        ErrorCode.INVALID_INPUT,
        `${label} must not contain control characters, bidirectional overrides or zero-width characters.`,
        field,
      ),
    );
  return v;
}

/** Trims an optional free-text description (null when empty) and records an error when it is too long. */
export function checkDescription(value: string | null | undefined, field: string[], errors: UserError[]): string | null {
  const v = (value ?? '').trim();
  if ([...v].length > MAX_DESCRIPTION_LENGTH)
    errors.push(userError(ErrorCode.INVALID_INPUT, `Description must be at most ${MAX_DESCRIPTION_LENGTH} characters.`, field));
  return v || null;
}
