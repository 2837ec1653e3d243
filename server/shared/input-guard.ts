import { Extensions, type MiddlewareFn, type ResolverData } from 'type-graphql';
import { assertRootAccess, type AuthState } from './auth-guard.js';
import { defaultFieldResolver, type GraphQLField, type GraphQLObjectType, type GraphQLOutputType, type GraphQLSchema } from 'graphql';
import { badUserInput, ErrorCode, userError, type UserError } from './errors.js';
import { hasControlCharacters } from './validation.js';

/**
 * Marks a root field that answers text with control characters itself. Only `login`: an
 * unknown tenant slug, whatever it holds, must get the same answer as any unknown tenant.
 */
export function ChecksOwnText(): MethodDecorator & PropertyDecorator {
  return Extensions({ checksOwnText: true }) as MethodDecorator & PropertyDecorator;
}

/** The path of the first string in `value` holding a control character (NUL, C0, DEL, C1; tab and newlines allowed). */
export function controlCharacterPath(value: unknown, path: string[] = []): string[] | null {
  if (typeof value === 'string') return hasControlCharacters(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = controlCharacterPath(value[i], [...path, String(i)]);
      if (p) return p;
    }
    return null;
  }
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      const p = controlCharacterPath(v, [...path, k]);
      if (p) return p;
    }
  }
  return null;
}

/**
 * Every field's arguments (variables and inline values alike: graphql-js has coerced both into
 * `args`) are checked for control characters before its resolver runs, once for the whole
 * API: no text with NUL reaches a service or the database. A mutation whose payload carries
 * `errors` answers `INVALID_INPUT` there, naming the field; anything else gets a
 * `BAD_USER_INPUT` GraphQL error. Runs after the auth guard, so signed-out callers learn nothing.
 */
export function controlCharacterRefusal({ args, info }: ResolverData): Record<string, unknown> | undefined {
  if (!args) return undefined;
  const path = controlCharacterPath(args);
  if (!path) return undefined;
  const field = info.parentType.getFields()[info.fieldName];
  if (field?.extensions?.['checksOwnText'] === true) return undefined;
  const message = `${path.join('.')} must be text without control characters (NUL and the like: binary data is refused).`;
  if (info.parentType.name === 'Mutation') {
    const failure = payloadFailure(info.returnType, userError(ErrorCode.INVALID_INPUT, message, path));
    if (failure) return failure;
  }
  throw badUserInput(message, path.join('.'));
}

/**
 * The guard of every root field (`guardRootFields` applies it): access first (signed-out
 * callers learn nothing), then the arguments' text.
 */
export const fieldGuard: MiddlewareFn<AuthState> = async (action, next) => {
  assertRootAccess(action);
  return controlCharacterRefusal(action) ?? next();
};

/**
 * Applies `fieldGuard` to the fields that have something to check: every Query, Mutation and
 * Subscription field (for a subscription: each event it resolves), and every other field that
 * takes arguments (their text is checked as before). As a type-graphql global middleware it
 * wrapped every field of every type — each `id` and `name` of a 100-user page paid an async
 * middleware chain for nothing.
 */
export function guardRootFields(schema: GraphQLSchema): GraphQLSchema {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter((t) => t));
  for (const type of Object.values(schema.getTypeMap())) {
    if (tag(type) !== 'GraphQLObjectType' || type.name.startsWith('__')) continue;
    const isRoot = roots.has(type as GraphQLObjectType);
    for (const field of Object.values((type as GraphQLObjectType).getFields())) {
      if (!isRoot && field.args.length === 0) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) =>
        fieldGuard({ root: source, args, context, info }, async () => resolve(source, args, context, info));
    }
  }
  return schema;
}

// type-graphql (CommonJS) and this ES module may hold different copies of graphql-js, so the
// types are told apart by their toStringTag, never by instanceof (which throws across copies).
const tag = (t: unknown) => Object.prototype.toString.call(t).slice(8, -1);
const unwrap = (t: GraphQLOutputType) => (tag(t) === 'GraphQLNonNull' ? (t as { ofType: GraphQLOutputType }).ofType : t);

/** A failed payload for `type`: `errors`, falsy required scalars, nulls elsewhere; null when the type is no such payload. */
function payloadFailure(type: GraphQLOutputType, error: UserError): Record<string, unknown> | null {
  const t = unwrap(type);
  if (tag(t) !== 'GraphQLObjectType') return null;
  const fields = (t as GraphQLObjectType).getFields() as Record<string, GraphQLField<unknown, unknown>>;
  if (!fields['errors']) return null;
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(fields)) {
    const inner = unwrap(f.type);
    if (name === 'errors') out[name] = [error];
    else if (tag(f.type) !== 'GraphQLNonNull') out[name] = null;
    else if (tag(inner) === 'GraphQLList') out[name] = [];
    else if (String(inner) === 'Boolean') out[name] = false;
    else if (String(inner) === 'Int' || String(inner) === 'Float') out[name] = 0;
    else return null;
  }
  return out;
}
