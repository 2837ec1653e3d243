import { randomUUID } from 'node:crypto';
import type { Viewer } from '../../shared/viewer.js';
import type { Db, Executor } from '../../shared/db.js';
import { isValidEmail, normalizeEmail } from '../../shared/email.js';
import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { decodeCursor, encodeCursor, pageSize, toConnection, type ConnectionShape } from '../../shared/pagination.js';
import { checkPasswordPolicy } from '../../shared/password-policy.js';
import { hashPassword } from '../../shared/passwords.js';
import { checkName } from '../../shared/validation.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import type { DirectoryRow } from '../directory/directory.types.js';
import { assertActiveAdminRemains, lockAdmins } from '../group/admin-guard.js';
import type { GroupStore, GroupWriteStore } from '../group/group.store.js';
import type { IssueResult, InvitationService } from '../invitation/invitation.service.js';
import type { IdentityProviderStore } from '../identity-provider/identity-provider.store.js';
import { UserOrder, type UserRow } from './user.types.js';
import { userCursorValue, type UserFilter, type UserStore, type UserWriteStore } from './user.store.js';

export interface CreateUserArgs {
  directoryId?: string | null;
  email?: string | null;
  username?: string | null;
  firstName: string;
  lastName: string;
  password?: string | null;
  groupIds?: string[];
  identityProviderId?: string | null;
  sendInvite?: boolean | null;
}

