// Test projects: `unit` (pure logic and loopback networking) and `keychain` (needs a Secret Service,
// which scripts/test.sh provides). Run everything with `npm test`, one project with `--project`.
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/keychain/**', 'test/e2e/**', 'test/integration/**'],
        },
      },
      {
        extends: true,
        test: {
          // Several real node processes per file, using the OS keychain: one file at a time.
          name: 'integration',
          environment: 'node',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
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
      // Later: a `ui` project with environment 'jsdom' and the Svelte plugin for renderer/**
      // (@testing-library/svelte), and an `e2e` project for test/e2e/** (playwright-core +
      // /usr/bin/chromium driving browser mode).
    ],
  },
});
