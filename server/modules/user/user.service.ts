import { randomUUID } from 'node:crypto';
import type { Viewer } from '../../shared/viewer.js';
import type { Db, Executor } from '../../shared/db.js';
import { isValidEmail, normalizeEmail } from '../../shared/email.js';
import { DomainError, ErrorCode, userError, type UserError } from '../../shared/errors.js';
import { keysetPage, nullableSortValueAndIdKey, timestampAndIdKey, type ConnectionShape } from '../../shared/pagination.js';
import { hashPasswords } from '../../shared/passwords.js';
import { checkName } from '../../shared/validation.js';
import type { EndUserSessionService } from '../end-user-session/end-user-session.service.js';
import { actorOf, diff, type AuditService } from '../audit/audit.service.js';
import type { AuthService } from '../auth/auth.service.js';
import type { DirectoryStore } from '../directory/directory.store.js';
import type { DirectoryRow } from '../directory/directory.types.js';
import type { GroupService } from '../group/group.service.js';
import type { IssueResult, InvitationService } from '../invitation/invitation.service.js';
import type { IdentityProviderStore } from '../identity-provider/identity-provider.store.js';
import { loginSubject, type SignInLimitService } from '../sign-in-limit/sign-in-limit.service.js';
import type { TenantStore } from '../tenant/tenant.store.js';
import { UserOrder, type UserRow } from './user.types.js';
import { checkNewUser, type NewUserContext, type ValidNewUser } from './user-rules.js';
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
  groups: GroupService;
  directories: DirectoryStore;
  identityProviders: IdentityProviderStore;
  tenants: TenantStore;
  invitations: InvitationService;
  auth: AuthService;
  /** Disabling ends the user's portal sessions too. */
  endUserSessions: EndUserSessionService;
  signInLimits: SignInLimitService;
  audit: AuditService;
}

/** The user fields the audit trail compares (a password change shows as `password`, redacted). */
export const AUDITED_USER_FIELDS = ['email', 'username', 'firstName', 'lastName', 'status'] as const;
const userTarget = (u: UserRow) => ({ targetType: 'User', targetId: u.id, targetName: u.email ?? u.username });
const fieldsOf = (u: UserRow | null | undefined) => (u ?? null) as unknown as Record<string, unknown> | null;

/** A validated new user with its password hash (null without a password). */
export type HashedNewUser = ValidNewUser & { passwordHash: string | null };

export class UserService {
  constructor(private readonly d: UserServiceDeps) {}

  async list(
    viewer: Viewer,
    args: {
      first?: number | null;
      after?: string | null;
      filter: UserFilter;
      orderBy?: UserOrder | null;
      keys?: readonly (keyof UserRow)[];
    },
  ): Promise<ConnectionShape<UserRow>> {
    const order = args.orderBy ?? UserOrder.EMAIL_ASC;
    return keysetPage(args, {
      // The creation-time orders cast the value to timestamptz: it must be a timestamp.
      key: order === UserOrder.CREATED_AT_ASC || order === UserOrder.CREATED_AT_DESC ? timestampAndIdKey : nullableSortValueAndIdKey,
      fetch: (limit, after) => this.d.users.page(viewer.tenantId, args.filter, order, limit, after, args.keys),
      cursorOf: (r) => [userCursorValue(order, r), r.id],
      count: () => this.d.users.count(viewer.tenantId, args.filter),
    });
  }

  private async directoryFor(tenantId: string, directoryId: string | null | undefined, tx: Executor): Promise<DirectoryRow> {
    if (!directoryId) return this.d.directories.cloud(tenantId, tx);
    const [dir] = await this.d.directories.byIds(tenantId, [directoryId], tx);
    if (!dir) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such directory.', ['input', 'directoryId']);
    return dir;
  }

