// Reading a PSBT as the group's (inputs, change, fee, sighashes), the refusals, and finalizing it
// with the group's signatures: the result is a transaction whose witnesses verify independently.
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import * as btc from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  MAX_PSBT_BYTES,
  PsbtError,
  decodePsbt,
  finalizePsbt,
  readPsbtFile,
} from '../../shared/bitcoin/psbt.js';
import { addressOf, formatSats, networksOf, scriptOf } from '../../shared/bitcoin/network.js';
import {
  DEST,
  DEST_TESTNET,
  FOREIGN_PRIV,
  FOREIGN_SCRIPT,
  independentSighash,
  outpoint,
  spend,
  taprootKey,
} from './fixtures.js';

const KEY = taprootKey(7);
const OTHER = taprootKey(8);
const opts = { network: 'bitcoin' as const, outputKey: KEY.output, internalKey: KEY.internal };

function refusal(f: () => unknown): PsbtError {
  try {
    f();
  } catch (e) {
    if (e instanceof PsbtError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('decodePsbt', () => {
  it('finds the group inputs, the change and the fee, and computes each sighash itself', () => {
    const tx = spend(KEY, { foreign: true });
    const d = decodePsbt(tx.toPSBT(), opts);
    expect(d.groupInputs).toEqual([0, 2]);
    expect(d.inputs.map((i) => [i.group, i.amount, i.final])).toEqual([
      [true, 100_000n, false],
      [false, 50_000n, false],
      [true, 30_000n, false],
    ]);
    expect(d.inputs[0]!.txid).toBe('11'.repeat(32));
    expect(d.inputs[0]!.address).toBe(
      btc.Address(btc.NETWORK).encode({ type: 'tr', pubkey: KEY.output }),
    );
    expect(d.outputs.map((o) => [o.address, o.amount, o.change])).toEqual([
      [DEST, 70_000n, false],
      [d.inputs[0]!.address, 55_000n, true],
    ]);
    expect(d.totalIn).toBe(180_000n);
    expect(d.totalOut).toBe(125_000n);
    expect(d.fee).toBe(55_000n);
    expect(d.groupIn).toBe(130_000n);
    expect(d.change).toBe(55_000n);
    expect(d.sentOut).toBe(70_000n);
    expect(d.unsignedVsize).toBe(tx.unsignedTx.length);
    expect(d.signedVsizeExact).toBe(false);
    expect(d.sighashes.map(bytesToHex)).toEqual(
      [0, 2].map((i) => bytesToHex(independentSighash(tx, i))),
    );
    expect(d.txid).toBe(tx.id);
  });

  it('estimates the signed size exactly when every other input is final', () => {
    const tx = spend(KEY, { foreign: true });
    tx.signIdx(FOREIGN_PRIV, 1);
    tx.finalizeIdx(1);
    const d = decodePsbt(tx.toPSBT(), opts);
    expect(d.inputs[1]!.final).toBe(true);
    expect(d.signedVsizeExact).toBe(true);
    const done = finalizePsbt(tx.toPSBT(), d, KEY.output, d.sighashes.map(KEY.sign!));
    expect(done.complete).toBe(true);
    expect(btc.Transaction.fromRaw(hexToBytes(done.txHex!)).vsize).toBe(d.signedVsize);
  });

  it('signs with SIGHASH_ALL when the PSBT asks for it (and appends the type byte)', () => {
    const tx = spend(KEY, { sighashType: 1 });
    const d = decodePsbt(tx.toPSBT(), opts);
    expect(d.inputs.filter((i) => i.group).map((i) => i.sighashType)).toEqual([1, 1]);
    expect(d.sighashes.map(bytesToHex)).toEqual(
      [0, 1].map((i) => bytesToHex(independentSighash(tx, i, 1))),
    );
    const done = finalizePsbt(tx.toPSBT(), d, KEY.output, d.sighashes.map(KEY.sign!));
    const final = btc.Transaction.fromRaw(hexToBytes(done.txHex!));
    expect(done.complete).toBe(true);
    const witness = btc.RawTx.decode(hexToBytes(done.txHex!)).witnesses![0]!;
    expect(witness[0]!.length).toBe(65);
    expect(witness[0]![64]).toBe(1);
    expect(final.id).toBe(done.txid);
    expect(d.signedVsize).toBe(final.vsize);
  });

  it('shows addresses for the network named', () => {
    const tx = spend(KEY, { dest: DEST_TESTNET, network: btc.TEST_NETWORK });
    const d = decodePsbt(tx.toPSBT(), { ...opts, network: 'testnet' });
    expect(d.outputs[0]!.address).toBe(DEST_TESTNET);
    expect(d.outputs[1]!.address).toMatch(/^tb1p/);
    expect(decodePsbt(tx.toPSBT(), { ...opts, network: 'regtest' }).outputs[1]!.address).toMatch(
      /^bcrt1p/,
    );
  });

  it('refuses what is not a PSBT, or too big', () => {
    expect(refusal(() => decodePsbt(new Uint8Array([1, 2, 3]), opts)).message).toMatch(
      /not a PSBT/,
    );
    const bad = Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff, 0x01, 0x02);
    expect(refusal(() => decodePsbt(bad, opts)).message).toMatch(/not a valid PSBT/);
    const big = new Uint8Array(MAX_PSBT_BYTES + 1);
    big.set([0x70, 0x73, 0x62, 0x74, 0xff]);
    expect(refusal(() => decodePsbt(big, opts)).message).toMatch(/more than the/);
  });

  it('refuses an input without its amount (no witness UTXO)', () => {
    const tx = new btc.Transaction();
    tx.addInput({
      txid: outpoint(0x11),
      index: 0,
      witnessUtxo: { script: KEY.script, amount: 1000n },
    });
    tx.addInput({ txid: outpoint(0x22), index: 3 });
    tx.addOutputAddress(DEST, 500n);
    const e = refusal(() => decodePsbt(tx.toPSBT(), opts));
    expect(e.field).toBe('inputs[1]');
    expect(e.message).toMatch(/22{63}:3\) has no witness UTXO, so its amount is unknown/);
  });

  it('refuses a PSBT with no input of the group', () => {
    const tx = spend(OTHER);
    const e = refusal(() => decodePsbt(tx.toPSBT(), opts));
    expect(e.message).toMatch(/has no input of this group/);
    expect(e.message).toContain(bytesToHex(KEY.script));
  });

  it('refuses hash types other than DEFAULT and ALL on a group input', () => {
    for (const t of [2, 3, 0x81, 0x83]) {
      const e = refusal(() => decodePsbt(spend(KEY, { sighashType: t }).toPSBT(), opts));
      expect(e.field).toBe('inputs[0]');
      expect(e.message).toMatch(/asks for sighash type 0x8?[0-9]/);
    }
  });

  it('refuses outputs worth more than the inputs', () => {
    const e = refusal(() => decodePsbt(spend(KEY, { send: 200_000n }).toPSBT(), opts));
    expect(e.message).toMatch(/spend more than its inputs hold/);
  });

  it('refuses a group input with a script path, or already signed', () => {
    const tx = spend(KEY);
    tx.updateInput(0, { tapMerkleRoot: new Uint8Array(32).fill(5) }, true);
    expect(refusal(() => decodePsbt(tx.toPSBT(), opts)).message).toMatch(/script path/);
    const tx3 = spend(KEY);
    const h = independentSighash(tx3, 0);
    tx3.updateInput(0, { tapKeySig: KEY.sign!(h) }, true);
    expect(refusal(() => decodePsbt(tx3.toPSBT(), opts)).message).toMatch(
      /already has a signature/,
    );
    tx3.finalizeIdx(0);
    expect(refusal(() => decodePsbt(tx3.toPSBT(), opts)).message).toMatch(
      /already signed and finalized/,
    );
  });

  it('refuses a previous transaction that disagrees with the witness UTXO', () => {
    const prev = new btc.Transaction();
    prev.addInput({
      txid: outpoint(0x99),
      index: 0,
      finalScriptSig: new Uint8Array(0),
      sequence: 0,
    });
    prev.addOutput({ script: FOREIGN_SCRIPT, amount: 50_000n });
    const prevRaw = prev.toBytes(true, false);
    const tx = new btc.Transaction();
    tx.addInput({
      txid: outpoint(0x11),
      index: 0,
      witnessUtxo: { script: KEY.script, amount: 100_000n },
    });
    tx.addInput({
      txid: hexToBytes(btc.Transaction.fromRaw(prevRaw, { allowUnknownInputs: true }).id),
      index: 0,
      nonWitnessUtxo: prevRaw,
      witnessUtxo: { script: FOREIGN_SCRIPT, amount: 50_000n },
    });
    tx.addOutputAddress(DEST, 1000n);
    const good = tx.toPSBT();
    expect(decodePsbt(good, opts).inputs[1]!.amount).toBe(50_000n);
    // The witness UTXO (after the previous transaction in the input's map) now claims 60,000 sat.
    const hex = bytesToHex(good);
    const at = hex.lastIndexOf(
      `50c3000000000000${bytesToHex(Uint8Array.of(FOREIGN_SCRIPT.length))}`,
    );
    const forged = hexToBytes(`${hex.slice(0, at)}60ea${hex.slice(at + 4)}`);
    expect(refusal(() => decodePsbt(forged, opts)).message).toMatch(
      /witnessUtxo different|disagree/,
    );
  });
});

describe('finalizePsbt', () => {
  it('finalizes the group inputs; the witness signatures verify under BIP340 against independent sighashes', () => {
    const tx = spend(KEY, { foreign: true });
    const d = decodePsbt(tx.toPSBT(), opts);
    const done = finalizePsbt(tx.toPSBT(), d, KEY.output, d.sighashes.map(KEY.sign!));
    expect(done.complete).toBe(false);
    expect(done.pending).toEqual([1]);
    expect(done.txHex).toBeUndefined();
    // The other signer adds theirs to the returned PSBT, and the transaction is complete.
    const back = btc.Transaction.fromPSBT(done.psbt);
    back.signIdx(FOREIGN_PRIV, 1);
    back.finalizeIdx(1);
    const raw = back.extract();
    const parsed = btc.RawTx.decode(raw);
    for (const i of [0, 2]) {
      const [sig] = parsed.witnesses![i]!;
      expect(schnorr.verify(sig!, independentSighash(tx, i), KEY.output)).toBe(true);
    }
  });

  it('refuses a wrong signature or the wrong number of them', () => {
    const tx = spend(KEY);
    const d = decodePsbt(tx.toPSBT(), opts);
    const sigs = d.sighashes.map(KEY.sign!);
    expect(refusal(() => finalizePsbt(tx.toPSBT(), d, KEY.output, sigs.slice(1))).field).toBe(
      'signatures',
    );
    expect(
      refusal(() => finalizePsbt(tx.toPSBT(), d, KEY.output, [sigs[1]!, sigs[0]!])).message,
    ).toMatch(/not a valid signature of input 0/);
  });
});

describe('readPsbtFile', () => {
  it('reads binary, base64 and hex', () => {
    const psbt = spend(KEY).toPSBT();
    expect(readPsbtFile(psbt)).toEqual(psbt);
    expect(readPsbtFile(new TextEncoder().encode(`${base64.encode(psbt)}\n`))).toEqual(psbt);
    expect(readPsbtFile(new TextEncoder().encode(bytesToHex(psbt)))).toEqual(psbt);
    expect(refusal(() => readPsbtFile(new TextEncoder().encode('hello'))).message).toMatch(
      /not a PSBT/,
    );
  });
});

describe('network helpers', () => {
  it('encodes, decodes and formats', () => {
    expect(addressOf(scriptOf(DEST, 'bitcoin'), 'bitcoin')).toBe(DEST);
    expect(() => scriptOf(DEST, 'testnet')).toThrow();
    expect(networksOf(DEST_TESTNET)).toEqual(['testnet', 'signet']);
    expect(addressOf(Uint8Array.of(0x6a, 1, 0), 'bitcoin')).toBeUndefined();
    expect(formatSats(120_000n)).toBe('0.00120000 BTC (120,000 sat)');
    expect(formatSats(2_100_000_000_000_000n)).toBe(
      '21000000.00000000 BTC (2,100,000,000,000,000 sat)',
    );
  });
});
