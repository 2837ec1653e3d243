import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const anchors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../anchors');

/**
 * PostGraphile 5 is an anchor of the benchmark only and has its own package under
 * test/bench/anchors (its GraphiQL 5 / React 19 peers cannot share the root dependency tree
 * with the explorer's GraphiQL 3 / React 18). Installed from its lockfile on first use, so
 * `npm ci` for the service and its tests stays lean. Returns the script path for `startProcess`.
 */
export function ensureAnchorsInstalled(script: string): string {
  if (!existsSync(path.join(anchors, 'node_modules', 'postgraphile'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: anchors, stdio: 'inherit' });
  }
  return path.join(anchors, script);
}