  /**
   * What the create rule needs to know about where users are created (tenant slug and flags,
   * the directory's kind), loaded once for a form or a whole CSV file. Default directory: the
   * tenant's Cloud Directory.
   */
  async newUserContext(tenantId: string, directoryId: string | null | undefined): Promise<NewUserContext> {
    const dir = await this.directoryFor(tenantId, directoryId, this.d.db);
    const tenant = await this.d.tenants.byId(tenantId);
    if (!tenant) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such tenant.');
    const usersGroup = await this.d.groups.builtIn(tenantId, dir.id, 'USERS');
    return {
      tenantId,
      tenantSlug: tenant.slug,
      features: tenant.features,
      directoryId: dir.id,
      cloud: dir.kind === 'CLOUD',
      usersGroupId: usersGroup?.id ?? null,
    };
  }

  /** Hashes the passwords of validated new users, outside any transaction, a few at a time (argon2). */
  async hashNewUsers(users: ValidNewUser[]): Promise<HashedNewUser[]> {
    const hashes = await hashPasswords(users.map((u) => u.password));
    return users.map((u, i) => ({ ...u, passwordHash: hashes[i] ?? null }));
  }

  /**
   * Writes validated, hashed new users in `tx` with their memberships (one statement for all):
   * the directory's Users group and `groupIds[i]` for `users[i]`. A user whose email was taken
   * meanwhile is left out, with no membership; returns the ids written.
   */
  async insertNewUsers(tx: Executor, ctx: NewUserContext, users: HashedNewUser[], groupIds: (readonly string[])[]): Promise<Set<string>> {
    return new Set(
      await this.d.userWrites.insertMany(
        tx,
        ctx.tenantId,
        ctx.directoryId,
        users.map((u, i) => ({
          id: u.id,
          email: u.email,
          username: u.username,
          firstName: u.firstName,
          lastName: u.lastName,
          status: u.status,
          passwordHash: u.passwordHash,
          identityProviderId: u.identityProviderId,
          activatedAt: u.passwordHash ? new Date() : null,
          groups: [...new Set([...(ctx.usersGroupId ? [ctx.usersGroupId] : []), ...(groupIds[i] ?? [])])],
        })),
        this.d.groups.membershipsCte(ctx.tenantId),
      ),
    );
  }

  /**
   * Why users `insertNewUsers` left out were not written (ON CONFLICT DO NOTHING covers both
   * unique indexes): USERNAME_TAKEN when another user holds the login id, else EMAIL_TAKEN.
   * Runs in the writing transaction, after the insert; one code per given user, in order.
   */
  async notInsertedReasons(tx: Executor, ctx: NewUserContext, users: readonly ValidNewUser[]): Promise<ErrorCode[]> {
    const emails = [...new Set(users.flatMap((u) => (u.email ? [u.email] : [])))];
    const [byEmail, names] = await Promise.all([
      this.d.users.idsByEmail(ctx.tenantId, ctx.directoryId, emails, tx),
      this.d.userWrites.takenUsernames(
        tx,
        ctx.directoryId,
        users.flatMap((u) => (u.username ? [u.username] : [])),
      ),
    ]);
    return users.map((u) =>
      u.email && byEmail.has(u.email)
        ? ErrorCode.EMAIL_TAKEN
        : u.username && names.has(u.username.toLowerCase())
          ? ErrorCode.USERNAME_TAKEN
          : ErrorCode.EMAIL_TAKEN,
    );
  }

  /** Ids of existing users of a directory by normalised email. */
  idsByEmail(tenantId: string, directoryId: string, emails: readonly string[]): Promise<Map<string, string>> {
    return this.d.users.idsByEmail(tenantId, directoryId, emails);
  }

  /** New names for existing users (CSV onExisting: UPDATE); returns the ids that still existed. */
  async updateNames(
    tx: Executor,
    tenantId: string,
    directoryId: string,
    rows: { id: string; firstName: string; lastName: string }[],
  ): Promise<Set<string>> {
    return new Set(await this.d.userWrites.updateNames(tx, tenantId, directoryId, rows));
  }

  byIds(tenantId: string, ids: readonly string[], tx: Executor = this.d.db): Promise<UserRow[]> {
    return this.d.users.byIds(tenantId, ids, tx);
  }

  /** Deletes users in `tx`; the caller holds the admin lock and asserts the last-admin rule. */
  deleteMany(tx: Executor, tenantId: string, ids: readonly string[]): Promise<string[]> {
    return this.d.userWrites.delete(tenantId, ids, tx);
  }

