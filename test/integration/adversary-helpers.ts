// Shared steps of the adversary tests (issue 13): run a member with the test-only tampering layer
// (main/node/adversary.ts), switch its lie while it runs, and check an ed25519 group signature.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import type { TestNode } from './harness.js';

/** The environment that starts a node with the tampering layer telling lie `kase`. */
export function lying(kase: string): NodeJS.ProcessEnv {
  return { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_TAMPER: kase };
}

/** Switches `liar` to another lie (the layer reads its case file; no restart needed). */
export function setLie(liar: TestNode, kase: string): void {
  writeFileSync(join(liar.home, 'adversary-case'), kase);
}

/** Whether hex signature `sig` over hex message `msg` verifies under the ed25519 `publicKey`. */
export function verifiesEd25519(sig: string, msg: string, publicKey: string): boolean {
  return ed25519.verify(hexToBytes(sig), hexToBytes(msg), hexToBytes(publicKey));
}
