// Test projects: `unit` (pure logic and loopback networking), `keychain` (needs a Secret Service,
// which scripts/test.sh provides), `ui` (renderer state and components under jsdom) and `e2e`
// (the built renderer in Debian's Chromium, driven by playwright-core). Run everything with
// `npm test`, one project with `--project`.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { configDefaults, defineConfig } from 'vitest/config';

const svelteConfig = fileURLToPath(new URL('./renderer/svelte.config.js', import.meta.url));

export default defineConfig({
  test: {
    pool: 'forks',
    // Two files at a time on a 2-core machine: most of an integration file's time is spent
    // waiting on its node processes and the network, not on its own CPU.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
    // Empties test-results/reliability/ first; prints what the reliability tests tried at the end.
    globalSetup: ['test/reliability-summary.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          exclude: [
            ...configDefaults.exclude,
            'test/keychain/**',
            'test/e2e/**',
            'test/ui/**',
            'test/integration/**',
          ],
        },
      },
      {
        extends: true,
        test: {
          // Several real node processes per file (each with its own home, keychain service and
          // loopback ports): two files at a time.
          name: 'integration',
          environment: 'node',
          include: ['test/integration/**/*.test.ts'],
          maxWorkers: 2,
          testTimeout: 240_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'keychain',
          environment: 'node',
          include: ['test/keychain/**/*.test.ts'],
          // One Secret Service per run: keep keychain files from racing each other.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        plugins: [svelte({ configFile: svelteConfig }), svelteTesting()],
        test: {
          name: 'ui',
          environment: 'jsdom',
          include: ['test/ui/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          // One Chromium at a time on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
