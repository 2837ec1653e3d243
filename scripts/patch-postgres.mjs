// Runs on `npm install` / `npm ci` (the `postinstall` script): patches postgres.js 3.4.9 where
// a dropped connection escapes every caller. Upstream has neither fix released (3.4.9 is the
// newest version); each patch is idempotent, marked, and skipped (with a warning) once the
// code it replaces is gone.
//
// 1. nextWrite: a write scheduled for a connection whose socket has just closed throws
//    `TypeError: Cannot read properties of null (reading 'write')` from a setImmediate
//    callback, where nothing can catch it. The guard fails that connection's queries with
//    CONNECTION_CLOSED instead (which callers handle), so none waits forever. Upstream:
//    porsager/postgres #1066, #1154, #1208 (pull requests #1168, #1209 not merged).
// 2. A write pending when the socket closes (a query sent just as its backend is terminated):
//    `closed()` cancels the scheduled flush but keeps its handle and the unsent bytes, so the
//    reconnected socket's StartupMessage is appended to the stale bytes and never flushed (a
//    flush is scheduled only while no handle is held); the connection then waits for
//    CONNECT_TIMEOUT (30 s) and fails every query given to it. The patch drops both on close.
//    Found with an idle pool whose backends are all terminated, then queried at once.
// 3. A connection lost while it starts up (a restart, failover or pg_terminate_backend landing
//    on a new connection while it fetches array types): `closed()` reconnects for the waiting
//    query but keeps the lost backend's in-flight types query and its error, so the new
//    connection's first ReadyForQuery rejects that stale query — an unhandled rejection from
//    the discarded `fetchArrayTypes()` promise — and replays the old 57P01 onto the user's
//    query or leaves it waiting until CONNECT_TIMEOUT. The patch settles the stale queries
//    with CONNECTION_CLOSED and clears the per-backend state (the settled query, its error)
//    on every close — a connection whose socket errored kept them too and replayed the old
//    error onto the first query after its reconnect, and queries handed to it between the
//    socket's error and its close were never settled (they waited forever) — and handles
//    the types promise (a failed types fetch leaves array types unparsed on that connection;
//    the startup then goes on as upstream does). Upstream: porsager/postgres #279, #1192,
//    #1205, #1223 (open). Found by test/database-outage.test.ts (CI: 57P01 reached the
//    process-level net).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = path.join(root, 'node_modules', 'postgres');

const patches = [
  {
    marker: 'roster: guard a write after the socket closed',
    from: '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n',
    to: (marker) =>
      [
        '  function nextWrite(fn) {',
        `    if (!socket) { // ${marker}`,
        '      nextWriteTimer !== null && clearImmediate(nextWriteTimer)',
        '      chunk = nextWriteTimer = null',
        "      error(Errors.connection('CONNECTION_CLOSED', options))",
        '      return false',
        '    }',
        '    const x = socket.write(chunk, fn)',
        '',
      ].join('\n'),
  },
  {
    marker: 'roster: no write left over from a closed socket',
    from: "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)\n",
    to: (marker) =>
      [
        '    clearImmediate(nextWriteTimer)',
        `    chunk = nextWriteTimer = null // ${marker}`,
        "    socket.removeListener('data', data)",
        '',
      ].join('\n'),
  },
  {
    marker: 'roster: a connection lost while starting up',
    from:
      '    if (initial)\n      return reconnect()\n\n' +
      "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    to: (marker) =>
      [
        `    if (initial) { // ${marker}`,
        "      const lost = Errors.connection('CONNECTION_CLOSED', options, socket)",
        '      query && query !== initial && queryError(query, lost)',
        '      while (sent.length) {',
        '        const q = sent.shift()',
        '        q !== initial && queryError(q, lost)',
        '      }',
        '      query = errorResponse = null',
        '      result = new Result()',
        '      return reconnect()',
        '    }',
        '',
        '    // After a socket error too: queries handed to it between the error and the close.',
        "    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))",
        `    query = errorResponse = null // ${marker}: the next backend starts clean`,
        '    result = new Result()',
        '',
      ].join('\n'),
  },
  {
    marker: 'roster: the types promise is handled',
    from: '        return fetchArrayTypes()\n',
    to: (marker) => `        return fetchArrayTypes().catch(() => { /* ${marker}: see closed() */ })\n`,
  },
];

if (!existsSync(pkgDir)) {
  console.log('patch-postgres: postgres is not installed; nothing to patch');
  process.exit(0);
}
const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
for (const flavour of ['src', 'cjs/src', 'cf/src']) {
  const file = path.join(pkgDir, flavour, 'connection.js');
  if (!existsSync(file)) continue;
  let text = readFileSync(file, 'utf8');
  for (const p of patches) {
    if (text.includes(p.marker)) continue;
    if (!text.includes(p.from)) {
      console.warn(`patch-postgres: postgres ${version} ${flavour}/connection.js: "${p.marker}" does not apply; left as is`);
      continue;
    }
    text = text.replace(p.from, p.to(p.marker));
    console.log(`patch-postgres: ${p.marker} (postgres ${version} ${flavour}/connection.js)`);
  }
  writeFileSync(file, text);
}
