import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Some tests run the compiled server as a child process (CLI, shutdown, replicas): build it
 * once before the suite, so `npm test` works on a clean clone. Incremental, so it is quick
 * when nothing changed.
 */
export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  // The client package and its `roster` CLI, for the tests that run them as a user would.
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'client/tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
