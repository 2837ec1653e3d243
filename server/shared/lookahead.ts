import type { FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/** The selection sets of every `name` field directly in `set` (there may be several, aliased or in fragments). */
function children(set: SelectionSetNode, name: string, fragments: Record<string, FragmentDefinitionNode>, depth = 0): SelectionSetNode[] {
  if (depth > 10) return [];
  const out: SelectionSetNode[] = [];
  for (const s of set.selections) {
    if (s.kind === 'Field') {
      if (s.name.value === name && s.selectionSet) out.push(s.selectionSet);
    } else if (s.kind === 'InlineFragment') {
      out.push(...children(s.selectionSet, name, fragments, depth + 1));
    } else {
      const f = fragments[s.name.value];
      if (f) out.push(...children(f.selectionSet, name, fragments, depth + 1));
    }
  }
  return out;
}

/**
 * The names of the fields a connection's nodes select (through `nodes { … }` or
 * `edges { node { … } }`, fragments and inline fragments included), or with `child` the fields
 * selected under that field of each node (a user's `devices { … }`). A list page reads only the
 * columns these need, and a per-node relation (a member count, a user's devices) in its own
 * statement only when it is among them. Directives (`@include`, `@skip`) are not evaluated: a
 * field under one counts as selected, which costs a column the response may not use, never a
 * missing one.
 */
export function nodesFields(info: GraphQLResolveInfo, child?: string): Set<string> {
  const fragments = info.fragments;
  let sets = info.fieldNodes.flatMap((n) =>
    n.selectionSet
      ? [
          ...children(n.selectionSet, 'nodes', fragments),
          ...children(n.selectionSet, 'edges', fragments).flatMap((e) => children(e, 'node', fragments)),
        ]
      : [],
  );
  if (child) sets = sets.flatMap((s) => children(s, child, fragments));
  const out = new Set<string>();
  for (const s of sets) collect(s, out, fragments);
  return out;
}

function collect(set: SelectionSetNode, out: Set<string>, fragments: Record<string, FragmentDefinitionNode>, depth = 0): void {
  if (depth > 10) return;
  for (const s of set.selections) {
    if (s.kind === 'Field') out.add(s.name.value);
    else if (s.kind === 'InlineFragment') collect(s.selectionSet, out, fragments, depth + 1);
    else {
      const f = fragments[s.name.value];
      if (f) collect(f.selectionSet, out, fragments, depth + 1);
    }
  }
}

/**
 * The row properties that the resolvers of `fields` read, from `needs` (each field's
 * properties). Undefined, meaning every column, when a field is not in `needs`: a field added
 * to the type but not to its map costs columns, never a value read from a column not selected.
 */
export function rowKeysFor<K extends string>(fields: Set<string>, needs: Readonly<Record<string, readonly K[]>>): K[] | undefined {
  const keys = new Set<K>();
  for (const f of fields) {
    if (f === '__typename') continue;
    if (!Object.hasOwn(needs, f)) return undefined;
    const k = needs[f]!;
    for (const x of k) keys.add(x);
  }
  return [...keys];
}
