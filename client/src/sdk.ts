import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { OperationDefinitionNode } from 'graphql';
import * as documents from './generated/graphql.js';

type Docs = typeof documents;
/** Names of the generated operation documents (`UsersDocument`, …); fragments end in `FragmentDoc`. */
export type OperationDocumentName = {
  [
    K in keyof Docs // eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any document, whatever its types
  ]: K extends `${string}Document` ? (Docs[K] extends TypedDocumentNode<any, any> ? K : never) : never;
}[keyof Docs];

/** The subscriptions of the API; every other operation is a query or mutation. */
export type SubscriptionDocumentName =
  'HeartbeatDocument' | 'SyncRunProgressDocument' | 'BulkOperationProgressDocument' | 'AuditEventsLiveDocument';

type MethodName<K> = K extends `${infer N}Document` ? Uncapitalize<N> : never;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance, as above
type ResultOf<D> = D extends TypedDocumentNode<infer R, any> ? R : never;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance, as above
type VariablesOf<D> = D extends TypedDocumentNode<any, infer V> ? V : never;
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

/** One typed method per operation: `client.users({ first: 50 })`, `client.syncRunProgress({ runId })`. */
export type OperationMethods = {
  [K in OperationDocumentName as MethodName<K>]: K extends SubscriptionDocumentName
    ? (...variables: VariablesArg<VariablesOf<Docs[K]>>) => AsyncIterableIterator<ResultOf<Docs[K]>>
    : (...variables: VariablesArg<VariablesOf<Docs[K]>>) => Promise<ResultOf<Docs[K]>>;
};

/** Every operation document with its method name and kind, read from the documents themselves. */
export function operationCatalogue(): {
  method: string;
  kind: 'query' | 'mutation' | 'subscription';
  document: TypedDocumentNode<unknown, unknown>;
}[] {
  return Object.entries(documents)
    .filter(([name, doc]) => name.endsWith('Document') && typeof doc === 'object' && doc !== null && 'definitions' in doc)
    .map(([name, doc]) => {
      const d = doc as unknown as TypedDocumentNode<unknown, unknown> & { definitions: readonly { kind: string }[] };
      const op = d.definitions.find((x): x is OperationDefinitionNode => x.kind === 'OperationDefinition')!;
      const base = name.slice(0, -'Document'.length);
      return { method: base.charAt(0).toLowerCase() + base.slice(1), kind: op.operation, document: d };
    });
}
