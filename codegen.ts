import type { CodegenConfig } from '@graphql-codegen/cli';

// The client is generated from the committed contract only, never from a running server, so
// the client and the SDL change together in one commit.
// CODEGEN_OUT lets the drift check generate into a temporary folder and compare.
const out = process.env.CODEGEN_OUT ?? 'client/src/generated/';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['client/src/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    [out]: {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        gqlTagName: 'graphql',
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' },
      },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string' },
        skipTypename: false,
      },
    },
  },
  hooks: {},
};

export default config;
