// Rehearsing the threshold arithmetic before a key generation (issue 12). A fresh process runs
// noble's point arithmetic and our protocol code unoptimised at first: a 7-of-10 key generation's
// own work took 61 ms in a new process and 26 ms once V8 had compiled it, and a signer's package
// 7-10 ms against 2-3 ms. A node's first key generation paid that, on every member at once. From
// when a node creates or joins a group until its key generation starts (the others join, then
// everyone compares the safety code: the node has nothing else to do), it runs a small key
// generation and signing of its own, a step per turn of the event loop, for at most WARM_MAX_MS
// (main/node/groups.ts). Nothing it makes is kept, sent or logged: throwaway keys from fresh
// randomness, dropped at once (the secret values are Redacted objects, as every share is).
import { randomBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  type DkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  type DkgParams,
} from '../../shared/crypto/dkg.js';
import {
  aggregate,
  commit,
  commitmentFromJSON,
  commitmentToJSON,
  partKey,
  SigningPackage,
  signShare,
} from '../../shared/crypto/sign.js';
import type { KeyPackage } from '../../shared/crypto/keys.js';
import { getSuite, SCHEMES, type SchemeName } from '../../shared/crypto/suite.js';

/**
 * At most this long in all: the first rehearsals do most of the good (the code is compiled after
 * a few). Tried first at start-up, while the file vault's scrypt ran: the rehearsal's garbage
 * slowed the end of the scrypt on two cores and left the idle heap ~30 MiB larger.
 */
export const WARM_MAX_MS = 400;

/** What a rehearsal ends with (for tests): the group's public package, the message, the signature. */
export interface Rehearsed {
  publicPackage: KeyPackage['public'];
  message: Uint8Array;
  signature: Uint8Array;
}

/**
 * One 2-of-3 key generation among three throwaway members and one signature by two of them, with
 * every step a member takes (the commitments through their wire form, as a signer decodes them),
 * a step per `next()` (a few milliseconds each, so a caller can stop between two). Throws what
 * the arithmetic throws.
 */
export function* rehearsal(scheme: SchemeName): Generator<void, Rehearsed> {
  const ids = [1n, 2n, 3n];
  const params: DkgParams = {
    scheme,
    threshold: 2,
    members: ids.map((identifier) => ({ identifier, identityKey: randomBytes(32) })),
    sessionId: randomBytes(32),
  };
  const r1: ReturnType<typeof dkgRound1>[] = [];
  for (const id of ids) {
    r1.push(dkgRound1(params, id));
    yield;
  }
  const echoes: DkgEcho[] = [];
  for (const m of r1) {
    echoes.push(
      dkgEcho(
        m.state,
        r1.filter((o) => o !== m).map((o) => o.package),
      ),
    );
    yield;
  }
  const out = r1.map((m, i) =>
    dkgRound2(
      m.state,
      echoes.filter((_, j) => j !== i),
    ),
  );
  yield;
  const keys: KeyPackage[] = [];
  for (const m of r1) {
    keys.push(
      dkgFinalize(
        m.state,
        out.flat().filter((p) => p.to === m.state.me),
      ),
    );
    yield;
  }
  const suite = getSuite(scheme);
  const message = randomBytes(32);
  const signers = keys.slice(0, 2);
  const nonces = signers.map((k) => commit(k));
  const received = nonces.map((n) =>
    commitmentFromJSON(suite, commitmentToJSON(suite, n.commitment), true),
  );
  yield;
  const pkg = new SigningPackage(partKey(signers[0]!.public, { message }), received, message);
  const signature = aggregate(
    pkg,
    new Map(signers.map((k, i) => [k.share.identifier, signShare(k, nonces[i]!, pkg)])),
  );
  return { publicPackage: signers[0]!.public, message, signature };
}

/**
 * Rehearses `scheme` (rehearsal) again and again, one step per turn of the event loop (so the
 * node's own work goes between two), until `stop` is called or `maxMs` have passed. An unknown
 * scheme name (a stored row says what it says) rehearses nothing. Never throws; a failing
 * rehearsal ends it.
 */
export function warmThreshold(
  scheme: string,
  maxMs = WARM_MAX_MS,
): { stop(): void; rehearsals(): number } {
  const until = performance.now() + maxMs;
  let stopped = !(SCHEMES as readonly string[]).includes(scheme);
  let done = 0;
  let current: Generator<void, Rehearsed> | undefined;
  const next = (): void => {
    if (stopped || performance.now() >= until) return;
    try {
      current ??= rehearsal(scheme as SchemeName);
      if (current.next().done) {
        current = undefined;
        done++;
      }
    } catch {
      stopped = true;
      return;
    }
    setImmediate(next);
  };
  setImmediate(next);
  return {
    stop: () => void (stopped = true),
    rehearsals: () => done,
  };
}
