import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../shared/pagination.js';

/**
 * Arguments that size the lists directly below the field that takes them: a connection's
 * `edges`/`nodes` (`first`), a sync plan's user lists (`limit`). An argument that is absent,
 * null or not a number counts as its default; a value above the maximum as the maximum (the
 * resolver refuses it anyway before any SQL runs).
 */
const PAGE_ARGUMENTS: Record<string, { default: number; max: number }> = {
  first: { default: DEFAULT_PAGE_SIZE, max: MAX_PAGE_SIZE },
  limit: { default: 100, max: 1000 },
};

/** What a list counts as when no page argument sizes it (a user's groups, a run's errors, …). */
export const UNPAGED_LIST_SIZE = 10;

/**
 * What a paged field (one taking `first` or `limit`) costs per time it is resolved, against 1
 * for any other object: it runs its own SQL for each parent (a group's member page), where
 * other object fields are batched by loaders into one query per level. Measured on PGlite: a
 * nested member page ≈ 3 ms, a batched object ≈ 0.07 ms (`npm run bench`, operation-limits).
 */
export const PAGED_FIELD_COST = 25;

export interface OperationMeasure {
  /** Deepest chain of nested fields (root field = 1); introspection and `__typename` not counted. */
  depth: number;
  /** Aliased fields, counting a fragment once per place it is spread. */
  aliases: number;
  /** Distinct response keys at the root. */
  rootFields: number;
  /**
   * Estimated work: every field of an object type counts 1 per item (a paged field
   * `PAGED_FIELD_COST`), times the size of each list around it (its page size, or
   * `UNPAGED_LIST_SIZE`). Scalars are free.
   * `users(first: 100) { nodes { groups { id } } }` = 25 + 100 × (1 + 10 × 1) = 1,125.
   */
  cost: number;
}

interface Part {
  depth: number;
  aliases: number;
  cost: number;
}

/**
 * Measures of operations whose page sizes use no variable, per schema and operation node.
 * Apollo Server and graphql-ws keep one parsed document per query text, so an application's
 * repeated operations (a sign-in, a page) are walked once, not on every request.
 */
const measured = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, OperationMeasure>>();

/**
 * Measures one operation of a validated document, expanding fragments. Linear in the document:
 * a fragment is measured once per page size it is spread under, so fragments that spread each
 * other many times cannot make the walk itself expensive (the numbers grow, the work does not).
 * The document's nodes are never mutated (graphql-js treats them as immutable), so a measure
 * that read no variable holds for every later request with the same operation node.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | null | undefined,
): OperationMeasure {
  const known = measured.get(schema)?.get(operation);
  if (known) return known;
  let readVariables = false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const variableDefaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) variableDefaults.set(v.variable.name.value, v.defaultValue);
  const memo = new Map<string, Part>();
  const inProgress = new Set<string>();

  const intOf = (value: ValueNode | undefined): number | undefined => {
    if (!value) return undefined;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      readVariables = true;
      const given = variables?.[value.name.value];
      if (given !== undefined && given !== null) return typeof given === 'number' ? given : Number.POSITIVE_INFINITY;
      return intOf(variableDefaults.get(value.name.value));
    }
    return value.kind === Kind.NULL ? undefined : Number.POSITIVE_INFINITY;
  };

  const pageSizeOf = (node: FieldNode, def: GraphQLField<unknown, unknown>): number | undefined => {
    for (const arg of def.args) {
      const rule = PAGE_ARGUMENTS[arg.name];
      if (!rule) continue;
      const given = intOf(node.arguments?.find((a) => a.name.value === arg.name)?.value);
      const fallback = typeof arg.defaultValue === 'number' ? arg.defaultValue : rule.default;
      const n = given ?? fallback;
      return Number.isFinite(n) ? Math.min(Math.max(Math.trunc(n), 0), rule.max) : rule.max;
    }
    return undefined;
  };

  const walk = (set: SelectionSetNode, parent: GraphQLNamedType | undefined, pageSize: number | undefined): Part => {
    const out: Part = { depth: 0, aliases: 0, cost: 0 };
    const add = (p: Part) => {
      out.depth = Math.max(out.depth, p.depth);
      out.aliases += p.aliases;
      out.cost += p.cost;
    };
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) out.aliases++;
        // Introspection is bounded by graphql-js's own MaxIntrospectionDepthRule.
        if (sel.name.value.startsWith('__')) continue;
        const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[sel.name.value] : undefined;
        if (!def) continue;
        const type = getNamedType(def.type);
        if (!sel.selectionSet || !isCompositeType(type)) {
          out.depth = Math.max(out.depth, 1);
          continue;
        }
        const items = isListType(getNullableType(def.type)) ? (pageSize ?? UNPAGED_LIST_SIZE) : 1;
        const page = pageSizeOf(sel, def);
        const inner = walk(sel.selectionSet, type, page);
        add({ depth: inner.depth + 1, aliases: inner.aliases, cost: items * ((page === undefined ? 1 : PAGED_FIELD_COST) + inner.cost) });
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        add(walk(sel.selectionSet, type, pageSize));
      } else {
        const name = sel.name.value;
        const key = `${name}|${pageSize ?? ''}`;
        let part = memo.get(key);
        if (!part) {
          const fragment = fragments.get(name);
          // Unknown or cyclic fragments fail validation; never recurse into them here.
          if (!fragment || inProgress.has(name)) continue;
          inProgress.add(name);
          part = walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), pageSize);
          inProgress.delete(name);
          memo.set(key, part);
        }
        add(part);
      }
    }
    return out;
  };

  const rootType = schema.getRootType(operation.operation) ?? undefined;
  const total = walk(operation.selectionSet, rootType, undefined);
  const measure = Object.freeze({ ...total, rootFields: rootKeys(operation.selectionSet, fragments, new Set()).size });
  if (!readVariables) {
    let bySchema = measured.get(schema);
    if (!bySchema) measured.set(schema, (bySchema = new WeakMap()));
    bySchema.set(operation, measure);
  }
  return measure;
}

function rootKeys(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>, keys = new Set<string>()) {
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (!sel.name.value.startsWith('__')) keys.add(sel.alias?.value ?? sel.name.value);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      rootKeys(sel.selectionSet, fragments, seen, keys);
    } else if (!seen.has(sel.name.value)) {
      seen.add(sel.name.value);
      const fragment = fragments.get(sel.name.value);
      if (fragment) rootKeys(fragment.selectionSet, fragments, seen, keys);
    }
  }
  return keys;
}
