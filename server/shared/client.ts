/**
 * Who is on the other end of one GraphQL operation, as far as limits care: the client address
 * (express `req.ip`, which honours `TRUST_PROXY`) and how many credential checks the operation
 * has asked for. One operation may check one credential: 500 aliased `login` fields in one
 * request get one verification, not 500.
 */
export interface RequestClient {
  readonly address: string | null;
  credentialChecks: number;
}

export function newRequestClient(address: string | null | undefined): RequestClient {
  return { address: address || null, credentialChecks: 0 };
}