  async create(viewer: Viewer, input: CreateUserArgs): Promise<{ user: UserRow; invitation: IssueResult | null }> {
    const ctx = await this.newUserContext(viewer.tenantId, input.directoryId);
    const identityProvider = input.identityProviderId
      ? ((await this.d.identityProviders.byIds(viewer.tenantId, [input.identityProviderId]))[0] ?? ('missing' as const))
      : null;
    const { user: valid, problems } = checkNewUser({ ...input, id: randomUUID(), identityProvider }, ctx);
    const errors: UserError[] = [...problems];
    const groupIds = [...new Set(input.groupIds ?? [])];
    const groups = await this.d.groups.byIds(viewer.tenantId, groupIds);
    if (groups.length !== groupIds.length || groups.some((g) => g.directoryId !== ctx.directoryId)) {
      errors.push(userError(ErrorCode.NOT_FOUND, 'Every group must exist in the same directory as the user.', ['input', 'groupIds']));
    }
    if (errors.length) throw new DomainError(errors);

    const [hashed] = await this.hashNewUsers([valid]);
    return this.d.db.transaction(async (tx) => {
      const inserted = await this.insertNewUsers(tx, ctx, [hashed!], [groups.map((g) => g.id)]);
      if (!inserted.has(valid.id)) {
        const [why] = await this.notInsertedReasons(tx, ctx, [valid]);
        throw DomainError.of(
          why!,
          why === ErrorCode.USERNAME_TAKEN
            ? 'Another user of the directory already has this username.'
            : 'A user with this email already exists in the directory.',
          ['input', why === ErrorCode.USERNAME_TAKEN ? 'username' : 'email'],
        );
      }
      const [user] = await this.d.users.byIds(viewer.tenantId, [valid.id], tx);
      await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'user.create',
        ...userTarget(user!),
        changes: {
          ...diff(null, fieldsOf(user), AUDITED_USER_FIELDS),
          ...(hashed!.passwordHash ? { password: { before: null, after: '[redacted]' } } : {}),
          ...(groups.length ? { groups: { before: null, after: groups.map((g) => g.name) } } : {}),
        },
      });
      let invitation: IssueResult | null = null;
      if (input.sendInvite) {
        const r = await this.d.invitations.issueMany(
          tx,
          viewer.tenantId,
          [{ userId: valid.id, identityProviderId: valid.identityProviderId, kind: 'INVITATION' }],
          viewer.userId,
        );
        invitation = r.get(valid.id)!;
        if (!invitation.ok) throw new DomainError([invitation.error]);
      }
      return { user: user!, invitation };
    });
  }

  async update(
    viewer: Viewer,
    input: {
      id: string;
      email?: string | null;
      username?: string | null;
      firstName?: string | null;
      lastName?: string | null;
      disabled?: boolean | null;
    },
  ): Promise<UserRow> {
    const errors: UserError[] = [];
    const patch: { email?: string; username?: string; firstName?: string; lastName?: string; status?: string } = {};
    if (input.email != null) {
      patch.email = normalizeEmail(input.email);
      if (!isValidEmail(patch.email)) errors.push(userError(ErrorCode.INVALID_INPUT, 'Invalid email address.', ['input', 'email']));
    }
    if (input.firstName != null) patch.firstName = checkName(input.firstName, 'First name', ['input', 'firstName'], errors);
    if (input.lastName != null) patch.lastName = checkName(input.lastName, 'Last name', ['input', 'lastName'], errors);
    if (input.username != null) patch.username = checkName(input.username, 'Username', ['input', 'username'], errors);
    if (errors.length) throw new DomainError(errors);

    const updated = await this.d.db.transaction(async (tx) => {
      if (input.disabled === true) await this.d.groups.lockAdmins(tx, viewer.tenantId);
      const current = await this.d.userWrites.lockOne(viewer.tenantId, input.id, tx);
      if (!current) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'id']);
      if (input.disabled === true) patch.status = 'DISABLED';
      if (input.disabled === false && current.status === 'DISABLED') patch.status = current.activatedAt ? 'ACTIVE' : 'INVITED';
      const row = await this.d.userWrites.update(viewer.tenantId, input.id, patch, tx);
      const changes = diff(fieldsOf(current), fieldsOf(row), AUDITED_USER_FIELDS);
      if (changes) await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), { action: 'user.update', ...userTarget(row!), changes });
      if (input.disabled === true) {
        await this.d.groups.assertActiveAdminRemains(tx, viewer.tenantId);
        // Re-enabling must not bring old tokens back: a disabled user's sessions end for good.
        await this.d.endUserSessions.endAllSessions(tx, viewer.tenantId, [input.id]);
      }
      return row!;
    });
    if (input.disabled === true) await this.d.auth.announceEnded({ tenantId: viewer.tenantId, userIds: [input.id] });
    return updated;
  }

  async delete(viewer: Viewer, id: string): Promise<string> {
    const deleted = await this.d.db.transaction(async (tx) => {
      await this.d.groups.lockAdmins(tx, viewer.tenantId);
      const [before] = await this.d.users.byIds(viewer.tenantId, [id], tx);
      const [gone] = await this.d.userWrites.delete(viewer.tenantId, [id], tx);
      if (!gone || !before) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'id']);
      await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: 'user.delete',
        ...userTarget(before),
        changes: diff(fieldsOf(before), null, AUDITED_USER_FIELDS),
      });
      await this.d.groups.assertActiveAdminRemains(tx, viewer.tenantId);
      return gone;
    });
    // The user's sessions went with the row (foreign-key cascade); close their sockets everywhere.
    await this.d.auth.announceEnded({ tenantId: viewer.tenantId, userIds: [deleted] });
    return deleted;
  }

  /** After a bulk delete chunk committed: the deleted users' sockets close on every replica. */
  announceDeleted(tenantId: string, ids: readonly string[]): Promise<void> {
    return this.d.auth.announceEnded({ tenantId, userIds: ids });
  }

  /** Ends a sign-in lock and forgets the failed sign-ins of a user of the viewer's tenant. */
  async unlock(viewer: Viewer, id: string): Promise<UserRow> {
    const [user] = await this.d.users.byIds(viewer.tenantId, [id]);
    if (!user) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'id']);
    await this.d.db.transaction(async (tx) => {
      await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), { action: 'user.unlock', ...userTarget(user) });
    });
    if (user.email) await this.d.signInLimits.clear(loginSubject({ id: viewer.tenantId }, user.email));
    return user;
  }

  /** Invitation for a user not yet active, password reset for an active one. */
  async invite(
    viewer: Viewer,
    input: { userId: string; identityProviderId?: string | null },
  ): Promise<{ user: UserRow; invitationId: string }> {
    return this.d.db.transaction(async (tx) => {
      const user = await this.d.userWrites.lockOne(viewer.tenantId, input.userId, tx);
      if (!user) throw DomainError.of(ErrorCode.NOT_FOUND, 'No such user.', ['input', 'userId']);
      const [dir] = await this.d.directories.byIds(viewer.tenantId, [user.directoryId], tx);
      if (dir?.kind !== 'CLOUD') throw DomainError.of(ErrorCode.INVALID_STATE, 'Only Cloud Directory users can be invited.');
      const kind = user.status === 'ACTIVE' ? 'PASSWORD_RESET' : 'INVITATION';
      const r = (
        await this.d.invitations.issueMany(
          tx,
          viewer.tenantId,
          [{ userId: user.id, identityProviderId: input.identityProviderId, kind }],
          viewer.userId,
        )
      ).get(user.id)!;
      if (!r.ok) throw new DomainError([r.error]);
      const [fresh] = await this.d.users.byIds(viewer.tenantId, [user.id], tx);
      await this.d.audit.record(tx, viewer.tenantId, actorOf(viewer), {
        action: kind === 'INVITATION' ? 'user.invite' : 'user.password_reset_sent',
        ...userTarget(user),
        changes: diff(fieldsOf(user), fieldsOf(fresh), AUDITED_USER_FIELDS),
      });
      return { user: fresh!, invitationId: r.invitationId };
    });
  }
}
