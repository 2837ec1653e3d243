import { expect } from 'vitest';
import { fromGlobalId } from '../../server/shared/ids.js';
import type { TestServer } from './harness.js';
import { papi } from './provisioning-api.js';

export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** A SCIM client over fetch, as an identity provider talks to the server: bearer token, application/scim+json. */
export function scimClient(base: string, token: string | null) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ScimAnswer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        accept: 'application/scim+json',
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  return {
    base,
    get: (path: string, headers?: Record<string, string>) => call('GET', path, undefined, headers),
    post: (path: string, body: unknown, headers?: Record<string, string>) => call('POST', path, body, headers),
    put: (path: string, body: unknown, headers?: Record<string, string>) => call('PUT', path, body, headers),
    patch: (path: string, body: unknown, headers?: Record<string, string>) => call('PATCH', path, body, headers),
    delete: (path: string, headers?: Record<string, string>) => call('DELETE', path, undefined, headers),
    raw: call,
  };
}

export type ScimClient = ReturnType<typeof scimClient>;

/** Creates a SCIM provisioning through the API and returns a client on its base URL (this test server's origin). */
export async function scimProvisioning(
  ts: TestServer,
  adminToken: string,
  name = 'Okta',
  settings: Parameters<ReturnType<typeof papi>['update']>[1] = {},
) {
  const p = papi(ts, adminToken);
  const r = (await p.client.createProvisioning({ input: { kind: 'SCIM', name } })).createProvisioning;
  expect(r.errors).toEqual([]);
  const id = r.provisioning!.id;
  const uuid = fromGlobalId(id, 'Provisioning')!;
  expect(r.provisioning!.scimBaseUrl).toMatch(new RegExp(`/scim/v2/${uuid}$`));
  expect(r.scimToken).toMatch(/^scim_/);
  if (Object.keys(settings).length) expect((await p.update(id, settings)).errors).toEqual([]);
  const base = `${new URL(ts.url).origin}/scim/v2/${uuid}`;
  // meta.location and $ref are built on the configured public origin (PUBLIC_URL / PORTAL_BASE_URL), not this test port.
  return { id, uuid, token: r.scimToken!, base, publicBase: r.provisioning!.scimBaseUrl!, scim: scimClient(base, r.scimToken!), p };
}

export function expectScimError(r: ScimAnswer, status: number, scimType?: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(r.body.schemas).toEqual([ERROR]);
  expect(r.body.status).toBe(String(status));
  if (scimType) expect(r.body.scimType).toBe(scimType);
}
