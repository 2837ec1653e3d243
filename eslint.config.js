// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'client/dist/**', 'client/src/generated/**', 'drizzle/migrations/**', 'node_modules/**', '.data/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited authorization check or transaction is a security and consistency hole.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Layering: resolvers and HTTP routes reach services only (no SQL, no tables, no stores).
    files: ['server/modules/**/*.resolver.ts', 'server/modules/**/*.routes.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['drizzle-orm', 'drizzle-orm/*', '**/drizzle/schema/**', '**/*.store.js'], message: 'Resolvers and routes call services only.' }] },
      ],
    },
  },
  {
    // Services, rules, jobs and types of these modules name no table: SQL lives in their stores.
    files: ['server/modules/{bulk-operation,user,group}/**/*.ts'],
    ignores: ['server/modules/**/*.store.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['drizzle-orm', 'drizzle-orm/*', '**/drizzle/schema/**'], message: 'Only stores use drizzle and the tables.' }] },
      ],
    },
  },
  {
    // Tests poke at raw GraphQL responses.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
