// The sign-in anchor: the machine's raw argon2id verify rate, in its own process like Roster's
// (same node, same libuv thread pool size: UV_THREADPOOL_SIZE is inherited from the parent in
// both), with the server's own parameters (ARGON2_OPTIONS from the compiled server). On
// `{ type: 'verify', concurrency, seconds, warmupSeconds }` it keeps `concurrency` verifies in
// flight for `seconds` and answers with the count, the latencies' p50/p99 and the CPU it used.
import argon2 from 'argon2';
import { ARGON2_OPTIONS } from '../../../dist/server/shared/passwords.js';

const password = 'Bench!pass-word-1';
const hash = await argon2.hash(password, ARGON2_OPTIONS);

async function run(concurrency, seconds) {
  const latencies = [];
  const end = Date.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const s = performance.now();
        if (!(await argon2.verify(hash, password))) throw new Error('verify failed');
        latencies.push(performance.now() - s);
      }
    }),
  );
  const secs = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    verifies: latencies.length,
    rate: latencies.length / secs,
    p50: Math.round(pct(50)),
    p99: Math.round(pct(99)),
    cpuMsPerVerify: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length),
  };
}

process.on('message', (m) => {
  if (m?.type !== 'verify') return;
  (async () => {
    if (m.warmupSeconds) await run(m.concurrency, m.warmupSeconds);
    process.send({ type: 'verify', ...(await run(m.concurrency, m.seconds)) });
  })().catch((err) => {
    process.send({ type: 'verify', error: String(err) });
  });
});
process.on('SIGTERM', () => process.exit(0));
process.send({ type: 'ready', port: 0, threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' });
