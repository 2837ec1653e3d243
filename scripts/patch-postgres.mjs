// Runs on `npm install` / `npm ci` (the `postinstall` script): patches postgres.js so a write
// scheduled for a connection whose socket has just closed fails that connection's queries
// (CONNECTION_CLOSED, which callers handle) instead of throwing `TypeError: Cannot read
// properties of null (reading 'write')` from a setImmediate callback, where nothing can catch
// it and the process exits. Upstream: porsager/postgres issues #1066, #1154, #1208 (open; pull
// requests #1168 and #1209 not merged or released as of 3.4.9, the newest version). The
// guard settles the queries rather than dropping the write, so no caller waits forever.
//
// Idempotent, and harmless once upstream ships a fix: a file without the unguarded line is
// left alone (and reported).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = path.join(root, 'node_modules', 'postgres');
const MARKER = 'roster: guard a write after the socket closed';
const UNGUARDED = '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n';
const GUARDED = [
  '  function nextWrite(fn) {',
  `    if (!socket) { // ${MARKER}`,
  '      nextWriteTimer !== null && clearImmediate(nextWriteTimer)',
  '      chunk = nextWriteTimer = null',
  "      error(Errors.connection('CONNECTION_CLOSED', options))",
  '      return false',
  '    }',
  '    const x = socket.write(chunk, fn)',
  '',
].join('\n');

if (!existsSync(pkgDir)) {
  console.log('patch-postgres: postgres is not installed; nothing to patch');
  process.exit(0);
}
const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
for (const flavour of ['src', 'cjs/src', 'cf/src']) {
  const file = path.join(pkgDir, flavour, 'connection.js');
  if (!existsSync(file)) continue;
  const text = readFileSync(file, 'utf8');
  if (text.includes(MARKER)) continue;
  if (!text.includes(UNGUARDED)) {
    console.warn(`patch-postgres: postgres ${version} ${flavour}/connection.js has no unguarded nextWrite; left as is`);
    continue;
  }
  writeFileSync(file, text.replace(UNGUARDED, GUARDED));
  console.log(`patch-postgres: guarded nextWrite in postgres ${version} ${flavour}/connection.js`);
}
