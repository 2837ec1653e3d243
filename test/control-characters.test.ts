import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import {
  getNamedType,
  getNullableType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLField,
  type GraphQLInputType,
  buildSchema,
} from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRosterClient } from '../client/src/index.js';
import { gql, seedTenant, startTestServer, type SeededTenant, type TestServer } from './support/harness.js';

/** Every error-level line the server logs. */
const errorLines: string[] = [];
let ts: TestServer;
let tenant: SeededTenant;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        if ((JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line);
      }
      done();
    },
  });
  ts = await startTestServer({ LOG_LEVEL: 'warn' }, { logTo: sink });
  tenant = await seedTenant(ts);
});
afterAll(async () => {
  await ts?.close();
});

const NUL = 'x\u0000y';

/** A value for `type`: valid in shape, with NUL at `target` (a path of input field names) if given. */
function valueFor(type: GraphQLInputType, target: string[] | null): unknown {
  const t = getNullableType(type) as GraphQLInputType;
  if (t instanceof GraphQLList) return [valueFor(t.ofType as GraphQLInputType, target)];
  if (t instanceof GraphQLInputObjectType) {
    const out: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(t.getFields())) {
      const onPath = target?.[0] === name;
      if (onPath) out[name] = valueFor(f.type, target!.slice(1));
      else if (f.type instanceof GraphQLNonNull) out[name] = valueFor(f.type, null);
    }
    return out;
  }
  if (t instanceof GraphQLEnumType) return t.getValues()[0]!.value;
  const scalar = t as GraphQLScalarType;
  switch (scalar.name) {
    case 'String':
    case 'ID':
      return target ? NUL : 'x';
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return false;
    case 'DateTime':
      return new Date().toISOString();
    default:
      throw new Error(`no sample for scalar ${scalar.name}`);
  }
}

/** Every path to a String/ID leaf under an argument's type (input objects followed, cycles cut). */
function textPaths(type: GraphQLInputType, seen: Set<string> = new Set()): string[][] {
  const named = getNamedType(type);
  if (named instanceof GraphQLScalarType) return named.name === 'String' || named.name === 'ID' ? [[]] : [];
  if (!(named instanceof GraphQLInputObjectType) || seen.has(named.name)) return [];
  const next = new Set(seen).add(named.name);
  return Object.entries(named.getFields()).flatMap(([name, f]) => textPaths(f.type, next).map((p) => [name, ...p]));
}

function selectionFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  if (kind === 'mutation' && named instanceof GraphQLObjectType && named.getFields()['errors'])
    return '{ __typename errors { code field } }';
  return named instanceof GraphQLScalarType || named instanceof GraphQLEnumType ? '' : '{ __typename }';
}

interface Case {
  kind: 'query' | 'mutation';
  field: GraphQLField<unknown, unknown>;
  arg: string;
  path: string[];
}

