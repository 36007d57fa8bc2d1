// ESLint flat config: ESLint's and typescript-eslint's recommended rules (not type-aware, to stay
// fast; `npm run typecheck` does the type work) plus the import boundaries between layers.
import { defineConfig, globalIgnores } from 'eslint/config';
import { builtinRules } from 'eslint/use-at-your-own-risk';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';
import svelteConfig from './renderer/svelte.config.js';

// ESLint's own "recommended" set without adding @eslint/js as a dependency: the same list, read
// from the rules' metadata.
const eslintRecommended = Object.fromEntries(
  [...builtinRules]
    .filter(([, rule]) => rule.meta?.docs?.recommended)
    .map(([name]) => [name, 'error']),
);

// Bare builtin names go in `paths` (exact match): as `patterns` (gitignore syntax) 'crypto' would
// also match '../crypto/suite.js'.
const nodeBuiltins = ['fs', 'fs/promises', 'path', 'os', 'crypto', 'child_process', 'net', 'http'];
const noNode = (message) => nodeBuiltins.map((name) => ({ name, message }));

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', 'test-results/', '.tmp/']),
  { rules: eslintRecommended },
  tseslint.configs.recommended,
  svelte.configs.recommended,
  {
    // Components: TypeScript in <script lang="ts">; svelte-check does the type and undefined-name work.
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig },
    },
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The tsconfig of each layer removes the globals it must not use; these rules catch the imports
  // a type check cannot (another layer's files, packages that do I/O).
  {
    files: ['shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: noNode('shared/ is pure TypeScript: no Node, Electron or network code.'),
          patterns: [
            {
              group: ['node:*', 'electron', 'libp2p', '@libp2p/*', '@chainsafe/*'],
              message: 'shared/ is pure TypeScript: no Node, Electron or network code.',
            },
            { group: ['@napi-rs/keyring', 'libsql'], message: 'shared/ does no I/O.' },
            {
              group: ['**/main/**', '**/renderer/**'],
              message: 'shared/ must not import main/ or renderer/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['renderer/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: noNode('The renderer is sandboxed.'),
          patterns: [
            { group: ['node:*', 'electron'], message: 'The renderer is sandboxed.' },
            {
              // shared/requests is pure (the request kinds' cards and words), so it may be shown too.
              group: [
                '**/shared/**',
                '!**/shared/api',
                '!**/shared/api/**',
                '!**/shared/requests',
                '!**/shared/requests/**',
                '**/main/**',
              ],
              message:
                'The renderer talks to the node through shared/api (and shared/requests) only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['main/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/renderer/**'], message: 'main/ must not import the UI.' }] },
      ],
    },
  },
);
