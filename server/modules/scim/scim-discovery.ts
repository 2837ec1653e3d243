import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA } from './scim-resources.js';

/** The discovery documents (RFC 7644 §4): what this server supports, announced to clients. */

/** Largest `count` a list answers with; larger requests are cut to it (announced as filter.maxResults). */
export const MAX_COUNT = 200;
export const DEFAULT_COUNT = 100;

export function serviceProviderConfig(base: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/roster/roster/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'The token shown once when the SCIM provisioning was created (or its token rotated).',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

function resourceType(base: string, name: 'User' | 'Group') {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: name,
    name,
    endpoint: `/${name}s`,
    description: name === 'User' ? 'An MFA user of this provisioning' : 'An MFA group of this provisioning',
    schema: name === 'User' ? USER_SCHEMA : GROUP_SCHEMA,
    ...(name === 'User' ? { schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }] } : {}),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${name}` },
  };
}

export function resourceTypes(base: string) {
  return [resourceType(base, 'User'), resourceType(base, 'Group')];
}

type Attr = Record<string, unknown>;
function a(name: string, opts: Partial<Attr> = {}): Attr {
  return {
    name,
    type: 'string',
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...opts,
  };
}

function schema(base: string, id: string, name: string, description: string, attributes: Attr[]) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  };
}

export function schemas(base: string) {
  return [
    schema(base, USER_SCHEMA, 'User', 'An MFA user (only these attributes are stored; others are accepted and ignored)', [
      a('userName', { required: true, uniqueness: 'server' }),
      a('externalId', { caseExact: true }),
      a('displayName'),
      a('name', { type: 'complex', subAttributes: [a('givenName'), a('familyName'), a('formatted', { mutability: 'readOnly' })] }),
      a('emails', {
        type: 'complex',
        multiValued: true,
        description: 'Only one address is kept: the primary one, else the work one, else the first.',
        subAttributes: [a('value'), a('type'), a('primary', { type: 'boolean' })],
      }),
      a('active', { type: 'boolean', description: 'false suspends the MFA user (devices kept); true lifts it.' }),
      a('groups', {
        type: 'complex',
        multiValued: true,
        mutability: 'readOnly',
        subAttributes: [a('value'), a('display'), a('$ref', { type: 'reference' })],
      }),
    ]),
    schema(base, GROUP_SCHEMA, 'Group', 'An MFA group', [
      a('displayName', { required: true, uniqueness: 'server' }),
      a('externalId', { caseExact: true }),
      a('members', {
        type: 'complex',
        multiValued: true,
        subAttributes: [
          a('value', { mutability: 'immutable' }),
          a('display', { mutability: 'readOnly' }),
          a('$ref', { type: 'reference', mutability: 'immutable' }),
        ],
      }),
    ]),
    schema(base, ENTERPRISE_SCHEMA, 'EnterpriseUser', 'Accepted; no attribute of it maps to the MFA user, so none is stored', []),
  ];
}

export function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return { schemas: [LIST_SCHEMA], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
