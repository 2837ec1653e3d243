import type { RosterClient } from './client.js';
import { RosterGraphQLError } from './errors.js';

/** Flags the `roster mfa …` commands read. */
export interface MfaFlags {
  search?: string;
  status?: string;
  count?: string;
  'expires-in-minutes'?: string;
  code?: string;
  'bypass-code'?: string;
}

export const MFA_USAGE = `  roster mfa users [--search TEXT] [--status UNENROLLED|ACTIVE|DEVICES_DISABLED|PROVISIONING_DISABLED]
  roster mfa disable|enable|remove DEVICE_ID
  roster mfa reset USER                      (USER: MFA user id or username; removes every device, emails a new link)
  roster mfa bypass-codes USER [--count N] [--expires-in-minutes M]
  roster mfa unlock USER
  roster mfa verify USER --code 123456 | --bypass-code 12345-67890`;

type Out = (human: string, data: unknown) => void;
type Errors = { code: string; message: string }[];

function check(errors: Errors): void {
  if (errors.length) throw new RosterGraphQLError(errors.map((e) => ({ message: e.message, extensions: { code: e.code } })));
}

async function mfaUserId(client: RosterClient, ref: string): Promise<string> {
  const { mfaUsers } = await client.mfaUsers({ first: 100, filter: { search: ref } });
  const u = mfaUsers.nodes.find((n) => n.id === ref || n.username.toLowerCase() === ref.toLowerCase());
  if (u) return u.id;
  // Not a username prefix: it may be a global id.
  const { node } = await client.node({ id: ref }).catch(() => ({ node: null }));
  if (node?.__typename === 'MfaUser') return node.id;
  throw new RosterGraphQLError([{ message: `No MFA user ${ref}.`, extensions: { code: 'NOT_FOUND' } }]);
}

/** `roster mfa <command> [arg]`: the administrator's MFA help-desk operations, through the API. */
export async function runMfaCommand(client: RosterClient, command: string | undefined, arg: string | undefined, flags: MfaFlags, out: Out) {
  const needArg = (what: string) => {
    if (!arg) throw new Error(`mfa ${command} needs ${what}.`);
    return arg;
  };
  switch (command) {
    case 'users': {
      const { mfaUsers } = await client.mfaUsers({ first: 100, filter: { search: flags.search, status: flags.status as never } });
      out(
        mfaUsers.nodes
          .map((u) => `${u.id}  ${u.username}  ${u.status}  ${u.devices.map((d) => `${d.name}(${d.kind},${d.status},${d.id})`).join(' ')}`)
          .join('\n') || '(none)',
        mfaUsers,
      );
      return 0;
    }
    case 'disable':
    case 'enable':
    case 'remove': {
      const input = { deviceId: needArg('a device id') };
      const r =
        command === 'disable'
          ? (await client.disableMfaDevice({ input })).disableMfaDevice
          : command === 'enable'
            ? (await client.enableMfaDevice({ input })).enableMfaDevice
            : (await client.removeMfaDevice({ input })).removeMfaDevice;
      check(r.errors);
      out(`${r.mfaUser!.username} is now ${r.mfaUser!.status}.`, r.mfaUser);
      return 0;
    }
    case 'reset': {
      const r = (await client.resetMfaFactors({ input: { mfaUserId: await mfaUserId(client, needArg('a user')) } })).resetMfaFactors;
      check(r.errors);
      out(
        `Removed ${r.devicesRemoved} device(s) of ${r.mfaUser!.username}; ${r.enrollmentEmailSent ? 'a new enrolment link was emailed' : 'no email address: no link sent'}.`,
        r,
      );
      return 0;
    }
    case 'bypass-codes': {
      const r = (
        await client.createMfaBypassCodes({
          input: {
            mfaUserId: await mfaUserId(client, needArg('a user')),
            count: flags.count ? Number(flags.count) : undefined,
            expiresInMinutes: flags['expires-in-minutes'] ? Number(flags['expires-in-minutes']) : undefined,
          },
        })
      ).createMfaBypassCodes;
      check(r.errors);
      out(`One-time codes (shown only now; valid until ${r.expiresAt}):\n${r.codes!.join('\n')}`, r);
      return 0;
    }
    case 'unlock': {
      const r = (await client.unlockMfaUser({ input: { mfaUserId: await mfaUserId(client, needArg('a user')) } })).unlockMfaUser;
      check(r.errors);
      out(`${r.mfaUser!.username} may verify again.`, r.mfaUser);
      return 0;
    }
    case 'verify': {
      const r = (await client.verifyMfa({ input: { user: needArg('a user'), code: flags.code, bypassCode: flags['bypass-code'] } }))
        .verifyMfa;
      check(r.errors);
      out(`${r.result}${r.retryAfter ? ` (retry after ${r.retryAfter} s)` : ''}`, r);
      return r.result === 'VERIFIED' ? 0 : 1;
    }
    default:
      throw new Error(`Unknown mfa command: ${command ?? '(none)'}`);
  }
}
