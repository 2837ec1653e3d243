import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnNode, waitUntil, type Spawned } from './process.js';

/**
 * The operator CLI and the server as real processes. On PostgreSQL runs each process gets
 * its own fresh database; otherwise a fresh PGlite data folder.
 */
export async function freshStorage(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'roster-proc-'));
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return { env: { DATA_DIR: dataDir }, cleanup: async () => {} };
  const { default: postgres } = await import('postgres');
  const name = `roster_p_${Math.random().toString(16).slice(2, 10)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: url.toString() },
    async cleanup() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export async function startServerProcess(env: Record<string, string>): Promise<{ p: Spawned; url: string }> {
  const p = spawnNode('dist/server/main.js', [], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env });
  const url = await waitUntil(() => /Roster GraphQL API: (http:\/\/\S+)/.exec(p.stdout())?.[1] ?? (p.child.exitCode !== null && 'exited'));
  if (url === 'exited') throw new Error(`server exited: ${p.stderr()}`);
  return { p, url: url.replace('localhost', '127.0.0.1') };
}
