// Reads a PSBT for a taproot group: which inputs spend from the group's key-path address, what
// every input and output is worth, the fee, and the BIP341 sighash of each group input computed
// here. After the group signed, puts the signatures in and finalizes those inputs.
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { RawTx, Transaction, type TxOpts } from '@scure/btc-signer';
import { MAX_MONEY, addressOf, p2trScript, type BitcoinNetwork } from './network.js';
import {
  keySpendSighash,
  sighashCommon,
  type SupportedSighash,
  type TxOutput,
  type UnsignedTx,
} from './sighash.js';

/** The largest PSBT read (its base64 must fit in one request message of 64 KiB). */
export const MAX_PSBT_BYTES = 40 * 1024;
/** Inputs and outputs a card lists one by one (and signatures a request asks for). */
export const MAX_INPUTS = 50;
export const MAX_OUTPUTS = 50;

const MAGIC = Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff);

/** A PSBT that cannot be signed as the group's: `field` names the place ("inputs[1]"). */
export class PsbtError extends Error {
  readonly code = 'bad_psbt';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'PsbtError';
    this.field = field;
  }
}

function refuse(field: string, message: string): never {
  throw new PsbtError(field, message);
}

export interface PsbtInput {
  index: number;
  /** The spent transaction's id, display order hex. */
  txid: string;
  vout: number;
  sequence: number;
  amount: bigint;
  script: Uint8Array;
  address?: string;
  /** Spends from the group's key-path address: the group signs it. */
  group: boolean;
  /** Already signed and finalized by someone (another input's owner). */
  final: boolean;
  /** For a group input: the hash type it is signed with. */
  sighashType?: SupportedSighash;
}

export interface PsbtOutput {
  index: number;
  amount: bigint;
  script: Uint8Array;
  address?: string;
  /** Pays back to the group's own address. */
  change: boolean;
}

export interface DecodedPsbt {
  network: BitcoinNetwork;
  version: number;
  lockTime: number;
  inputs: PsbtInput[];
  outputs: PsbtOutput[];
  /** Indexes of the group's inputs, in order: one signature each. */
  groupInputs: number[];
  /** The BIP341 sighash of each group input, in the order of groupInputs. */
  sighashes: Uint8Array[];
  totalIn: bigint;
  totalOut: bigint;
  fee: bigint;
  /** What the group's inputs hold. */
  groupIn: bigint;
  /** What comes back to the group's address. */
  change: bigint;
  /** What goes to outputs that are not the group's. */
  sentOut: bigint;
  /** Virtual size of the transaction without any signature (bytes of the unsigned transaction). */
  unsignedVsize: number;
  /** Virtual size once the group's inputs are signed (and with the final inputs as they are). */
  signedVsize: number;
  /** True when signedVsize is exact: every input that is not the group's is already final. */
  signedVsizeExact: boolean;
  /** The transaction id, when signatures cannot change it (every input is native segwit). */
  txid?: string;
}

/** Parsing options: keep fields we do not know (a wallet's own data travels back to it). */
const TX_OPTS: TxOpts = {
  allowUnknownInputs: true,
  allowUnknownOutputs: true,
  allowUnknownVersion: false,
  unknown: 'ignore',
};

function parseTx(bytes: Uint8Array): Transaction {
  if (bytes.length > MAX_PSBT_BYTES)
    refuse('psbt', `is ${bytes.length} bytes, more than the ${MAX_PSBT_BYTES} a request carries`);
  if (bytes.length < MAGIC.length || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC))
    refuse('psbt', 'is not a PSBT (it does not start with the bytes "psbt" 0xff)');
  try {
    return Transaction.fromPSBT(bytes, TX_OPTS);
  } catch (e) {
    return refuse(
      'psbt',
      `is not a valid PSBT: ${String((e as Error)?.message ?? e).slice(0, 200)}`,
    );
  }
}

function doubleSha(b: Uint8Array): Uint8Array {
  return sha256(sha256(b));
}

