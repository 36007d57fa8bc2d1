// The age commands: the group's age1 recipient, and decrypting a file encrypted to it. Only the
// file's header goes to the group (as an 'age' request); once T members approve, the node hands
// this client s·E for each X25519 stanza, and the file key is unwrapped and the file decrypted
// here, on this computer.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { base64 } from '@scure/base';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { armor, Decrypter } from 'age-encryption';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { LIMITS } from '../../shared/api/schema.js';
import {
  ageRecipient,
  groupStanzas,
  headerMacMatches,
  MAX_HEADER_BYTES,
  montgomeryOf,
  parseAgeHeader,
  sharedSecretOf,
  unwrapSshEd25519,
  unwrapX25519,
  type AgeHeader,
} from '../../shared/crypto/age.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { ageMessage, MAX_FILE_NAME_CHARS } from '../../shared/requests/age.js';
import {
  call,
  clean,
  EXIT,
  int,
  output,
  outputCreated,
  str,
  UsageError,
  waitOutcome,
  waitProgress,
  type Command,
  type Context,
} from '../cli.js';
import { callControl } from '../server/control.js';

/** An armored file is read whole to take the armor off: it must be small. */
const MAX_ARMORED_BYTES = 64 * 1024 * 1024;
const ARMOR_START = '-----BEGIN AGE ENCRYPTED FILE-----';

/** The group's ed25519 key (32 bytes) from its view; a usage error for any other group. */
function edKeyOf(g: GroupView): Uint8Array {
  if (g.scheme !== 'ed25519')
    throw new UsageError(`${clean(g.name)} is a ${g.scheme} group: age needs an ed25519 group`);
  if (!isLowerHex(g.publicKey, 64))
    throw new UsageError(`${clean(g.name)} has no key yet (status ${g.status})`);
  return hexToBytes(g.publicKey);
}

/** The file to decrypt: its header, its binary size, and how to read all of it again. */
interface AgeFile {
  header: AgeHeader;
  headerBytes: Uint8Array;
  size: number;
  /** Set for an armored file (read whole, armor removed). */
  whole?: Uint8Array;
}

async function readAgeFile(path: string, command: string): Promise<AgeFile> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`--file: ${path} is not a regular file`, command);
    size = info.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`--file: cannot read ${path} (${reason})`, command);
  }
  const f = await open(path, 'r');
  let start: Uint8Array;
  try {
    const buf = Buffer.alloc(Math.min(size, MAX_HEADER_BYTES + 1024));
    const { bytesRead } = await f.read(buf, 0, buf.length, 0);
    start = new Uint8Array(buf.subarray(0, bytesRead));
  } finally {
    await f.close();
  }
  let whole: Uint8Array | undefined;
  let bytes = start;
  if (new TextDecoder().decode(start.subarray(0, ARMOR_START.length)) === ARMOR_START) {
    if (size > MAX_ARMORED_BYTES)
      throw new UsageError(
        `--file: ${path} is ASCII-armored and has ${size} bytes; armored files are read whole, up to ${MAX_ARMORED_BYTES}`,
        command,
      );
    try {
      whole = armor.decode(await readFile(path, 'utf8'));
    } catch (e) {
      throw new UsageError(`--file: ${path}: bad armor (${(e as Error).message})`, command);
    }
    bytes = whole;
    size = whole.length;
  }
  try {
    const header = parseAgeHeader(bytes);
    return { header, headerBytes: bytes.slice(0, header.length), size, whole };
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    throw new UsageError(
      `--file: ${path} is not an age file: ${e.message.replace(/^bad_input: /, '')}`,
      command,
    );
  }
}

/**
 * The file key: the first of the group's stanzas (as the request kind lists them) whose unwrap
 * with its s·E opens the header's MAC.
 */
function fileKeyOf(file: AgeFile, points: Uint8Array[], groupKey: Uint8Array): Uint8Array {
  const targets = groupStanzas(file.header, groupKey);
  if (targets.length !== points.length)
    throw new Error(`the group computed ${points.length} secrets for ${targets.length} recipients`);
  const recipient = montgomeryOf(groupKey);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    const stanza = file.header.stanzas[t.index]!;
    const shared = sharedSecretOf(points[i]!);
    const key =
      t.type === 'X25519'
        ? unwrapX25519(stanza, shared, recipient)
        : unwrapSshEd25519(stanza, shared, groupKey);
    if (key && headerMacMatches(file.header, key)) return key;
    key?.fill(0);
  }
  throw new Error(
    `none of the ${targets.length} recipients the group computed for is its ${ageRecipient(groupKey)}`,
  );
}

/** Decrypts the whole file with `fileKey` into `out` (written beside it, then renamed). */
async function decryptTo(
  path: string,
  file: AgeFile,
  fileKey: Uint8Array,
  out: string,
): Promise<number> {
  const d = new Decrypter();
  d.addIdentity({ unwrapFileKey: () => fileKey });
  const tmp = join(dirname(out), `.${basename(out)}.${bytesToHex(randomBytes(6))}.partial`);
  try {
    const source = file.whole
      ? new Blob([file.whole]).stream()
      : (Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>);
    const plain = await d.decrypt(source);
    await pipeline(
      Readable.fromWeb(plain as unknown as NodeReadableStream<Uint8Array>),
      createWriteStream(tmp, { flags: 'wx', mode: 0o600 }),
    );
    await rename(tmp, out);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    fileKey.fill(0);
  }
  return (await stat(out)).size;
}

