// Custodian node entry points used by the CLI and (later) Electron main. STUB: being written.
import type { Api } from '../../shared/api/index.js';

export interface InitOptions {
  /** The node's home directory (SQLite database, control socket). Created if missing. */
  home: string;
  name: string;
  vault: 'keychain' | 'file';
  /** Required for the file vault. */
  passphrase?: string;
}

export interface InitResult {
  peerId: string;
  name: string;
  fingerprint: string;
  vault: 'keychain' | 'file';
  home: string;
}

export interface StartOptions {
  home: string;
  /** Multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/0. */
  listen: string[];
  /** Relay multiaddrs (ending in /p2p/<relayPeerId>) to reserve a slot on. */
  relays: string[];
  mdns: boolean;
  passphrase?: string;
  /** One log line (no secrets); the CLI writes them to stderr. */
  log: (line: string) => void;
}

export interface RunningNode {
  readonly api: Api;
  readonly peerId: string;
  addrs(): string[];
  stop(): Promise<void>;
}

export async function initIdentity(_opts: InitOptions): Promise<InitResult> {
  throw new Error('not implemented yet');
}

export async function startCustodian(_opts: StartOptions): Promise<RunningNode> {
  throw new Error('not implemented yet');
}

export async function runRelay(_opts: {
  listen: string[];
  log: (line: string) => void;
}): Promise<{ addrs: string[]; stop(): Promise<void> }> {
  throw new Error('not implemented yet');
}