/** The id of a raw transaction (display order hex). */
function txidOf(raw: Uint8Array): string {
  return bytesToHex(doubleSha(raw).reverse());
}

/** A native segwit output script: OP_0..OP_16 then one push of 2..40 bytes. */
function isWitnessProgram(script: Uint8Array): boolean {
  const v = script[0];
  return (
    script.length >= 4 &&
    script.length <= 42 &&
    (v === 0x00 || (v !== undefined && v >= 0x51 && v <= 0x60)) &&
    script[1] === script.length - 2
  );
}

function compactSizeLength(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

function witnessLength(items: readonly Uint8Array[]): number {
  return items.reduce(
    (n, w) => n + compactSizeLength(w.length) + w.length,
    compactSizeLength(items.length),
  );
}

function hashTypeName(t: number): string {
  const names: Record<number, string> = {
    0x02: 'NONE',
    0x03: 'SINGLE',
    0x81: 'ALL|ANYONECANPAY',
    0x82: 'NONE|ANYONECANPAY',
    0x83: 'SINGLE|ANYONECANPAY',
  };
  return `0x${t.toString(16).padStart(2, '0')}${names[t] ? ` (${names[t]})` : ''}`;
}

/**
 * Reads a PSBT as the group with this taproot output key sees it. Refuses (PsbtError) what the
 * group cannot sign safely: no amount for an input, no input of the group, a hash type other than
 * DEFAULT or ALL on a group input, a script path on the group's key, more value out than in.
 */
export function decodePsbt(
  bytes: Uint8Array,
  opts: { network: BitcoinNetwork; outputKey: Uint8Array; internalKey?: Uint8Array },
): DecodedPsbt {
  const tx = parseTx(bytes);
  const groupScript = p2trScript(opts.outputKey);
  const nIn = tx.inputsLength;
  const nOut = tx.outputsLength;
  if (nIn === 0) refuse('psbt', 'has no inputs');
  if (nOut === 0) refuse('psbt', 'has no outputs');
  if (nIn > MAX_INPUTS) refuse('psbt', `has ${nIn} inputs, more than the ${MAX_INPUTS} allowed`);
  if (nOut > MAX_OUTPUTS)
    refuse('psbt', `has ${nOut} outputs, more than the ${MAX_OUTPUTS} allowed`);

  // What is signed comes from the unsigned transaction's own bytes.
  let raw: ReturnType<typeof RawTx.decode>;
  try {
    raw = RawTx.decode(tx.unsignedTx);
  } catch (e) {
    return refuse(
      'psbt',
      `has an unreadable transaction: ${String((e as Error)?.message ?? e).slice(0, 200)}`,
    );
  }
  const unsigned: UnsignedTx = {
    version: raw.version,
    lockTime: raw.lockTime,
    inputs: raw.inputs.map((i) => ({ txid: i.txid, index: i.index, sequence: i.sequence })),
    outputs: raw.outputs.map((o) => ({ amount: o.amount, script: o.script })),
  };

  const seen = new Set<string>();
  const inputs: PsbtInput[] = [];
  const prevouts: TxOutput[] = [];
  let signedWeightExtra = 0;
  let signedVsizeExact = true;
  for (let i = 0; i < nIn; i++) {
    const f = `inputs[${i}]`;
    const input = tx.getInput(i);
    const u = unsigned.inputs[i]!;
    const txid = bytesToHex(u.txid);
    const outpoint = `${txid}:${u.index}`;
    if (seen.has(outpoint)) refuse(f, `spends ${outpoint} a second time`);
    seen.add(outpoint);
    const utxo = input.witnessUtxo;
    if (!utxo)
      refuse(
        f,
        `(${outpoint}) has no witness UTXO, so its amount is unknown: a taproot signature commits to every input's amount and script, so the PSBT must carry them for every input`,
      );
    if (utxo.amount < 0n || utxo.amount > MAX_MONEY)
      refuse(f, `(${outpoint}) claims an impossible amount ${utxo.amount}`);
    if (input.nonWitnessUtxo) {
      // A full previous transaction must be the one the input names, paying what witnessUtxo says.
      const prev = input.nonWitnessUtxo;
      const prevRaw = RawTx.encode({ ...prev, segwitFlag: false, witnesses: undefined });
      const out = prev.outputs[u.index];
      if (txidOf(prevRaw) !== txid)
        refuse(f, `(${outpoint}) carries a previous transaction that is not ${txid}`);
      if (!out || out.amount !== utxo.amount || !equalBytes(out.script, utxo.script))
        refuse(f, `(${outpoint}): its previous transaction and its witness UTXO disagree`);
    }
    const group = equalBytes(utxo.script, groupScript);
    const final = input.finalScriptWitness !== undefined || input.finalScriptSig !== undefined;
    const view: PsbtInput = {
      index: i,
      txid,
      vout: u.index,
      sequence: u.sequence,
      amount: utxo.amount,
      script: utxo.script,
      group,
      final,
    };
    const address = addressOf(utxo.script, opts.network);
    if (address) view.address = address;
    if (group) {
      if (final) refuse(f, `(${outpoint}) is the group's and is already signed and finalized`);
      if (input.tapKeySig) refuse(f, `(${outpoint}) is the group's and already has a signature`);
      if (input.tapLeafScript?.length || input.tapScriptSig?.length || input.tapMerkleRoot)
        refuse(
          f,
          `(${outpoint}) names a taproot script path, but the group's address has no script tree: only its key path is signed`,
        );
      if (
        input.tapInternalKey &&
        opts.internalKey &&
        !equalBytes(input.tapInternalKey, opts.internalKey)
      )
        refuse(f, `(${outpoint}) names an internal key that is not the group's`);
      const t = input.sighashType ?? 0;
      if (t !== 0x00 && t !== 0x01)
        refuse(
          f,
          `(${outpoint}) asks for sighash type ${hashTypeName(t)}: the group signs only DEFAULT or ALL, which commit to every input and output`,
        );
      view.sighashType = t;
      signedWeightExtra += witnessLength([new Uint8Array(t === 0 ? 64 : 65)]);
    } else if (final) {
      if (input.finalScriptWitness) {
        signedWeightExtra += witnessLength(input.finalScriptWitness);
      } else signedWeightExtra += 1; // an empty witness, once any input has one
      const sig = input.finalScriptSig?.length ?? 0;
      if (sig) signedWeightExtra += 4 * (compactSizeLength(sig) - 1 + sig);
    } else {
      signedVsizeExact = false;
      signedWeightExtra += 1;
    }
    inputs.push(view);
    prevouts.push({ amount: utxo.amount, script: utxo.script });
  }

  const groupInputs = inputs.filter((i) => i.group).map((i) => i.index);
  if (groupInputs.length === 0)
    refuse(
      'psbt',
      `has no input of this group: none of its ${nIn} inputs spends from the group's address (key-path script ${bytesToHex(groupScript)})`,
    );

  const outputs: PsbtOutput[] = unsigned.outputs.map((o, index) => {
    if (o.amount > MAX_MONEY)
      refuse(`outputs[${index}]`, `claims an impossible amount ${o.amount}`);
    const view: PsbtOutput = {
      index,
      amount: o.amount,
      script: o.script,
      change: equalBytes(o.script, groupScript),
    };
    const address = addressOf(o.script, opts.network);
    if (address) view.address = address;
    return view;
  });

  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  const totalIn = sum(inputs.map((i) => i.amount));
  const totalOut = sum(outputs.map((o) => o.amount));
  if (totalIn > MAX_MONEY) refuse('psbt', `its inputs claim ${totalIn} sats, more than can exist`);
  if (totalOut > totalIn)
    refuse(
      'psbt',
      `its outputs (${totalOut} sats) spend more than its inputs hold (${totalIn} sats)`,
    );

  const common = sighashCommon(unsigned, prevouts);
  const sighashes = groupInputs.map((i) =>
    keySpendSighash(unsigned, prevouts, i, inputs[i]!.sighashType!, common),
  );
  const unsignedVsize = tx.unsignedTx.length;
  // Weight: 4 per byte outside the witness; the segwit marker and flag and witnesses count 1.
  // There is always a group input, so the transaction always has witnesses.
  const signedWeight = 4 * unsignedVsize + 2 + signedWeightExtra;
  const decoded: DecodedPsbt = {
    network: opts.network,
    version: unsigned.version,
    lockTime: unsigned.lockTime,
    inputs,
    outputs,
    groupInputs,
    sighashes,
    totalIn,
    totalOut,
    fee: totalIn - totalOut,
    groupIn: sum(inputs.filter((i) => i.group).map((i) => i.amount)),
    change: sum(outputs.filter((o) => o.change).map((o) => o.amount)),
    sentOut: sum(outputs.filter((o) => !o.change).map((o) => o.amount)),
    unsignedVsize,
    signedVsize: Math.ceil(signedWeight / 4),
    signedVsizeExact,
  };
  if (inputs.every((i) => isWitnessProgram(i.script))) decoded.txid = txidOf(tx.unsignedTx);
  return decoded;
}

export interface FinalizedPsbt {
  psbt: Uint8Array;
  /** Every input is final: the transaction can be broadcast. */
  complete: boolean;
  /** The raw transaction, when complete. */
  txHex?: string;
  txid?: string;
  /** Inputs still to be signed by someone else. */
  pending: number[];
}

/**
 * Puts the group's signatures (one 64-byte BIP340 signature per group input, in order) into the
 * PSBT and finalizes those inputs. Each signature is checked against the sighash computed here
 * and the group's output key first: a wrong one is refused, never written.
 */
export function finalizePsbt(
  bytes: Uint8Array,
  decoded: DecodedPsbt,
  outputKey: Uint8Array,
  signatures: readonly Uint8Array[],
): FinalizedPsbt {
  if (signatures.length !== decoded.groupInputs.length)
    refuse('signatures', `expected ${decoded.groupInputs.length}, got ${signatures.length}`);
  const tx = parseTx(bytes);
  decoded.groupInputs.forEach((idx, k) => {
    const sig = signatures[k]!;
    const input = decoded.inputs[idx]!;
    if (sig.length !== 64 || !schnorr.verify(sig, decoded.sighashes[k]!, outputKey))
      refuse(`signatures[${k}]`, `is not a valid signature of input ${idx} under the group's key`);
    const tapKeySig = input.sighashType === 0x01 ? Uint8Array.of(...sig, 0x01) : sig;
    tx.updateInput(idx, { tapKeySig }, true);
    tx.finalizeIdx(idx);
  });
  const pending = decoded.inputs.filter((i) => !i.group && !i.final).map((i) => i.index);
  const out: FinalizedPsbt = { psbt: tx.toPSBT(), complete: tx.isFinal, pending };
  if (tx.isFinal) {
    out.txHex = bytesToHex(tx.extract());
    out.txid = tx.id;
  }
  return out;
}

/** A PSBT file's bytes: binary (BIP174), or its base64 or hex text as wallets export it. */
export function readPsbtFile(file: Uint8Array): Uint8Array {
  if (file.length >= MAGIC.length && equalBytes(file.subarray(0, MAGIC.length), MAGIC)) return file;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file).trim();
  } catch {
    return refuse('psbt', 'is not a PSBT (neither binary, base64 nor hex)');
  }
  let bytes: Uint8Array | undefined;
  if (/^70736274ff[0-9a-fA-F]*$/i.test(text) && text.length % 2 === 0)
    bytes = hexToBytes(text.toLowerCase());
  else
    try {
      bytes = base64.decode(text.replace(/\s+/g, ''));
    } catch {
      bytes = undefined;
    }
  if (!bytes || bytes.length < MAGIC.length || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC))
    refuse('psbt', 'is not a PSBT (neither binary, base64 nor hex)');
  return bytes;
}
