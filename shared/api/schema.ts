// Input schemas for every API operation: what each transport (control socket, IPC, HTTP) checks
// before a call reaches the node. A tiny validator on purpose: the contract is small and fixed.
import {
  ApiError,
  type ApiInput,
  type ApiMethod,
  type ApiOperations,
  type Scheme,
} from './index.js';

/** Limits at the API boundary. Lengths of names and texts count Unicode characters. */
export const LIMITS = {
  nameChars: 64,
  /** Group ids and request ids, or a group name where a group is referenced. */
  refChars: 128,
  /** The bytes to sign (UTF-8 bytes of the text, or the bytes the hex stands for). */
  messageBytes: 64 * 1024,
  inviteChars: 4 * 1024,
  reasonChars: 500,
  minSize: 2,
  maxSize: 50,
  minExpiresSec: 10,
  maxExpiresSec: 30 * 24 * 60 * 60,
  maxTimeoutSec: 3600,
  maxLimit: 10_000,
  /** A share backup file (JSON text, about 2 KiB for 50 members' verifying shares). */
  backupChars: 256 * 1024,
  minPassphraseChars: 10,
  maxPassphraseChars: 1024,
} as const;

export const SCHEMES: readonly Scheme[] = ['ed25519', 'secp256k1', 'taproot'];
/** The kinds `request.create` makes (the others have their own operation). */
export const USE_KINDS = ['ssh', 'age', 'x509', 'psbt', 'nostr'] as const;
export const ENCODINGS = ['utf8', 'hex'] as const;

/** Checks one value at `path` and returns it, normalised (trimmed where text is trimmed). */
type Check<T> = (value: unknown, path: string) => T;
type Checked<C> = C extends Check<infer T> ? T : never;
type Fields = Record<string, Check<unknown>>;

function fail(path: string, what: string): never {
  throw new ApiError('bad_input', `${path || 'input'}: ${what}`);
}

/** The offending value for a message, short enough to show in one line. */
function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (typeof value === 'string') {
    const json = JSON.stringify(value);
    return json.length > 42 ? `${json.slice(0, 40)}…"` : json;
  }
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

// C0 controls, DEL and C1 controls: they have no place in a name and can drive a terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// The same, but a free text may have line breaks and tabs.
// eslint-disable-next-line no-control-regex
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const HEX = /^[0-9a-fA-F]*$/;

function chars(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

interface TextRule {
  max: number;
  /** Free text (reasons) may contain line breaks and tabs; names and references may not. */
  multiline?: boolean;
}

/** Text that is trimmed, non-empty, at most `max` characters, without control characters. */
function text({ max, multiline = false }: TextRule): Check<string> {
  return (value, path) => {
    if (typeof value !== 'string') fail(path, `must be a string, got ${shown(value)}`);
    const s = value.trim();
    if (s === '') fail(path, 'must not be empty');
    if (LONE_SURROGATE.test(s)) fail(path, 'is not valid Unicode (lone surrogate)');
    if ((multiline ? CONTROL_EXCEPT_WHITESPACE : CONTROL).test(s)) {
      fail(path, 'must not contain control characters');
    }
    const n = chars(s);
    if (n > max) fail(path, `must be at most ${max} characters, got ${n}`);
    return s;
  };
}

function int(min: number, max: number): Check<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      fail(path, `must be an integer, got ${shown(value)}`);
    }
    if (value < min || value > max) {
      fail(path, `must be from ${min} to ${max}, got ${value}`);
    }
    return value;
  };
}

/** A list of at most `max` items, each checked by `item`. */
function list<T>(item: Check<T>, max: number): Check<T[]> {
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, `must be a list, got ${shown(value)}`);
    if (value.length > max) fail(path, `must have at most ${max} items, got ${value.length}`);
    return value.map((v, i) => item(v, `${path}[${i}]`));
  };
}

