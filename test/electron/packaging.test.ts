// Packaging files that only run on CI: electron-builder.yml is valid for the pinned
// electron-builder and says what a release needs; the CI workflow parses and covers three OSes;
// `npm start` falls back to browser mode in one line when Electron is not installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// Both come with electron-builder (pinned); neither ships types.
const yaml = require('js-yaml') as { load(text: string): unknown };
const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
  validateConfiguration(
    config: unknown,
    logger: { isEnabled: boolean; add(): void },
  ): Promise<void>;
};

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface BuilderConfig {
  appId: string;
  productName: string;
  directories: { output: string };
  files: string[];
  asarUnpack: string[];
  npmRebuild: boolean;
  protocols: { name: string; schemes: string[] }[];
  linux: { target: string[]; category: string; icon: string };
  mac: { target: string; hardenedRuntime: boolean; notarize: boolean; entitlements: string };
  win: { target: string };
}

describe('electron-builder.yml', () => {
  const config = yaml.load(read('electron-builder.yml')) as BuilderConfig;

  it("is valid against electron-builder's schema", async () => {
    await expect(
      validateConfiguration(config, { isEnabled: false, add() {} }),
    ).resolves.toBeUndefined();
  });

  it('describes the release', () => {
    expect(config.appId).toBe('org.conclave.app');
    expect(config.productName).toBe('Conclave');
    expect(config.directories.output).toBe('release');
    expect(config.files).toContain('dist/**');
    expect(config.protocols).toEqual([{ name: 'Conclave invite', schemes: ['conclave'] }]);
    expect(config.linux.target).toEqual(['AppImage', 'deb', 'rpm']);
    expect(config.linux.category).toBe('Utility');
    expect(config.mac).toMatchObject({ target: 'dmg', hardenedRuntime: true, notarize: true });
    expect(config.win.target).toBe('nsis');
    expect(config.npmRebuild).toBe(false);
    expect(config.asarUnpack).toContain('**/*.node');
  });

  it('points at files that exist: icons and entitlements', () => {
    for (const path of [
      config.linux.icon,
      config.mac.entitlements,
      'build/icon.svg',
      'build/tray.png',
    ]) {
      expect(existsSync(new URL(path, root)), path).toBe(true);
    }
    const png = readFileSync(new URL('build/icon.png', root));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([512, 512]);
  });
});

describe('.github/workflows/ci.yml', () => {
  it('parses and builds on Linux, macOS and Windows', () => {
    const ci = yaml.load(read('.github/workflows/ci.yml')) as {
      jobs: Record<
        string,
        {
          strategy: { matrix: { include: { os: string }[] } };
          steps: { run?: string; uses?: string }[];
        }
      >;
    };
    const job = Object.values(ci.jobs)[0]!;
    expect(job.strategy.matrix.include.map((m) => m.os)).toEqual([
      'ubuntu-latest',
      'macos-latest',
      'windows-latest',
    ]);
    const runs = job.steps.map((s) => s.run ?? s.uses ?? '').join('\n');
    expect(runs).toContain('npm run dist');
    expect(runs).toContain('node node_modules/electron/install.js');
    expect(runs).toMatch(/actions\/upload-artifact@v\d/);
  });
});

describe('npm start', () => {
  it('says in one line that Electron is missing, then runs browser mode', () => {
    const r = spawnSync(process.execPath, ['scripts/start.mjs', '--help'], {
      cwd: root,
      encoding: 'utf8',
      // Wherever Electron is installed, pretend it is not.
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent' },
      timeout: 30_000,
    });
    expect(r.stdout.split('\n')[0]).toBe(
      'The Electron desktop shell is not installed here; starting browser mode instead.',
    );
    // `conclave start --ui --help` answered: browser mode was started through the CLI.
    expect(`${r.stdout}${r.stderr}`).toMatch(/conclave/);
  });
});
