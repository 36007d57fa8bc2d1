// Reconstruction in ed25519, secp256k1 and taproot groups: refused under the default policy;
// allowed after a policy change approved by the group; the export round-trips to the same key
// (for taproot the internal key, whose BIP86 tweak is the group key); ECDSA signing is refused for
// ed25519 and verifies otherwise; every member records the key as exposed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { mod } from '@noble/curves/abstract/modular.js';
import { bytesToNumberBE, bytesToNumberLE, numberToBytesBE } from '@noble/curves/utils.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { RequestView } from '../../shared/api/index.js';
import { importExportedKey } from '../../shared/crypto/exported-key.js';
import { tapTweak } from '../../shared/crypto/suite.js';
import {
  allowReconstruction,
  approveBy,
  formGroup,
  requestStatus,
  tempRoot,
  TestNode,
  waitFor,
} from './harness.js';

const pass = { CONCLAVE_EXPORT_PASSPHRASE: 'migrate this key now please' };

/** BIP341 taproot_tweak_seckey with an empty script tree (BIP86), from noble and the BIP. */
function bip86TweakedSecret(secret: Uint8Array): Uint8Array {
  const n = secp256k1.Point.CURVE().n;
  const d = bytesToNumberBE(secret);
  const P = secp256k1.Point.BASE.multiply(d);
  const t = bytesToNumberBE(schnorr.utils.taggedHash('TapTweak', P.toBytes().subarray(1)));
  return numberToBytesBE(mod((P.y % 2n === 0n ? d : n - d) + t, n), 32);
}

