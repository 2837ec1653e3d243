import DataLoader from 'dataloader';
import type { MailService, MailStatus } from '../mail/mail.service.js';
import type { InvitationService } from './invitation.service.js';
import type { InvitationRow } from './invitation.types.js';

export function createInvitationLoaders(invitations: InvitationService, mail: MailService, tenantId: string) {
  return {
    invitationsByUser: new DataLoader<string, InvitationRow[]>(async (userIds) => {
      const rows = await invitations.byUsers(tenantId, userIds);
      return userIds.map((id) => rows.filter((r) => r.userId === id));
    }),
    mailStatusByReference: new DataLoader<string, MailStatus | null>(async (refs) => {
      const map = await mail.statusByReferences(tenantId, refs);
      return refs.map((r) => map.get(r) ?? null);
    }),
  };
}