async function cases(): Promise<Case[]> {
  // The committed contract (checked against the code by `npm run check`), read with the test's own graphql module.
  const schema = buildSchema(readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8'));
  const out: Case[] = [];
  for (const [kind, root] of [
    ['query', schema.getQueryType()!],
    ['mutation', schema.getMutationType()!],
  ] as const) {
    for (const field of Object.values(root.getFields())) {
      for (const arg of field.args) for (const path of textPaths(arg.type)) out.push({ kind, field, arg: arg.name, path });
    }
  }
  return out;
}

describe('control characters in text arguments', () => {
  it('NUL in every text argument of every query and mutation: INVALID_INPUT or BAD_USER_INPUT, never a 500 or an error log', async () => {
    const all = await cases();
    expect(all.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const c of all) {
      const vars = Object.fromEntries(
        c.field.args
          .filter((a) => a.name === c.arg || a.type instanceof GraphQLNonNull)
          .map((a) => [a.name, valueFor(a.type, a.name === c.arg ? c.path : null)]),
      );
      const decl = c.field.args.filter((a) => a.name in vars).map((a) => `$${a.name}: ${a.type.toString()}`);
      const call = c.field.args.filter((a) => a.name in vars).map((a) => `${a.name}: $${a.name}`);
      const query = `${c.kind}${decl.length ? `(${decl.join(', ')})` : ''} { r: ${c.field.name}${call.length ? `(${call.join(', ')})` : ''} ${selectionFor(c.kind, c.field)} }`;
      const r = await gql<{ r: { errors?: { code: string; field: string[] | null }[] } | null }>(ts.url, query, vars, tenant.token);
      const where = `${c.field.name}(${[c.arg, ...c.path].join('.')})`;
      const codes = (r.errors ?? []).map((e) => e.extensions?.code);
      const payloadErrors = r.data?.r?.errors ?? [];
      if (codes.includes('INTERNAL_SERVER_ERROR')) failures.push(`${where}: INTERNAL_SERVER_ERROR`);
      else if (c.field.name === 'login') {
        if (payloadErrors[0]?.code !== 'INVALID_CREDENTIALS') failures.push(`${where}: ${JSON.stringify(r)}`);
      } else if (codes.length) {
        if (!codes.every((x) => x === 'BAD_USER_INPUT')) failures.push(`${where}: ${codes.join(',')}`);
      } else if (
        !payloadErrors.some((e) => e.code === 'INVALID_INPUT' && (e.field ?? []).join('.').startsWith([c.arg, ...c.path].join('.')))
      ) {
        failures.push(`${where}: ${JSON.stringify(r.data)}`);
      }
    }
    expect(errorLines.slice(0, 1)).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('the anonymous login with NUL in the tenant slug answers exactly like an unknown tenant', async () => {
    const anon = createRosterClient({ url: ts.url, webSocketImpl: WebSocket });
    const [nul, unknown] = await Promise.all(
      ['\u0000', 'no-such-tenant'].map((slug) =>
        anon.login({ input: { tenant: `${tenant.slug}${slug}`, email: tenant.adminEmail, password: 'Wrong!pass1' } }),
      ),
    );
    expect(nul).toEqual(unknown);
    expect(nul.login.errors[0]!.code).toBe('INVALID_CREDENTIALS');
    expect(errorLines).toEqual([]);
    await anon.close();
  });

  it('names refuse control (tab and line breaks included), bidi-override and zero-width characters; descriptions are at most 1,000 characters', async () => {
    const admin = createRosterClient({ url: ts.url, token: tenant.token, webSocketImpl: WebSocket });
    for (const name of [
      'evil\u202Egnp.exe',
      'zero\u200Bwidth',
      'b\uFEFFom',
      'iso\u2066late',
      'nul\u0000',
      'two\nlines',
      'tab\there',
      'cr\rhere',
    ]) {
      const r = await admin.createGroup({ input: { name } });
      expect(r.createGroup.errors, JSON.stringify(name)).toEqual([
        expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'name'] }),
      ]);
    }
    // A person's name is one line too: a line break would forge lines in the invitation e-mail.
    const twoLines = await admin.createUser({ input: { email: 'two.lines@x.test', firstName: 'Ana\nAdmin', lastName: 'L' } });
    expect(twoLines.createUser.errors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'firstName'] })]);
    const long = await admin.createGroup({ input: { name: 'Long', description: 'd'.repeat(1001) } });
    expect(long.createGroup.errors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'description'] })]);
    const ok = await admin.createGroup({ input: { name: 'Fine', description: `${'d'.repeat(999)}\n` } });
    expect(ok.createGroup.errors).toEqual([]);
    const dir = await admin.createDirectory({ input: { name: 'AD', kind: 'ACTIVE_DIRECTORY', description: 'd'.repeat(1001) } });
    expect(dir.createDirectory.errors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['input', 'description'] })]);
    await admin.close();
  });
});
