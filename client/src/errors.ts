/** Base of every error the client throws, so callers can catch Roster errors in one place. */
export class RosterError extends Error {
  override name = 'RosterError';
}

/** The request did not get a GraphQL answer: network failure, or a non-GraphQL HTTP response. */
export class RosterTransportError extends RosterError {
  override name = 'RosterTransportError';
  constructor(
    message: string,
    readonly status?: number,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export interface GraphQLErrorEntry {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/**
 * The server answered with GraphQL errors (tier two: authentication, authorization, invalid
 * input, internal). `code` is the server's `extensions.code`, e.g. `UNAUTHENTICATED`.
 * Expected business failures are NOT thrown: they come back as `errors` in mutation payloads.
 */
export class RosterGraphQLError extends RosterError {
  override name = 'RosterGraphQLError';
  readonly code: string;
  constructor(
    readonly errors: readonly GraphQLErrorEntry[],
    readonly status?: number,
  ) {
    super(errors.map((e) => e.message).join('; ') || 'GraphQL error');
    this.code = errors[0]?.extensions?.code ?? 'UNKNOWN';
  }
}

/** The websocket closed before or during a subscription (4403: no valid session). */
export class RosterSubscriptionError extends RosterError {
  override name = 'RosterSubscriptionError';
  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
  }
  get code(): string {
    return this.closeCode === 4403 || this.closeCode === 4401 ? 'UNAUTHENTICATED' : 'SUBSCRIPTION_CLOSED';
  }
}