/** Any JSON object; its fields are checked where it is used (the node validates a policy itself). */
function plainObject(): Check<Record<string, unknown>> {
  return (value, path) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      fail(path, `must be an object, got ${shown(value)}`);
    if (JSON.stringify(value).length > 16 * 1024) fail(path, 'must be at most 16 KiB of JSON');
    return value as Record<string, unknown>;
  };
}

function bool(): Check<boolean> {
  return (value, path) => {
    if (typeof value !== 'boolean') fail(path, `must be true or false, got ${shown(value)}`);
    return value;
  };
}

function oneOf<T extends string>(options: readonly T[]): Check<T> {
  return (value, path) => {
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      fail(path, `must be one of ${options.join(', ')}, got ${shown(value)}`);
    }
    return value as T;
  };
}

type ObjectOf<R extends Fields, O extends Fields> = { [K in keyof R]: Checked<R[K]> } & {
  [K in keyof O]?: Checked<O[K]>;
};

/**
 * A plain object with exactly these fields: each required one present, each optional one absent
 * or valid (`undefined` counts as absent, as JSON would drop it), nothing else.
 */
function object<R extends Fields, O extends Fields = Record<never, never>>(
  required: R,
  optional?: O,
): Check<ObjectOf<R, O>> {
  const opt: Fields = optional ?? {};
  return (value, path) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fail(path, `must be an object, got ${shown(value)}`);
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object');
    const input = value as Record<string, unknown>;
    const at = (key: string) => (path === '' ? key : `${path}.${key}`);
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(required, key) && !Object.hasOwn(opt, key)) {
        fail(at(key), 'is not a known field');
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(required)) {
      if (!Object.hasOwn(input, key) || input[key] === undefined) fail(at(key), 'is required');
      out[key] = check(input[key], at(key));
    }
    for (const [key, check] of Object.entries(opt)) {
      if (Object.hasOwn(input, key) && input[key] !== undefined) {
        out[key] = check(input[key], at(key));
      }
    }
    return out as ObjectOf<R, O>;
  };
}

/** The value that `check` accepted, then a rule across fields. */
function refine<T>(check: Check<T>, rule: (value: T) => void): Check<T> {
  return (value, path) => {
    const out = check(value, path);
    rule(out);
    return out;
  };
}

/**
 * The value that `check` accepted, once the caller says the custodian agreed to what `stake`
 * describes with `confirm: true`; else ApiError('confirmation_required') saying what is at stake.
 */
function confirmed<T extends { confirm?: boolean }>(
  check: Check<T>,
  stake: (value: T) => string,
): Check<Omit<T, 'confirm'> & { confirm: true }> {
  return (value, path) => {
    const out = check(value, path);
    if (out.confirm !== true) {
      throw new ApiError(
        'confirmation_required',
        `${path ? `${path}.` : ''}confirm: must be true once the custodian agreed: ${stake(out)}`,
      );
    }
    return out as Omit<T, 'confirm'> & { confirm: true };
  };
}

/** A display name (custodian or group): trimmed, 1 to 64 characters, no control characters. */
export const validateName = (value: unknown, field = 'name'): string =>
  text({ max: LIMITS.nameChars })(value, field);

const ref = text({ max: LIMITS.refChars });
// Checked for length only: a passphrase is never trimmed or echoed back.
const passphraseText = (value: unknown, path: string): string => {
  if (typeof value !== 'string') fail(path, 'must be a string');
  if ([...value].length < LIMITS.minPassphraseChars)
    fail(path, `must be at least ${LIMITS.minPassphraseChars} characters`);
  if (value.length > LIMITS.maxPassphraseChars)
    fail(path, `must be at most ${LIMITS.maxPassphraseChars} characters`);
  return value;
};
const empty = object({});

