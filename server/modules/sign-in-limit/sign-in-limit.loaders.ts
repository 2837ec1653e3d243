import DataLoader from 'dataloader';
import type { LimitState } from './sign-in-limit.store.js';
import { loginSubject, type SignInLimitService } from './sign-in-limit.service.js';

export function createSignInLimitLoaders(service: SignInLimitService, tenantId: string) {
  return {
    /** Sign-in failures and lock of this tenant's accounts, by email. */
    signInStateByEmail: new DataLoader<string, LimitState>((emails) =>
      service.states(emails.map((e) => loginSubject({ id: tenantId }, e))),
    ),
  };
}
