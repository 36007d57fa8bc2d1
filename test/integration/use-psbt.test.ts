// Bitcoin PSBTs on a real 2-of-2 taproot group (two node processes, one DKG). The PSBTs are built
// here with @scure/btc-signer from fake funding outpoints paying to the group's bc1p address; the
// group signs them through `request sign --psbt`, and every witness signature of the result
// verifies under @noble/curves' BIP340 against the sighash btc-signer computes on its own.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import * as btc from '@scure/btc-signer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import { psbtMessage } from '../../shared/requests/psbt.js';
import {
  DEST,
  FOREIGN_PRIV,
  independentSighash,
  keyFromOutput,
  outpoint,
  spend,
  type TaprootKey,
} from '../bitcoin/fixtures.js';
import { formGroup, requestStatus, seen, tempRoot, TestNode, waitFor } from './harness.js';

const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
/** A regtest destination that is not the group's: BIP173's example key hash. */
const DEST_REGTEST = btc.Address(REGTEST).encode({
  type: 'wpkh',
  hash: hexToBytes('751e76e8199196d454941c45d1b3a323f1433bd6'),
});

/** Another regtest destination, not on the policy's list. */
const REGTEST_OTHER = btc
  .Address(REGTEST)
  .encode({ type: 'wpkh', hash: new Uint8Array(20).fill(7) });

/** The BIP340 signature in the key-path witness of input i. */
function witnessSig(raw: Uint8Array, i: number): Uint8Array {
  const w = btc.RawTx.decode(raw).witnesses![i]!;
  expect(w).toHaveLength(1);
  return w[0]!;
}

