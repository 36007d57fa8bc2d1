// 'age': decrypt an age file encrypted to the group's age1 recipient, without the key ever being put
// together. Only the file's header travels (with the name and size the requester gives); every
// approver's node reads the recipients from the header bytes itself, and the group computes s·E for
// each X25519 stanza's ephemeral share E. The result goes to the requester's node only.
import { base64 } from '@scure/base';
import {
  groupStanzas,
  MAX_HEADER_BYTES,
  parseAgeHeader,
  plaintextSize,
  type AgeHeader,
  type GroupStanza,
} from '../crypto/age.js';
import { canonicalJSON } from '../crypto/backup.js';
import { CryptoError } from '../crypto/errors.js';
import { isLowerHex } from '../protocol/fields.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { LIMITS } from '../protocol/wire.js';
import {
  canonicalObject,
  fail,
  fingerprintOf,
  int,
  memberName,
  memberOf,
  object,
  show,
  text,
} from './fields.js';
import type { CardField, RequestContext, RequestKindModule } from './types.js';

/** For the app's "use this key": the group's `age1…` recipient. */
export { ageRecipient } from '../crypto/age.js';

/** A file name as the card shows it, in characters. */
export const MAX_FILE_NAME_CHARS = 255;

export interface AgeParams {
  /** The file's name as the requester gives it (data: shown, never trusted). */
  name: string;
  /** The encrypted file's size in bytes, as the requester gives it (checked against the header). */
  size: number;
  /** The header's exact bytes, "--- <mac>\n" included. */
  header: Uint8Array;
  parsed: AgeHeader;
  /**
   * The stanzas the group computes s·E for, in header order (every X25519 stanza, and the
   * ssh-ed25519 stanzas tagged with the group's key), each with E on the Edwards curve.
   */
  targets: GroupStanza[];
  /** Each stanza's type (its first argument), in header order. */
  types: string[];
}

/** The request message for a file: canonical JSON { header (base64), name, size, v: 1 }. */
export function ageMessage(p: { name: string; size: number; header: Uint8Array }): Uint8Array {
  return utf8ToBytes(
    canonicalJSON({ header: base64.encode(p.header), name: p.name, size: p.size, v: 1 }),
  );
}

function headerBytes(v: unknown): Uint8Array {
  const max = Math.ceil(MAX_HEADER_BYTES / 3) * 4;
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    fail('header', `must be the age header in base64, at most ${MAX_HEADER_BYTES} bytes`);
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(v);
  } catch (e) {
    return fail('header', `is not base64 (${(e as Error).message}): ${show(v)}`);
  }
  if (base64.encode(bytes) !== v) fail('header', `is not canonical base64: ${show(v)}`);
  return bytes;
}

/** The group's ed25519 key from the context, when the node gives it (for ssh-ed25519 stanzas). */
function groupKeyOf(ctx: RequestContext): Uint8Array | undefined {
  const k = ctx.publicKey;
  return isLowerHex(k, 64) ? hexToBytes(k) : undefined;
}

function read(message: Uint8Array, ctx: RequestContext): AgeParams {
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const o = object(canonicalObject(message), 'message', ['header', 'name', 'size', 'v']);
  int(o.v, 'v', 1, 1);
  const header = headerBytes(o.header);
  let parsed: AgeHeader;
  try {
    parsed = parseAgeHeader(header);
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    return fail('header', `is not an age header: ${e.message.replace(/^bad_input: /, '')}`);
  }
  if (parsed.length !== header.length)
    fail('header', `must be the header alone: ${header.length - parsed.length} bytes follow it`);
  const types = parsed.stanzas.map((s) => s.args[0]!);
  if (types.includes('scrypt'))
    fail('header', 'the file is encrypted with a passphrase (scrypt), not to the group');
  const targets = groupStanzas(parsed, groupKeyOf(ctx), (i, e) =>
    fail(`header.stanza[${i}]`, `refused: ${e.message.replace(/^bad_[a-z]+: /, '')}`),
  );
  if (targets.length === 0)
    fail(
      'header',
      `has no X25519 recipient and no ssh-ed25519 recipient of this group's key, so it is not encrypted to the group (it has ${types.map((t) => show(t)).join(', ')})`,
    );
  const name = text(o.name, 'name', MAX_FILE_NAME_CHARS);
  const size = int(o.size, 'size', header.length, Number.MAX_SAFE_INTEGER);
  if (plaintextSize(size, header.length) === undefined)
    fail('size', `${size} bytes cannot be an age file with this ${header.length}-byte header`);
  return { name, size, header, parsed, targets, types };
}

