// The BIP341 signature hash of a taproot key-path spend, computed here from the unsigned
// transaction and every spent output, so what the group signs never comes from the requester.
// Only SIGHASH_DEFAULT (0x00) and SIGHASH_ALL (0x01) exist here: both commit to every input's
// amount and script and to every output, which is what makes the card's amounts and fee binding.
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';

/** The two hash types a group signs with (the others would let the transaction change after signing). */
export type SupportedSighash = 0x00 | 0x01;

export interface UnsignedInput {
  /** The previous transaction's id in display order (as explorers show it). */
  txid: Uint8Array;
  index: number;
  sequence: number;
}

export interface TxOutput {
  amount: bigint;
  script: Uint8Array;
}

export interface UnsignedTx {
  version: number;
  lockTime: number;
  inputs: readonly UnsignedInput[];
  outputs: readonly TxOutput[];
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return b;
}

/** Bitcoin's CompactSize length prefix. */
function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return concatBytes(Uint8Array.of(0xfe), u32(n));
}

function withLength(script: Uint8Array): Uint8Array {
  return concatBytes(compactSize(script.length), script);
}

const TAG = sha256(utf8ToBytes('TapSighash'));

/** BIP340's tagged hash with the tag "TapSighash". */
function tapSighash(msg: Uint8Array): Uint8Array {
  return sha256(concatBytes(TAG, TAG, msg));
}

/** The parts of the signature message every input shares (BIP341's sha_* fields). */
export interface SighashCommon {
  shaPrevouts: Uint8Array;
  shaAmounts: Uint8Array;
  shaScriptPubkeys: Uint8Array;
  shaSequences: Uint8Array;
  shaOutputs: Uint8Array;
}

/** Hashes once what every input's signature message shares. `prevouts[i]` is what input i spends. */
export function sighashCommon(tx: UnsignedTx, prevouts: readonly TxOutput[]): SighashCommon {
  if (prevouts.length !== tx.inputs.length)
    throw new Error(`${tx.inputs.length} inputs but ${prevouts.length} spent outputs`);
  return {
    shaPrevouts: sha256(
      concatBytes(...tx.inputs.map((i) => concatBytes(i.txid.slice().reverse(), u32(i.index)))),
    ),
    shaAmounts: sha256(concatBytes(...prevouts.map((p) => u64(p.amount)))),
    shaScriptPubkeys: sha256(concatBytes(...prevouts.map((p) => withLength(p.script)))),
    shaSequences: sha256(concatBytes(...tx.inputs.map((i) => u32(i.sequence)))),
    shaOutputs: sha256(
      concatBytes(...tx.outputs.map((o) => concatBytes(u64(o.amount), withLength(o.script)))),
    ),
  };
}

/** BIP341 SigMsg(hash_type, ext_flag = 0) for input `index`, key path, no annex. */
export function keySpendSigMsg(
  tx: UnsignedTx,
  common: SighashCommon,
  index: number,
  hashType: SupportedSighash,
): Uint8Array {
  if (hashType !== 0x00 && hashType !== 0x01)
    throw new Error(`only SIGHASH_DEFAULT and SIGHASH_ALL are signed here, got ${hashType}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= tx.inputs.length)
    throw new Error(`no input ${index}`);
  return concatBytes(
    Uint8Array.of(hashType),
    u32(tx.version),
    u32(tx.lockTime),
    common.shaPrevouts,
    common.shaAmounts,
    common.shaScriptPubkeys,
    common.shaSequences,
    common.shaOutputs,
    Uint8Array.of(0), // spend_type: key path (ext_flag 0), no annex
    u32(index),
  );
}

/** The 32-byte hash a BIP340 signature of input `index` signs: TapSighash(0x00 ‖ SigMsg). */
export function keySpendSighash(
  tx: UnsignedTx,
  prevouts: readonly TxOutput[],
  index: number,
  hashType: SupportedSighash,
  common: SighashCommon = sighashCommon(tx, prevouts),
): Uint8Array {
  return tapSighash(concatBytes(Uint8Array.of(0x00), keySpendSigMsg(tx, common, index, hashType)));
}
