// @ts-check
import tseslint from 'typescript-eslint';

const TABLES = { group: ['**/drizzle/schema', '**/drizzle/schema/*'], message: 'Tables are named only in stores (*.store.ts).' };
const SQL = [{ group: ['drizzle-orm', 'drizzle-orm/*'], message: 'SQL belongs in a store (*.store.ts); services compose stores.' }, TABLES];
const STORES = [
  { group: ['**/*.store.js', '**/stores.js'], message: 'Resolvers and routes call services, never stores.' },
  { group: ['**/shared/db.js'], message: 'Resolvers and routes never touch the database.' },
];
const ABOVE_SHARED = [
  {
    group: ['**/modules/*', '**/services.js', '**/stores.js', '**/context.js', '**/loaders.js', '**/schema.js', '**/app.js', '**/env.js'],
    message: 'server/shared is the ground floor: it imports nothing from the modules or the composition above it.',
  },
];

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
  // The layering, made mechanical: resolvers call services, services own rules and
  // transactions, stores own SQL; the ground floor (`server/shared`) imports nothing above it.
  {
    files: ['server/modules/**/*.ts'],
    ignores: ['server/modules/**/*.store.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...SQL] }] },
  },
  {
    files: [
      'server/modules/**/*.resolver.ts',
      'server/modules/**/*.routes.ts',
      'server/http/**/*.ts',
      'server/context.ts',
      'server/schema.ts',
    ],
    rules: { 'no-restricted-imports': ['error', { patterns: [...SQL, ...STORES] }] },
  },
  {
    files: ['server/shared/**/*.ts'],
    ignores: ['server/shared/db.ts', 'server/shared/jobs/queue.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...ABOVE_SHARED, TABLES] }] },
  },
  {
    // The database handle and the job queue are the ground floor's own SQL.
    files: ['server/shared/db.ts', 'server/shared/jobs/queue.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ABOVE_SHARED }] },
  },
  {
    // Tests poke at raw GraphQL responses.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
