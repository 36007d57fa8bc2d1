// The Bitcoin command: `request sign --group G --psbt FILE` asks a taproot group to sign its
// inputs of a PSBT; with --out it waits for the approvals and saves the signed, finalized PSBT.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { GroupView } from '../../shared/api/index.js';
import {
  addressOf,
  isNetwork,
  NETWORKS,
  p2trScript,
  type BitcoinNetwork,
} from '../../shared/bitcoin/network.js';
import { decodePsbt, MAX_PSBT_BYTES, PsbtError, readPsbtFile } from '../../shared/bitcoin/psbt.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { psbtMessage } from '../../shared/requests/psbt.js';
import {
  call,
  clean,
  EXIT,
  int,
  output,
  outputCreated,
  str,
  UsageError,
  type Command,
  type Context,
  type OptionSpec,
} from '../cli.js';
import { waitDone } from './wait.js';

/** The options `request sign` takes for a PSBT (added to its own). */
export const PSBT_SIGN_OPTIONS: Record<string, OptionSpec> = {
  psbt: {
    type: 'string',
    value: 'FILE',
    help: 'a PSBT (binary, base64 or hex) spending from a taproot group: the group signs its inputs',
  },
  network: {
    type: 'string',
    value: 'NET',
    help: `with --psbt: the network its addresses are shown for (${NETWORKS.join(', ')}; default bitcoin)`,
  },
  out: {
    type: 'string',
    value: 'FILE',
    help: 'with --psbt: wait until the group signed, then save the signed PSBT to FILE',
  },
};

function usage(ctx: Context, message: string): never {
  throw new UsageError(message, ctx.command.name);
}

async function readPsbt(ctx: Context, path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) usage(ctx, `--psbt: ${path} is not a regular file`);
    // Hex text is twice the PSBT's size; anything bigger cannot be one the group signs.
    if (info.size > 2 * MAX_PSBT_BYTES + 16)
      usage(ctx, `--psbt: ${path} has ${info.size} bytes; a PSBT may have ${MAX_PSBT_BYTES}`);
    return readPsbtFile(new Uint8Array(await readFile(path)));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof PsbtError) usage(ctx, `--psbt: ${path} ${err.message}`);
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return usage(ctx, `--psbt: cannot read ${path} (${reason})`);
  }
}

/** The group's x-only output key (its bc1p address's key), or a usage error saying why not. */
function outputKeyOf(ctx: Context, g: GroupView): { output: Uint8Array; internal?: Uint8Array } {
  if (g.scheme !== 'taproot')
    usage(ctx, `${g.name} is a ${g.scheme} group: a PSBT is signed by a taproot group`);
  if (!isLowerHex(g.publicKey, 64)) usage(ctx, `${g.name} has no key yet (status ${g.status})`);
  const internal = isLowerHex(g.internalKey, 64) ? hexToBytes(g.internalKey) : undefined;
  return { output: hexToBytes(g.publicKey), ...(internal ? { internal } : {}) };
}

function networkOption(ctx: Context): BitcoinNetwork {
  const net = str(ctx, 'network') ?? 'bitcoin';
  if (!isNetwork(net))
    usage(ctx, `--network: must be one of ${NETWORKS.join(', ')}, got ${JSON.stringify(net)}`);
  return net;
}

/** `request sign --group G --psbt FILE [--network NET] [--out FILE]`. */
export async function requestSignPsbt(ctx: Context): Promise<number> {
  const path = str(ctx, 'psbt')!;
  const other = ['message', 'file', 'hex', 'nostr-event'].find((k) => str(ctx, k) !== undefined);
  if (other) usage(ctx, `give either --psbt or --${other}, not both`);
  const network = networkOption(ctx);
  const psbt = await readPsbt(ctx, path);
  const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
  const keys = outputKeyOf(ctx, g);
  // The same reading every approver's node makes: refused here before anyone is asked.
  try {
    decodePsbt(psbt, {
      network,
      outputKey: keys.output,
      ...(keys.internal ? { internalKey: keys.internal } : {}),
    });
  } catch (err) {
    if (err instanceof PsbtError)
      usage(ctx, `--psbt: ${path}: ${err.field === 'psbt' ? '' : `${err.field} `}${err.message}`);
    throw err;
  }
  const r = await call(ctx, 'request.create', {
    group: g.id,
    kind: 'psbt',
    message: bytesToHex(psbtMessage(psbt, network)),
    expiresInSec: int(ctx, 'expires'),
    approve: ctx.values.approve === true || undefined,
  });
  const out = str(ctx, 'out');
  if (out === undefined) {
    outputCreated(ctx, r);
    if (!ctx.json)
      ctx.io.stdout.write(
        `once done, the signed PSBT: conclave request result ${clean(r.id)} --out signed.psbt\n`,
      );
    return EXIT.OK;
  }
  if (!ctx.json) outputCreated(ctx, r);
  const end = await waitDone(ctx, r);
  if (end.status !== 'done') {
    output(ctx, end, () => [
      `${clean(end.id)}: ${end.status}${end.failure ? `: ${clean(end.failure)}` : ''}; nothing saved`,
    ]);
    return EXIT.FAILED;
  }
  const res = await call(ctx, 'request.result', { id: end.id });
  const a = res.artifact;
  if (!a?.base64) throw new Error(`request ${end.id} is done but has no signed PSBT`);
  await writeFile(out, Buffer.from(a.base64, 'base64'), { mode: 0o600 });
  output(ctx, res, () => [
    `saved the signed PSBT to ${clean(out)}`,
    `PSBT (base64): ${a.base64}`,
    ...(a.fields ?? []).map((f) => `${clean(f.label)}: ${clean(f.value)}`),
  ]);
  return EXIT.OK;
}

/** `bitcoin address --group G [--network NET]`: where to send coins the group spends with PSBTs. */
export function psbtCommands(): Command[] {
  return [
    {
      name: 'bitcoin address',
      usage: '--group GROUP [--network NET]',
      summary: "a taproot group's key-path address (bc1p…), whose coins it spends with PSBTs",
      options: {
        group: { type: 'string', value: 'GROUP', help: 'group id or name' },
        network: {
          type: 'string',
          value: 'NET',
          help: `${NETWORKS.join(', ')} (default bitcoin)`,
        },
      },
      required: ['group'],
      fields: { group: '--group' },
      async run(ctx) {
        const network = networkOption(ctx);
        const g = await call(ctx, 'group.show', { group: str(ctx, 'group') });
        const { output: key } = outputKeyOf(ctx, g);
        const address = addressOf(p2trScript(key), network)!;
        output(ctx, { group: g.id, network, address, outputKey: g.publicKey }, () => [address]);
        return EXIT.OK;
      },
    },
  ];
}
