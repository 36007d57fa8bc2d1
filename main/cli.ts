// The `conclave` command: runs a custodian node (`start`) and talks to it over the control socket.
import './polyfill.js';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isEntryPoint } from './entry-point.js';
import { parseArgs } from 'node:util';
import {
  ApiError,
  type ApiInput,
  type ApiMethod,
  type ApiOutput,
  type AuditEntryView,
  type GroupView,
  type RequestCard,
  type RequestView,
} from '../shared/api/index.js';
import { LIMITS, SCHEMES, validateInput, validateName } from '../shared/api/schema.js';
import { callControl, isControlLive, serveControl } from './server/control.js';
import { deriveEarly } from './vault/file.js';
import { PSBT_SIGN_OPTIONS, psbtCommands, requestSignPsbt } from './cli-uses/psbt.js';
import { sshCommands } from './cli-uses/ssh.js';
import { nostrCommands, nostrEventOption, requestSignNostr } from './cli-uses/nostr.js';
import { ageCommands } from './cli-uses/age.js';
import { caCommands } from './cli-uses/x509.js';
import type * as NodeEntryPoints from './node/index.js';

/** Exit codes. `request wait` also exits FAILED (denied, expired, failed) or PENDING. */
export const EXIT = { OK: 0, FAILED: 1, PENDING: 2, USAGE: 64 } as const;

export interface CliIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  /** The node's entry points; loaded from ./node when absent (tests pass fakes). */
  node?: Pick<typeof NodeEntryPoints, 'initIdentity' | 'startCustodian' | 'runRelay'> &
    Partial<Pick<typeof NodeEntryPoints, 'isInitialized'>>;
  /** Stops `start` and `relay` when aborted; absent: SIGINT or SIGTERM does. */
  shutdown?: AbortSignal;
  /**
   * Asks the custodian `question` at the terminal and returns the line typed, or undefined when
   * there is no terminal to ask at. Absent: the process's own terminal (stdin when it is a TTY).
   */
  ask?: (question: string) => Promise<string | undefined>;
}

/** CliIO.ask on the process's terminal: the question on stderr, so stdout stays the result. */
async function askTerminal(question: string): Promise<string | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** How long stopping the node may take before `start` gives up on it. */
const STOP_DEADLINE_MS = 15_000;

/** Misuse: one line naming what to do, exit code 64. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command = '',
  ) {
    super(message);
  }
}

export type OptionSpec = {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help, e.g. NAME. */
  value?: string;
  help: string;
};

export interface Command {
  name: string;
  /** What follows the name in the usage line. */
  usage: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments, all required. */
  args?: string[];
  /** Options that must be given. */
  required?: string[];
  /** API input field -> what the user typed it as, so schema errors name the flag. */
  fields?: Record<string, string>;
  run(ctx: Context): Promise<number>;
}

export interface Context {
  io: CliIO;
  home: string;
  json: boolean;
  command: Command;
  values: Record<string, string | boolean | string[] | undefined>;
  args: string[];
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  home: {
    type: 'string',
    value: 'DIR',
    help: "the node's home dir (default: $CONCLAVE_HOME, else ~/.conclave)",
  },
  json: {
    type: 'boolean',
    help: 'print exactly one JSON document on stdout; errors as {"error":{"code","message"}}',
  },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

// ---------------------------------------------------------------------------------------------
// Output

// Everything shown to a human that came from the network passes through here: control characters
// could drive the terminal, and bidi overrides could make text read differently than it is.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEP_LINES =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line of text safe to print. */
export function clean(s: string | undefined): string {
  return (s ?? '').replace(UNSAFE, escape);
}

export function writeLines(stream: CliIO['stdout'], lines: string[]): void {
  if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
}

export function printJSON(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `value` as JSON with --json, else the human lines. */
export function output(ctx: Context, value: unknown, human: () => string[]): void {
  if (ctx.json) printJSON(ctx.io, value);
  else writeLines(ctx.io.stdout, human());
}

export function table(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    (
      indent +
      row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')
    ).trimEnd(),
  );
}

const field = (label: string, value: string) => {
  const l = `${label}:`;
  // A long label still leaves a space before its value.
  return `${l.padEnd(Math.max(13, l.length + 1))}${value}`;
};

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function groupSummary(g: GroupView): string {
  return `${g.threshold}-of-${g.size} ${g.scheme}`;
}

function groupLines(g: GroupView): string[] {
  const lines = [
    field('group', `${clean(g.name)} (${clean(g.id)})`),
    field('policy', groupSummary(g)),
    field(
      'status',
      g.status + (g.status === 'forming' ? ` (${g.members.length} of ${g.size} joined)` : ''),
    ),
  ];
  if (g.publicKey) lines.push(field('public key', clean(g.publicKey)));
  if (g.internalKey) lines.push(field('internal key', clean(g.internalKey)));
  if (g.safetyCode) lines.push(field('safety code', clean(g.safetyCode)));
  if (g.error) lines.push(field('error', clean(g.error)));
  lines.push('members:');
  lines.push(
    ...table(
      g.members.map((m) => [
        `${m.index}. ${clean(m.name)}${m.me ? ' (you)' : ''}`,
        clean(m.fingerprint),
        m.online || m.me ? 'online' : 'offline',
        m.confirmed ? 'confirmed' : 'not confirmed',
        clean(m.peerId),
      ]),
      '  ',
    ),
  );
  return lines;
}

function preview(r: RequestView, max = 40): string {
  // A ceremony's parameters are JSON nobody should read in a list: its card's title says it.
  if (r.kind !== 'sign' && r.card !== undefined) {
    const text = clean(r.card.invalid !== undefined ? r.card.summary : r.card.title);
    return text.length > 2 * max ? `${text.slice(0, 2 * max)}…` : text;
  }
  if (r.messageText !== undefined) {
    const text = clean(r.messageText);
    return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  }
  const bytes = r.message.length / 2;
  return `${bytes} bytes ${clean(r.message.slice(0, 16))}${r.message.length > 16 ? '…' : ''}`;
}

function decisionLine(d: RequestView['approvals'][number]): string {
  return `${clean(d.name)} ${clean(d.at)}${d.reason ? `: ${clean(d.reason)}` : ''}`;
}

/** A request's card (shared/requests): what it does, its fields, and what to watch out for. */
export function cardLines(card: RequestCard): string[] {
  if (card.invalid !== undefined)
    return [
      field('unreadable', clean(card.summary)),
      field('warning', 'do not approve a request you cannot read'),
    ];
  // A use of the key (ssh, age, x509, psbt, nostr) says what it asks; a ceremony what it changes.
  const use = ['ssh', 'age', 'x509', 'psbt', 'nostr'].includes(card.kind);
  const lines = [field(use ? 'asks' : 'ceremony', clean(card.summary))];
  let label = '';
  for (const f of card.fields) {
    // Fields without a label continue the one above (a policy's rules, one per line); a value of
    // several lines (a commit, a certificate's names) continues on lines of its own.
    if (f.label) label = f.label.toLowerCase();
    const [first, ...more] = f.value.replace(UNSAFE_KEEP_LINES, escape).split('\n');
    lines.push(field(f.label ? label : '', first ?? ''));
    for (const m of more) lines.push(field('', `  ${m}`));
  }
  for (const w of card.warnings ?? []) lines.push(field('warning', clean(w)));
  return lines;
}

export function requestLines(r: RequestView): string[] {
  const lines = [
    field('request', clean(r.id)),
    field('group', `${clean(r.groupName)} (${clean(r.group)})`),
    field('kind', r.kind),
    field('status', r.status),
  ];
  // A person approves what is shown here: the whole message, never only its hash. A ceremony is
  // shown as the card its node decoded through the request-kind registry, when there is one.
  const card = r.kind === 'sign' ? undefined : r.card;
  if (card !== undefined) {
    lines.push(...cardLines(card));
  } else if (r.description !== undefined) {
    lines.push(field('ceremony', clean(r.description)));
  } else if (r.messageText !== undefined) {
    const text = r.messageText.replace(UNSAFE_KEEP_LINES, escape);
    if (text.includes('\n')) lines.push('message:', ...text.split('\n').map((l) => `  | ${l}`));
    else lines.push(field('message', text));
  } else {
    lines.push(field('message hex', clean(r.message)));
  }
  // A signing request's card adds only warnings (binary data): its message is printed above.
  if (r.kind === 'sign')
    for (const w of r.card?.warnings ?? []) lines.push(field('warning', clean(w)));
  lines.push(field('sha256', clean(r.messageSha256)));
  lines.push(field('created', `${clean(r.createdAt)} by ${clean(r.createdBy.name)}`));
  lines.push(field('expires', clean(r.expiresAt)));
  lines.push(field('approvals', r.approvals.length === 0 ? 'none' : decisionLine(r.approvals[0]!)));
  for (const d of r.approvals.slice(1)) lines.push(field('', decisionLine(d)));
  if (r.denials.length > 0) {
    lines.push(field('denials', decisionLine(r.denials[0]!)));
    for (const d of r.denials.slice(1)) lines.push(field('', decisionLine(d)));
  }
  if (r.signature) lines.push(field('signature', clean(r.signature)));
  if (r.failure) lines.push(field('failure', clean(r.failure)));
  if (r.culprits.length > 0) lines.push(field('culprits', r.culprits.map(clean).join(', ')));
  return lines;
}

function requestRow(r: RequestView): string[] {
  return [
    clean(r.id),
    clean(r.groupName),
    r.status,
    plural(r.approvals.length, 'approval'),
    preview(r),
  ];
}

function auditRow(e: AuditEntryView): string[] {
  const who = e.authorName ? clean(e.authorName) : `${clean(e.author.slice(0, 12))}…`;
  return [clean(e.at), `${who}#${e.seq}`, clean(e.type), clean(e.summary)];
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

export function str(ctx: Context, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(ctx: Context, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v : [];
}

/** A number flag's allowed range; `words` says it to the person ("from 2 to the group size"). */
interface IntRange {
  min: number;
  max?: number;
  words: string;
}

export function int(ctx: Context, name: string, range?: IntRange): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  const whole = /^\d{1,15}$/.test(v);
  if (!whole || (range && (n < range.min || (range.max !== undefined && n > range.max)))) {
    // A number is shown as typed (-2, 2.5); anything else quoted, so spaces and the like show.
    const shown = /^-?\d+(\.\d+)?$/.test(v) ? v : JSON.stringify(v);
    throw new UsageError(
      `--${name}: must be a whole number${range ? ` ${range.words}` : ''}, got ${shown}`,
      ctx.command.name,
    );
  }
  return n;
}

const SIZE_RANGE: IntRange = {
  min: LIMITS.minSize,
  max: LIMITS.maxSize,
  words: `from ${LIMITS.minSize} to ${LIMITS.maxSize}`,
};

/** --threshold: from 2 to the group size (when known here; the node checks it otherwise). */
function thresholdRange(size?: number): IntRange {
  return {
    min: LIMITS.minSize,
    max: size ?? LIMITS.maxSize,
    words: `from ${LIMITS.minSize} to the group size${size !== undefined ? ` (${size})` : ''}`,
  };
}

/** The file vault's passphrase: from --passphrase-file or $CONCLAVE_PASSPHRASE, never an argument. */
async function passphrase(ctx: Context): Promise<string | undefined> {
  const file = str(ctx, 'passphrase-file');
  if (file === undefined) return ctx.io.env.CONCLAVE_PASSPHRASE || undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`--passphrase-file: cannot read ${file} (${reason})`, ctx.command.name);
  }
  // Editors end files with a newline; it is not part of the passphrase.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`--passphrase-file: ${file} is empty`, ctx.command.name);
  return value;
}