/** "48,213 bytes": digits grouped by thousands, the same in every locale. */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} ${n === 1 ? one : many}`;
}

/** "3 (2 X25519, 1 ssh-ed25519)" or "2, both X25519", from the header's stanzas. */
function recipientsLine(types: string[]): string {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  if (counts.size === 1) {
    const [t] = counts.keys();
    return types.length === 1
      ? `1, ${t}`
      : `${types.length}, ${types.length === 2 ? 'both' : 'all'} ${t}`;
  }
  return `${types.length} (${[...counts].map(([t, n]) => `${n} ${t}`).join(', ')})`;
}

export const age: RequestKindModule<AgeParams> = {
  kind: 'age',
  schemes: ['ed25519'],
  parse: read,
  read,
  decode(p, ctx) {
    const who = memberName(ctx, ctx.author);
    const fp = fingerprintOf(ctx.author);
    const you = ctx.me === ctx.author ? ' (you)' : '';
    const plain = plaintextSize(p.size, p.header.length)!;
    const x = p.targets.filter((t) => t.type === 'X25519').length;
    const ssh = p.targets.filter((t) => t.type === 'ssh-ed25519');
    const thisGroup =
      ssh.length > 0
        ? `Yes: recipient ${ssh.map((t) => t.index + 1).join(' and ')} is this group’s SSH key (ssh-ed25519, tagged with its key).`
        : x === 1
          ? 'The one X25519 recipient must be this group’s age1 recipient for the file to open.'
          : `One of the ${x} X25519 recipients must be this group’s age1 recipient for the file to open (age does not say which until it is opened).`;
    const fields: CardField[] = [
      { label: 'File', value: p.name, kind: 'text' },
      {
        label: 'Size',
        value: `${plural(p.size, 'byte')} encrypted, ${plural(plain, 'byte')} once decrypted`,
        kind: 'number',
      },
      {
        label: 'Requested by',
        value: `${who}${you} (${fp})`,
        kind: 'members',
        people: [
          {
            name: who,
            peerId: ctx.author,
            fingerprint: fp,
            change: 'requester',
            member: !!memberOf(ctx, ctx.author),
          },
        ],
      },
      { label: 'Recipients in the header', value: recipientsLine(p.types) },
      { label: 'This group', value: thisGroup },
    ];
    const warnings = [
      `Approving lets ${who} read this file on their computer: the group computes the secret that opens it, and only ${who}'s node receives it. Approve only if they should read “${p.name}”.`,
    ];
    if (p.targets.length > 1)
      warnings.push(
        `The group computes a secret for each of ${p.targets.length} recipients; those of other recipients are of no use without their own keys.`,
      );
    return {
      kind: 'age',
      title: `Decrypt an age file with the key of “${ctx.groupName}”`,
      summary: `${who}${you} asks to decrypt “${p.name}” (${plural(plain, 'byte')}) with the key of ${ctx.groupName}. Only the file's header was sent; the file is decrypted on ${who}'s computer.`,
      fields,
      warnings,
    };
  },
  execution: (p) => ({ op: 'ecdh', points: p.targets.map((t) => t.point) }),
  policy: {
    noun: 'age decryption',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
