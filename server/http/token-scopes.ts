import type { ApolloServerPlugin } from '@apollo/server';
import {
  getOperationAST,
  GraphQLError,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { declaredAccess, missingScope, sessionOnlyMessage } from '../shared/scopes.js';
import type { Viewer } from '../shared/viewer.js';

/**
 * The names of an operation's root fields, through fragments and inline fragments at the
 * root (`@skip`/`@include` ignored: a field that might run must be allowed).
 */
function rootFieldNames(
  set: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  out = new Set<string>(),
  seen = new Set<string>(),
) {
  for (const sel of set.selections) {
    if (sel.kind === 'Field') out.add(sel.name.value);
    else if (sel.kind === 'InlineFragment') rootFieldNames(sel.selectionSet, fragments, out, seen);
    else if (!seen.has(sel.name.value)) {
      seen.add(sel.name.value);
      const f = fragments.get(sel.name.value);
      if (f) rootFieldNames(f.selectionSet, fragments, out, seen);
    }
  }
  return out;
}

/**
 * Scopes are checked once per operation, before any resolver runs, on its root fields only
 * (never on the per-field hot path): an API token may call a root field whose declared scope
 * it holds; a field for admin sessions only, or one declaring nothing, is refused (deny by
 * default). Public fields and introspection are open to everyone; admin sessions hold every
 * scope. Returns the FORBIDDEN error naming the first missing scope, or null.
 */
export function tokenScopeRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  viewer: Viewer | null,
): GraphQLError | null {
  if (!viewer?.apiToken) return null;
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const root: GraphQLObjectType | null | undefined =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  if (!root) return null;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === 'FragmentDefinition').map((d) => [d.name.value, d]),
  );
  const fields = root.getFields();
  for (const name of rootFieldNames(operation.selectionSet, fragments)) {
    if (name.startsWith('__')) continue;
    const field = fields[name];
    if (!field) continue; // validation reports unknown fields
    const access = declaredAccess(field.extensions as Record<string, unknown>);
    if (access?.kind === 'public' || access?.kind === 'any' || access?.kind === 'argument') continue;
    const message = access?.kind === 'scope' ? missingScope(viewer, access.scope, name) : sessionOnlyMessage(name);
    if (message) return new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });
  }
  return null;
}

/** The HTTP side: after the operation is resolved (the viewer is known from the context). */
export function tokenScopesPlugin<C extends { viewer: Viewer | null }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, contextValue }) {
          const refused = tokenScopeRefusal(schema, document, request.operationName, contextValue.viewer);
          if (refused) throw new GraphQLError(refused.message, { extensions: { ...refused.extensions, http: { status: 403 } } });
        },
      };
    },
  };
}
