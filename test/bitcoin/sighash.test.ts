// The BIP341 key-path sighash computed by shared/bitcoin: BIP341's own wallet test vectors (the
// hash types the group signs with) and agreement with @scure/btc-signer's independent code.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { RawTx } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  keySpendSigMsg,
  keySpendSighash,
  sighashCommon,
  type UnsignedTx,
} from '../../shared/bitcoin/sighash.js';
import { independentSighash, spend, taprootKey } from './fixtures.js';

// bip-0341/wallet-test-vectors.json, keyPathSpending[0] (also Bitcoin Core's
// src/test/data/bip341_wallet_vectors.json).
const RAW_UNSIGNED =
  '02000000097de20cbff686da83a54981d2b9bab3586f4ca7e48f57f5b55963115f3b334e9c010000000000000000d7b7cab57b1393ace2d064f4d4a2cb8af6def61273e127517d44759b6dafdd990000000000fffffffff8e1f583384333689228c5d28eac13366be082dc57441760d957275419a418420000000000fffffffff0689180aa63b30cb162a73c6d2a38b7eeda2a83ece74310fda0843ad604853b0100000000feffffffaa5202bdf6d8ccd2ee0f0202afbbb7461d9264a25e5bfd3c5a52ee1239e0ba6c0000000000feffffff956149bdc66faa968eb2be2d2faa29718acbfe3941215893a2a3446d32acd050000000000000000000e664b9773b88c09c32cb70a2a3e4da0ced63b7ba3b22f848531bbb1d5d5f4c94010000000000000000e9aa6b8e6c9de67619e6a3924ae25696bb7b694bb677a632a74ef7eadfd4eabf0000000000ffffffffa778eb6a263dc090464cd125c466b5a99667720b1c110468831d058aa1b82af10100000000ffffffff0200ca9a3b000000001976a91406afd46bcdfd22ef94ac122aa11f241244a37ecc88ac807840cb0000000020ac9a87f5594be208f8532db38cff670c450ed2fea8fcdefcc9a663f78bab962b0065cd1d';
const UTXOS: [string, number][] = [
  ['512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343', 420000000],
  ['5120147c9c57132f6e7ecddba9800bb0c4449251c92a1e60371ee77557b6620f3ea3', 462000000],
  ['76a914751e76e8199196d454941c45d1b3a323f1433bd688ac', 294000000],
  ['5120e4d810fd50586274face62b8a807eb9719cef49c04177cc6b76a9a4251d5450e', 504000000],
  ['512091b64d5324723a985170e4dc5a0f84c041804f2cd12660fa5dec09fc21783605', 630000000],
  ['00147dd65592d0ab2fe0d0257d571abf032cd9db93dc', 378000000],
  ['512075169f4001aa68f15bbed28b218df1d0a62cbbcf1188c6665110c293c907b831', 672000000],
  ['5120712447206d7a5238acc7ff53fbe94a3b64539ad291c7cdbc490b7577e4b17df5', 546000000],
  ['512077e30a5522dd9f894c3f8b8bd4c4b2cf82ca7da8a3ea6a239655c39c050ab220', 588000000],
];
const HASHES = {
  hashAmounts: '58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde6',
  hashOutputs: 'a2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc5',
  hashPrevouts: 'e3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f',
  hashScriptPubkeys: '23ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e21',
  hashSequences: '18959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957e',
};
const CASES = [
  {
    index: 3,
    hashType: 1 as const,
    sigMsg:
      '0001020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957ea2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc50003000000',
    sigHash: 'bf013ea93474aa67815b1b6cc441d23b64fa310911d991e713cd34c7f5d46669',
  },
  {
    index: 4,
    hashType: 0 as const,
    sigMsg:
      '0000020000000065cd1de3b33bb4ef3a52ad1fffb555c0d82828eb22737036eaeb02a235d82b909c4c3f58a6964a4f5f8f0b642ded0a8a553be7622a719da71d1f5befcefcdee8e0fde623ad0f61ad2bca5ba6a7693f50fce988e17c3780bf2b1e720cfbb38fbdd52e2118959c7221ab5ce9e26c3cd67b22c24f8baa54bac281d8e6b05e400e6c3a957ea2e6dab7c1f0dcd297c8d61647fd17d821541ea69c3cc37dcbad7f90d4eb4bc50004000000',
    sigHash: '4f900a0bae3f1446fd48490c2958b5a023228f01661cda3496a11da502a7f7ef',
  },
];

function vectorTx(): UnsignedTx {
  const raw = RawTx.decode(hexToBytes(RAW_UNSIGNED));
  return {
    version: raw.version,
    lockTime: raw.lockTime,
    inputs: raw.inputs.map((i) => ({ txid: i.txid, index: i.index, sequence: i.sequence })),
    outputs: raw.outputs,
  };
}
const PREVOUTS = UTXOS.map(([s, a]) => ({ script: hexToBytes(s), amount: BigInt(a) }));

describe('BIP341 key-path sighash', () => {
  it('matches the intermediary hashes of BIP341 keyPathSpending[0]', () => {
    const c = sighashCommon(vectorTx(), PREVOUTS);
    expect(bytesToHex(c.shaAmounts)).toBe(HASHES.hashAmounts);
    expect(bytesToHex(c.shaOutputs)).toBe(HASHES.hashOutputs);
    expect(bytesToHex(c.shaPrevouts)).toBe(HASHES.hashPrevouts);
    expect(bytesToHex(c.shaScriptPubkeys)).toBe(HASHES.hashScriptPubkeys);
    expect(bytesToHex(c.shaSequences)).toBe(HASHES.hashSequences);
  });

  for (const v of CASES)
    it(`matches the vector's sigMsg and sigHash for input ${v.index}, hash type ${v.hashType}`, () => {
      const tx = vectorTx();
      // The vectors' sigMsg starts with the epoch byte 0x00 that the tagged hash prepends.
      const msg = keySpendSigMsg(tx, sighashCommon(tx, PREVOUTS), v.index, v.hashType);
      expect(`00${bytesToHex(msg)}`).toBe(v.sigMsg);
      expect(bytesToHex(keySpendSighash(tx, PREVOUTS, v.index, v.hashType))).toBe(v.sigHash);
    });

  it('refuses the hash types that do not commit to the whole transaction', () => {
    const tx = vectorTx();
    for (const t of [2, 3, 0x81, 0x82, 0x83])
      expect(() => keySpendSighash(tx, PREVOUTS, 0, t as 0)).toThrow(/only SIGHASH_DEFAULT/);
    expect(() => keySpendSighash(tx, PREVOUTS, 9, 0)).toThrow(/no input 9/);
    expect(() => keySpendSighash(tx, PREVOUTS.slice(1), 0, 0)).toThrow(/9 inputs but 8/);
  });

  it("agrees with @scure/btc-signer's own sighash on a spend with a foreign input", () => {
    const key = taprootKey(7);
    const tx = spend(key, { foreign: true });
    const raw = RawTx.decode(tx.unsignedTx);
    const unsigned: UnsignedTx = {
      version: raw.version,
      lockTime: raw.lockTime,
      inputs: raw.inputs,
      outputs: raw.outputs,
    };
    const prev = [0, 1, 2].map((i) => tx.getInput(i).witnessUtxo!);
    for (const i of [0, 1, 2])
      for (const t of [0, 1] as const)
        expect(bytesToHex(keySpendSighash(unsigned, prev, i, t))).toBe(
          bytesToHex(independentSighash(tx, i, t)),
        );
  });
});
