import type { CodegenConfig } from '@graphql-codegen/cli';

// The client is generated from the committed contract only, never from a running server, so
// the client and the SDL change together in one commit.
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['client/src/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'client/src/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false, gqlTagName: 'graphql' },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string' },
        documentMode: 'documentNode',
        skipTypename: false,
      },
    },
  },
  hooks: {},
};

export default config;
