// PSBTs for the bitcoin tests, built with @scure/btc-signer directly (not through shared/bitcoin):
// a single-key stand-in for the group's taproot key, and spends from its key-path address.
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js';

/** A taproot key as the group's: internal key, BIP341 output key (x-only) and its address script. */
export interface TaprootKey {
  internal: Uint8Array;
  output: Uint8Array;
  script: Uint8Array;
  /** Signs a sighash as the group would (BIP340 under the tweaked key); absent for a real group. */
  sign?(sighash: Uint8Array): Uint8Array;
}

export function taprootKey(seed: number): TaprootKey {
  const priv = new Uint8Array(32).fill(seed);
  const internal = schnorr.getPublicKey(priv);
  const pay = btc.p2tr(internal);
  const tweaked = taprootTweakPrivKey(priv);
  return {
    internal,
    output: pay.tweakedPubkey,
    script: pay.script,
    sign: (h) => schnorr.sign(h, tweaked, new Uint8Array(32)),
  };
}

/** The key path script of an x-only output key (for a real group's key). */
export function keyFromOutput(output: Uint8Array): TaprootKey {
  return {
    internal: new Uint8Array(0),
    output,
    script: btc.OutScript.encode({ type: 'tr', pubkey: output }),
  };
}

/** A fake funding outpoint: a txid made of one repeated byte. */
export function outpoint(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

export const FOREIGN_PRIV = new Uint8Array(32).fill(0x42);
/** Someone else's P2WPKH script (their input is signed by them, with ECDSA). */
export const FOREIGN_SCRIPT = btc.p2wpkh(secp256k1.getPublicKey(FOREIGN_PRIV, true)).script;
/** A destination that is not the group's (BIP173's example P2WPKH). */
export const DEST = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
export const DEST_TESTNET = 'tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx';

export interface SpendOptions {
  network?: typeof btc.NETWORK;
  foreign?: boolean;
  sighashType?: number;
  dest?: string;
  send?: bigint;
  change?: bigint;
}

/**
 * Two inputs from the group's address (100,000 and 30,000 sat), optionally a foreign P2WPKH input
 * (50,000 sat), one payment and one change output back to the group.
 */
export function spend(key: TaprootKey, o: SpendOptions = {}): btc.Transaction {
  const tx = new btc.Transaction();
  const group = (byte: number, index: number, amount: bigint) =>
    tx.addInput({
      txid: outpoint(byte),
      index,
      witnessUtxo: { script: key.script, amount },
      ...(o.sighashType !== undefined ? { sighashType: o.sighashType } : {}),
    });
  group(0x11, 0, 100_000n);
  if (o.foreign)
    tx.addInput({
      txid: outpoint(0x22),
      index: 1,
      witnessUtxo: { script: FOREIGN_SCRIPT, amount: 50_000n },
    });
  group(0x33, 2, 30_000n);
  tx.addOutputAddress(o.dest ?? DEST, o.send ?? 70_000n, o.network ?? btc.NETWORK);
  tx.addOutput({ script: key.script, amount: o.change ?? 55_000n });
  return tx;
}

/** Every input's spent output, for an independent sighash (btc-signer's preimageWitnessV1). */
export function prevouts(tx: btc.Transaction): { scripts: Uint8Array[]; amounts: bigint[] } {
  const scripts: Uint8Array[] = [];
  const amounts: bigint[] = [];
  for (let i = 0; i < tx.inputsLength; i++) {
    const u = tx.getInput(i).witnessUtxo!;
    scripts.push(u.script);
    amounts.push(u.amount);
  }
  return { scripts, amounts };
}

/** The BIP341 sighash of input i as btc-signer computes it (independent of shared/bitcoin). */
export function independentSighash(tx: btc.Transaction, i: number, hashType = 0): Uint8Array {
  const p = prevouts(tx);
  return tx.preimageWitnessV1(i, p.scripts, hashType, p.amounts);
}