describe.each(['ed25519', 'secp256k1', 'taproot'] as const)(
  'reconstruction in a %s group',
  (scheme) => {
    const tmp = tempRoot();
    const [uma, vic, wes] = ['uma', 'vic', 'wes'].map((n) => new TestNode(n, tmp.root));
    const all = [uma, vic, wes];

    afterAll(async () => {
      if (process.env.CONCLAVE_TEST_LOGS)
        for (const n of all) console.log(`--- ${n.name}\n${n.logs}`);
      await Promise.all(all.map((n) => n.kill()));
      tmp.cleanup();
    });

    /** Waits until every member's shared log holds `count` exposure records from every member. */
    async function exposureRecords(count: number): Promise<void> {
      const audit = await waitFor('every member’s record at wes', async () => {
        const list = await wes.api('audit.list', {});
        return all.every(
          (n) =>
            list.filter((e) => e.type === 'group.key_exposed' && e.author.startsWith(n.peerId))
              .length === count,
        )
          ? list
          : undefined;
      });
      // Every member recorded each reconstruction, and each holds the others' records too.
      const exposedBy = (peer: string) =>
        audit.filter((e) => e.type === 'group.key_exposed' && e.author.startsWith(peer)).length;
      for (const n of all) expect(exposedBy(n.peerId)).toBe(count);
    }

    function reconstruct(purpose: string, operation: string[]): string[] {
      return ['request', 'reconstruct', '--group', 'legacy', '--purpose', purpose, ...operation];
    }

    it('refuses reconstruction by default, allows it by policy and exports the same key, then handles ECDSA signing', async () => {
      await Promise.all(all.map((n) => n.init()));
      await Promise.all(all.map((n) => n.start()));
      const created = await formGroup(uma, [vic, wes], { name: 'legacy', threshold: 2, scheme });
      const [group] = created.groups;

      const out = join(tmp.root, 'exported.key');
      const exportTo = ['--operation', 'export', '--out', out];
      const refused = await uma.cli(reconstruct('migration', exportTo), pass);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/does not allow reconstructing the key/);

      await allowReconstruction('legacy', uma, [uma, vic], all, tmp.root);

      const req = await uma.cliJson<RequestView>(
        reconstruct('migration to the new wallet', exportTo),
        pass,
      );
      expect(req.description).toMatch(/RECONSTRUCT the whole key/);
      await approveBy(req.id, [uma, wes]);
      await requestStatus(uma, req.id, 'done');
      const key = importExportedKey(readFileSync(out, 'utf8'), pass.CONCLAVE_EXPORT_PASSPHRASE);
      expect(key.scheme).toBe(scheme);
      // Each check derives the public key from the exported secret with noble, not Conclave's code.
      if (scheme === 'ed25519') {
        // The exported secret is the scalar of the key, not an RFC 8032 seed.
        const P = ed25519.Point.BASE.multiply(bytesToNumberLE(key.secret));
        expect(bytesToHex(P.toBytes())).toBe(group.publicKey);
      } else if (scheme === 'secp256k1') {
        expect(bytesToHex(secp256k1.getPublicKey(key.secret))).toBe(group.publicKey);
      } else {
        // The secret is the internal key's; the group key is its BIP86 output key.
        const P = secp256k1.getPublicKey(key.secret);
        expect(bytesToHex(P.subarray(1))).toBe(group.internalKey);
        expect(key.publicKey).toBe(bytesToHex(P));
        expect(key.taproot).toEqual({ internalKey: group.internalKey, outputKey: group.publicKey });
        expect(JSON.parse(readFileSync(out, 'utf8')).taproot).toEqual(key.taproot);
        const tweaked = bip86TweakedSecret(key.secret);
        expect(bytesToHex(schnorr.getPublicKey(tweaked))).toBe(group.publicKey);
        const msg = utf8ToBytes('spend from the migrated key');
        expect(schnorr.verify(schnorr.sign(msg, tweaked), msg, hexToBytes(group.publicKey!))).toBe(
          true,
        );
        // Conclave's own TapTweak helper agrees.
        const Pp = secp256k1.Point.fromBytes(P);
        const even = Pp.y % 2n === 0n ? Pp : Pp.negate();
        const Q = even.add(secp256k1.Point.BASE.multiply(tapTweak(even as never)));
        expect(bytesToHex(Q.toBytes().subarray(1))).toBe(group.publicKey);
      }
      for (const n of all) {
        const g = await waitFor(`${n.name} marks it exposed`, async () => {
          const v = await n.api('group.show', { group: created.id });
          return v.exposed ? v : undefined;
        });
        expect(g.exposed).toMatch(/key exposed on uma at .* \(migration to the new wallet\)/);
      }

      const digest = randomBytes(32);
      const signWith = ['--operation', 'ecdsa-sign', '--digest', bytesToHex(digest)];
      if (scheme === 'ed25519') {
        const r = await vic.cli(reconstruct('legacy ECDSA system', signWith));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/ecdsa-sign needs a secp256k1 or taproot group/);
        const asked = (await vic.api('request.list', {})).filter((r) => r.kind === 'reconstruct');
        expect(asked.map((r) => r.id)).toEqual([req.id]);
        await exposureRecords(1);
        return;
      }
      const sreq = await vic.cliJson<RequestView>(reconstruct('legacy ECDSA system', signWith));
      // The approvers are told which key the ECDSA signature will verify under.
      expect(sreq.description).toContain(`verifies under the secp256k1 key ${key.publicKey}`);
      await approveBy(sreq.id, [vic, uma]);
      const done = await requestStatus(vic, sreq.id, 'done');
      const ecdsaOk = (pub: Uint8Array) =>
        secp256k1.verify(hexToBytes(done.signature!), digest, pub, { prehash: false });
      // secp256k1: the group key. taproot: the internal key with its own parity (the 33-byte key in
      // the export file and in the request); the x-only keys the group shows do not say which.
      expect(ecdsaOk(hexToBytes(key.publicKey))).toBe(true);
      if (scheme === 'taproot') {
        expect(ecdsaOk(hexToBytes('02' + group.publicKey!))).toBe(false);
        expect(ecdsaOk(hexToBytes('03' + group.publicKey!))).toBe(false);
      }
      for (const n of all)
        await waitFor(`${n.name} marks it exposed again`, async () => {
          const v = await n.api('group.show', { group: created.id });
          return v.exposed?.includes('(legacy ECDSA system)');
        });
      await exposureRecords(2);
    }, 240_000);
  },
);