const signInput = object(
  {
    group: ref,
    // The message is checked below, with its encoding; here only that it is a string.
    message: (value: unknown, path: string): string => {
      if (typeof value !== 'string') fail(path, `must be a string, got ${shown(value)}`);
      return value;
    },
    encoding: oneOf(ENCODINGS),
  },
  { expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec), approve: bool() },
);

const SCHEMAS: { [M in ApiMethod]: Check<ApiInput<M>> } = {
  'node.status': empty,
  'identity.init': refine(
    object(
      { name: text({ max: LIMITS.nameChars }), vault: oneOf(['keychain', 'file'] as const) },
      { passphrase: passphraseText },
    ),
    ({ vault, passphrase }) => {
      if (vault === 'file' && passphrase === undefined)
        fail('passphrase', 'the file vault needs a passphrase');
      if (vault === 'keychain' && passphrase !== undefined)
        fail('passphrase', 'only the file vault takes a passphrase');
    },
  ),
  // Any length: a vault made elsewhere (the CLI) may predate the minimum; the vault itself judges.
  'vault.unlock': object({
    passphrase: (value: unknown, path: string): string => {
      if (typeof value !== 'string' || value === '') fail(path, 'must be a non-empty string');
      if (value.length > LIMITS.maxPassphraseChars)
        fail(path, `must be at most ${LIMITS.maxPassphraseChars} characters`);
      return value;
    },
  }),
  'settings.get': empty,
  'settings.update': object(
    {},
    {
      name: text({ max: LIMITS.nameChars }),
      relays: list((v: unknown, path: string) => {
        const t = text({ max: 512 })(v, path);
        if (!t.startsWith('/') || !t.includes('/p2p/'))
          fail(path, 'must be a multiaddr ending in /p2p/<relay peer id>');
        return t;
      }, 16),
      notifications: bool(),
    },
  ),
  'sandbox.start': empty,
  'sandbox.members': empty,
  'sandbox.decide': object(
    { member: ref, id: ref, decision: oneOf(['approve', 'deny'] as const) },
    { reason: text({ max: LIMITS.reasonChars, multiline: true }) },
  ),
  'group.create': refine(
    object({
      name: text({ max: LIMITS.nameChars }),
      threshold: int(LIMITS.minSize, LIMITS.maxSize),
      size: int(LIMITS.minSize, LIMITS.maxSize),
      scheme: oneOf(SCHEMES),
    }),
    ({ threshold, size }) => {
      if (threshold > size) fail('threshold', `must be from 2 to size (${size}), got ${threshold}`);
    },
  ),
  'group.join': object({ invite: text({ max: LIMITS.inviteChars }) }),
  'group.import': refine(
    object({
      name: text({ max: LIMITS.nameChars }),
      threshold: int(LIMITS.minSize, LIMITS.maxSize),
      size: int(LIMITS.minSize, LIMITS.maxSize),
      scheme: oneOf(SCHEMES),
      keyFile: text({ max: 4096 }),
    }),
    ({ threshold, size }) => {
      if (threshold > size) fail('threshold', `must be from 2 to size (${size}), got ${threshold}`);
    },
  ),
  'group.list': empty,
  'group.show': object({ group: ref }),
  'group.confirm': object({ group: ref }),
  'group.invite': object({ group: ref }),
  'group.leave': confirmed(
    object({ group: ref }, { confirm: bool() }),
    (i) =>
      `leaving ${shown(i.group)} removes it from this node; a ready group's share is deleted, ` +
      'and with fewer than its threshold of members left the key is lost for everyone',
  ),
  'request.create': refine(
    object(
      { group: ref, kind: oneOf(USE_KINDS), message: text({ max: 2 * LIMITS.messageBytes }) },
      { expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec), approve: bool() },
    ),
    ({ message }) => {
      if (!HEX.test(message)) fail('message', 'must be hex (0-9, a-f)');
      if (message.length % 2 !== 0) fail('message', 'hex must have an even number of digits');
      if (message.length === 0) fail('message', 'must not be empty');
    },
  ),
  'request.result': object({ id: ref }),
  'request.sign': refine(signInput, ({ message, encoding }) => {
    // The limit is on the bytes to be signed, whichever encoding carries them.
    let bytes: number;
    if (encoding === 'hex') {
      if (!HEX.test(message)) fail('message', 'must be hex (0-9, a-f)');
      if (message.length % 2 !== 0) fail('message', 'hex must have an even number of digits');
      bytes = message.length / 2;
    } else {
      if (LONE_SURROGATE.test(message)) fail('message', 'is not valid Unicode (lone surrogate)');
      bytes = utf8Length(message);
    }
    if (bytes === 0) fail('message', 'must not be empty');
    if (bytes > LIMITS.messageBytes) {
      fail('message', `must be at most ${LIMITS.messageBytes} bytes, got ${bytes}`);
    }
  }),
  'request.reshare': object(
    { group: ref },
    {
      threshold: int(LIMITS.minSize, LIMITS.maxSize),
      add: list(ref, 16),
      remove: list(ref, 16),
      expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec),
    },
  ),
  'request.repair': object(
    { group: ref, member: ref },
    { newcomer: ref, expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec) },
  ),
  'group.policy': object({ group: ref }),
  'request.reconstruct': refine(
    object(
      {
        group: ref,
        purpose: text({ max: LIMITS.reasonChars }),
        operation: oneOf(['export', 'ecdsa-sign'] as const),
      },
      {
        out: text({ max: 4096 }),
        passphrase: passphraseText,
        digest: text({ max: 64 }),
        expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec),
      },
    ),
    ({ operation, out, passphrase, digest }) => {
      if (operation === 'export' && (out === undefined || passphrase === undefined))
        fail('out', 'export needs out (a file path) and passphrase');
      if (operation === 'ecdsa-sign' && (digest === undefined || !/^[0-9a-fA-F]{64}$/.test(digest)))
        fail('digest', 'ecdsa-sign needs a 32-byte digest in hex');
    },
  ),
  'request.policy': object(
    { group: ref, policy: plainObject() },
    { expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec), approve: bool() },
  ),
  'request.refresh': object(
    { group: ref },
    { expiresInSec: int(LIMITS.minExpiresSec, LIMITS.maxExpiresSec) },
  ),
  'request.list': object({}, { group: ref, pending: bool() }),
  'request.show': object({ id: ref }),
  'request.approve': object({ id: ref }),
  'request.deny': object(
    { id: ref },
    { reason: text({ max: LIMITS.reasonChars, multiline: true }) },
  ),
  'request.wait': object({ id: ref, timeoutSec: int(0, LIMITS.maxTimeoutSec) }),
  'audit.list': object({}, { group: ref, limit: int(1, LIMITS.maxLimit) }),
  'audit.verify': empty,
  'backup.export': confirmed(
    object({ group: ref, passphrase: passphraseText }, { confirm: bool() }),
    (i) =>
      `a backup of your share of ${shown(i.group)} lets whoever has the file and its passphrase ` +
      'sign in your place in that group',
  ),
  'backup.restore': object({
    file: text({ max: LIMITS.backupChars, multiline: true }),
    passphrase: passphraseText,
  }),
};

/** Every operation of the contract, in declaration order. */
export const API_METHODS = Object.keys(SCHEMAS) as ApiMethod[];

export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && Object.hasOwn(SCHEMAS, name);
}

/**
 * Checks `input` against the schema of `method` and returns a fresh, normalised copy (texts
 * trimmed, absent optional fields left out). Throws ApiError('bad_input', '<field>: <problem>').
 */
export function validateInput<M extends ApiMethod>(method: M, input: unknown): ApiInput<M> {
  if (!isApiMethod(method)) fail('method', `unknown method ${shown(method)}`);
  const check = SCHEMAS[method] as Check<ApiOperations[M]['input']>;
  return check(input, '');
}