export interface UserServiceDeps {
  db: Db;
  users: UserStore;
  userWrites: UserWriteStore;
  groups: GroupStore;
  groupWrites: GroupWriteStore;
  directories: DirectoryStore;
  identityProviders: IdentityProviderStore;
  invitations: InvitationService;
}

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  async list(
    viewer: Viewer,
    args: { first?: number | null; after?: string | null; filter: UserFilter; orderBy?: UserOrder | null },
  ): Promise<ConnectionShape<UserRow>> {
    const limit = pageSize(args.first);
    const order = args.orderBy ?? UserOrder.EMAIL_ASC;
    const c = decodeCursor(args.after);
    const after: [string | null, string] | null = c ? [c[0] === null ? null : String(c[0]), String(c[1])] : null;
    const rows = await this.d.users.page(viewer.tenantId, args.filter, order, limit + 1, after);
    return toConnection(
      rows,
      limit,
      after !== null,
      (r) => encodeCursor([userCursorValue(order, r), r.id]),
      () => this.d.users.count(viewer.tenantId, args.filter),
    );
  }

  private async directoryFor(viewer: Viewer, directoryId: string | null | undefined, tx: Executor): Promise<DirectoryRow> {
    if (!directoryId) return this.d.directories.cloud(viewer.tenantId, tx);
    const [dir] = await this.d.directories.byIds(viewer.tenantId, [directoryId], tx);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    return dir;
  }

  async create(viewer: Viewer, input: CreateUserArgs): Promise<{ user: UserRow; invitation: IssueResult | null }> {
    const errors: UserError[] = [];
    const dir = await this.directoryFor(viewer, input.directoryId, this.d.db);
    const cloud = dir.kind === 'CLOUD';
    const email = input.email ? normalizeEmail(input.email) : null;
    if (email && !isValidEmail(email)) errors.push(userError(ErrorCode.INVALID_INPUT, 'Not a valid email address.', ['input', 'email']));
    if (!email && cloud) errors.push(userError(ErrorCode.INVALID_INPUT, 'Email is required in the Cloud Directory.', ['input', 'email']));
    const firstName = checkName(input.firstName, 'First name', ['input', 'firstName'], errors);
    const lastName = checkName(input.lastName, 'Last name', ['input', 'lastName'], errors);
    const username = checkName(input.username ?? email, 'Username', ['input', 'username'], errors, false) || null;
    const id = randomUUID();
    if (input.password != null) {
      if (!cloud) {
        errors.push(userError(ErrorCode.INVALID_INPUT, 'External directories never store passwords.', ['input', 'password']));
      } else {
        errors.push(...checkPasswordPolicy(input.password, [email, username, id, viewer.tenantId]));
      }
    }
    if (input.sendInvite && input.password != null) {
      errors.push(
        userError(ErrorCode.INVALID_INPUT, 'A user created with a password is already active: send no invitation.', ['input', 'sendInvite']),
      );
    }
    if (input.sendInvite && !cloud) {
      errors.push(userError(ErrorCode.INVALID_INPUT, 'Only Cloud Directory users can be invited.', ['input', 'sendInvite']));
    }
    const groupIds = [...new Set(input.groupIds ?? [])];
    const groups = await this.d.groups.byIds(viewer.tenantId, groupIds);
    if (groups.length !== groupIds.length || groups.some((g) => g.directoryId !== dir.id)) {
      errors.push(userError(ErrorCode.NOT_FOUND, 'Every group must exist in the same directory as the user.', ['input', 'groupIds']));
    }
    if (input.identityProviderId) {
      const [idp] = await this.d.identityProviders.byIds(viewer.tenantId, [input.identityProviderId]);
      if (!idp) errors.push(userError(ErrorCode.NOT_FOUND, 'No such identity provider.', ['input', 'identityProviderId']));
    }
    if (errors.length) throw new DomainError(errors);

    const passwordHash = input.password != null ? await hashPassword(input.password) : null;
    return this.d.db.transaction(async (tx) => {
      const user = await this.d.userWrites.insert(
        {
          id,
          tenantId: viewer.tenantId,
          directoryId: dir.id,
          email,
          username,
          firstName,
          lastName,
          status: passwordHash || !cloud ? 'ACTIVE' : 'INVITED',
          passwordHash,
          identityProviderId: input.identityProviderId ?? null,
          activatedAt: passwordHash ? new Date() : null,
        },
        tx,
      );
      const usersGroup = await this.d.groups.builtIn(viewer.tenantId, dir.id, 'USERS', tx);
      const memberOf = [...(usersGroup ? [usersGroup.id] : []), ...groups.map((g) => g.id)];
      await this.d.groupWrites.addMemberships(viewer.tenantId, memberOf.map((groupId) => ({ groupId, userId: user.id })), tx);
      let invitation: IssueResult | null = null;
      if (input.sendInvite) {
        const r = await this.d.invitations.issueMany(
          tx,
          viewer.tenantId,
          [{ userId: user.id, identityProviderId: input.identityProviderId, kind: 'INVITATION' }],
          viewer.userId,
        );
        invitation = r.get(user.id)!;
        if (!invitation.ok) throw new DomainError([invitation.error]);
      }
      return { user, invitation };
    });
  }

  async update(
    viewer: Viewer,
    input: { id: string; email?: string | null; username?: string | null; firstName?: string | null; lastName?: string | null; disabled?: boolean | null },
  ): Promise<UserRow> {
    const errors: UserError[] = [];
    const patch: { email?: string; username?: string; firstName?: string; lastName?: string; status?: string } = {};
    if (input.email != null) {
      patch.email = normalizeEmail(input.email);
      if (!isValidEmail(patch.email)) errors.push(userError(ErrorCode.INVALID_INPUT, 'Not a valid email address.', ['input', 'email']));
    }
    if (input.firstName != null) patch.firstName = checkName(input.firstName, 'First name', ['input', 'firstName'], errors);
    if (input.lastName != null) patch.lastName = checkName(input.lastName, 'Last name', ['input', 'lastName'], errors);
    if (input.username != null) patch.username = checkName(input.username, 'Username', ['input', 'username'], errors);
    if (errors.length) throw new DomainError(errors);

    return this.d.db.transaction(async (tx) => {
      if (input.disabled === true) await lockAdmins(tx, viewer.tenantId);
      const current = await this.d.userWrites.lockOne(viewer.tenantId, input.id, tx);
      if (!current) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'id']);
      if (input.disabled === true) patch.status = 'DISABLED';
      if (input.disabled === false && current.status === 'DISABLED') patch.status = current.activatedAt ? 'ACTIVE' : 'INVITED';
      const updated = await this.d.userWrites.update(viewer.tenantId, input.id, patch, tx);
      if (input.disabled === true) await assertActiveAdminRemains(tx, viewer.tenantId);
      return updated!;
    });
  }

  async delete(viewer: Viewer, id: string): Promise<string> {
    return this.d.db.transaction(async (tx) => {
      await lockAdmins(tx, viewer.tenantId);
      const [deleted] = await this.d.userWrites.delete(viewer.tenantId, [id], tx);
      if (!deleted) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'id']);
      await assertActiveAdminRemains(tx, viewer.tenantId);
      return deleted;
    });
  }

  /** Invitation for a user not yet active, password reset for an active one. */
  async invite(viewer: Viewer, input: { userId: string; identityProviderId?: string | null }): Promise<{ user: UserRow; invitationId: string }> {
    return this.d.db.transaction(async (tx) => {
      const user = await this.d.userWrites.lockOne(viewer.tenantId, input.userId, tx);
      if (!user) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'userId']);
      const [dir] = await this.d.directories.byIds(viewer.tenantId, [user.directoryId], tx);
      if (dir?.kind !== 'CLOUD') throw DomainError.of(ErrorCode.INVALID_STATE, 'Only Cloud Directory users can be invited.');
      const kind = user.status === 'ACTIVE' ? 'PASSWORD_RESET' : 'INVITATION';
      const r = (await this.d.invitations.issueMany(tx, viewer.tenantId, [{ userId: user.id, identityProviderId: input.identityProviderId, kind }], viewer.userId)).get(user.id)!;
      if (!r.ok) throw new DomainError([r.error]);
      const [fresh] = await this.d.users.byIds(viewer.tenantId, [user.id], tx);
      return { user: fresh!, invitationId: r.invitationId };
    });
  }
}
