#!/usr/bin/env node
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRosterClient, type RosterClient } from './client.js';
import { MFA_USAGE, runMfaCommand } from './cli-mfa.js';
import { RosterError, RosterGraphQLError, RosterSubscriptionError } from './errors.js';

/**
 * `roster`: the admin command line, built only on the typed client. Server URL and token come
 * from flags, then ROSTER_URL / ROSTER_TOKEN, then the config file written by `roster login`
 * (owner-only permissions).
 */
const USAGE = `roster — Roster admin command line

  roster login --tenant SLUG --email EMAIL [--url URL]   (password on stdin)
  roster logout
  roster users list [--search TEXT] [--status INVITED|ACTIVE|DISABLED] [--first N]
  roster users create --email E --first-name F --last-name L [--group NAME]... [--invite]
  roster users invite EMAIL|ID
  roster users delete EMAIL|ID
  roster users import FILE.csv [--validate-only] [--send-invites] [--create-missing-groups] [--on-existing FAIL|SKIP|UPDATE]
  roster groups list
  roster groups create NAME
  roster provisioning list
  roster provisioning preview|sync|approve NAME
  roster jobs show ID
${MFA_USAGE}

Common flags: --url URL, --token TOKEN, --json (machine-readable output).
Environment: ROSTER_URL, ROSTER_TOKEN, ROSTER_CONFIG (default ~/.config/roster/config.json).
Exit codes: 0 ok, 1 failed (errors or failed rows), 2 usage, 3 not signed in.`;

class UsageError extends Error {}

interface Config {
  url?: string;
  token?: string;
}

const configPath = () => process.env['ROSTER_CONFIG'] ?? path.join(homedir(), '.config', 'roster', 'config.json');

async function loadConfig(): Promise<Config> {
  try {
    return JSON.parse(await readFile(configPath(), 'utf8')) as Config;
  } catch {
    return {};
  }
}

