// 'psbt': a taproot group signs the key-path inputs of a Bitcoin transaction given as a PSBT. The
// message carries the whole PSBT; every approver's node reads it and computes the BIP341 sighashes
// itself, and the card shows every input and output, what goes back to the group and the fee.
import { equalBytes } from '@noble/curves/utils.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { p2tr } from '@scure/btc-signer';
import {
  NETWORKS,
  describeScript,
  formatSats,
  networkName,
  networksOf,
  normalAddress,
  type BitcoinNetwork,
} from '../bitcoin/network.js';
import {
  MAX_PSBT_BYTES,
  PsbtError,
  decodePsbt,
  finalizePsbt,
  type DecodedPsbt,
} from '../bitcoin/psbt.js';
import { canonicalJSON } from '../crypto/backup.js';
import { isLowerHex } from '../protocol/fields.js';
import { LIMITS } from '../protocol/wire.js';
import { canonicalObject, fail, int, list, object, oneOf, show } from './fields.js';
import type {
  CardField,
  Execution,
  KindOutput,
  RequestArtifact,
  RequestCard,
  RequestContext,
  RequestKindModule,
} from './types.js';

// What the renderer's Spend panel needs to read a PSBT as the members' nodes will (it may import
// shared/requests only).
export { NETWORKS, formatSats, networkName, type BitcoinNetwork } from '../bitcoin/network.js';
export { PsbtError, decodePsbt, readPsbtFile, type DecodedPsbt } from '../bitcoin/psbt.js';

export interface PsbtParams {
  network: BitcoinNetwork;
  /** The PSBT exactly as the message carries it. */
  psbt: Uint8Array;
  /** What this node read from it, with the group's key: inputs, outputs, fee, sighashes. */
  tx: DecodedPsbt;
}

/** Policy bounds on what a transaction may pay out. */
export interface PsbtLimits {
  /** Most sats a transaction may send to outputs that are not the group's own address. */
  maxSendSats?: number;
  /** Most sats a transaction may leave as fee. */
  maxFeeSats?: number;
  /** The only addresses a transaction may pay (besides change back to the group). */
  allowedAddresses?: string[];
}

/** Addresses a policy may list. */
export const MAX_ALLOWED_ADDRESSES = 100;
const MAX_SATS = 21_000_000 * 100_000_000;

/** The request message: canonical JSON `{"network":…,"psbt":"<base64>","v":1}`. */
export function psbtMessage(psbt: Uint8Array, network: BitcoinNetwork): Uint8Array {
  return utf8ToBytes(canonicalJSON({ v: 1, network, psbt: base64.encode(psbt) }));
}

/** BIP341 with no script tree: Q = P + hash_TapTweak(P)·G, P the even-Y internal key (x-only). */
function outputKeyOf(internal: Uint8Array): Uint8Array | undefined {
  try {
    return p2tr(internal).tweakedPubkey;
  } catch {
    return undefined;
  }
}

/**
 * The group's taproot keys from the context the node gives: its raw group key (`publicKey`, 33
 * bytes compressed: the internal key with its parity), or the forms GroupView uses (`publicKey`
 * 32 bytes: the x-only output key; `internalKey`: the x-only internal key). Both must agree.
 */
export function groupTaprootKeys(
  ctx: RequestContext,
): { internal?: Uint8Array; output: Uint8Array } | undefined {
  const { publicKey, internalKey } = ctx as { publicKey?: unknown; internalKey?: unknown };
  let internal: Uint8Array | undefined;
  let output: Uint8Array | undefined;
  if (isLowerHex(internalKey, 64)) internal = hexToBytes(internalKey);
  if (typeof publicKey === 'string' && /^0[23][0-9a-f]{64}$/.test(publicKey)) {
    const x = hexToBytes(publicKey.slice(2));
    if (internal && !equalBytes(internal, x)) return undefined;
    internal = x;
  } else if (isLowerHex(publicKey, 64)) output = hexToBytes(publicKey);
  if (internal) {
    const derived = outputKeyOf(internal);
    if (!derived || (output && !equalBytes(output, derived))) return undefined;
    output = derived;
  }
  if (!output) return undefined;
  return internal ? { internal, output } : { output };
}

