// Browser mode for `conclave start --ui`: serves the UI for a running node, or, on first run, a
// UI whose only working operation is creating the identity, or, for a file vault started without
// its passphrase, one whose only working operation is unlocking it; then the node starts.
import { ApiError, type Api, type ApiEvent, type ApiMethod } from '../../shared/api/index.js';
import { API_METHODS } from '../../shared/api/schema.js';
import type { InitOptions, InitResult, RunningNode, StartOptions } from '../node/index.js';
import { wrongPassphraseDelayMs } from '../vault/index.js';
import { serveControl } from './control.js';
import { startBrowserMode, type BrowserServer } from './http.js';
import { openInBrowser } from './open-browser.js';

export interface BrowserModeOptions {
  home: string;
  port?: number;
  staticDir?: string;
  start: Omit<StartOptions, 'home' | 'passphrase'> & { passphrase?: string };
  /** Start the "Try it alone" sandbox as soon as the node runs. */
  sandbox?: boolean;
  entry: {
    isInitialized(home: string): boolean;
    /** Where the home's identity keeps its secrets (file: the UI may ask for the passphrase). */
    vaultKind?(home: string): 'keychain' | 'file' | undefined;
    initIdentity(o: InitOptions): Promise<InitResult>;
    startCustodian(o: StartOptions): Promise<RunningNode>;
  };
  log: (line: string) => void;
}

export interface BrowserMode {
  url: string;
  server: BrowserServer;
  /** The node, once it runs (immediately when the home already had an identity). */
  node(): RunningNode | undefined;
  /**
   * Best effort: opens the UI in the desktop's browser through a private file holding a one-time
   * link, so no command line carries the token. False when there is no desktop.
   */
  openInBrowser(): Promise<boolean>;
  close(): Promise<void>;
}

const FIRST_RUN = 'first run: create your identity first (your name, and where your share is kept)';
const LOCKED = 'locked: enter the passphrase of your file vault to start your node';

/** Runs browser mode; on a home without an identity, the first-run screen creates it. */
export async function runBrowserMode(opts: BrowserModeOptions): Promise<BrowserMode> {
  let node: RunningNode | undefined;
  let control: { close(): Promise<void> } | undefined;
  const listeners = new Set<(e: ApiEvent) => void>();
  let unsubscribe: (() => void) | undefined;

  const attach = async (n: RunningNode) => {
    node = n;
    unsubscribe = n.onEvent((e) => {
      for (const l of listeners) l(e);
    });
    control = await serveControl(opts.home, n.api);
    opts.log(`ready: ${n.peerId}`);
    if (opts.sandbox) await n.api['sandbox.start']({});
  };

  const startNode = async (passphrase?: string) =>
    attach(
      await opts.entry.startCustodian({
        ...opts.start,
        home: opts.home,
        passphrase: passphrase ?? opts.start.passphrase,
      }),
    );

  // A file vault started without its passphrase: the UI asks for it (never argv, logs or files).
  const locked =
    opts.start.passphrase === undefined &&
    opts.entry.isInitialized(opts.home) &&
    opts.entry.vaultKind?.(opts.home) === 'file';
  let unlocking = false;
  let failures = 0;
  const unlock = async (passphrase: string) => {
    // One attempt at a time, each wrong one answered later than the last: guessing stays slow.
    if (unlocking)
      throw new ApiError('conflict', 'an unlock attempt is already running; wait for it');
    unlocking = true;
    try {
      if (node) throw new ApiError('conflict', 'the vault is already unlocked');
      try {
        await startNode(passphrase);
      } catch (e) {
        failures += 1;
        await new Promise((r) => setTimeout(r, wrongPassphraseDelayMs(failures)));
        throw e;
      }
      failures = 0;
      opts.log('vault unlocked');
      return node!.api['node.status']({});
    } finally {
      unlocking = false;
    }
  };

  // One API object whose methods go to the node once it runs; before that, only identity.init works
  // (first run), or only vault.unlock (a locked file vault).
  const api = {} as Api;
  for (const method of API_METHODS) {
    (api as Record<ApiMethod, (input: unknown) => Promise<unknown>>)[method] = async (
      input: unknown,
    ) => {
      if (node) return (node.api[method] as (i: unknown) => Promise<unknown>)(input);
      if (locked) {
        if (method !== 'vault.unlock') throw new ApiError('locked', LOCKED);
        return unlock((input as { passphrase: string }).passphrase);
      }
      if (method !== 'identity.init') throw new ApiError('not_ready', FIRST_RUN);
      const i = input as { name: string; vault: 'keychain' | 'file'; passphrase?: string };
      await opts.entry.initIdentity({
        home: opts.home,
        name: i.name,
        vault: i.vault,
        passphrase: i.passphrase,
      });
      await startNode(i.passphrase);
      return node!.api['node.status']({});
    };
  }

  if (locked) opts.log('the file vault is locked: the browser asks for its passphrase');
  else if (opts.entry.isInitialized(opts.home)) await startNode();
  else opts.log('no identity yet: the first-run screen creates it');
  const server = await startBrowserMode(
    {
      api,
      onEvent: (cb) => {
        listeners.add(cb);
        return () => listeners.delete(cb);
      },
    },
    { port: opts.port, staticDir: opts.staticDir },
  );
  return {
    url: server.url,
    server,
    node: () => node,
    openInBrowser: () => openInBrowser((onDone) => server.oneTimeUrl(onDone)),
    async close() {
      await server.close();
      unsubscribe?.();
      await control?.close();
      await node?.stop();
    },
  };
}