async function saveConfig(c: Config): Promise<void> {
  const file = configPath();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(c, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function table(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** A progress bar on stderr (a line per update when stderr is not a terminal). */
function progressBar(label: string) {
  let last = '';
  return (done: number, total: number, extra = '') => {
    const pct = total ? Math.floor((100 * done) / total) : 0;
    const filled = Math.round(pct / 4);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(25 - filled)}] ${String(pct).padStart(3)}% ${done}/${total}${extra ? ` ${extra}` : ''}`;
    if (text === last) return;
    last = text;
    if (process.stderr.isTTY) process.stderr.write(`\r${text}`);
    else process.stderr.write(`${text}\n`);
  };
}

function fail(errors: { code: string; message: string }[]): never {
  throw new RosterGraphQLError(errors.map((e) => ({ message: e.message, extensions: { code: e.code } })));
}

async function findUserId(client: RosterClient, ref: string): Promise<string> {
  if (!ref.includes('@')) return ref;
  const { users } = await client.users({ filter: { search: ref }, first: 10 });
  const u = users.nodes.find((n) => n.email === ref.toLowerCase());
  if (!u) throw new RosterGraphQLError([{ message: `No user with email ${ref}.`, extensions: { code: 'NOT_FOUND' } }]);
  return u.id;
}

async function findProvisioning(client: RosterClient, name: string) {
  const { provisionings } = await client.provisionings();
  const p = provisionings.find((x) => x.name.toLowerCase() === name.toLowerCase() || x.id === name);
  if (!p) throw new RosterGraphQLError([{ message: `No provisioning named ${name}.`, extensions: { code: 'NOT_FOUND' } }]);
  return p;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      tenant: { type: 'string' },
      email: { type: 'string' },
      'first-name': { type: 'string' },
      'last-name': { type: 'string' },
      group: { type: 'string', multiple: true },
      invite: { type: 'boolean', default: false },
      search: { type: 'string' },
      status: { type: 'string' },
      first: { type: 'string' },
      'validate-only': { type: 'boolean', default: false },
      'send-invites': { type: 'boolean', default: false },
      'create-missing-groups': { type: 'boolean', default: false },
      'on-existing': { type: 'string' },
      count: { type: 'string' },
      'expires-in-minutes': { type: 'string' },
      code: { type: 'string' },
      'bypass-code': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [group, command, arg] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = await loadConfig();
  const url = values.url ?? process.env['ROSTER_URL'] ?? config.url ?? 'http://localhost:4000/graphql';
  const token = values.token ?? process.env['ROSTER_TOKEN'] ?? config.token;
  const out = (human: string, data: unknown) => process.stdout.write(values.json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);

  if (group === 'login') {
    if (!values.tenant || !values.email) throw new UsageError('login needs --tenant and --email (password on stdin).');
    const password = await readStdin();
    const anon = createRosterClient({ url });
    const { login } = await anon.login({ input: { tenant: values.tenant, email: values.email, password } });
    if (!login.token) fail(login.errors);
    await saveConfig({ url, token: login.token });
    out(`Signed in to ${values.tenant} as ${login.viewer?.user.email}; session saved to ${configPath()} (expires ${login.expiresAt}).`, {
      tenant: values.tenant,
      email: login.viewer?.user.email,
      expiresAt: login.expiresAt,
    });
    return 0;
  }
  if (group === 'logout') {
    if (token)
      await createRosterClient({ url, token })
        .logout()
        .catch(() => undefined);
    await saveConfig({ url });
    out('Signed out.', { ok: true });
    return 0;
  }
  if (!token) {
    process.stderr.write('Not signed in: run `roster login` or set ROSTER_TOKEN.\n');
    return 3;
  }
  const client = createRosterClient({ url, token, webSocketImpl: await import('ws').then((m) => m.default).catch(() => undefined) });
  try {
    if (group === 'mfa')
      return await runMfaCommand(client, command, arg, values, out).catch((err: unknown) => {
        throw err instanceof RosterError || !(err instanceof Error) ? err : new UsageError(err.message);
      });
    switch (`${group} ${command ?? ''}`.trim()) {
      case 'users list': {
        const { users } = await client.users({
          first: values.first ? Number(values.first) : 50,
          filter: { search: values.search, status: values.status as never },
        });
        out(
          `${table(users.nodes.map((u) => ({ email: u.email, name: `${u.firstName} ${u.lastName}`, status: u.status, groups: u.groups.map((g) => g.name).join(', '), id: u.id })))}\n${users.totalCount} user(s)`,
          users,
        );
        return 0;
      }
      case 'users create': {
        if (!values.email || !values['first-name'] || !values['last-name'])
          throw new UsageError('users create needs --email, --first-name and --last-name.');
        const names = (values.group ?? []).map((g) => g.toLowerCase());
        const { groups } = await client.groups({ first: 100 });
        const groupIds = groups.nodes.filter((g) => names.includes(g.name.toLowerCase())).map((g) => g.id);
        if (groupIds.length !== names.length)
          throw new RosterGraphQLError([{ message: 'Unknown group name.', extensions: { code: 'NOT_FOUND' } }]);
        const { createUser } = await client.createUser({
          input: {
            email: values.email,
            firstName: values['first-name'],
            lastName: values['last-name'],
            groupIds,
            sendInvite: values.invite,
          },
        });
        if (!createUser.user) fail(createUser.errors);
        out(`Created ${createUser.user.email} (${createUser.user.status}) ${createUser.user.id}`, createUser.user);
        return 0;
      }
      case 'users invite': {
        if (!arg) throw new UsageError('users invite needs an email or id.');
        const { inviteUser } = await client.inviteUser({ input: { userId: await findUserId(client, arg) } });
        if (!inviteUser.invitation) fail(inviteUser.errors);
        out(`Sent ${inviteUser.invitation.kind.toLowerCase().replace('_', ' ')}; expires ${inviteUser.invitation.expiresAt}.`, inviteUser);
        return 0;
      }
      case 'users delete': {
        if (!arg) throw new UsageError('users delete needs an email or id.');
        const { deleteUser } = await client.deleteUser({ input: { id: await findUserId(client, arg) } });
        if (!deleteUser.deletedUserId) fail(deleteUser.errors);
        out(`Deleted ${arg}.`, deleteUser);
        return 0;
      }
      case 'users import':
        return await importUsers(client, arg, values, out);
      case 'groups list': {
        const { groups } = await client.groups({ first: 100 });
        out(table(groups.nodes.map((g) => ({ name: g.name, members: g.memberCount, builtIn: g.builtIn ?? '', id: g.id }))), groups.nodes);
        return 0;
      }
      case 'groups create': {
        if (!arg) throw new UsageError('groups create needs a name.');
        const { createGroup } = await client.createGroup({ input: { name: arg } });
        if (!createGroup.group) fail(createGroup.errors);
        out(`Created group ${createGroup.group.name} ${createGroup.group.id}`, createGroup.group);
        return 0;
      }
      case 'provisioning list': {
        const { provisionings } = await client.provisionings();
        out(
          table(
            provisionings.map((p) => ({
              name: p.name,
              version: p.deployedVersion,
              owned: p.ownedUserCount,
              nextSync: p.nextSyncAt,
              lastRun: p.lastRun?.status ?? '',
            })),
          ),
          provisionings,
        );
        return 0;
      }
      case 'provisioning preview': {
        const p = await findProvisioning(client, arg ?? '');
        const { previewSync } = await client.previewSync({ id: p.id });
        out(
          table([
            { change: 'create', users: previewSync!.createCount },
            { change: 'update', users: previewSync!.updateCount },
            { change: 'claim', users: previewSync!.claimCount },
            { change: 'skip', users: previewSync!.skipCount },
            { change: 'remove', users: previewSync!.removeCount, devices: previewSync!.devicesRemovedCount },
          ]) + (previewSync!.requiresApproval ? '\nThe removal guard will stop this sync for approval.' : ''),
          previewSync,
        );
        return 0;
      }
      case 'provisioning sync':
      case 'provisioning approve': {
        const p = await findProvisioning(client, arg ?? '');
        let runId: string;
        if (command === 'sync') {
          const { syncProvisioning } = await client.syncProvisioning({ input: { id: p.id } });
          if (!syncProvisioning.syncRun) fail(syncProvisioning.errors);
          runId = syncProvisioning.syncRun.id;
        } else {
          if (p.lastRun?.status !== 'AWAITING_APPROVAL')
            throw new RosterGraphQLError([{ message: 'No run is awaiting approval.', extensions: { code: 'INVALID_STATE' } }]);
          const { approveSyncRun } = await client.approveSyncRun({ input: { runId: p.lastRun.id } });
          if (!approveSyncRun.syncRun) fail(approveSyncRun.errors);
          runId = approveSyncRun.syncRun.id;
        }
        const bar = progressBar(`sync ${p.name}`);
        let last: {
          status: string;
          phase: string;
          planned: number;
          created: number;
          updated: number;
          removed: number;
          claimed: number;
          skipped: number;
          failed: number;
          devicesRemoved: number;
          percent: number;
        } | null = null;
        for await (const e of client.syncRunProgress({ runId })) {
          last = e.syncRunProgress;
          if (!values.json) bar(Math.round(last.percent), 100, last.phase);
        }
        if (process.stderr.isTTY && !values.json) process.stderr.write('\n');
        const r = last!;
        out(
          `${table([{ status: r.status, created: r.created, updated: r.updated, removed: r.removed, claimed: r.claimed, skipped: r.skipped, failed: r.failed, devicesRemoved: r.devicesRemoved }])}` +
            (r.status === 'AWAITING_APPROVAL'
              ? `\nStopped by the removal guard: review with \`roster provisioning preview ${p.name}\`, then \`roster provisioning approve ${p.name}\`.`
              : ''),
          r,
        );
        return r.status === 'COMPLETED' && r.failed === 0 ? 0 : 1;
      }
      case 'jobs show': {
        if (!arg) throw new UsageError('jobs show needs an operation id.');
        const { bulkOperation } = await client.bulkOperation({ id: arg, first: 100 });
        if (!bulkOperation) throw new RosterGraphQLError([{ message: 'No such operation.', extensions: { code: 'NOT_FOUND' } }]);
        out(
          `${table([{ kind: bulkOperation.kind, status: bulkOperation.status, total: bulkOperation.total, succeeded: bulkOperation.succeeded, failed: bulkOperation.failed, skipped: bulkOperation.skipped }])}\n` +
            table(
              bulkOperation.results.nodes
                .filter((n) => n.outcome !== 'SUCCEEDED')
                .map((n) => ({ row: n.row, email: n.email, outcome: n.outcome, error: n.errorCode, message: n.message })),
            ),
          bulkOperation,
        );
        return 0;
      }
      default:
        throw new UsageError(`Unknown command: ${positionals.join(' ')}`);
    }
  } finally {
    await client.close();
  }
}