function read(message: Uint8Array, ctx: RequestContext): PsbtParams {
  if (message.length > LIMITS.message)
    fail('message', `must be at most ${LIMITS.message} bytes, got ${message.length}`);
  const o = object(canonicalObject(message), 'message', ['network', 'psbt', 'v']);
  int(o.v, 'v', 1, 1);
  const network = oneOf(o.network, 'network', NETWORKS);
  if (typeof o.psbt !== 'string') fail('psbt', `must be base64 text, got ${show(o.psbt)}`);
  if (o.psbt.length > Math.ceil(MAX_PSBT_BYTES / 3) * 4)
    fail('psbt', `must be at most ${MAX_PSBT_BYTES} bytes`);
  let psbt: Uint8Array;
  try {
    psbt = base64.decode(o.psbt);
  } catch {
    return fail('psbt', `is not base64: ${show(o.psbt)}`);
  }
  // One PSBT has one encoding, so one request has one id.
  if (base64.encode(psbt) !== o.psbt) fail('psbt', 'is not canonical base64');
  const keys = groupTaprootKeys(ctx);
  if (!keys)
    fail('psbt', `cannot be read: this node does not know the taproot key of ${ctx.groupName}`);
  try {
    const tx = decodePsbt(psbt, {
      network,
      outputKey: keys.output,
      ...(keys.internal ? { internalKey: keys.internal } : {}),
    });
    return { network, psbt, tx };
  } catch (e) {
    if (e instanceof PsbtError) fail(e.field === 'psbt' ? 'psbt' : `psbt.${e.field}`, e.message);
    throw e;
  }
}

/** "1 input" / "2 inputs". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function rate(sats: bigint, vsize: number): string {
  return `${(Number(sats) / vsize).toFixed(1)} sat/vB`;
}

function lockTimeWords(t: number): string {
  return t < 500_000_000
    ? `not before block ${t}`
    : `not before ${new Date(t * 1000).toISOString().replace('.000Z', 'Z')}`;
}

/** The fee rate: once signed (exact, or a bound when others still sign), and on the unsigned size. */
function feeRateWords(tx: DecodedPsbt): string {
  const signed = tx.signedVsizeExact
    ? `${rate(tx.fee, tx.signedVsize)} once signed (${tx.signedVsize} vB)`
    : `at most ${rate(tx.fee, tx.signedVsize)} once signed (at least ${tx.signedVsize} vB: the other inputs' signatures add to it)`;
  return `${signed}; ${rate(tx.fee, tx.unsignedVsize)} on the unsigned size (${tx.unsignedVsize} vB)`;
}

/** A fee that is a mistake more often than not: above 1,000 sat/vB, or more than what is sent. */
/**
 * A fee a careful custodian should question: above 250 sat/vB (rarely paid even when blocks are
 * full), or more than a tenth of what is sent (and over 10,000 sat, so dust-sized spends of a
 * few thousand sats do not cry wolf).
 */
function feeWarning(tx: DecodedPsbt): string | undefined {
  const perVb = Number(tx.fee) / tx.signedVsize;
  if (perVb > 250 || (tx.sentOut > 0n && tx.fee * 10n > tx.sentOut && tx.fee > 10_000n))
    return `The fee is very high: ${formatSats(tx.fee)} (${rate(tx.fee, tx.signedVsize)}${tx.sentOut > 0n ? `, against ${formatSats(tx.sentOut)} sent` : ''}). Whatever the outputs do not take goes to the miner.`;
  return undefined;
}

