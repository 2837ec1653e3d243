/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation Login($input: LoginInput!) {\n  login(input: $input) {\n    token\n    expiresAt\n    viewer {\n      ...ViewerFields\n    }\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Logout {\n  logout {\n    success\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    ...ViewerFields\n  }\n}\n\nfragment ViewerFields on Viewer {\n  sessionExpiresAt\n  user {\n    ...UserFields\n  }\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}": typeof types.LoginDocument,
    "query Directories($first: Int, $after: String) {\n  directories(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...DirectoryFields\n    }\n  }\n}\n\nquery Directory($id: ID!) {\n  directory(id: $id) {\n    ...DirectoryFields\n  }\n}\n\nfragment DirectoryFields on Directory {\n  id\n  name\n  kind\n  description\n  userCount\n  groupCount\n  createdAt\n  updatedAt\n}\n\nfragment PageInfoFields on PageInfo {\n  hasNextPage\n  hasPreviousPage\n  startCursor\n  endCursor\n}": typeof types.DirectoriesDocument,
    "query Groups($first: Int, $after: String, $filter: GroupFilterInput) {\n  groups(first: $first, after: $after, filter: $filter) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...GroupFields\n    }\n  }\n}\n\nquery Group($id: ID!, $membersFirst: Int, $membersAfter: String) {\n  group(id: $id) {\n    ...GroupFields\n    members(first: $membersFirst, after: $membersAfter) {\n      totalCount\n      pageInfo {\n        ...PageInfoFields\n      }\n      nodes {\n        id\n        email\n        firstName\n        lastName\n        status\n      }\n    }\n  }\n}\n\nfragment GroupFields on Group {\n  id\n  name\n  description\n  isBuiltIn\n  builtIn\n  memberCount\n  createdAt\n  updatedAt\n}": typeof types.GroupsDocument,
    "query IdentityProviders {\n  identityProviders {\n    ...IdentityProviderFields\n  }\n}\n\nfragment IdentityProviderFields on IdentityProvider {\n  id\n  name\n  description\n  isDefault\n  portalUrl\n  createdAt\n}": typeof types.IdentityProvidersDocument,
    "query Node($id: ID!) {\n  node(id: $id) {\n    __typename\n    id\n  }\n}": typeof types.NodeDocument,
    "subscription Heartbeat($intervalMs: Int, $count: Int) {\n  heartbeat(intervalMs: $intervalMs, count: $count) {\n    seq\n    at\n  }\n}": typeof types.HeartbeatDocument,
    "query Tenant {\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment TenantFields on Tenant {\n  id\n  slug\n  name\n  entitlements\n  features\n  createdAt\n}": typeof types.TenantDocument,
    "query Users($first: Int, $after: String, $filter: UserFilterInput, $orderBy: UserOrder) {\n  users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...UserFields\n    }\n  }\n}\n\nquery User($id: ID!) {\n  user(id: $id) {\n    ...UserFields\n    directory {\n      id\n      name\n      kind\n    }\n    identityProvider {\n      id\n      name\n      portalUrl\n    }\n  }\n}\n\nfragment UserFields on User {\n  id\n  email\n  username\n  firstName\n  lastName\n  status\n  createdAt\n  updatedAt\n  lastInvitedAt\n  activatedAt\n  groups {\n    id\n    name\n    builtIn\n  }\n}": typeof types.UsersDocument,
};
const documents: Documents = {
    "mutation Login($input: LoginInput!) {\n  login(input: $input) {\n    token\n    expiresAt\n    viewer {\n      ...ViewerFields\n    }\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Logout {\n  logout {\n    success\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    ...ViewerFields\n  }\n}\n\nfragment ViewerFields on Viewer {\n  sessionExpiresAt\n  user {\n    ...UserFields\n  }\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}": types.LoginDocument,
    "query Directories($first: Int, $after: String) {\n  directories(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...DirectoryFields\n    }\n  }\n}\n\nquery Directory($id: ID!) {\n  directory(id: $id) {\n    ...DirectoryFields\n  }\n}\n\nfragment DirectoryFields on Directory {\n  id\n  name\n  kind\n  description\n  userCount\n  groupCount\n  createdAt\n  updatedAt\n}\n\nfragment PageInfoFields on PageInfo {\n  hasNextPage\n  hasPreviousPage\n  startCursor\n  endCursor\n}": types.DirectoriesDocument,
    "query Groups($first: Int, $after: String, $filter: GroupFilterInput) {\n  groups(first: $first, after: $after, filter: $filter) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...GroupFields\n    }\n  }\n}\n\nquery Group($id: ID!, $membersFirst: Int, $membersAfter: String) {\n  group(id: $id) {\n    ...GroupFields\n    members(first: $membersFirst, after: $membersAfter) {\n      totalCount\n      pageInfo {\n        ...PageInfoFields\n      }\n      nodes {\n        id\n        email\n        firstName\n        lastName\n        status\n      }\n    }\n  }\n}\n\nfragment GroupFields on Group {\n  id\n  name\n  description\n  isBuiltIn\n  builtIn\n  memberCount\n  createdAt\n  updatedAt\n}": types.GroupsDocument,
    "query IdentityProviders {\n  identityProviders {\n    ...IdentityProviderFields\n  }\n}\n\nfragment IdentityProviderFields on IdentityProvider {\n  id\n  name\n  description\n  isDefault\n  portalUrl\n  createdAt\n}": types.IdentityProvidersDocument,
    "query Node($id: ID!) {\n  node(id: $id) {\n    __typename\n    id\n  }\n}": types.NodeDocument,
    "subscription Heartbeat($intervalMs: Int, $count: Int) {\n  heartbeat(intervalMs: $intervalMs, count: $count) {\n    seq\n    at\n  }\n}": types.HeartbeatDocument,
    "query Tenant {\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment TenantFields on Tenant {\n  id\n  slug\n  name\n  entitlements\n  features\n  createdAt\n}": types.TenantDocument,
    "query Users($first: Int, $after: String, $filter: UserFilterInput, $orderBy: UserOrder) {\n  users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...UserFields\n    }\n  }\n}\n\nquery User($id: ID!) {\n  user(id: $id) {\n    ...UserFields\n    directory {\n      id\n      name\n      kind\n    }\n    identityProvider {\n      id\n      name\n      portalUrl\n    }\n  }\n}\n\nfragment UserFields on User {\n  id\n  email\n  username\n  firstName\n  lastName\n  status\n  createdAt\n  updatedAt\n  lastInvitedAt\n  activatedAt\n  groups {\n    id\n    name\n    builtIn\n  }\n}": types.UsersDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Login($input: LoginInput!) {\n  login(input: $input) {\n    token\n    expiresAt\n    viewer {\n      ...ViewerFields\n    }\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Logout {\n  logout {\n    success\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    ...ViewerFields\n  }\n}\n\nfragment ViewerFields on Viewer {\n  sessionExpiresAt\n  user {\n    ...UserFields\n  }\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}"): (typeof documents)["mutation Login($input: LoginInput!) {\n  login(input: $input) {\n    token\n    expiresAt\n    viewer {\n      ...ViewerFields\n    }\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nmutation Logout {\n  logout {\n    success\n    errors {\n      ...UserErrorFields\n    }\n  }\n}\n\nquery Viewer {\n  viewer {\n    ...ViewerFields\n  }\n}\n\nfragment ViewerFields on Viewer {\n  sessionExpiresAt\n  user {\n    ...UserFields\n  }\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment UserErrorFields on UserError {\n  code\n  message\n  field\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Directories($first: Int, $after: String) {\n  directories(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...DirectoryFields\n    }\n  }\n}\n\nquery Directory($id: ID!) {\n  directory(id: $id) {\n    ...DirectoryFields\n  }\n}\n\nfragment DirectoryFields on Directory {\n  id\n  name\n  kind\n  description\n  userCount\n  groupCount\n  createdAt\n  updatedAt\n}\n\nfragment PageInfoFields on PageInfo {\n  hasNextPage\n  hasPreviousPage\n  startCursor\n  endCursor\n}"): (typeof documents)["query Directories($first: Int, $after: String) {\n  directories(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...DirectoryFields\n    }\n  }\n}\n\nquery Directory($id: ID!) {\n  directory(id: $id) {\n    ...DirectoryFields\n  }\n}\n\nfragment DirectoryFields on Directory {\n  id\n  name\n  kind\n  description\n  userCount\n  groupCount\n  createdAt\n  updatedAt\n}\n\nfragment PageInfoFields on PageInfo {\n  hasNextPage\n  hasPreviousPage\n  startCursor\n  endCursor\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Groups($first: Int, $after: String, $filter: GroupFilterInput) {\n  groups(first: $first, after: $after, filter: $filter) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...GroupFields\n    }\n  }\n}\n\nquery Group($id: ID!, $membersFirst: Int, $membersAfter: String) {\n  group(id: $id) {\n    ...GroupFields\n    members(first: $membersFirst, after: $membersAfter) {\n      totalCount\n      pageInfo {\n        ...PageInfoFields\n      }\n      nodes {\n        id\n        email\n        firstName\n        lastName\n        status\n      }\n    }\n  }\n}\n\nfragment GroupFields on Group {\n  id\n  name\n  description\n  isBuiltIn\n  builtIn\n  memberCount\n  createdAt\n  updatedAt\n}"): (typeof documents)["query Groups($first: Int, $after: String, $filter: GroupFilterInput) {\n  groups(first: $first, after: $after, filter: $filter) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...GroupFields\n    }\n  }\n}\n\nquery Group($id: ID!, $membersFirst: Int, $membersAfter: String) {\n  group(id: $id) {\n    ...GroupFields\n    members(first: $membersFirst, after: $membersAfter) {\n      totalCount\n      pageInfo {\n        ...PageInfoFields\n      }\n      nodes {\n        id\n        email\n        firstName\n        lastName\n        status\n      }\n    }\n  }\n}\n\nfragment GroupFields on Group {\n  id\n  name\n  description\n  isBuiltIn\n  builtIn\n  memberCount\n  createdAt\n  updatedAt\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query IdentityProviders {\n  identityProviders {\n    ...IdentityProviderFields\n  }\n}\n\nfragment IdentityProviderFields on IdentityProvider {\n  id\n  name\n  description\n  isDefault\n  portalUrl\n  createdAt\n}"): (typeof documents)["query IdentityProviders {\n  identityProviders {\n    ...IdentityProviderFields\n  }\n}\n\nfragment IdentityProviderFields on IdentityProvider {\n  id\n  name\n  description\n  isDefault\n  portalUrl\n  createdAt\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Node($id: ID!) {\n  node(id: $id) {\n    __typename\n    id\n  }\n}"): (typeof documents)["query Node($id: ID!) {\n  node(id: $id) {\n    __typename\n    id\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription Heartbeat($intervalMs: Int, $count: Int) {\n  heartbeat(intervalMs: $intervalMs, count: $count) {\n    seq\n    at\n  }\n}"): (typeof documents)["subscription Heartbeat($intervalMs: Int, $count: Int) {\n  heartbeat(intervalMs: $intervalMs, count: $count) {\n    seq\n    at\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Tenant {\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment TenantFields on Tenant {\n  id\n  slug\n  name\n  entitlements\n  features\n  createdAt\n}"): (typeof documents)["query Tenant {\n  tenant {\n    ...TenantFields\n  }\n}\n\nfragment TenantFields on Tenant {\n  id\n  slug\n  name\n  entitlements\n  features\n  createdAt\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Users($first: Int, $after: String, $filter: UserFilterInput, $orderBy: UserOrder) {\n  users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...UserFields\n    }\n  }\n}\n\nquery User($id: ID!) {\n  user(id: $id) {\n    ...UserFields\n    directory {\n      id\n      name\n      kind\n    }\n    identityProvider {\n      id\n      name\n      portalUrl\n    }\n  }\n}\n\nfragment UserFields on User {\n  id\n  email\n  username\n  firstName\n  lastName\n  status\n  createdAt\n  updatedAt\n  lastInvitedAt\n  activatedAt\n  groups {\n    id\n    name\n    builtIn\n  }\n}"): (typeof documents)["query Users($first: Int, $after: String, $filter: UserFilterInput, $orderBy: UserOrder) {\n  users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {\n    totalCount\n    pageInfo {\n      ...PageInfoFields\n    }\n    nodes {\n      ...UserFields\n    }\n  }\n}\n\nquery User($id: ID!) {\n  user(id: $id) {\n    ...UserFields\n    directory {\n      id\n      name\n      kind\n    }\n    identityProvider {\n      id\n      name\n      portalUrl\n    }\n  }\n}\n\nfragment UserFields on User {\n  id\n  email\n  username\n  firstName\n  lastName\n  status\n  createdAt\n  updatedAt\n  lastInvitedAt\n  activatedAt\n  groups {\n    id\n    name\n    builtIn\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;