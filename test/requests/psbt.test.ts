// The 'psbt' request kind: its message, the card every approver's node derives from the PSBT, the
// signatures it asks for (the BIP341 sighashes, computed independently here by btc-signer), the
// signed PSBT it returns, its policy limits, and what it refuses.
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import * as btc from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  parseRequest,
  REQUEST_KINDS,
  RequestParamError,
  type RequestContext,
} from '../../shared/requests/index.js';
import { groupTaprootKeys, psbtMessage, type PsbtParams } from '../../shared/requests/psbt.js';
import {
  DEST,
  DEST_TESTNET,
  FOREIGN_PRIV,
  independentSighash,
  outpoint,
  spend,
  taprootKey,
} from '../bitcoin/fixtures.js';
import { ctx as baseCtx } from './fixtures.js';

const KEY = taprootKey(7);
const mod = REQUEST_KINDS.psbt;

function ctx(over: Partial<RequestContext> & { publicKey?: string } = {}): RequestContext {
  return {
    ...baseCtx({ scheme: 'taproot' }),
    publicKey: `02${bytesToHex(KEY.internal)}`,
    ...over,
  } as RequestContext;
}

function parse(message: Uint8Array, c = ctx()): PsbtParams {
  return parseRequest('psbt', message, c);
}

function refusal(f: () => unknown): RequestParamError {
  try {
    f();
  } catch (e) {
    if (e instanceof RequestParamError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('psbt request', () => {
  it('takes the group key from the context in any of its forms, and only when they agree', () => {
    const out = bytesToHex(KEY.output);
    const internal = bytesToHex(KEY.internal);
    const keys = (over: Record<string, unknown>) => {
      const k = groupTaprootKeys(ctx({ publicKey: undefined, ...over }));
      return k && [k.internal && bytesToHex(k.internal), bytesToHex(k.output)];
    };
    // The raw group key (compressed: the internal key with its parity), either parity.
    expect(keys({ publicKey: `02${internal}` })).toEqual([internal, out]);
    expect(keys({ publicKey: `03${internal}` })).toEqual([internal, out]);
    // GroupView's forms: the x-only output key, and the x-only internal key.
    expect(keys({ publicKey: out })).toEqual([undefined, out]);
    expect(keys({ internalKey: internal })).toEqual([internal, out]);
    expect(keys({ publicKey: out, internalKey: internal })).toEqual([internal, out]);
    expect(
      keys({ publicKey: bytesToHex(taprootKey(8).output), internalKey: internal }),
    ).toBeUndefined();
    expect(keys({ publicKey: 'zz' })).toBeUndefined();
    expect(keys({})).toBeUndefined();
  });

  it('shows every input and output, the change, the fee and its rate', () => {
    const tx = spend(KEY, { foreign: true });
    const p = parse(psbtMessage(tx.toPSBT(), 'bitcoin'));
    const card = mod.decode(p, ctx());
    const field = (label: string) => card.fields.find((f) => f.label === label)?.value;
    expect(card.title).toBe('Spend bitcoin from “Treasury”');
    expect(card.summary).toBe(
      'Send 0.00070000 BTC (70,000 sat) to 1 output that is not Treasury’s, paying a fee of 0.00055000 BTC (55,000 sat), signing 2 inputs of Treasury on Bitcoin (mainnet).',
    );
    expect(field('Network')).toBe('Bitcoin (mainnet)');
    expect(field('Fee')).toBe('0.00055000 BTC (55,000 sat)');
    expect(field('Fee rate')).toMatch(
      new RegExp(
        `^at most [0-9.]+ sat/vB once signed .*; ${(55_000 / tx.unsignedTx.length).toFixed(1)} sat/vB on the unsigned size \\(${tx.unsignedTx.length} vB\\)$`,
      ),
    );
    expect(field('Input #0 (this group’s)')).toBe(
      `${'11'.repeat(32)}:0 — 0.00100000 BTC (100,000 sat) — ${p.tx.inputs[0]!.address} — this group’s: the group signs it`,
    );
    expect(field('Input #1')).toMatch(
      /^2{64}:1 — 0.00050000 BTC .* — bc1q.* — not this group’s: its owner signs it separately$/,
    );
    expect(field('Input #2 (this group’s)')).toMatch(/0.00030000 BTC/);
    expect(field('Output #0')).toBe(`${DEST} — 0.00070000 BTC (70,000 sat) — to someone else`);
    expect(field('Output #1 (change back to this group)')).toMatch(
      /^bc1p.* — 0.00055000 BTC .* — change back to this group$/,
    );
    expect(field('Total in')).toBe(
      '0.00180000 BTC (180,000 sat), of which 0.00130000 BTC (130,000 sat) from this group',
    );
    expect(field('Leaving this group')).toMatch(/^0.00075000 BTC/);
    expect(field('Transaction id')).toBe(tx.id);
    expect(card.warnings?.join('\n')).toMatch(/1 input \(#1\) is not this group’s/);
    // 55,000 sat of fee for 70,000 sent (228 sat/vB): a custodian must see that before approving.
    expect(card.warnings?.join('\n')).toMatch(/fee is very high: 0.00055000 BTC/);
    // An ordinary fee (5,000 sat, about 21 sat/vB) says nothing.
    const fair = mod.decode(
      parse(psbtMessage(spend(KEY, { foreign: true, change: 105_000n }).toPSBT(), 'bitcoin')),
      ctx(),
    );
    expect(fair.warnings?.join('\n')).not.toMatch(/fee is very high/);
    const costly = mod.decode(
      parse(psbtMessage(spend(KEY, { send: 1_000n }).toPSBT(), 'bitcoin')),
      ctx(),
    );
    expect(costly.warnings?.join('\n')).toMatch(
      /The fee is very high: 0.00074000 BTC \(74,000 sat\) .*against 0.00001000 BTC \(1,000 sat\) sent/,
    );
  });

  it('asks for one BIP341 key-path signature per group input, equal to an independent sighash', () => {
    const tx = spend(KEY, { foreign: true });
    const p = parse(psbtMessage(tx.toPSBT(), 'bitcoin'));
    const ex = mod.execution!(p, ctx());
    expect(ex.op).toBe('sign');
    if (ex.op !== 'sign') return;
    expect(ex.parts.map((x) => x.tweak)).toEqual([true, true]);
    expect(ex.parts.map((x) => bytesToHex(x.message))).toEqual(
      [0, 2].map((i) => bytesToHex(independentSighash(tx, i))),
    );
  });

  it('returns the signed and finalized PSBT, and the raw transaction once complete', () => {
    const tx = spend(KEY);
    const p = parse(psbtMessage(tx.toPSBT(), 'bitcoin'));
    const sigs = p.tx.sighashes.map(KEY.sign!);
    const art = mod.result!(p, { signatures: sigs }, ctx());
    expect(art.name).toBe('signed.psbt');
    const signed = btc.Transaction.fromPSBT(base64.decode(art.base64!));
    expect(signed.isFinal).toBe(true);
    const hex = art.fields!.find((f) => f.label === 'Raw transaction (hex)')!.value;
    expect(bytesToHex(signed.extract())).toBe(hex);
    const raw = btc.RawTx.decode(hexToBytes(hex));
    for (const i of [0, 1])
      expect(schnorr.verify(raw.witnesses![i]![0]!, independentSighash(tx, i), KEY.output)).toBe(
        true,
      );
    expect(art.fields!.find((f) => f.label === 'Transaction id')!.value).toBe(tx.id);
  });

  it('with a foreign input, returns the PSBT for its owner to sign', () => {
    const tx = spend(KEY, { foreign: true });
    const p = parse(psbtMessage(tx.toPSBT(), 'bitcoin'));
    const art = mod.result!(p, { signatures: p.tx.sighashes.map(KEY.sign!) }, ctx());
    expect(art.fields).toEqual([
      {
        label: 'Still to sign',
        value: expect.stringMatching(/^input #1 \(not this group’s\)/),
      },
    ]);
    const back = btc.Transaction.fromPSBT(base64.decode(art.base64!));
    back.signIdx(FOREIGN_PRIV, 1);
    back.finalizeIdx(1);
    expect(back.isFinal).toBe(true);
  });

  it('refuses a wrong signature in the result', () => {
    const p = parse(psbtMessage(spend(KEY).toPSBT(), 'bitcoin'));
    const sigs = p.tx.sighashes.map(KEY.sign!).reverse();
    expect(refusal(() => mod.result!(p, { signatures: sigs }, ctx())).message).toMatch(
      /not a valid signature of input 0/,
    );
  });

  it('refuses with a clear message what it cannot sign', () => {
    const good = spend(KEY).toPSBT();
    const msg = (o: object) => utf8ToBytes(JSON.stringify(o));
    expect(
      refusal(() => parse(msg({ network: 'bitcoin', psbt: base64.encode(good), v: 1, x: 1 })))
        .message,
    ).toMatch(/unknown field "x"/);
    expect(
      refusal(() => parse(msg({ v: 1, network: 'bitcoin', psbt: base64.encode(good) }))).message,
    ).toMatch(/not canonical JSON/);
    expect(
      refusal(() => parse(msg({ network: 'litecoin', psbt: base64.encode(good), v: 1 }))).field,
    ).toBe('network');
    expect(refusal(() => parse(msg({ network: 'bitcoin', psbt: '!!!', v: 1 }))).message).toMatch(
      /not base64/,
    );
    expect(
      refusal(() =>
        parse(msg({ network: 'bitcoin', psbt: base64.encode(utf8ToBytes('hello')), v: 1 })),
      ).message,
    ).toMatch(/psbt: is not a PSBT/);
    const other = taprootKey(8);
    expect(refusal(() => parse(psbtMessage(spend(other).toPSBT(), 'bitcoin'))).message).toMatch(
      /no input of this group/,
    );
    const noAmount = new btc.Transaction();
    noAmount.addInput({
      txid: outpoint(0x11),
      index: 0,
      witnessUtxo: { script: KEY.script, amount: 1000n },
    });
    noAmount.addInput({ txid: outpoint(0x22), index: 0 });
    noAmount.addOutputAddress(DEST, 100n);
    const e = refusal(() => parse(psbtMessage(noAmount.toPSBT(), 'bitcoin')));
    expect(e.field).toBe('psbt.inputs[1]');
    expect(e.message).toMatch(/has no witness UTXO, so its amount is unknown/);
    expect(
      refusal(() => parse(psbtMessage(spend(KEY, { sighashType: 0x83 }).toPSBT(), 'bitcoin')))
        .message,
    ).toMatch(/SINGLE\|ANYONECANPAY/);
    expect(
      refusal(() => parse(psbtMessage(good, 'bitcoin'), ctx({ publicKey: undefined }))).message,
    ).toMatch(/does not know the taproot key/);
    expect(
      refusal(() => parse(psbtMessage(good, 'bitcoin'), ctx({ scheme: 'ed25519' }))).message,
    ).toMatch(/needs a taproot group/);
  });

  it('shows a request it cannot read as unreadable', () => {
    const card = decodeRequest('psbt', utf8ToBytes('{"v":1}'), ctx());
    expect(card.invalid).toMatch(/missing/);
  });

  it('shows testnet addresses for a testnet PSBT and says so', () => {
    const tx = spend(KEY, { dest: DEST_TESTNET, network: btc.TEST_NETWORK });
    const card = mod.decode(parse(psbtMessage(tx.toPSBT(), 'testnet')), ctx());
    expect(card.fields.find((f) => f.label === 'Output #0')!.value).toMatch(
      new RegExp(`^${DEST_TESTNET}`),
    );
    expect(card.warnings![0]).toMatch(/for Bitcoin testnet/);
  });
});

describe('psbt limits', () => {
  const limits = mod.limits!;
  const p = () => parse(psbtMessage(spend(KEY).toPSBT(), 'bitcoin'));

  it('validates strictly', () => {
    expect(limits.validate({})).toEqual({});
    expect(limits.validate({ maxSendSats: 1000, allowedAddresses: [DEST.toUpperCase()] })).toEqual({
      maxSendSats: 1000,
      allowedAddresses: [DEST],
    });
    expect(() => limits.validate({ maxSendSats: -1 })).toThrow(/maxSendSats/);
    expect(() => limits.validate({ allowedAddresses: ['nope'] })).toThrow(
      /must be a Bitcoin address/,
    );
    expect(() => limits.validate({ allowedAddresses: [DEST, DEST] })).toThrow(/twice/);
    expect(() => limits.validate({ other: 1 })).toThrow(/unknown field/);
  });

  it('caps what is sent to others (change does not count) and the fee', () => {
    expect(limits.check(p(), { maxSendSats: 70_000 }, ctx())).toBeUndefined();
    expect(limits.check(p(), { maxSendSats: 69_999 }, ctx())).toMatch(
      /sends 0.00070000 BTC .* more than the policy’s maximum of 0.00069999 BTC/,
    );
    expect(limits.check(p(), { maxFeeSats: 4_999 }, ctx())).toMatch(/fee of 0.00005000 BTC/);
  });

  it('allows only listed destinations', () => {
    expect(limits.check(p(), { allowedAddresses: [DEST] }, ctx())).toBeUndefined();
    expect(limits.check(p(), { allowedAddresses: [] }, ctx())).toMatch(
      new RegExp(`Output #0 pays ${DEST}, which is not one of the policy’s allowed addresses`),
    );
    expect(limits.describe({ maxSendSats: 100_000, allowedAddresses: [DEST] })).toEqual([
      'A Bitcoin transaction may send at most 0.00100000 BTC (100,000 sat) to others.',
      `A Bitcoin transaction may pay only these addresses (besides change back to the group): ${DEST}.`,
    ]);
  });
});
