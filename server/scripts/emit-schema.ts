import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { printSortedSchema } from '../schema.js';

/**
 * Writes schema/schema.graphql from the code; with --check, exits 1 when the committed file
 * differs (the contract must never drift from the resolvers).
 */
const target = path.resolve(process.cwd(), 'schema/schema.graphql');
const sdl = await printSortedSchema();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== sdl) {
    process.stderr.write('schema/schema.graphql is stale: run `npm run schema` and commit it.\n');
    process.exit(1);
  }
  process.stdout.write('schema/schema.graphql is up to date.\n');
} else {
  writeFileSync(target, sdl);
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}