function decode(p: PsbtParams, ctx: RequestContext): RequestCard {
  const { tx } = p;
  const foreign = tx.inputs.filter((i) => !i.group);
  const others = tx.outputs.filter((o) => !o.change);
  const fields: CardField[] = [
    { label: 'Network', value: networkName(p.network) },
    {
      label: 'Sent to others',
      value:
        others.length === 0
          ? 'nothing: every output comes back to this group'
          : `${formatSats(tx.sentOut)} to ${count(others.length, 'output')}`,
    },
    { label: 'Fee', value: formatSats(tx.fee) },
    { label: 'Fee rate', value: feeRateWords(tx) },
  ];
  for (const i of tx.inputs) {
    const where = i.address ?? describeScript(i.script);
    const who = i.group
      ? 'this group’s: the group signs it'
      : i.final
        ? 'not this group’s: already signed by its owner'
        : 'not this group’s: its owner signs it separately';
    fields.push({
      label: `Input #${i.index}${i.group ? ' (this group’s)' : ''}`,
      value: `${i.txid}:${i.vout} — ${formatSats(i.amount)} — ${where} — ${who}`,
    });
  }
  for (const o of tx.outputs) {
    const where = o.address ?? describeScript(o.script);
    fields.push({
      label: `Output #${o.index}${o.change ? ' (change back to this group)' : ''}`,
      value: `${where} — ${formatSats(o.amount)} — ${o.change ? 'change back to this group' : 'to someone else'}`,
    });
  }
  fields.push(
    {
      label: 'Total in',
      value: `${formatSats(tx.totalIn)}, of which ${formatSats(tx.groupIn)} from this group`,
    },
    {
      label: 'Total out',
      value: `${formatSats(tx.totalOut)}, of which ${formatSats(tx.change)} back to this group`,
    },
    {
      label: 'Leaving this group',
      value: `${formatSats(tx.groupIn - tx.change)} (its inputs less its change, fee included)`,
    },
  );
  if (tx.lockTime !== 0) fields.push({ label: 'Lock time', value: lockTimeWords(tx.lockTime) });
  if (tx.txid) fields.push({ label: 'Transaction id', value: tx.txid, kind: 'hex' });

  const warnings: string[] = [];
  if (p.network !== 'bitcoin')
    warnings.push(
      `This transaction is for ${networkName(p.network)}: its addresses are shown as that network writes them.`,
    );
  if (foreign.length)
    warnings.push(
      `${count(foreign.length, 'input')} (#${foreign.map((i) => i.index).join(', #')}) ${foreign.length === 1 ? 'is' : 'are'} not this group’s. The group signs only its own inputs, and its signatures are valid only with exactly these inputs and outputs.`,
    );
  for (const o of others)
    if (!o.address)
      warnings.push(`Output #${o.index} has no address: ${describeScript(o.script)}.`);
  const fw = feeWarning(tx);
  if (fw) warnings.push(fw);

  const n = tx.groupInputs.length;
  const summary =
    others.length === 0
      ? `Move ${formatSats(tx.groupIn)} from ${count(n, 'input')} of ${ctx.groupName} back to its own address, paying a fee of ${formatSats(tx.fee)}, on ${networkName(p.network)}.`
      : `Send ${formatSats(tx.sentOut)} to ${count(others.length, 'output')} that ${others.length === 1 ? 'is' : 'are'} not ${ctx.groupName}’s, paying a fee of ${formatSats(tx.fee)}, signing ${count(n, 'input')} of ${ctx.groupName} on ${networkName(p.network)}.`;
  return {
    kind: 'psbt',
    title: `Spend bitcoin from “${ctx.groupName}”`,
    summary,
    fields,
    ...(warnings.length ? { warnings } : {}),
  };
}

function execution(p: PsbtParams): Execution {
  return { op: 'sign', parts: p.tx.sighashes.map((message) => ({ message, tweak: true })) };
}

function result(p: PsbtParams, output: KindOutput, ctx: RequestContext): RequestArtifact {
  if (!('signatures' in output)) fail('result', 'a PSBT is finished with signatures');
  const keys = groupTaprootKeys(ctx);
  if (!keys)
    fail('psbt', `cannot be finished: this node does not know the taproot key of ${ctx.groupName}`);
  let done: ReturnType<typeof finalizePsbt>;
  try {
    done = finalizePsbt(p.psbt, p.tx, keys.output, output.signatures);
  } catch (e) {
    if (e instanceof PsbtError) fail(e.field, e.message);
    throw e;
  }
  const fields: { label: string; value: string }[] = [];
  if (done.complete && done.txHex) {
    fields.push({ label: 'Raw transaction (hex)', value: done.txHex });
    if (done.txid) fields.push({ label: 'Transaction id', value: done.txid });
    fields.push({
      label: 'Broadcast',
      value: `every input is signed: broadcast the raw transaction (bitcoin-cli${p.network === 'bitcoin' ? '' : ` -${p.network === 'testnet' ? 'testnet' : p.network}`} sendrawtransaction <hex>)`,
    });
  } else
    fields.push({
      label: 'Still to sign',
      value: `input${done.pending.length === 1 ? '' : 's'} #${done.pending.join(', #')} (not this group’s): their owners sign this PSBT, then it can be finalized and broadcast`,
    });
  return {
    name: 'signed.psbt',
    mediaType: 'application/octet-stream',
    base64: base64.encode(done.psbt),
    fields,
  };
}