async function importUsers(
  client: RosterClient,
  file: string | undefined,
  values: {
    'validate-only'?: boolean;
    'send-invites'?: boolean;
    'create-missing-groups'?: boolean;
    'on-existing'?: string;
    json?: boolean;
  },
  out: (human: string, data: unknown) => void,
): Promise<number> {
  if (!file) throw new UsageError('users import needs a CSV file.');
  const uploadId = await client.uploadCsv({ path: file });
  const { bulkUploadUsers } = await client.bulkUploadUsers({
    input: {
      uploadId,
      validateOnly: values['validate-only'],
      sendInvites: values['send-invites'],
      createMissingGroups: values['create-missing-groups'],
      onExisting: values['on-existing'] as never,
    },
  });
  if (!bulkUploadUsers.bulkOperation) fail(bulkUploadUsers.errors);
  const id = bulkUploadUsers.bulkOperation.id;
  const bar = progressBar(`import ${path.basename(file)}`);
  for await (const e of client.bulkOperationProgress({ id })) {
    const p = e.bulkOperationProgress;
    if (!values.json) bar(p.processed, p.total, `ok ${p.succeeded} failed ${p.failed}`);
  }
  if (process.stderr.isTTY && !values.json) process.stderr.write('\n');
  const failures: { row: number; email: string | null; outcome: string; errorCode: string | null; message: string | null }[] = [];
  let after: string | null = null;
  let op: Awaited<ReturnType<RosterClient['bulkOperation']>>['bulkOperation'] = null;
  for (;;) {
    const page: Awaited<ReturnType<RosterClient['bulkOperation']>> = await client.bulkOperation({
      id,
      first: 100,
      after,
      outcome: 'FAILED',
    });
    op = page.bulkOperation;
    failures.push(...op!.results.nodes);
    if (!op!.results.pageInfo.hasNextPage || failures.length >= 1000) break;
    after = op!.results.pageInfo.endCursor ?? null;
  }
  const summary = {
    id,
    status: op!.status,
    total: op!.total,
    succeeded: op!.succeeded,
    failed: op!.failed,
    skipped: op!.skipped,
    validateOnly: op!.validateOnly,
  };
  out(
    `${table([summary])}` +
      (failures.length
        ? `\n\nFailed rows:\n${table(failures.map((f) => ({ row: f.row, email: f.email, error: f.errorCode, message: f.message })))}`
        : ''),
    { ...summary, failures },
  );
  return op!.status === 'COMPLETED' && op!.failed === 0 ? 0 : 1;
}

const isMain =
  process.argv[1] &&
  path.resolve(process.argv[1]).replace(/\.ts$/, '.js') === path.resolve(new URL(import.meta.url).pathname).replace(/\.ts$/, '.js');
if (isMain || process.argv[1]?.endsWith('/roster')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n\n${USAGE}\n`);
        process.exit(2);
      }
      if (err instanceof RosterError) {
        const code = err instanceof RosterGraphQLError || err instanceof RosterSubscriptionError ? err.code : 'TRANSPORT';
        process.stderr.write(`error ${code}: ${err.message}\n`);
        process.exit(code === 'UNAUTHENTICATED' ? 3 : 1);
      }
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
