export {
  createRosterClient,
  createTransport,
  type CsvSource,
  type RosterClient,
  type RosterClientOptions,
  type RosterTransport,
} from './client.js';
export { operationCatalogue, type OperationMethods } from './sdk.js';
export { RosterError, RosterGraphQLError, RosterSubscriptionError, RosterTransportError } from './errors.js';
// Every typed document (`LoginDocument`, `UsersDocument`, …) and every schema/operation type.
export * from './generated/graphql.js';
export { graphql } from './generated/gql.js';
