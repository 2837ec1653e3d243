import { getMetadataStorage } from 'type-graphql';
import type { GraphQLFieldResolver, GraphQLObjectType, GraphQLSchema } from 'graphql';

// type-graphql (CommonJS) and this ES module may hold different copies of graphql-js: types are
// told apart by their toStringTag, never by instanceof.
const tag = (t: unknown) => Object.prototype.toString.call(t).slice(8, -1);

type Param = { kind: string; index: number; propertyName?: string };
type FieldResolverMeta = {
  kind: 'internal' | 'external';
  target: new () => Record<string, (...args: unknown[]) => unknown>;
  methodName: string;
  schemaName: string;
  params?: Param[];
  roles?: unknown[];
  middlewares?: unknown[];
  getObjectType?: () => unknown;
};

/**
 * Lets graphql-js call the resolvers of nested fields directly. For every field type-graphql
 * builds a resolver that, per call, copies the parent row into a new instance of its class
 * (`convertToType`), sorts the parameter list and builds an argument array, and for plain
 * properties wraps `root[name]` in the same machinery. On a 100-user page that is hundreds of
 * object copies per request (a fifth of the CPU went to garbage collection). Here, after the
 * schema is built:
 * - a `@FieldResolver` of a `@Resolver(() => Type)` class taking only `@Root()`, `@Ctx()` and
 *   `@Info()`, with no middleware or roles, is called on one instance of its class with the row
 *   as it is (no resolver reads class members of its root: rows are plain objects);
 * - a plain `@Field` property (no middleware, no roles, same name in the schema) gets graphql-js's
 *   default resolver.
 * Root fields and fields with arguments keep type-graphql's resolvers (argument conversion and
 * the guards of `guardRootFields` live there).
 */
export function leanFieldResolvers(schema: GraphQLSchema): GraphQLSchema {
  const storage = getMetadataStorage() as unknown as {
    objectTypes: {
      target: unknown;
      name: string;
      fields?: { name: string; schemaName: string; roles?: unknown[]; middlewares?: unknown[] }[];
    }[];
    fieldResolvers: FieldResolverMeta[];
  };
  const typeNameOf = new Map(storage.objectTypes.map((o) => [o.target, o.name]));
  const roots = new Set([schema.getQueryType()?.name, schema.getMutationType()?.name, schema.getSubscriptionType()?.name]);
  const resolvers = new Map<string, FieldResolverMeta>();
  const resolved = new Set<string>();
  for (const r of storage.fieldResolvers) {
    const typeName = typeNameOf.get(r.getObjectType?.());
    if (!typeName) continue;
    resolved.add(`${typeName}.${r.schemaName}`);
    if (r.kind === 'external' && !r.roles?.length && !r.middlewares?.length) resolvers.set(`${typeName}.${r.schemaName}`, r);
  }
  const instances = new Map<unknown, Record<string, (...args: unknown[]) => unknown>>();
  for (const o of storage.objectTypes) {
    if (roots.has(o.name)) continue;
    const type = schema.getType(o.name);
    if (!type || tag(type) !== 'GraphQLObjectType') continue;
    const fields = (type as GraphQLObjectType).getFields();
    for (const [name, field] of Object.entries(fields)) {
      if (field.args.length > 0) continue;
      const key = `${o.name}.${name}`;
      const r = resolvers.get(key);
      if (r) {
        const params = [...(r.params ?? [])].sort((a, b) => a.index - b.index);
        const plain = params.every(
          (p, i) => p.index === i && !p.propertyName && (p.kind === 'root' || p.kind === 'context' || p.kind === 'info'),
        );
        if (!plain) continue;
        let instance = instances.get(r.target);
        if (!instance) {
          instance = new r.target();
          instances.set(r.target, instance);
        }
        const method = instance[r.methodName];
        if (typeof method !== 'function') continue;
        const self = instance;
        const kinds = params.map((p) => p.kind);
        const resolve: GraphQLFieldResolver<unknown, unknown> =
          kinds.length === 1 && kinds[0] === 'root'
            ? (root) => method.call(self, root)
            : kinds.length === 2 && kinds[0] === 'root' && kinds[1] === 'context'
              ? (root, _args, context) => method.call(self, root, context)
              : (root, _args, context, info) =>
                  method.apply(
                    self,
                    kinds.map((k) => (k === 'root' ? root : k === 'context' ? context : info)),
                  );
        field.resolve = resolve;
        continue;
      }
      if (resolved.has(key)) continue;
      const meta = o.fields?.find((f) => f.schemaName === name);
      if (meta && meta.name === name && !meta.roles?.length && !meta.middlewares?.length) field.resolve = undefined;
    }
  }
  return schema;
}
