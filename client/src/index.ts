export { createRosterClient, type RosterClient, type RosterClientOptions } from './client.js';
export { RosterError, RosterGraphQLError, RosterSubscriptionError, RosterTransportError } from './errors.js';
// Every typed document (`LoginDocument`, `UsersDocument`, …) and every schema/operation type.
export * from './generated/graphql.js';
export { graphql } from './generated/gql.js';
