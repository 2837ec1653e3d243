import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The layout rules that lint cannot express, checked over the server's sources:
 *   - no import circle (type-only imports included: a circle is a circle to a reader, and the
 *     one this replaced ran through a "ground floor" file importing the composition root);
 *   - no file over MAX_LINES lines (past that a file is doing more than one job).
 * Role rules (resolvers import no store or SQL, services name no table) are ESLint's
 * `no-restricted-imports` in eslint.config.js.
 */
const MAX_LINES = 400;
const root = path.join(process.cwd(), 'server');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]/g;

function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    if (target.startsWith(root + path.sep) && existsSync(target)) out.push(target);
  }
  return out;
}

const files = sources(root);
const graph = new Map<string, string[]>();
const problems: string[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${path.relative(process.cwd(), f)}: ${lines} lines (at most ${MAX_LINES})`);
  graph.set(f, importsOf(f, text));
}

// Tarjan's strongly connected components: every component of more than one file is a circle.
let index = 0;
const idx = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
function connect(v: string): void {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
  }
  if (low.get(v) === idx.get(v)) {
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) {
      problems.push(
        `import circle through ${scc.length} files: ${scc
          .map((s) => path.relative(process.cwd(), s))
          .sort()
          .join(', ')}`,
      );
    }
  }
}
for (const f of files) if (!idx.has(f)) connect(f);

if (problems.length) {
  console.error(`Layout check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`layout: ${files.length} server files, none over ${MAX_LINES} lines, no import circle.`);