/** A backup passphrase: from --passphrase-file, else $CONCLAVE_BACKUP_PASSPHRASE; never an argument. */
async function backupPassphrase(ctx: Context): Promise<string> {
  const value =
    str(ctx, 'passphrase-file') !== undefined
      ? await passphrase(ctx)
      : ctx.io.env.CONCLAVE_BACKUP_PASSPHRASE;
  if (!value)
    throw new UsageError(
      'the backup needs a passphrase: set CONCLAVE_BACKUP_PASSPHRASE or pass --passphrase-file FILE',
      ctx.command.name,
    );
  return value;
}

/**
 * `backup export` without --yes: says what the file is worth and has the custodian type the group's
 * name; refuses when there is no terminal to ask at, or when the name typed is not the group's.
 */
async function confirmBackupExport(ctx: Context, groupName: string): Promise<void> {
  const ask = ctx.io.ask ?? askTerminal;
  const name = clean(groupName);
  ctx.io.stderr.write(
    `The backup file, with its passphrase, gives whoever has both your share of ${name}'s key: ` +
      "with enough other members' shares they can sign for the group without you.\n",
  );
  const typed = await ask(`Type the group name (${name}) to export your share: `);
  if (typed === undefined) {
    throw new UsageError(
      'no terminal to confirm the export at; pass --yes if you mean to write the backup',
      ctx.command.name,
    );
  }
  if (typed.trim() !== groupName) {
    throw new ApiError(
      'confirmation_required',
      `not exported: you typed ${JSON.stringify(clean(typed.trim()))}, not the group name ${JSON.stringify(name)}`,
    );
  }
}

/**
 * `group leave` without --yes: says what leaving costs (nothing for a group not ready; for a ready
 * one, this share for good and maybe the key for everyone) and has the custodian type the name.
 */
async function confirmLeave(ctx: Context, g: GroupView): Promise<void> {
  const ask = ctx.io.ask ?? askTerminal;
  const name = clean(g.name);
  const left = g.size - 1;
  ctx.io.stderr.write(
    g.status === 'ready'
      ? `Leaving ${name} deletes your share of its key from this computer, for good. It needs ` +
          `${g.threshold} of ${g.size} shares to sign; ${left} would be left` +
          (left < g.threshold
            ? ', so its key would be lost for everyone.\n'
            : '. Ask the others to change members first if the group should go on without you.\n')
      : `${name} is not ready: it holds no key yet, so leaving loses nothing. It is removed from ` +
          'this computer and the other members are told if they can be reached.\n',
  );
  const typed = await ask(`Type the group name (${name}) to leave it: `);
  if (typed === undefined)
    throw new UsageError(
      'no terminal to confirm at; pass --yes if you mean to leave the group',
      ctx.command.name,
    );
  if (typed.trim() !== g.name)
    throw new ApiError(
      'confirmation_required',
      `not left: you typed ${JSON.stringify(clean(typed.trim()))}, not the group name ${JSON.stringify(name)}`,
    );
}

async function multiaddrs(ctx: Context, name: string, values: string[]): Promise<void> {
  const { multiaddr } = await import('@multiformats/multiaddr');
  for (const value of values) {
    try {
      multiaddr(value);
    } catch (_) {
      throw new UsageError(
        `--${name}: ${JSON.stringify(value)} is not a multiaddr (like /ip4/127.0.0.1/tcp/4001)`,
        ctx.command.name,
      );
    }
  }
}

async function nodeEntryPoints(io: CliIO): Promise<NonNullable<CliIO['node']>> {
  return io.node ?? (await import('./node/index.js'));
}

/**
 * Checks the input as the node will, so a bad value is a usage error (exit 64) that names the
 * flag, then calls the node over the control socket.
 */
export async function call<M extends ApiMethod>(
  ctx: Context,
  method: M,
  params: Record<string, unknown>,
): Promise<ApiOutput<M>> {
  return callControl(ctx.home, method, checked(ctx, method, params));
}

/** The input checked as the node will check it; a bad value is a usage error naming the flag. */
export function checked<M extends ApiMethod>(
  ctx: Context,
  method: M,
  params: Record<string, unknown>,
): ApiInput<M> {
  try {
    return validateInput(method, params);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const [fieldName, ...rest] = err.message.split(': ');
    const flag = ctx.command.fields?.[fieldName ?? ''] ?? fieldName;
    throw new UsageError(`${flag}: ${rest.join(': ')}`, ctx.command.name);
  }
}

