import { ErrorCode, userError, type UserError } from './errors.js';

export const MAX_NAME_LENGTH = 100;

/** Trims a display name and records an error when it is missing or too long. */
export function checkName(value: string | null | undefined, label: string, field: string[], errors: UserError[], required = true): string {
  const v = (value ?? '').trim();
  if (required && !v) errors.push(userError(ErrorCode.INVALID_INPUT, `${label} is required.`, field));
  if ([...v].length > MAX_NAME_LENGTH)
    errors.push(userError(ErrorCode.INVALID_INPUT, `${label} must be at most ${MAX_NAME_LENGTH} characters.`, field));
  return v;
}
