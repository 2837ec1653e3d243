import { Extensions, type ResolverData } from 'type-graphql';
import { type GraphQLObjectType } from 'graphql';
import type { Viewer } from './viewer.js';
import { unauthenticated } from './errors.js';

/**
 * Marks a root field as callable without a session (sign-in, account setup). Everything else
 * requires one: the guard below denies by default, so a new field cannot be left open by
 * forgetting a decorator.
 */
export function Public(): MethodDecorator & PropertyDecorator {
  return Extensions({ public: true }) as MethodDecorator & PropertyDecorator;
}

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);

/** The part of the GraphQL context the guard reads (the context itself sits above `shared/`). */
export interface AuthState {
  viewer: Viewer | null;
  authProblem: 'invalid' | 'expired' | null;
}

/** Throws UNAUTHENTICATED for a root field that is not `@Public()` when the operation has no viewer. */
export function assertRootAccess({ info, context }: ResolverData<AuthState>): void {
  if (ROOTS.has(info.parentType.name)) {
    const field = (info.parentType as GraphQLObjectType).getFields()[info.fieldName];
    const isPublic = field?.extensions?.['public'] === true;
    if (!isPublic && !context.viewer) {
      throw unauthenticated(
        context.authProblem === 'expired'
          ? 'Your session has expired: sign in again.'
          : context.authProblem === 'invalid'
            ? 'The session token is invalid or revoked: sign in again.'
            : undefined,
      );
    }
  }
}
