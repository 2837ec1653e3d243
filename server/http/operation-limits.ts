import type { ApolloServerPlugin } from '@apollo/server';
import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { Env } from '../env.js';
import { measureOperation } from './operation-cost.js';

/** What one GraphQL operation may ask for, checked after validation and before any resolver runs. */
export interface OperationLimits {
  /** Tokens in the document; the parser stops at the first one over (graphql-js `maxTokens`). */
  maxTokens: number;
  /** Nested field levels (a root field is level 1). */
  maxDepth: number;
  /** Aliased fields (a fragment counts once per place it is spread). */
  maxAliases: number;
  /** Distinct fields at the root. */
  maxRootFields: number;
  /** Estimated objects returned (`measureOperation`'s cost: page sizes × nesting). */
  maxCost: number;
  /** Strip "Did you mean …?" (field, argument and enum names) from error messages. */
  hideSuggestions: boolean;
}

/**
 * PGlite runs every query of every request on the one thread of this process, so its budget
 * is what it answers in about a second at worst (measured: docs/architecture.md, "Operation
 * limits"); PostgreSQL does the work on its own processes and gets more.
 */
export const DEFAULT_MAX_COST = { pglite: 6_000, postgres: 20_000 } as const;

export function operationLimitsFor(env: Env, engine: 'pglite' | 'postgres'): OperationLimits {
  return {
    maxTokens: env.GRAPHQL_MAX_TOKENS,
    maxDepth: env.GRAPHQL_MAX_DEPTH,
    maxAliases: env.GRAPHQL_MAX_ALIASES,
    maxRootFields: env.GRAPHQL_MAX_ROOT_FIELDS,
    maxCost: env.GRAPHQL_MAX_COST ?? DEFAULT_MAX_COST[engine],
    hideSuggestions: env.NODE_ENV === 'production',
  };
}

const n = (x: number) => x.toLocaleString('en-US');

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'OPERATION_TOO_COMPLEX' } });
}

/** The limits an operation breaks (none: an empty list). The document must have passed validation. */
export function operationLimitErrors(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
  limits: OperationLimits,
): GraphQLError[] {
  const m = measureOperation(schema, document, operation, variables);
  const errors: GraphQLError[] = [];
  if (m.depth > limits.maxDepth) {
    errors.push(tooComplex(`The operation nests ${n(m.depth)} levels of fields; the limit is ${n(limits.maxDepth)} (maxDepth).`));
  }
  if (m.aliases > limits.maxAliases) {
    errors.push(tooComplex(`The operation uses ${n(m.aliases)} aliases; the limit is ${n(limits.maxAliases)} (maxAliases).`));
  }
  if (m.rootFields > limits.maxRootFields) {
    errors.push(
      tooComplex(`The operation asks for ${n(m.rootFields)} root fields; the limit is ${n(limits.maxRootFields)} (maxRootFields).`),
    );
  }
  if (m.cost > limits.maxCost) {
    errors.push(
      tooComplex(
        `The operation's estimated cost is ${n(m.cost)}; the limit is ${n(limits.maxCost)} (maxCost). ` +
          'Each object counts 1, times the page size (`first`) of every list around it: ask for smaller pages or fewer nested lists.',
      ),
    );
  }
  return errors;
}

/** Removes graphql-js's "Did you mean …?" hints, which spell out schema names to an unauthenticated caller. */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean .+\?$/s, '');
}

/** HTTP: the operation limits, run once the operation is resolved and before execution. */
export function operationLimitsPlugin<C extends object>(limits: OperationLimits): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const [first] = operationLimitErrors(schema, document, operation, request.variables, limits);
          if (first) throw new GraphQLError(first.message, { extensions: { ...first.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}

export interface WebSocketOperation {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

/**
 * Websocket (graphql-ws `onSubscribe`): parse with the token limit, validate, check the
 * operation limits and the number of operations already running on this socket. Returns the
 * arguments to execute (graphql-ws then adds its context) or the errors for this operation
 * alone; the socket stays open either way.
 */
export function checkWebSocketOperation(
  schema: GraphQLSchema,
  payload: WebSocketOperation,
  running: number,
  limits: OperationLimits & { maxOperationsPerSocket: number },
): ExecutionArgs | readonly GraphQLError[] {
  const fail = (errors: readonly GraphQLError[]) =>
    limits.hideSuggestions
      ? errors.map((e) => new GraphQLError(withoutSuggestions(e.message), { nodes: e.nodes, extensions: e.extensions }))
      : errors;
  if (running > limits.maxOperationsPerSocket) {
    const message = `This connection already runs ${n(limits.maxOperationsPerSocket)} operations, the limit per connection (WS_MAX_SUBSCRIPTIONS): end one first.`;
    return [new GraphQLError(message, { extensions: { code: 'TOO_MANY_REQUESTS' } })];
  }
  if (typeof payload.query !== 'string') return [new GraphQLError('The operation has no query.', { extensions: { code: 'BAD_REQUEST' } })];
  let document: DocumentNode;
  try {
    document = parse(payload.query, { maxTokens: limits.maxTokens });
  } catch (err) {
    return fail([err instanceof GraphQLError ? err : new GraphQLError('The query cannot be parsed.')]);
  }
  const invalid = validate(schema, document, specifiedRules);
  if (invalid.length) return fail(invalid);
  const operationName = typeof payload.operationName === 'string' ? payload.operationName : undefined;
  const variables = payload.variables && typeof payload.variables === 'object' ? (payload.variables as Record<string, unknown>) : undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) return [new GraphQLError('Unable to identify the operation.', { extensions: { code: 'BAD_REQUEST' } })];
  const over = operationLimitErrors(schema, document, operation, variables, limits);
  if (over.length) return over;
  // Coercion errors name enum values ("Did you mean …?"): answer them here, where they can be stripped.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 10 });
  if (coerced.errors)
    return fail(coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } })));
  return { schema, document, operationName, variableValues: variables };
}