describe('Bitcoin PSBT with a taproot group', () => {
  const tmp = tempRoot('conclave-psbt-');
  const [alice, bob] = ['alice', 'bob'].map((n) => new TestNode(n, tmp.root));
  let group: GroupView;
  let key: TaprootKey;

  beforeAll(async () => {
    await Promise.all([alice, bob].map((n) => n.init()));
    await Promise.all([alice, bob].map((n) => n.start()));
    const formed = await formGroup(alice, [bob], {
      name: 'vault',
      threshold: 2,
      scheme: 'taproot',
    });
    group = formed.groups[0]!;
    // The output key as BIP341 makes it from the internal key, independently of the node.
    const output = btc.p2tr(hexToBytes(group.internalKey!)).tweakedPubkey;
    expect(bytesToHex(output)).toBe(group.publicKey);
    key = keyFromOutput(output);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([alice, bob].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('prints the group’s address, the one BIP341 makes from its internal key', async () => {
    const shown = await alice.cli([
      'bitcoin',
      'address',
      '--group',
      'vault',
      '--network',
      'regtest',
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim()).toBe(
      btc.p2tr(hexToBytes(group.internalKey!), undefined, REGTEST).address,
    );
  });

  it('signs the group inputs of a PSBT with a foreign input; the approver’s card shows it all', async () => {
    const tx = spend(key, { foreign: true, dest: DEST_REGTEST, network: REGTEST, send: 120_000n });
    const file = join(tmp.root, 'spend.psbt.txt');
    writeFileSync(file, `${base64.encode(tx.toPSBT())}\n`);
    const made = await alice.cli([
      'request',
      'sign',
      '--group',
      'vault',
      '--psbt',
      file,
      '--network',
      'regtest',
      '--approve',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const id = /^request: +(\S+)$/m.exec(made.stdout)![1]!;
    expect(made.stdout).toContain(`conclave request result ${id} --out signed.psbt`);

    // Bob's node reads the PSBT itself: every input and output, the change, the fee.
    await seen(bob, id);
    const shown = await bob.api('request.show', { id });
    const card = shown.card!;
    const field = (label: string) => card.fields.find((f) => f.label === label)?.value;
    expect(card.title).toBe('Spend bitcoin from “vault”');
    expect(field('Network')).toBe('Bitcoin regtest');
    expect(field('Fee')).toBe('0.00005000 BTC (5,000 sat)');
    expect(field('Input #0 (this group’s)')).toMatch(/^1{64}:0 — 0.00100000 BTC .*bcrt1p/);
    expect(field('Input #1')).toMatch(/not this group’s: its owner signs it separately$/);
    expect(field('Output #0')).toBe(
      `${DEST_REGTEST} — 0.00120000 BTC (120,000 sat) — to someone else`,
    );
    expect(field('Output #1 (change back to this group)')).toMatch(/^bcrt1p.* 0.00055000 BTC/);
    expect(card.warnings!.join('\n')).toMatch(/1 input \(#1\) is not this group’s/);

    await bob.cliJson(['approve', id]);
    const wait = await alice.cli(['request', 'wait', id, '--timeout', '90']);
    expect(wait.code, wait.stdout + wait.stderr).toBe(0);

    const out = join(tmp.root, 'signed.psbt');
    const result = await alice.cli(['request', 'result', id, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Still to sign: input #1 \(not this group’s\)/);

    // The foreign input's owner signs the returned PSBT, and the transaction is complete.
    const signed = btc.Transaction.fromPSBT(readFileSync(out));
    expect(signed.getInput(0).finalScriptWitness).toHaveLength(1);
    expect(signed.getInput(2).finalScriptWitness).toHaveLength(1);
    signed.signIdx(FOREIGN_PRIV, 1);
    signed.finalizeIdx(1);
    const raw = signed.extract();
    expect(signed.id).toBe(tx.id);
    for (const i of [0, 2])
      expect(schnorr.verify(witnessSig(raw, i), independentSighash(tx, i), key.output)).toBe(true);
  });

  it('with --out waits for the approval and saves a finalized transaction', async () => {
    const tx = spend(key, { sighashType: 1 });
    const file = join(tmp.root, 'all-group.psbt');
    writeFileSync(file, tx.toPSBT());
    const out = join(tmp.root, 'all-group-signed.psbt');
    // The last test's request may still be open on bob (signing, its outcome on the way).
    const earlier = new Set((await bob.api('request.list', {})).map((r) => r.id));
    const running = alice.cli([
      'request',
      'sign',
      '--group',
      'vault',
      '--psbt',
      file,
      '--approve',
      '--out',
      out,
    ]);
    const pending = await waitFor('the PSBT request on bob', async () =>
      (await bob.api('request.list', { pending: true })).find(
        (r: RequestView) => r.kind === 'psbt' && !earlier.has(r.id),
      ),
    );
    await bob.cliJson(['approve', pending.id]);
    const done = await running;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.stdout).toContain(`saved the signed PSBT to ${out}`);
    const hex = /^Raw transaction \(hex\): ([0-9a-f]+)$/m.exec(done.stdout)![1]!;
    const signed = btc.Transaction.fromPSBT(readFileSync(out));
    expect(signed.isFinal).toBe(true);
    expect(bytesToHex(signed.extract())).toBe(hex);
    expect(done.stdout).toContain(`Transaction id: ${tx.id}`);
    for (const i of [0, 1]) {
      const sig = witnessSig(hexToBytes(hex), i);
      // SIGHASH_ALL: 64 bytes and the type byte.
      expect(sig).toHaveLength(65);
      expect(sig[64]).toBe(1);
      expect(schnorr.verify(sig.subarray(0, 64), independentSighash(tx, i, 1), key.output)).toBe(
        true,
      );
    }
    await requestStatus(bob, pending.id, 'done');
  });

  it('refuses, before anyone is asked, a PSBT with no input of the group or without amounts', async () => {
    const other = btc.p2tr(schnorr.getPublicKey(new Uint8Array(32).fill(3)));
    const notOurs = spend(keyFromOutput(other.tweakedPubkey));
    const noAmount = new btc.Transaction();
    noAmount.addInput({
      txid: outpoint(0x11),
      index: 0,
      witnessUtxo: { script: key.script, amount: 1000n },
    });
    noAmount.addInput({ txid: outpoint(0x22), index: 0 });
    noAmount.addOutputAddress(DEST, 500n);
    const cases: [string, Uint8Array, RegExp][] = [
      ['not-ours.psbt', notOurs.toPSBT(), /has no input of this group/],
      [
        'no-amount.psbt',
        noAmount.toPSBT(),
        /inputs\[1\] .*has no witness UTXO, so its amount is unknown/,
      ],
      ['junk.psbt', new TextEncoder().encode('not a psbt'), /is not a PSBT/],
    ];
    for (const [name, bytes, why] of cases) {
      const file = join(tmp.root, name);
      writeFileSync(file, bytes);
      const r = await alice.cli(['request', 'sign', '--group', 'vault', '--psbt', file]);
      expect(r.code, r.stdout).toBe(64);
      expect(r.stderr).toMatch(why);
    }
    // The node refuses the same bytes when asked directly, without the CLI's own check.
    for (const [psbt, why] of [
      [notOurs.toPSBT(), /has no input of this group/],
      [noAmount.toPSBT(), /has no witness UTXO/],
    ] as const)
      await expect(
        alice.api('request.create', {
          group: group.id,
          kind: 'psbt',
          message: bytesToHex(psbtMessage(psbt, 'bitcoin')),
        }),
      ).rejects.toThrow(why);
    expect(
      (await alice.api('request.list', { pending: true })).filter((r) => r.kind === 'psbt'),
    ).toEqual([]);
  });

  it('a policy caps what is sent out and allows only listed destinations', async () => {
    const current = await alice.cliJson<{ policy: Record<string, unknown> }>([
      'group',
      'policy',
      'vault',
    ]);
    const file = join(tmp.root, 'psbt-limits.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...current.policy,
        limits: { psbt: { maxSendSats: 100_000, allowedAddresses: [DEST_REGTEST] } },
      }),
    );
    const change = await alice.cliJson<RequestView>([
      'request',
      'policy',
      '--group',
      'vault',
      '--file',
      file,
      '--approve',
    ]);
    await seen(bob, change.id);
    await bob.cliJson(['approve', change.id]);
    for (const n of [alice, bob]) await requestStatus(n, change.id, 'done');
    const shown = await alice.cli(['group', 'policy', 'vault']);
    expect(shown.stdout).toContain('within the limits set for Bitcoin transactions');

    const ask = async (name: string, tx: btc.Transaction) => {
      const f = join(tmp.root, name);
      writeFileSync(f, tx.toPSBT());
      return alice.cli([
        'request',
        'sign',
        '--group',
        'vault',
        '--psbt',
        f,
        '--network',
        'regtest',
      ]);
    };
    const tooMuch = await ask(
      'too-much.psbt',
      spend(key, { dest: DEST_REGTEST, network: REGTEST, send: 120_000n, change: 5_000n }),
    );
    expect(tooMuch.code).not.toBe(0);
    expect(tooMuch.stderr).toMatch(
      /sends 0.00120000 BTC .* more than the policy’s maximum of 0.00100000 BTC/,
    );
    const elsewhere = REGTEST_OTHER;
    const unlisted = await ask('unlisted.psbt', spend(key, { dest: elsewhere, network: REGTEST }));
    expect(unlisted.code).not.toBe(0);
    expect(unlisted.stderr).toMatch(
      new RegExp(`Output #0 pays ${elsewhere}, which is not one of the policy’s allowed addresses`),
    );
    const fine = await ask('fine.psbt', spend(key, { dest: DEST_REGTEST, network: REGTEST }));
    expect(fine.code, fine.stderr).toBe(0);
  });
});