/** Resolves on SIGINT/SIGTERM (or `io.shutdown`); a second signal exits at once. */
export function shutdownRequested(io: CliIO): { promise: Promise<void>; dispose(): void } {
  const signal = io.shutdown;
  if (signal) {
    return {
      promise: signal.aborted
        ? Promise.resolve()
        : new Promise((done) => signal.addEventListener('abort', () => done(), { once: true })),
      dispose() {},
    };
  }
  let onSignal: (sig: NodeJS.Signals) => void = () => {};
  const promise = new Promise<void>((done) => {
    onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // Stopping hangs? A second Ctrl-C leaves without waiting.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return {
    promise,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function withDeadline(
  what: string,
  work: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () => fail(new ApiError('timeout', `${what} did not finish within ${ms / 1000} s`)),
      ms,
    );
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

const WAIT_EXIT: Record<RequestView['status'], number> = {
  done: EXIT.OK,
  denied: EXIT.FAILED,
  expired: EXIT.FAILED,
  failed: EXIT.FAILED,
  pending: EXIT.PENDING,
  signing: EXIT.PENDING,
};

/** `--expires SECONDS`, the same for every kind of request. */
const EXPIRES_OPTION: OptionSpec = {
  type: 'string',
  value: 'SECONDS',
  help: `seconds until the request expires (${LIMITS.minExpiresSec}..${LIMITS.maxExpiresSec})`,
};

/** How often `request wait` looks at the request to report its approvals. */
const WAIT_PROGRESS_MS = 1000;

/** `--approve`: the requester approves at creation (their approval counts like anyone's). */
const APPROVE_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'approve it yourself as you make it (else run `conclave approve ID` like the others)',
};

/** "needs 2 of 3 approvals; approved so far: alice" (with the status once it is not pending). */
export function approvalCount(r: RequestView): string {
  const names = r.approvals.map((d) => clean(d.name)).join(', ') || 'nobody yet';
  const needs =
    r.approvalsNeeded !== undefined
      ? `needs ${r.approvalsNeeded} of ${r.groupSize ?? '?'} approvals`
      : plural(r.approvals.length, 'approval');
  return `${needs}; approved so far: ${names}`;
}

/** What a new request needs next, and the commands for it. */
export function nextSteps(r: RequestView, ownApproval: boolean): string[] {
  if (r.status !== 'pending') return [];
  const lines = [approvalCount(r)];
  const id = clean(r.id);
  if (!ownApproval && !r.approvals.some((d) => d.peerId === r.createdBy.peerId))
    lines.push(`your own approval counts too: conclave approve ${id}`);
  lines.push(`the other members approve with: conclave approve ${id}`);
  lines.push(`then wait for the result: conclave request wait ${id}`);
  return lines;
}

/**
 * A new request of a kind whose API has no `approve` flag: the requester's approval follows as
 * its own call, exactly as `conclave approve ID` would make it.
 */
export async function approveIfAsked(ctx: Context, r: RequestView): Promise<RequestView> {
  return ctx.values.approve === true ? call(ctx, 'request.approve', { id: r.id }) : r;
}

/** Prints a new request: the request, then how many approvals it needs and who gave them. */
export function outputCreated(ctx: Context, r: RequestView): void {
  output(ctx, r, () => [...requestLines(r), ...nextSteps(r, ctx.values.approve === true)]);
}

/** One line of `request wait` progress: the approvals, and the status once it moves on. */
export function waitProgress(r: RequestView): string {
  return `${clean(r.id)}: ${r.status === 'pending' ? '' : `${r.status}; `}${approvalCount(r)}`;
}

/** The last line of `request wait`: how it ended, or that it is still open. */
export function waitOutcome(r: RequestView, timeoutSec: number): string {
  const id = clean(r.id);
  switch (r.status) {
    case 'done':
      return `${id}: done${r.signature ? ', signed' : ''}`;
    case 'denied':
      return `${id}: denied by ${r.denials.map((d) => clean(d.name)).join(', ') || 'the group'}`;
    case 'expired':
      return `${id}: expired before enough approvals (${approvalCount(r)})`;
    case 'failed':
      return `${id}: failed${r.failure ? `: ${clean(r.failure)}` : ''}`;
    default:
      return `${id}: still ${r.status} after ${timeoutSec} s (${approvalCount(r)})`;
  }
}

const COMMANDS: Command[] = [
  {
    name: 'init',
    usage: '--name NAME [--vault keychain|file] [--passphrase-file FILE]',
    summary: 'create this custodian’s identity (peer key in the OS keychain) in the home dir',
    options: {
      name: {
        type: 'string',
        value: 'NAME',
        help: 'your display name, shown to the other members',
      },
      vault: {
        type: 'string',
        value: 'keychain|file',
        help: 'where secrets live (default keychain); file: a passphrase-encrypted file',
      },
      'passphrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'file vault passphrase from FILE (else $CONCLAVE_PASSPHRASE)',
      },
    },
    required: ['name'],
    async run(ctx) {
      const name = (() => {
        try {
          return validateName(str(ctx, 'name'), '--name');
        } catch (err) {
          throw new UsageError((err as Error).message, 'init');
        }
      })();
      const vault = str(ctx, 'vault') ?? 'keychain';
      if (vault !== 'keychain' && vault !== 'file') {
        throw new UsageError(
          `--vault: must be keychain or file, got ${JSON.stringify(vault)}`,
          'init',
        );
      }
      if (vault === 'keychain' && str(ctx, 'passphrase-file') !== undefined) {
        throw new UsageError('--passphrase-file is only for --vault file', 'init');
      }
      const secret = vault === 'file' ? await passphrase(ctx) : undefined;
      if (vault === 'file' && secret === undefined) {
        throw new UsageError(
          'the file vault needs a passphrase: set CONCLAVE_PASSPHRASE or pass --passphrase-file FILE',
          'init',
        );
      }
      const node = await nodeEntryPoints(ctx.io);
      const result = await node.initIdentity({ home: ctx.home, name, vault, passphrase: secret });
      output(ctx, result, () => [
        `created the identity of ${clean(result.name)} in ${result.home} (${result.vault} vault)`,
        field('peer id', clean(result.peerId)),
        field('fingerprint', clean(result.fingerprint)),
        `next: conclave --home ${ctx.home} start`,
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'start',
    usage: '[--listen MA]... [--relay MA]... [--mdns] [--passphrase-file FILE]',
    summary: 'run the custodian node in the foreground until Ctrl-C or SIGTERM',
    options: {
      listen: {
        type: 'string',
        multiple: true,
        value: 'MA',
        help: 'multiaddr to listen on besides 127.0.0.1 (always, on a free port); to be reachable from other machines give /ip4/0.0.0.0/tcp/PORT or use --relay; "none": only through --relay; repeatable',
      },
      relay: {
        type: 'string',
        multiple: true,
        value: 'MA',
        help: 'relay to be reachable through (ends in /p2p/<relay peer id>); repeatable',
      },
      mdns: { type: 'boolean', help: 'find other members on the local network' },
      'passphrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'file vault passphrase from FILE (else $CONCLAVE_PASSPHRASE)',
      },
      ui: { type: 'boolean', help: 'browser mode: serve the app on 127.0.0.1 and print its URL' },
      port: { type: 'string', value: 'N', help: 'browser mode port (default: any free port)' },
      sandbox: {
        type: 'boolean',
        help: 'browser mode: start the "try it alone" 2-of-3 sandbox group',
      },
      open: {
        type: 'boolean',
        help: 'browser mode: open the URL in the default browser, if there is one',
      },
    },
    async run(ctx) {
      if (
        !ctx.values.ui &&
        (ctx.values.port !== undefined || ctx.values.sandbox || ctx.values.open)
      )
        throw new UsageError('--port, --sandbox and --open go with --ui', 'start');
      const port = int(ctx, 'port');
      if (port !== undefined && (port < 1 || port > 65535))
        throw new UsageError(`--port: must be from 1 to 65535, got ${port}`, 'start');
      // `--listen none`: no direct listener, reachable only through the given relays.
      const noDirect = list(ctx, 'listen').includes('none');
      const listen = list(ctx, 'listen').filter((a) => a !== 'none');
      const relays = list(ctx, 'relay');
      if (noDirect && relays.length === 0)
        throw new UsageError('--listen none needs at least one --relay to be reachable', 'start');
      await multiaddrs(ctx, 'listen', listen);
      await multiaddrs(ctx, 'relay', relays);
      // Loopback always (this machine's other nodes and tools); other machines only through what
      // the user asks for, so a node is not open to a whole network unless someone decided so.
      const coversLoopback = listen.some((a) =>
        /^\/ip4\/(127\.\d+\.\d+\.\d+|0\.0\.0\.0)\//.test(a),
      );
      const direct = noDirect ? [] : coversLoopback ? listen : ['/ip4/127.0.0.1/tcp/0', ...listen];
      for (const relay of relays) {
        if (!relay.includes('/p2p/')) {
          throw new UsageError(`--relay: ${relay} must end in /p2p/<relay peer id>`, 'start');
        }
      }
      const secret = await passphrase(ctx);
      // The file vault's scrypt runs in the thread pool while the node's modules load below.
      if (secret && !ctx.values.ui) deriveEarly(join(ctx.home, 'vault'), secret);
      if (await isControlLive(ctx.home)) {
        throw new ApiError('conflict', `another node is already running in ${ctx.home}`);
      }
      const { io } = ctx;
      // Listen for signals before starting, so a Ctrl-C during start-up still stops cleanly.
      const shutdown = shutdownRequested(io);
      if (ctx.values.ui) {
        try {
          const entry = await nodeEntryPoints(io);
          const { runBrowserMode } = await import('./server/browser-mode.js');
          const bm = await runBrowserMode({
            home: ctx.home,
            port,
            sandbox: ctx.values.sandbox === true,
            start: {
              listen: direct,
              relays,
              mdns: ctx.values.mdns === true,
              passphrase: secret,
              log: (line) => io.stderr.write(`${line}\n`),
            },
            entry: {
              isInitialized: entry.isInitialized ?? (await import('./node/index.js')).isInitialized,
              vaultKind: (await import('./node/index.js')).vaultKind,
              initIdentity: entry.initIdentity,
              startCustodian: entry.startCustodian,
            },
            log: (line) => io.stderr.write(`${line}\n`),
          });
          if (ctx.json) printJSON(io, { url: bm.url });
          else writeLines(io.stdout, [`UI: ${bm.url}`]);
          // Through a private file and a one-time link: the opener's argv never holds the token.
          if (ctx.values.open) await bm.openInBrowser();
          await shutdown.promise;
          io.stderr.write('stopping\n');
          await withDeadline('stopping the node', bm.close(), STOP_DEADLINE_MS);
          return EXIT.OK;
        } finally {
          shutdown.dispose();
        }
      }
      try {
        const { startCustodian } = await nodeEntryPoints(io);
        const node = await startCustodian({
          home: ctx.home,
          listen: direct,
          relays,
          mdns: ctx.values.mdns === true,
          passphrase: secret,
          log: (line) => io.stderr.write(`${line}\n`),
        });
        let control;
        try {
          control = await serveControl(ctx.home, node.api);
        } catch (err) {
          await withDeadline('stopping the node', node.stop(), STOP_DEADLINE_MS);
          throw err;
        }
        const addrs = node.addrs();
        writeLines(io.stderr, [...addrs.map((a) => `listening: ${a}`), `ready: ${node.peerId}`]);
        if (ctx.json) printJSON(io, { peerId: node.peerId, addrs, control: control.path });
        await shutdown.promise;
        io.stderr.write('stopping\n');
        await control.close();
        await withDeadline('stopping the node', node.stop(), STOP_DEADLINE_MS);
        return EXIT.OK;
      } finally {
        shutdown.dispose();
      }
    },
  },
  {
    name: 'relay',
    usage: '--listen MA [--listen MA]...',
    summary: 'run a circuit relay that members behind NAT can be reached through',
    options: {
      listen: {
        type: 'string',
        multiple: true,
        value: 'MA',
        help: 'multiaddr to listen on; repeatable',
      },
    },
    required: ['listen'],
    async run(ctx) {
      const listen = list(ctx, 'listen');
      await multiaddrs(ctx, 'listen', listen);
      const { io } = ctx;
      const shutdown = shutdownRequested(io);
      try {
        const { runRelay } = await nodeEntryPoints(io);
        const relay = await runRelay({ listen, log: (line) => io.stderr.write(`${line}\n`) });
        if (ctx.json) printJSON(io, { addrs: relay.addrs });
        else writeLines(io.stdout, relay.addrs);
        await shutdown.promise;
        await withDeadline('stopping the relay', relay.stop(), STOP_DEADLINE_MS);
        return EXIT.OK;
      } finally {
        shutdown.dispose();
      }
    },
  },
  {
    name: 'status',
    usage: '',
    summary: 'show this node: identity, addresses, groups, pending requests',
    async run(ctx) {
      const s = await call(ctx, 'node.status', {});
      output(ctx, s, () => {
        const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0);
        return [
          field('name', clean(s.name)),
          field('peer id', clean(s.peerId)),
          field('fingerprint', clean(s.fingerprint)),
          field('vault', s.vault),
          field('groups', String(s.groups)),
          field('pending', plural(s.pendingRequests, 'request')),
          ...(s.addrs.length === 0
            ? [field('listening', 'nowhere')]
            : s.addrs.map((a, i) => field(i === 0 ? 'listening' : '', clean(a)))),
          ...(dropped.length > 0
            ? [field('dropped', dropped.map(([why, n]) => `${clean(why)} ${n}`).join(', '))]
            : []),
        ];
      });
      return EXIT.OK;
    },
  },
  {
    name: 'group create',
    usage: `--name NAME --threshold T --size N --scheme ${SCHEMES.join('|')}`,
    summary: 'create a group and print the invite code for the other members',
    options: {
      name: { type: 'string', value: 'NAME', help: 'group name' },
      threshold: { type: 'string', value: 'T', help: 'approvals needed to sign (2..N)' },
      size: { type: 'string', value: 'N', help: `number of members (2..${LIMITS.maxSize})` },
      scheme: {
        type: 'string',
        value: 'SCHEME',
        help: 'ed25519 (RFC 8032), secp256k1 (FROST secp256k1) or taproot (BIP340)',
      },
    },
    required: ['name', 'threshold', 'size', 'scheme'],
    fields: { name: '--name', threshold: '--threshold', size: '--size', scheme: '--scheme' },
    async run(ctx) {
      const size = int(ctx, 'size', SIZE_RANGE);
      const g = await call(ctx, 'group.create', {
        name: str(ctx, 'name'),
        threshold: int(ctx, 'threshold', thresholdRange(size)),
        size,
        scheme: str(ctx, 'scheme'),
      });
      output(ctx, g, () => [
        `created group ${clean(g.name)} (${clean(g.id)}): ${groupSummary(g)}`,
        'invite code (send it to the other members; each runs: conclave group join INVITE):',
        clean(g.invite),
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'group import',
    usage: '--name NAME --threshold T --size N --scheme ed25519|secp256k1|taproot --key-file FILE',
    summary: 'share a key you already have (split by this node), instead of creating a new one',
    options: {
      name: { type: 'string', value: 'NAME', help: 'the group’s name' },
      threshold: { type: 'string', value: 'T', help: 'approvals needed to sign' },
      size: { type: 'string', value: 'N', help: 'number of members' },
      scheme: { type: 'string', value: 'SCHEME', help: SCHEMES.join(', ') },
      'key-file': {
        type: 'string',
        value: 'FILE',
        help: 'the private key file: OpenSSH or PKCS#8 PEM Ed25519 (unprotected), or 64 hex characters or 32 raw bytes (ed25519: the seed)',
      },
    },
    required: ['name', 'threshold', 'size', 'scheme', 'key-file'],
    fields: {
      name: '--name',
      threshold: '--threshold',
      size: '--size',
      scheme: '--scheme',
      keyFile: '--key-file',
    },
    async run(ctx) {
      const size = int(ctx, 'size', SIZE_RANGE);
      const g = await call(ctx, 'group.import', {
        name: str(ctx, 'name'),
        threshold: int(ctx, 'threshold', thresholdRange(size)),
        size,
        scheme: str(ctx, 'scheme'),
        keyFile: resolve(str(ctx, 'key-file')!),
      });
      output(ctx, g, () => [
        `importing the key into ${clean(g.name)} (${g.threshold}-of-${g.size}, ${g.scheme})`,
        field('invite', clean(g.invite)),
        `IMPORTANT: ${clean(g.warning)}`,
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'group invite',
    usage: 'GROUP',
    summary: 'an invite for a newcomer to a ready group (they join through a reshare)',
    args: ['GROUP'],
    fields: { group: 'GROUP' },
    async run(ctx) {
      const r = await call(ctx, 'group.invite', { group: ctx.args[0] });
      output(ctx, r, () => [
        field('invite', clean(r.invite)),
        'the newcomer runs: conclave group join <invite>; then propose: conclave request reshare --group GROUP --add THEIR_NAME',
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'group policy',
    usage: 'GROUP',
    summary: 'show the group policy in force (change it with: request policy)',
    args: ['GROUP'],
    fields: { group: 'GROUP' },
    async run(ctx) {
      const p = await call(ctx, 'group.policy', { group: ctx.args[0] });
      output(ctx, p, () => [...p.description.map(clean), field('policy hash', clean(p.hash))]);
      return EXIT.OK;
    },
  },
  {
    name: 'group join',
    usage: 'INVITE',
    summary: 'join a group with the invite code its creator sent you',
    args: ['INVITE'],
    fields: { invite: 'INVITE' },
    async run(ctx) {
      const g = await call(ctx, 'group.join', { invite: ctx.args[0] });
      output(ctx, g, () => [`joined group ${clean(g.name)}`, ...groupLines(g)]);
      return EXIT.OK;
    },
  },
  {
    name: 'group list',
    usage: '',
    summary: 'list the groups this node belongs to',
    async run(ctx) {
      const groups = await call(ctx, 'group.list', {});
      output(ctx, groups, () =>
        groups.length === 0
          ? [
              'no groups yet; create one with: conclave group create ... or join one with: conclave group join INVITE',
            ]
          : table(groups.map((g) => [clean(g.id), clean(g.name), groupSummary(g), g.status])),
      );
      return EXIT.OK;
    },
  },
  {
    name: 'group show',
    usage: 'GROUP',
    summary: 'show a group: policy, status, public key, safety code, members',
    args: ['GROUP'],
    fields: { group: 'GROUP' },
    async run(ctx) {
      const g = await call(ctx, 'group.show', { group: ctx.args[0] });
      output(ctx, g, () => groupLines(g));
      return EXIT.OK;
    },
  },
  {
    name: 'group confirm',
    usage: 'GROUP',
    summary: 'confirm that the safety code matches every other member’s (then the DKG runs)',
    args: ['GROUP'],
    fields: { group: 'GROUP' },
    async run(ctx) {
      const g = await call(ctx, 'group.confirm', { group: ctx.args[0] });
      output(ctx, g, () => [`confirmed the safety code of ${clean(g.name)}`, ...groupLines(g)]);
      return EXIT.OK;
    },
  },
  {
    name: 'group leave',
    usage: 'GROUP [--yes]',
    summary: 'leave a group and remove it here (a ready group: your share is deleted for good)',
    args: ['GROUP'],
    options: {
      yes: {
        type: 'boolean',
        help: 'do not ask to type the group name (a ready group: your share is deleted, no undo)',
      },
    },
    fields: { group: 'GROUP', confirm: '--yes' },
    async run(ctx) {
      const g = await call(ctx, 'group.show', { group: ctx.args[0] });
      if (!ctx.values.yes) await confirmLeave(ctx, g);
      const r = await call(ctx, 'group.leave', { group: g.id, confirm: true });
      output(ctx, r, () => [
        `left ${clean(r.name)}${r.shareDeleted ? ': your share is deleted from this computer' : ''}`,
        ...(r.warning ? [clean(r.warning)] : []),
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'request sign',
    usage:
      '--group GROUP (--message TEXT | --file PATH | --hex HEX | --psbt FILE [--network NET] [--out FILE]) [--expires SECONDS] [--approve]',
    summary: 'ask the group to sign a message',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      message: { type: 'string', value: 'TEXT', help: 'the message, as UTF-8 text' },
      file: {
        type: 'string',
        value: 'PATH',
        help: `the bytes of a file (up to ${LIMITS.messageBytes} bytes)`,
      },
      hex: { type: 'string', value: 'HEX', help: 'the bytes, in hex' },
      ...PSBT_SIGN_OPTIONS,
      'nostr-event': nostrEventOption(),
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group'],
    fields: { group: '--group', expiresInSec: '--expires' },
    async run(ctx) {
      if (str(ctx, 'nostr-event') !== undefined) return requestSignNostr(ctx);
      if (str(ctx, 'psbt') !== undefined) return requestSignPsbt(ctx);
      const given = (['message', 'file', 'hex'] as const).filter((k) => str(ctx, k) !== undefined);
      if (given.length === 0) {
        throw new UsageError(
          'missing the message: give --message TEXT, --file PATH or --hex HEX',
          ctx.command.name,
        );
      }
      if (given.length > 1) {
        throw new UsageError('give only one of --message, --file and --hex', ctx.command.name);
      }
      const source = given[0]!;
      let message = str(ctx, source)!;
      let encoding: 'utf8' | 'hex' = 'hex';
      if (source === 'message') encoding = 'utf8';
      else if (source === 'hex') message = message.replace(/^0x/i, '').toLowerCase();
      else message = await readMessageFile(message, ctx.command.name);
      ctx.command = { ...ctx.command, fields: { ...ctx.command.fields, message: `--${source}` } };
      const r = await call(ctx, 'request.sign', {
        group: str(ctx, 'group'),
        message,
        encoding,
        expiresInSec: int(ctx, 'expires'),
        approve: ctx.values.approve === true || undefined,
      });
      outputCreated(ctx, r);
      return EXIT.OK;
    },
  },
  {
    name: 'request reshare',
    usage:
      '--group GROUP [--threshold T] [--add NEWCOMER]... [--remove MEMBER]... [--expires SECONDS] [--approve]',
    summary: 'propose adding or removing members or changing the threshold (same public key)',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      threshold: {
        type: 'string',
        value: 'T',
        help: 'the threshold afterwards (default: unchanged)',
      },
      add: {
        type: 'string',
        multiple: true,
        value: 'NEWCOMER',
        help: 'name or peer id of a newcomer who joined with your `group invite`; repeatable',
      },
      remove: {
        type: 'string',
        multiple: true,
        value: 'MEMBER',
        help: 'name or peer id of a member to remove; repeatable',
      },
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group'],
    fields: {
      group: '--group',
      threshold: '--threshold',
      add: '--add',
      remove: '--remove',
      expiresInSec: '--expires',
    },
    async run(ctx) {
      const add = list(ctx, 'add');
      const remove = list(ctx, 'remove');
      const made = await call(ctx, 'request.reshare', {
        group: str(ctx, 'group'),
        threshold: int(ctx, 'threshold', thresholdRange()),
        add: add.length ? add : undefined,
        remove: remove.length ? remove : undefined,
        expiresInSec: int(ctx, 'expires'),
      });
      outputCreated(ctx, await approveIfAsked(ctx, made));
      return EXIT.OK;
    },
  },
  {
    name: 'request repair',
    usage: '--group GROUP --member MEMBER [--newcomer NEWCOMER] [--expires SECONDS] [--approve]',
    summary: 'give a member who lost their device their share back, on a new identity',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      member: {
        type: 'string',
        value: 'MEMBER',
        help: 'name or peer id of the member who lost their share',
      },
      newcomer: {
        type: 'string',
        value: 'NEWCOMER',
        help: 'their new identity (joined with your `group invite`); needed when several joined',
      },
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group', 'member'],
    fields: {
      group: '--group',
      member: '--member',
      newcomer: '--newcomer',
      expiresInSec: '--expires',
    },
    async run(ctx) {
      const made = await call(ctx, 'request.repair', {
        group: str(ctx, 'group'),
        member: str(ctx, 'member'),
        newcomer: str(ctx, 'newcomer'),
        expiresInSec: int(ctx, 'expires'),
      });
      outputCreated(ctx, await approveIfAsked(ctx, made));
      return EXIT.OK;
    },
  },
  {
    name: 'request policy',
    usage: '--group GROUP --file POLICY.json [--expires SECONDS] [--approve]',
    summary: 'propose a new group policy (see `group policy GROUP --json` for its shape)',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      file: { type: 'string', value: 'FILE', help: 'the new policy as JSON' },
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group', 'file'],
    fields: { group: '--group', policy: '--file', expiresInSec: '--expires' },
    async run(ctx) {
      let policy: Record<string, unknown>;
      try {
        policy = JSON.parse(await readFile(str(ctx, 'file')!, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(
          `--file: not a readable JSON file (${(err as Error).message})`,
          ctx.command.name,
        );
      }
      const r = await call(ctx, 'request.policy', {
        group: str(ctx, 'group'),
        policy,
        expiresInSec: int(ctx, 'expires'),
        approve: ctx.values.approve === true || undefined,
      });
      outputCreated(ctx, r);
      return EXIT.OK;
    },
  },
  {
    name: 'request reconstruct',
    usage:
      '--group GROUP --purpose TEXT (--operation export --out FILE [--passphrase-file F] | --operation ecdsa-sign --digest HEX) [--approve]',
    summary:
      'reconstruct the key on this node for one audited operation (only if the group policy allows it)',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      purpose: { type: 'string', value: 'TEXT', help: 'why, in words every member sees' },
      operation: { type: 'string', value: 'export|ecdsa-sign', help: 'what to do with the key' },
      out: {
        type: 'string',
        value: 'FILE',
        help: 'export: where to write the encrypted key (must not exist)',
      },
      digest: { type: 'string', value: 'HEX', help: 'ecdsa-sign: the 32-byte digest to sign' },
      'passphrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'export passphrase from FILE (else $CONCLAVE_EXPORT_PASSPHRASE)',
      },
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group', 'purpose', 'operation'],
    fields: {
      group: '--group',
      purpose: '--purpose',
      operation: '--operation',
      out: '--out',
      digest: '--digest',
      passphrase: '--passphrase-file',
      expiresInSec: '--expires',
    },
    async run(ctx) {
      const operation = str(ctx, 'operation');
      if (operation !== 'export' && operation !== 'ecdsa-sign')
        throw new UsageError(
          `--operation: must be export or ecdsa-sign, got ${JSON.stringify(operation)}`,
          ctx.command.name,
        );
      let secret: string | undefined;
      let out: string | undefined;
      if (operation === 'export') {
        if (!str(ctx, 'out')) throw new UsageError('export needs --out FILE', ctx.command.name);
        out = resolve(str(ctx, 'out')!);
        secret =
          str(ctx, 'passphrase-file') !== undefined
            ? await passphrase(ctx)
            : ctx.io.env.CONCLAVE_EXPORT_PASSPHRASE;
        if (!secret)
          throw new UsageError(
            'export needs a passphrase: set CONCLAVE_EXPORT_PASSPHRASE or pass --passphrase-file FILE',
            ctx.command.name,
          );
      }
      const made = await call(ctx, 'request.reconstruct', {
        group: str(ctx, 'group'),
        purpose: str(ctx, 'purpose'),
        operation,
        out,
        passphrase: secret,
        digest: str(ctx, 'digest'),
        expiresInSec: int(ctx, 'expires'),
      });
      outputCreated(ctx, await approveIfAsked(ctx, made));
      return EXIT.OK;
    },
  },
  {
    name: 'request refresh',
    usage: '--group GROUP [--expires SECONDS] [--approve]',
    summary: 'propose new shares for every member (same public key, epoch + 1)',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      expires: EXPIRES_OPTION,
      approve: APPROVE_OPTION,
    },
    required: ['group'],
    fields: { group: '--group', expiresInSec: '--expires' },
    async run(ctx) {
      const made = await call(ctx, 'request.refresh', {
        group: str(ctx, 'group'),
        expiresInSec: int(ctx, 'expires'),
      });
      outputCreated(ctx, await approveIfAsked(ctx, made));
      return EXIT.OK;
    },
  },
  {
    name: 'request list',
    usage: '[--group GROUP] [--pending]',
    summary: 'list requests',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'only this group’s requests' },
      pending: { type: 'boolean', help: 'only requests still waiting for approvals' },
    },
    fields: { group: '--group' },
    async run(ctx) {
      const pending = ctx.values.pending === true;
      const requests = await call(ctx, 'request.list', {
        group: str(ctx, 'group'),
        pending: pending || undefined,
      });
      output(ctx, requests, () =>
        requests.length === 0
          ? [pending ? 'no pending requests' : 'no requests']
          : table(requests.map(requestRow)),
      );
      return EXIT.OK;
    },
  },
  {
    name: 'request show',
    usage: 'ID',
    summary: 'show a request: the whole message, approvals, denials, signature',
    args: ['ID'],
    fields: { id: 'ID' },
    async run(ctx) {
      const r = await call(ctx, 'request.show', { id: ctx.args[0] });
      output(ctx, r, () => requestLines(r));
      return EXIT.OK;
    },
  },
  {
    name: 'request result',
    usage: 'ID [--out FILE]',
    summary:
      'what a done request of a use produced (a certificate, a signed PSBT or event): shown, or saved to FILE',
    options: {
      out: { type: 'string', value: 'FILE', help: 'save it to FILE (0600) instead of printing it' },
    },
    args: ['ID'],
    fields: { id: 'ID' },
    async run(ctx) {
      const res = await call(ctx, 'request.result', { id: ctx.args[0] });
      const a = res.artifact;
      const out = str(ctx, 'out');
      if (out !== undefined) {
        if (!a) throw new UsageError(`request ${res.id} is ${res.status}: nothing to save yet`);
        const data = a.text !== undefined ? a.text : Buffer.from(a.base64 ?? '', 'base64');
        await writeFile(out, data, { mode: 0o600 });
      }
      // An ECDH result is a per-request secret: only --json prints it, for a program to use.
      output(ctx, res, () =>
        !a
          ? [`${res.id}: ${res.status}; no result${res.status === 'done' ? '' : ' yet'}`]
          : [
              ...(out !== undefined ? [`saved ${a.name} (${a.mediaType}) to ${clean(out)}`] : []),
              ...(out === undefined && a.text !== undefined ? a.text.split('\n') : []),
              ...(out === undefined && a.text === undefined
                ? [`${a.name} (${a.mediaType}): binary; save it with --out FILE`]
                : []),
              ...(a.fields ?? []).map((f) => `${clean(f.label)}: ${clean(f.value)}`),
            ],
      );
      return res.status === 'done' ? EXIT.OK : EXIT.PENDING;
    },
  },
  {
    name: 'request wait',
    usage: 'ID [--timeout SECONDS]',
    summary:
      'wait until a request is done (exit 0), denied, expired or failed (exit 1), or the timeout passes (exit 2)',
    options: {
      timeout: {
        type: 'string',
        value: 'SECONDS',
        help: `how long to wait (default 60, 0..${LIMITS.maxTimeoutSec})`,
      },
    },
    args: ['ID'],
    fields: { id: 'ID', timeoutSec: '--timeout' },
    async run(ctx) {
      const id = ctx.args[0];
      // Checked before anything is asked of the node, so a bad --timeout is a usage error.
      const { timeoutSec } = checked(ctx, 'request.wait', {
        id,
        timeoutSec: int(ctx, 'timeout') ?? 60,
      });
      const first = await call(ctx, 'request.show', { id });
      let r = first;
      if (first.status === 'pending' || first.status === 'signing') {
        // Progress goes where it cannot spoil the result: stderr under --json, else stdout.
        const progress = ctx.json ? ctx.io.stderr : ctx.io.stdout;
        let shown = '';
        const report = (v: RequestView) => {
          const line = waitProgress(v);
          if (line !== shown) progress.write(`${line}\n`);
          shown = line;
        };
        report(first);
        // The node's wait ends only with the request (or the timeout); meanwhile a look every
        // second shows each approval as it arrives.
        let waiting = true;
        let wake = () => {};
        const watching = (async () => {
          while (waiting) {
            await new Promise<void>((done) => {
              const t = setTimeout(done, WAIT_PROGRESS_MS);
              wake = () => (clearTimeout(t), done());
            });
            if (!waiting) break;
            const now = await call(ctx, 'request.show', { id }).catch(() => undefined);
            if (now && waiting) report(now);
          }
        })();
        try {
          r = await callControl(ctx.home, 'request.wait', { id: first.id, timeoutSec });
        } finally {
          waiting = false;
          wake();
          await watching;
        }
        progress.write(`${waitOutcome(r, timeoutSec)}\n`);
      }
      output(ctx, r, () => requestLines(r));
      return WAIT_EXIT[r.status] ?? EXIT.FAILED;
    },
  },
  {
    name: 'approve',
    usage: 'ID',
    summary: 'approve a request (a statement signed by your identity key)',
    args: ['ID'],
    fields: { id: 'ID' },
    async run(ctx) {
      const r = await call(ctx, 'request.approve', { id: ctx.args[0] });
      output(ctx, r, () => [`approved ${clean(r.id)}`, ...requestLines(r)]);
      return EXIT.OK;
    },
  },
  {
    name: 'deny',
    usage: 'ID [--reason TEXT]',
    summary: 'deny a request',
    options: {
      reason: {
        type: 'string',
        value: 'TEXT',
        help: `why (up to ${LIMITS.reasonChars} characters)`,
      },
    },
    args: ['ID'],
    fields: { id: 'ID', reason: '--reason' },
    async run(ctx) {
      const r = await call(ctx, 'request.deny', { id: ctx.args[0], reason: str(ctx, 'reason') });
      output(ctx, r, () => [`denied ${clean(r.id)}`, ...requestLines(r)]);
      return EXIT.OK;
    },
  },
  {
    name: 'audit list',
    usage: '[--group GROUP] [--limit N]',
    summary: 'list audit log entries',
    options: {
      group: { type: 'string', value: 'GROUP', help: 'only this group’s entries' },
      limit: {
        type: 'string',
        value: 'N',
        help: `the newest N entries, oldest first (1..${LIMITS.maxLimit})`,
      },
    },
    fields: { group: '--group', limit: '--limit' },
    async run(ctx) {
      const entries = await call(ctx, 'audit.list', {
        group: str(ctx, 'group'),
        limit: int(ctx, 'limit', {
          min: 1,
          max: LIMITS.maxLimit,
          words: `from 1 to ${LIMITS.maxLimit}`,
        }),
      });
      output(ctx, entries, () =>
        entries.length === 0 ? ['no audit entries'] : table(entries.map(auditRow)),
      );
      return EXIT.OK;
    },
  },
  {
    name: 'audit verify',
    usage: '',
    summary: 'check the audit log’s hash chains and signatures (exit 1 when a check fails)',
    async run(ctx) {
      const report = await call(ctx, 'audit.verify', {});
      output(ctx, report, () => {
        const counts = `${plural(report.entries, 'entry', 'entries')} from ${plural(report.authors, 'author')}`;
        if (report.ok) return [`audit log ok: ${counts}`];
        return [
          `audit log has ${plural(report.problems.length, 'problem')} (${counts}):`,
          ...report.problems.map((p) => `  ${clean(p.author)}#${p.seq}: ${clean(p.problem)}`),
        ];
      });
      return report.ok ? EXIT.OK : EXIT.FAILED;
    },
  },
  {
    name: 'backup export',
    usage: '--group GROUP --out FILE [--passphrase-file FILE] [--yes]',
    summary: 'write your share of a group to a passphrase-encrypted backup file',
    options: {
      yes: {
        type: 'boolean',
        help: 'do not ask to type the group name (the file and its passphrase let anyone act as you)',
      },
      group: { type: 'string', value: 'GROUP', help: 'group id or name' },
      out: { type: 'string', value: 'FILE', help: 'where to write the backup (must not exist)' },
      'passphrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'passphrase from FILE (else $CONCLAVE_BACKUP_PASSPHRASE)',
      },
    },
    required: ['group', 'out'],
    fields: { group: '--group', passphrase: '--passphrase-file', confirm: '--yes' },
    async run(ctx) {
      const out = str(ctx, 'out')!;
      const secret = await backupPassphrase(ctx);
      const group = await call(ctx, 'group.show', { group: str(ctx, 'group') });
      if (!ctx.values.yes) await confirmBackupExport(ctx, group.name);
      const b = await call(ctx, 'backup.export', {
        group: group.id,
        passphrase: secret,
        confirm: true,
      });
      try {
        await writeFile(out, b.file, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        const reason =
          (err as NodeJS.ErrnoException).code === 'EEXIST'
            ? 'it already exists'
            : (err as Error).message;
        throw new UsageError(`--out: cannot write ${out} (${reason})`, ctx.command.name);
      }
      const shown = { group: b.group, groupName: b.groupName, epoch: b.epoch, out };
      output(ctx, shown, () => [
        `wrote the backup of your ${clean(b.groupName)} share (epoch ${b.epoch}) to ${out}`,
        'keep it offline; it is useless without the passphrase, and stale after the next refresh',
      ]);
      return EXIT.OK;
    },
  },
  {
    name: 'backup restore',
    usage: 'FILE [--passphrase-file FILE]',
    summary: 'put your share back from a backup file (an out-of-date backup is refused)',
    args: ['FILE'],
    options: {
      'passphrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'passphrase from FILE (else $CONCLAVE_BACKUP_PASSPHRASE)',
      },
    },
    fields: { file: 'FILE', passphrase: '--passphrase-file' },
    async run(ctx) {
      let file: string;
      try {
        file = await readFile(ctx.args[0]!, 'utf8');
      } catch (err) {
        throw new UsageError(
          `cannot read ${ctx.args[0]} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          ctx.command.name,
        );
      }
      const secret = await backupPassphrase(ctx);
      const g = await call(ctx, 'backup.restore', { file, passphrase: secret });
      output(ctx, g, () => [`restored your share of ${clean(g.name)} (epoch ${g.epoch})`]);
      return EXIT.OK;
    },
  },
  ...sshCommands(),
  ...nostrCommands(),
  ...ageCommands(),
  ...caCommands(),
  ...psbtCommands(),
];

export async function readMessageFile(path: string, command: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`--file: cannot read ${path} (${reason})`, command);
  }
  if (!info.isFile()) throw new UsageError(`--file: ${path} is not a regular file`, command);
  // Checked before reading, so a huge file is refused without being loaded.
  if (info.size > LIMITS.messageBytes) {
    throw new UsageError(
      `--file: ${path} has ${info.size} bytes; the limit is ${LIMITS.messageBytes}`,
      command,
    );
  }
  return (await readFile(path)).toString('hex');
}

const GROUPS: Record<string, string> = {
  group: 'form a group and see its members',
  request: 'ask the group to sign, and follow what happens to the requests',
  audit: 'read and check the audit log',
  backup: 'keep an encrypted copy of your share, and put it back',
  age: "the group's age1 recipient (decrypt with `conclave request decrypt`)",
  nostr: "the group's Nostr key (npub) and a NIP-46 bunker for Nostr clients",
  ssh: "the group's OpenSSH key line (the agent is `conclave ssh-agent`)",
  ca: 'the group as an X.509 certificate authority: its CA certificate, certificates from CSRs, CRLs',
  bitcoin: "a taproot group's Bitcoin address (it spends with `conclave request sign --psbt`)",
};

/** `sign, list, show or wait`: the commands of a group, for a message. */
function subcommands(group: string): string {
  const names = COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) =>
    c.name.slice(group.length + 1),
  );
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

// ---------------------------------------------------------------------------------------------
// Help

function optionLines(options: Record<string, OptionSpec>): string[] {
  return table(
    Object.entries(options).map(([name, o]) => [
      `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`,
      o.help,
    ]),
    '  ',
  );
}

function topHelp(): string {
  const section = (title: string, names: string[]) => [
    title,
    ...table(
      names.map((n) => {
        const c = COMMANDS.find((k) => k.name === n)!;
        return [`conclave ${c.name}${c.usage ? ` ${c.usage}` : ''}`];
      }),
      '  ',
    ),
  ];
  return [
    'conclave: shared key custody (FROST threshold signatures over libp2p)',
    '',
    'Usage: conclave [--home DIR] [--json] COMMAND ...',
    '',
    ...section('Node', ['init', 'start', 'relay', 'status']),
    ...section('Groups', [
      'group create',
      'group import',
      'group invite',
      'group policy',
      'group join',
      'group list',
      'group show',
      'group confirm',
    ]),
    ...section('Requests', [
      'request sign',
      'request refresh',
      'request reshare',
      'request repair',
      'request policy',
      'request reconstruct',
      'request list',
      'request show',
      'request result',
      'request wait',
      'approve',
      'deny',
    ]),
    ...section('Audit', ['audit list', 'audit verify']),
    ...section('Backup', ['backup export', 'backup restore']),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Every command but init, start and relay talks to the node that `conclave start` runs in the',
    'same home dir. The file vault passphrase comes from $CONCLAVE_PASSPHRASE or --passphrase-file.',
    '',
    'Exit codes: 0 done; 1 failed (also: request wait saw the request denied, expired or failed;',
    'audit verify found a problem); 2 request wait timed out with the request still pending;',
    '64 usage error. Run conclave COMMAND --help for one command.',
    '',
  ].join('\n');
}

function groupHelp(group: string): string {
  // approve and deny act on requests, so `conclave request --help` lists them too.
  const related = group === 'request' ? ['approve', 'deny'] : [];
  const members = COMMANDS.filter(
    (c) => c.name.startsWith(`${group} `) || related.includes(c.name),
  );
  return [
    `conclave ${group}: ${GROUPS[group]}`,
    '',
    ...members.flatMap((c) => [
      `  conclave ${c.name}${c.usage ? ` ${c.usage}` : ''}`,
      `      ${c.summary}`,
    ]),
    '',
    `Run conclave ${group} COMMAND --help for its options.`,
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [
    `Usage: conclave [--home DIR] [--json] ${c.name}${c.usage ? ` ${c.usage}` : ''}`,
    '',
    `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`,
    '',
    ...(c.options ? ['Options:', ...optionLines(c.options), ''] : []),
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}

function printHelp(io: CliIO, json: boolean, text: string): number {
  if (json) printJSON(io, { help: text });
  else io.stdout.write(text);
  return EXIT.OK;
}

// ---------------------------------------------------------------------------------------------
// Entry

interface Parsed {
  command?: Command;
  /** A command group named without a subcommand (`conclave group --help`). */
  group?: string;
  values: Context['values'];
  args: string[];
}

/** Splits argv into the command and its options; global options may come before or after it. */
function parse(argv: string[]): Parsed {
  const globals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--home') {
      if (i + 1 >= argv.length) throw new UsageError('--home needs a directory');
      globals.push(token, argv[++i]!);
    } else if (
      token === '--json' ||
      token === '--help' ||
      token === '-h' ||
      token.startsWith('--home=')
    ) {
      globals.push(token);
    } else if (token.startsWith('-')) {
      throw new UsageError(`unknown option ${JSON.stringify(token)} before the command`);
    } else {
      break;
    }
  }
  const words: string[] = [];
  const word = argv[i];
  if (word === undefined || word === 'help') {
    // `conclave help [COMMAND...]` is `conclave [COMMAND...] --help`.
    if (word === 'help') return parse([...globals, ...argv.slice(i + 1), '--help']);
    return { values: parseOptions(globals, GLOBAL_OPTIONS, ''), args: [] };
  }
  words.push(word);
  i++;
  if (GROUPS[word] !== undefined) {
    const sub = argv[i];
    if (sub === undefined || sub.startsWith('-')) {
      const values = parseOptions([...globals, ...argv.slice(i)], GLOBAL_OPTIONS, word);
      if (values.help) return { group: word, values, args: [] };
      throw new UsageError(`missing a command after "${word}" (${subcommands(word)})`, word);
    }
    words.push(sub);
    i++;
  }
  const name = words.join(' ');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const hint = words.length > 1 ? words[0] : '';
    throw new UsageError(`unknown command ${JSON.stringify(name)}`, hint);
  }
  const values = parseOptions(
    [...globals, ...argv.slice(i)],
    { ...GLOBAL_OPTIONS, ...command.options },
    name,
  );
  const args = (values._ as string[] | undefined) ?? [];
  delete values._;
  return { command, values, args };
}

/** parseArgs, with one plain sentence for each kind of misuse. Positionals land in `_`. */
function parseOptions(
  args: string[],
  options: Record<string, OptionSpec>,
  command: string,
): Context['values'] {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.multiple ? { multiple: true } : {}),
        ...(o.short ? { short: o.short } : {}),
      },
    ]),
  );
  let tokens;
  try {
    ({ tokens } = parseArgs({
      args,
      options: config,
      allowPositionals: true,
      strict: false,
      tokens: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
  const values: Context['values'] = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (!spec) throw new UsageError(`unknown option ${JSON.stringify(token.rawName)}`, command);
    const flag = `--${token.name}`;
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${flag} takes no value`, command);
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined) {
      throw new UsageError(`${flag} needs a value${spec.value ? ` (${spec.value})` : ''}`, command);
    }
    // `--name --json` almost always means a forgotten value, not a name starting with a dash; a
    // negative number (`--threshold -2`) is a value, which the flag's own check then refuses.
    if (!token.inlineValue && token.value.startsWith('-') && !/^-\d/.test(token.value)) {
      throw new UsageError(
        `${flag} needs a value${spec.value ? ` (${spec.value})` : ''}; for one that starts with "-", write ${flag}=VALUE`,
        command,
      );
    }
    if (spec.multiple) {
      const previous = values[token.name];
      values[token.name] = [...(Array.isArray(previous) ? previous : []), token.value];
    } else if (values[token.name] !== undefined) {
      throw new UsageError(`${flag} is given twice`, command);
    } else {
      values[token.name] = token.value;
    }
  }
  values._ = positionals;
  return values;
}

function checkArgs(command: Command, values: Context['values'], args: string[]): void {
  const expected = command.args ?? [];
  if (args.length < expected.length) {
    throw new UsageError(`missing ${expected[args.length]}`, command.name);
  }
  if (args.length > expected.length) {
    throw new UsageError(
      `unexpected argument ${JSON.stringify(args[expected.length])}`,
      command.name,
    );
  }
  for (const name of command.required ?? []) {
    if (values[name] === undefined) {
      const spec = command.options?.[name];
      throw new UsageError(`missing --${name}${spec?.value ? ` ${spec.value}` : ''}`, command.name);
    }
  }
}

function defaultHome(env: CliIO['env']): string {
  return env.CONCLAVE_HOME || join(homedir(), '.conclave');
}

/**
 * Runs `conclave` with `argv` (without node and script) and returns the exit code. Writes only
 * to `io`; `start` and `relay` return when shut down.
 */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const end = argv.indexOf('--');
  const json = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
  try {
    const parsed = parse(argv);
    if (!parsed.command) {
      if (parsed.group) return printHelp(io, json, groupHelp(parsed.group));
      if (parsed.values.help) return printHelp(io, json, topHelp());
      throw new UsageError('missing command');
    }
    const { command, values, args } = parsed;
    if (values.help) return printHelp(io, json, commandHelp(command));
    checkArgs(command, values, args);
    const homeFlag = values.home;
    if (homeFlag === '') throw new UsageError('--home needs a directory', command.name);
    const home = resolve(typeof homeFlag === 'string' ? homeFlag : defaultHome(io.env));
    return await command.run({ io, home, json, command, values, args });
  } catch (err) {
    return report(io, json, err);
  }
}

function report(io: CliIO, json: boolean, err: unknown): number {
  let code: string;
  let message: string;
  let exit: number = EXIT.FAILED;
  if (err instanceof UsageError) {
    code = 'usage';
    message = `${err.message}; run conclave ${err.command ? `${err.command} ` : ''}--help`;
    exit = EXIT.USAGE;
  } else if (err instanceof ApiError) {
    code = err.code;
    message = err.message;
  } else {
    code = 'internal';
    message = err instanceof Error ? err.message : String(err);
  }
  // One line: a message from the node must not be able to draw more on the terminal.
  io.stderr.write(`conclave: ${clean(message)}\n`);
  if (json) printJSON(io, { error: { code, message } });
  return exit;
}

/** The process entry point (bin/conclave.mjs and `tsx main/cli.ts`). */
export async function runAsProcess(): Promise<void> {
  // `conclave audit list | head` closes stdout early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    ask: askTerminal,
  });
  process.exitCode = code;
  // Output drains first; a handle the node left open (a closing socket) must not keep us alive.
  setTimeout(() => process.exit(code), 2000).unref();
}

if (isEntryPoint(import.meta.url)) await runAsProcess();
