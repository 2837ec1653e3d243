import swc from 'unplugin-swc';
import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// esbuild (vitest's default transpiler) drops decorator metadata, which type-graphql reads:
// swc keeps it.
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  // Node resolves `graphql` to its CommonJS build (type-graphql and Apollo load that one); vite
  // would pick the .mjs build for our sources, and graphql-js's instanceof checks (validate,
  // isObjectType) then fail across the two copies ("from another module or realm").
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/global-setup.ts'],
  },
});