function address(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 100 || networksOf(v).length === 0)
    fail(field, `must be a Bitcoin address, got ${show(v)}`);
  return normalAddress(v);
}

function validateLimits(v: unknown): PsbtLimits {
  const o = object(v, 'limits.psbt', [], ['maxSendSats', 'maxFeeSats', 'allowedAddresses']);
  const out: PsbtLimits = {};
  if (o.maxSendSats !== undefined)
    out.maxSendSats = int(o.maxSendSats, 'limits.psbt.maxSendSats', 0, MAX_SATS);
  if (o.maxFeeSats !== undefined)
    out.maxFeeSats = int(o.maxFeeSats, 'limits.psbt.maxFeeSats', 0, MAX_SATS);
  if (o.allowedAddresses !== undefined) {
    const a = list(o.allowedAddresses, 'limits.psbt.allowedAddresses', MAX_ALLOWED_ADDRESSES).map(
      (x, i) => address(x, `limits.psbt.allowedAddresses[${i}]`),
    );
    if (new Set(a).size !== a.length)
      fail('limits.psbt.allowedAddresses', 'lists an address twice');
    out.allowedAddresses = a;
  }
  return out;
}

function checkLimits(p: PsbtParams, limits: unknown): string | undefined {
  const l = validateLimits(limits);
  const { tx } = p;
  if (l.maxSendSats !== undefined && tx.sentOut > BigInt(l.maxSendSats))
    return `It sends ${formatSats(tx.sentOut)} to outputs that are not the group’s, more than the policy’s maximum of ${formatSats(BigInt(l.maxSendSats))}.`;
  if (l.maxFeeSats !== undefined && tx.fee > BigInt(l.maxFeeSats))
    return `Its fee of ${formatSats(tx.fee)} is more than the policy’s maximum of ${formatSats(BigInt(l.maxFeeSats))}.`;
  if (l.allowedAddresses)
    for (const o of tx.outputs) {
      if (o.change) continue;
      if (!o.address)
        return `Output #${o.index} has no address, and the policy allows paying only listed addresses.`;
      if (!l.allowedAddresses.includes(normalAddress(o.address)))
        return `Output #${o.index} pays ${o.address}, which is not one of the policy’s allowed addresses.`;
    }
  return undefined;
}

function describeLimits(limits: unknown): string[] {
  const l = validateLimits(limits);
  const lines: string[] = [];
  if (l.maxSendSats !== undefined)
    lines.push(
      `A Bitcoin transaction may send at most ${formatSats(BigInt(l.maxSendSats))} to others.`,
    );
  if (l.maxFeeSats !== undefined)
    lines.push(
      `A Bitcoin transaction may pay a fee of at most ${formatSats(BigInt(l.maxFeeSats))}.`,
    );
  if (l.allowedAddresses)
    lines.push(
      l.allowedAddresses.length
        ? `A Bitcoin transaction may pay only these addresses (besides change back to the group): ${l.allowedAddresses.join(', ')}.`
        : 'A Bitcoin transaction may pay nothing but change back to the group.',
    );
  return lines;
}

export const psbt: RequestKindModule<PsbtParams> = {
  kind: 'psbt',
  parse: read,
  read,
  decode,
  schemes: ['taproot'],
  execution,
  result,
  limits: { validate: validateLimits, check: checkLimits, describe: describeLimits },
  policy: {
    noun: 'signing Bitcoin transactions',
    allowedByDefault: true,
    canBeForbidden: true,
    approvalsConfigurable: true,
    needsReconstructEnabled: false,
    needsOnline: 'approvers',
    exposesKey: false,
  },
};
