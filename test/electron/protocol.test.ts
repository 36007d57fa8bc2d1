// app://conclave/ serves dist/renderer and nothing outside it, always with the CSP.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appProtocolHandler, resolveAppPath } from '../../main/electron/protocol.js';
import { CSP } from '../../main/electron/window.js';

let dir: string;
let root: string;
let handler: (r: Request) => Promise<Response>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'conclave-app-'));
  root = join(dir, 'renderer');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Conclave</title>');
  writeFileSync(join(root, 'assets', 'index.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'outside the root');
  handler = appProtocolHandler(root);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('app:// protocol', () => {
  it('serves index.html and assets with the CSP and their types', async () => {
    for (const [url, type] of [
      ['app://conclave/', 'text/html; charset=utf-8'],
      ['app://conclave/index.html', 'text/html; charset=utf-8'],
      ['app://conclave/assets/index.js', 'text/javascript; charset=utf-8'],
    ] as const) {
      const res = await handler(new Request(url));
      expect(res.status, url).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-security-policy')).toBe(CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await handler(new Request('app://conclave/'))).text()).toContain('<title>');
  });

  it('serves nothing outside the renderer directory', async () => {
    for (const url of [
      'app://conclave/../secret.txt',
      'app://conclave/%2e%2e/secret.txt',
      'app://conclave/..%2fsecret.txt',
      'app://conclave/assets/..%2f..%2fsecret.txt',
      'app://conclave/%2e%2e%5csecret.txt',
      'app://conclave/index.html%00.js',
      'app://conclave/%E0%A4%A',
      'app://other/index.html',
      'file:///etc/passwd',
      'app://conclave/missing.js',
    ]) {
      const res = await handler(new Request(url));
      expect(res.status, url).toBe(404);
      expect(await res.text()).not.toContain('outside the root');
    }
  });

  it('answers only GET and HEAD', async () => {
    const res = await handler(
      new Request('app://conclave/index.html', { method: 'POST', body: 'x' }),
    );
    expect(res.status).toBe(404);
  });

  it('resolves paths inside the root only', () => {
    expect(resolveAppPath(root, 'app://conclave/assets/index.js')).toBe(
      join(root, 'assets', 'index.js'),
    );
    expect(resolveAppPath(root, 'app://conclave/..%2fsecret.txt')).toBeUndefined();
    // The URL parser folds an encoded dot segment itself: this one stays inside the root.
    expect(resolveAppPath(root, 'app://conclave/%2e%2e/secret.txt')).toBe(join(root, 'secret.txt'));
    expect(resolveAppPath(root, 'not a url')).toBeUndefined();
  });
});
