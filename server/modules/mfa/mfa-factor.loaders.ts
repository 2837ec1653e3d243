import DataLoader from 'dataloader';
import type { LimitState } from '../sign-in-limit/sign-in-limit.store.js';
import type { MfaDeviceService } from './mfa-device.service.js';

export function createMfaFactorLoaders(devices: MfaDeviceService) {
  return {
    /** Failed verifications still counted and a running lock, by MFA user id (the ids come from tenant-scoped rows). */
    mfaVerifyLockByUser: new DataLoader<string, LimitState>((ids) => devices.lockStates(ids)),
  };
}
