import { serverAudits } from 'graphql-http';
import { expect } from 'vitest';
import { rosterTest } from './support/fixtures.js';

const test = rosterTest();

test('passes the GraphQL-over-HTTP audit with no errors and no warnings', async ({ server: ts }) => {
  const audits = serverAudits({ url: ts.url, fetchFn: fetch });
  const results = await Promise.all(audits.map((a) => a.fn()));
  const errors = results.filter((r) => r.status === 'error');
  const warnings = results.filter((r) => r.status === 'warn');
  for (const w of warnings) console.log(`audit warning: ${w.name}: ${'reason' in w ? w.reason : ''}`);
  for (const e of errors) console.log(`audit ERROR: ${e.name}: ${'reason' in e ? e.reason : ''}`);
  expect(errors.map((e) => e.name)).toEqual([]);
  // Issue 10: parse, validation and variable-coercion failures asked for as application/json are 200.
  expect(warnings.map((w) => w.name)).toEqual([]);
});
