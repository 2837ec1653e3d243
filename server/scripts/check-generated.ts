import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema, Kind, parse } from 'graphql';

/**
 * Fails when a generated artefact is stale: the typed client (codegen from the committed SDL)
 * or the SQL migrations (drizzle-kit from drizzle/schema). Each is regenerated into a temporary
 * folder and compared, so the working tree is never touched.
 */
const root = process.cwd();
let stale = false;

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))],
  );
}

function sameTree(a: string, b: string): string[] {
  const files = new Set([...listFiles(a), ...listFiles(b)]);
  const diff: string[] = [];
  for (const f of files) {
    const pa = path.join(a, f);
    const pb = path.join(b, f);
    if (!existsSync(pa) || !existsSync(pb) || readFileSync(pa, 'utf8') !== readFileSync(pb, 'utf8')) diff.push(f);
  }
  return diff;
}

// 1. Typed client.
{
  const tmp = mkdtempSync(path.join(tmpdir(), 'roster-codegen-'));
  const out = path.join(tmp, 'generated') + path.sep;
  execFileSync(path.join(root, 'node_modules/.bin/graphql-codegen'), ['--config', 'codegen.ts', '--silent'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, CODEGEN_OUT: out },
  });
  const diff = sameTree(path.join(root, 'client/src/generated'), out);
  if (diff.length) {
    stale = true;
    process.stderr.write(`client/src/generated is stale (${diff.join(', ')}): run \`npm run codegen\` and commit.\n`);
  } else process.stdout.write('client/src/generated is up to date.\n');
  rmSync(tmp, { recursive: true, force: true });
}

// 2. Migrations.
{
  // drizzle-kit only accepts an --out relative to the working directory.
  const tmp = path.join('dist', `migrations-check-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const out = path.join(tmp, 'migrations');
  cpSync(path.join(root, 'drizzle/migrations'), out, { recursive: true });
  const output = execFileSync(
    path.join(root, 'node_modules/.bin/drizzle-kit'),
    ['generate', '--dialect', 'postgresql', '--schema', 'drizzle/schema/index.ts', '--out', out],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const diff = sameTree(path.join(root, 'drizzle/migrations'), out);
  // drizzle-kit exits 0 even when it fails: only its explicit verdict counts as up to date.
  if (!diff.length && !/No schema changes/i.test(output)) {
    stale = true;
    process.stderr.write(`could not verify drizzle/migrations:\n${output}\n`);
  } else if (diff.length) {
    stale = true;
    process.stderr.write(`drizzle/migrations is stale (${diff.join(', ')}): run \`npm run db:generate\` and commit.\n${output}\n`);
  } else process.stdout.write('drizzle/migrations is up to date.\n');
  rmSync(tmp, { recursive: true, force: true });
}

// 3. Every root field of the API has an operation in the client.
{
  const schema = buildSchema(readFileSync(path.join(root, 'schema/schema.graphql'), 'utf8'));
  const selected = new Set<string>();
  const opsDir = path.join(root, 'client/src/operations');
  for (const f of listFiles(opsDir).filter((x) => x.endsWith('.graphql'))) {
    const doc = parse(readFileSync(path.join(opsDir, f), 'utf8'));
    for (const def of doc.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION) continue;
      const root = def.operation === 'query' ? 'Query' : def.operation === 'mutation' ? 'Mutation' : 'Subscription';
      for (const sel of def.selectionSet.selections) if (sel.kind === Kind.FIELD) selected.add(`${root}.${sel.name.value}`);
    }
  }
  const missing: string[] = [];
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.keys(type?.getFields() ?? {}))
      if (!selected.has(`${type!.name}.${field}`)) missing.push(`${type!.name}.${field}`);
  }
  if (missing.length) {
    stale = true;
    process.stderr.write(`API fields without a client operation (add them to client/src/operations): ${missing.join(', ')}\n`);
  } else process.stdout.write('every API field has a client operation.\n');
}

process.exit(stale ? 1 : 0);
