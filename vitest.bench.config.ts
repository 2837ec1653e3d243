import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Benchmarks are vitest files that print figures; they never assert times. One at a time, so
// they do not compete for the machine's cores.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    include: ['test/bench/**/*.bench.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60 * 60_000,
    hookTimeout: 10 * 60_000,
    setupFiles: ['test/support/setup.ts'],
    silent: false,
  },
});