/** The request's message must be for this very header (a resumed decryption, --id). */
function sameHeader(r: RequestView, file: AgeFile, command: string): void {
  let header: unknown;
  try {
    header = (JSON.parse(new TextDecoder().decode(hexToBytes(r.message))) as { header?: unknown })
      .header;
  } catch {
    header = undefined;
  }
  if (r.kind !== 'age' || header !== base64.encode(file.headerBytes))
    throw new UsageError(
      `--id: request ${clean(r.id)} is not the decryption of this file's header`,
      command,
    );
}

async function waitDone(
  ctx: Context,
  first: RequestView,
  timeoutSec: number,
): Promise<RequestView> {
  let r = first;
  if (r.status !== 'pending' && r.status !== 'signing') return r;
  const progress = ctx.json ? ctx.io.stderr : ctx.io.stdout;
  let shown = '';
  const until = Date.now() + timeoutSec * 1000;
  for (;;) {
    const line = waitProgress(r);
    if (line !== shown) progress.write(`${line}\n`);
    shown = line;
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) break;
    r = await callControl(ctx.home, 'request.wait', { id: r.id, timeoutSec: Math.min(left, 2) });
    if (r.status !== 'pending' && r.status !== 'signing') break;
  }
  progress.write(`${waitOutcome(r, timeoutSec)}\n`);
  return r;
}

export function ageCommands(): Command[] {
  return [
    {
      name: 'age recipient',
      usage: '--group GROUP',
      summary: "print the group's age1 recipient (encrypt to it with `age -r`)",
      options: { group: { type: 'string', value: 'GROUP', help: 'group id or name (ed25519)' } },
      required: ['group'],
      fields: { group: '--group' },
      async run(ctx) {
        const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
        const recipient = ageRecipient(edKeyOf(g));
        output(ctx, { group: g.id, recipient }, () => [recipient]);
        return EXIT.OK;
      },
    },
    {
      name: 'request decrypt',
      usage:
        '--group GROUP --file FILE.age --out FILE [--approve] [--expires SECONDS] [--wait SECONDS] [--id ID]',
      summary:
        'decrypt an age file encrypted to the group: only its header goes to the group; once approved it is decrypted here',
      options: {
        group: { type: 'string', value: 'GROUP', help: 'group id or name (ed25519)' },
        file: { type: 'string', value: 'FILE.age', help: 'the age file (binary or armored)' },
        out: {
          type: 'string',
          value: 'FILE',
          help: 'where to write the decrypted file (must not exist)',
        },
        approve: {
          type: 'boolean',
          help: 'approve it yourself as you make it (else run `conclave approve ID` like the others)',
        },
        expires: {
          type: 'string',
          value: 'SECONDS',
          help: `seconds until the request expires (${LIMITS.minExpiresSec}..${LIMITS.maxExpiresSec})`,
        },
        wait: {
          type: 'string',
          value: 'SECONDS',
          help: `how long to wait for the approvals (default 600, 0..${LIMITS.maxTimeoutSec}); run again with --id to finish later`,
        },
        id: {
          type: 'string',
          value: 'ID',
          help: 'finish an earlier decryption request of this file',
        },
      },
      required: ['group', 'file', 'out'],
      fields: { group: '--group', expiresInSec: '--expires', id: '--id' },
      async run(ctx) {
        const cmd = ctx.command.name;
        const path = str(ctx, 'file')!;
        const out = str(ctx, 'out')!;
        const waitSec =
          int(ctx, 'wait', {
            min: 0,
            max: LIMITS.maxTimeoutSec,
            words: `from 0 to ${LIMITS.maxTimeoutSec}`,
          }) ?? 600;
        if (
          await stat(out).then(
            () => true,
            () => false,
          )
        )
          throw new UsageError(`--out: ${out} exists; give a new file name`, cmd);
        const file = await readAgeFile(path, cmd);
        const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
        const edKey = edKeyOf(g);
        let r: RequestView;
        const id = str(ctx, 'id');
        if (id !== undefined) {
          r = await call(ctx, 'request.show', { id });
          sameHeader(r, file, cmd);
        } else {
          const name =
            [...basename(path)].slice(0, MAX_FILE_NAME_CHARS).join('').trim() || 'file.age';
          r = await call(ctx, 'request.create', {
            group: g.id,
            kind: 'age',
            message: bytesToHex(ageMessage({ name, size: file.size, header: file.headerBytes })),
            expiresInSec: int(ctx, 'expires'),
            approve: ctx.values.approve === true || undefined,
          });
          if (!ctx.json) outputCreated(ctx, r);
        }
        r = await waitDone(ctx, r, waitSec);
        if (r.status !== 'done') {
          if (!ctx.json && (r.status === 'pending' || r.status === 'signing'))
            ctx.io.stdout.write(
              `to finish later: conclave request decrypt --group ${clean(g.name)} --file ${clean(path)} --out ${clean(out)} --id ${clean(r.id)}\n`,
            );
          if (ctx.json) output(ctx, { request: r }, () => []);
          return r.status === 'pending' || r.status === 'signing' ? EXIT.PENDING : EXIT.FAILED;
        }
        const result = await call(ctx, 'request.result', { id: r.id });
        if (!result.ecdh) throw new Error(`request ${r.id} gave no ECDH result to this node`);
        const fileKey = fileKeyOf(
          file,
          result.ecdh.map((h) => hexToBytes(h)),
          edKey,
        );
        const bytes = await decryptTo(path, file, fileKey, out);
        output(ctx, { request: r.id, out, bytes }, () => [
          `decrypted ${clean(path)} to ${clean(out)} (${bytes} bytes)`,
        ]);
        return EXIT.OK;
      },
    },
  ];
}
