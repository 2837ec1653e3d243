import swc from 'unplugin-swc';
import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Benchmarks are vitest files that print figures; they never assert times. One at a time, so
// they do not compete for the machine's cores.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // Node resolves `graphql` to its CommonJS build (type-graphql and Apollo load that one); vite
  // would pick the .mjs build for our sources, and graphql-js's instanceof checks (validate,
  // isObjectType) then fail across the two copies ("from another module or realm").
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
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
