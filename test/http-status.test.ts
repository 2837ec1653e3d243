import { describe, expect } from 'vitest';
import { asksForPlainJson } from '../server/http/json-status.js';
import { rosterTest } from './support/fixtures.js';

/**
 * Issue 10, finding 11 (graphql-http audit warnings): parse, validation and variable-coercion
 * failures were answered 400 also to clients asking for `application/json`, for which the
 * GraphQL-over-HTTP spec asks 200; `application/graphql-response+json` keeps 400.
 */
const test = rosterTest();

async function post(url: string, accept: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });
  const json = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return { status: res.status, type: res.headers.get('content-type'), code: json.errors?.[0]?.extensions?.code, hasData: 'data' in json };
}

const FAILURES: [string, unknown, string][] = [
  ['a document that does not parse', { query: '{ viewer {' }, 'GRAPHQL_PARSE_FAILED'],
  ['a document that does not validate', { query: '{ nope }' }, 'GRAPHQL_VALIDATION_FAILED'],
  [
    'variables that do not coerce',
    { query: 'query($n: Int) { users(first: $n) { totalCount } }', variables: { n: 'x' } },
    'BAD_USER_INPUT',
  ],
];

describe('request errors and the media type asked for', () => {
  for (const [what, body, code] of FAILURES) {
    test(`${what}: 200 for application/json, 400 for application/graphql-response+json`, async ({ server }) => {
      const plain = await post(server.url, 'application/json', body);
      expect(plain).toMatchObject({ status: 200, code, hasData: false });
      expect(plain.type).toContain('application/json');
      const modern = await post(server.url, 'application/graphql-response+json', body);
      expect(modern).toMatchObject({ status: 400, code });
      expect(modern.type).toContain('application/graphql-response+json');
      // Preferring the new type keeps 400 even when application/json is listed too.
      expect((await post(server.url, 'application/graphql-response+json, application/json;q=0.9', body)).status).toBe(400);
    });
  }

  test('our own refusals keep their status whatever is asked for', async ({ server }) => {
    const deep = `{ users { nodes { groups { members { nodes { groups { members { nodes { groups { members { nodes { id } } } } } } } } } } } }`;
    const r = await post(server.url, 'application/json', { query: deep });
    expect(r.code).toMatch(/OPERATION_TOO_COMPLEX|UNAUTHENTICATED/);
    expect(r.status).not.toBe(500);
  });

  test('Accept parsing', () => {
    expect(asksForPlainJson(undefined)).toBe(false);
    expect(asksForPlainJson('*/*')).toBe(false);
    expect(asksForPlainJson('application/json')).toBe(true);
    expect(asksForPlainJson('application/json, application/graphql-response+json')).toBe(true);
    expect(asksForPlainJson('application/graphql-response+json, application/json')).toBe(false);
    expect(asksForPlainJson('application/graphql-response+json;q=0.5, application/json')).toBe(true);
    expect(asksForPlainJson('application/json;q=0')).toBe(false);
  });
});
