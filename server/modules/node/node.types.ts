import { Field, ID, InterfaceType } from 'type-graphql';

/** Relay's Node: anything fetchable by its global id through `node(id:)`. */
@InterfaceType({
  description: 'An object with a global id, fetchable with `node(id:)`.',
  resolveType: (value: { __typename?: string }) => value.__typename,
})
export abstract class Node {
  @Field(() => ID, { description: 'Global, opaque id.' })
  id!: string;
}
