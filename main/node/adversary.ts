// Test-only adversary: a tampering layer on this node's own outgoing group-protocol messages.
//
// Issue 13 ("Malicious custodians") runs the real node as a lying member to show that the others
// catch it: each case below alters what this node sends (its requests) or answers (its replies to
// the members' requests), re-signing with its own identity key where a liar would sign its lie.
// It is honoured only with CONCLAVE_ALLOW_FAULTS=1 and CONCLAVE_TAMPER=<case> (the same gate as the
// test faults, CustodianFault); without them `HONEST` is used, the identity on every message.
//
// Why it is harmless to ship: it can only make this node lie about its own messages, with its own
// keys, which any member can do with a patched build; the protocol must (and these tests show it
// does) stand up to exactly that. It reads no other member's secret and touches no stored state;
// its only files, in the node's home, are its record of the (public) round-1 packages it sent, for
// the replay case, and the case file a test switches lies with.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import {
  packageDigest,
  proveKnowledge,
  round1SigningBytes,
  type DkgRound1Package,
} from '../../shared/crypto/dkg.js';
import { commitPoly, randomPoly } from '../../shared/crypto/poly.js';
import { repairCommitmentsSigningBytes } from '../../shared/crypto/repair.js';
import {
  getSuite,
  identifierHex,
  parseIdentifier,
  type SchemeName,
} from '../../shared/crypto/suite.js';
import {
  commitmentsHash,
  signShareReceipt,
  signStatement,
  type CeremonyMessage,
  type Signed,
  type GroupMessage,
  type ShareReceipt,
} from '../../shared/protocol/wire.js';
import type { SignMessage } from './common.js';

/** The lies this node can be told to tell (CONCLAVE_TAMPER). */
export const TAMPER_CASES = [
  // DKG
  'dkg-bad-proof', // a round-1 proof of knowledge that does not verify, to everyone
  'dkg-bad-share-one', // a wrong round-2 share to one member only
  'dkg-equivocate', // a different (valid) round-1 package to one member
  'dkg-replay', // the round-1 package this node sent in an earlier DKG session
  'dkg-withhold-round2', // no round-2 shares at all
  'dkg-lying-echo', // an echo misreporting another member's round-1 package
  'reshare-lying-echo', // a refresh/reshare echo misreporting another dealer's round-1 package
  // Signing, as a signer answering the coordinator
  'sign-bad-share', // a wrong signature share, with a receipt signed over it
  'sign-tampered-commitments', // a receipt over another commitment list than the one sent
  'sign-withhold', // an answer without a share
  'sign-replay', // the share and receipt of an earlier request
  'sign-off-curve', // a refill commitment whose hiding point is not on the curve
  'sign-low-order', // ... is a point of small order
  'sign-non-canonical', // ... is a non-canonical encoding
  'nonces-bad-point', // its pool of commitments for the coordinators, with points of small order
  // Signing, as the coordinator asking a signer (the lie is in the commitment list it sends)
  'coord-foreign-commitment', // a valid commitment for the signer that the signer never made
  'coord-foreign-binding', // one of the signer's hiding commitments with another binding one
  'coord-used-commitment', // the signer's commitment of the previous request it was asked for
  'coord-replay', // the whole commitment list of the previous request sent to that signer
  'coord-bad-list', // another signer's commitment with a point of small order
  // Approvals, as statements this node sends
  'approve-forged', // its approvals with a signature that does not verify
  'approve-other-hash', // its approvals, validly signed, for another request hash
  // Repair, as a helper talking to the new device (the lies the device must pin on this helper)
  'repair-bad-sum', // a wrong sum of parts to the new device
  'repair-equivocate', // other (signed, same-total) commitments to the device than to the helpers
  'repair-bad-part', // a part for another helper that does not match its commitment
  'none', // no lie (for a test that switches cases, below)
] as const;
export type TamperCase = (typeof TAMPER_CASES)[number];

/** What the node asks of its tampering layer: each call returns what actually goes out. */
export interface Tamper {
  /** A request this node sends to `to`; `undefined` withholds it (the caller sees a success). */
  out<M extends GroupMessage | SignMessage>(to: string, msg: M): M | undefined;
  /** This node's answer to `from`'s request `req`. */
  answer(from: string, req: unknown, answer: unknown): unknown;
}

/** No tampering: what every node uses unless the test gate is open. */
export const HONEST: Tamper = { out: (_to, msg) => msg, answer: (_from, _req, a) => a };

export interface AdversaryDeps {
  me: { peerId: string; sign(msg: Uint8Array): Uint8Array };
  /** A group's members in roster order (for picking the one member lied to). */
  members(groupId: string): { peerId: string; index: number }[];
  scheme(groupId: string): SchemeName;
  /** Where this node keeps the round-1 packages it sent (for `dkg-replay`). */
  stateFile: string;
  log(line: string): void;
}

/**
 * The layer for `kase` (a TAMPER_CASES value), or HONEST for anything else. While it is on, a
 * case written to the file `adversary-case` next to `stateFile` replaces it (a test switches lies
 * without restarting the node).
 */
export function makeTamper(kase: string | undefined, deps: AdversaryDeps): Tamper {
  if (!isCase(kase)) return HONEST;
  deps.log(`adversary: TEST-ONLY tampering "${kase}" is on`);
  return new Adversary(kase, deps);
}

function isCase(k: unknown): k is TamperCase {
  return TAMPER_CASES.includes(k as TamperCase);
}

type Payload = Record<string, unknown>;

class Adversary implements Tamper {
  /** The alternative round-1 package sent to the member lied to, per session (resent alike). */
  private altRound1 = new Map<string, Payload>();
  /** The commitments shown the new device of a repair, per session (resent alike). */
  private altRepair = new Map<string, Payload>();
  /** The latest share answer this node gave, for `sign-replay`. */
  private lastShare?: { requestId: string; share: string; receipt: ShareReceipt };
  /** The latest sign request this node sent each signer untampered, for the coordinator replays. */
  private lastSign = new Map<string, SignMessage>();

  constructor(
    private readonly initial: TamperCase,
    private readonly deps: AdversaryDeps,
  ) {}

  /** The lie in force: the case file's, else the one the node started with. */
  private get kase(): TamperCase {
    try {
      const k = readFileSync(join(dirname(this.deps.stateFile), 'adversary-case'), 'utf8').trim();
      return isCase(k) ? k : this.initial;
    } catch {
      return this.initial;
    }
  }

  /** The member this node lies to where a case lies to one member: the first other in the roster. */
  private victim(groupId: string): string | undefined {
    return this.deps.members(groupId).find((m) => m.peerId !== this.deps.me.peerId)?.peerId;
  }

  out<M extends GroupMessage | SignMessage>(to: string, msg: M): M | undefined {
    if (msg.type === 'sign') return this.signRequest(to, msg as SignMessage) as M;
    if (msg.type === 'statements') return { ...msg, items: msg.items.map((s) => this.approval(s)) };
    if (msg.type === 'nonces' && this.kase === 'nonces-bad-point') {
      const hiding = BAD_POINTS['sign-low-order'];
      return { ...msg, commitments: msg.commitments.map((c) => ({ ...c, hiding })) };
    }
    if (msg.type === 'ceremony' && msg.step === 'echo' && this.kase === 'reshare-lying-echo') {
      // Lies about the first other dealer's package (unsigned, it framed that dealer).
      const p = msg.payload as Payload;
      const digests = { ...(p.digests as Record<string, string>) };
      const lied = Object.keys(digests).find((h) => h !== p.from);
      if (lied) digests[lied] = bytesToHex(randomBytes(32));
      return { ...msg, payload: { ...p, digests } };
    }
    if (msg.type === 'ceremony' && this.kase.startsWith('repair-'))
      return this.repairMessage(to, msg) as M;
    if (msg.type !== 'dkg') return msg;
    const p = msg.payload as Payload;
    const k = this.kase;
    if (msg.step === 'round1') {
      const sent = this.replayed(p);
      // `from` is covered by nothing but the session check: a replayer puts its current one.
      if (k === 'dkg-replay') return { ...msg, payload: this.signed({ ...sent, from: p.from }) };
      if (k === 'dkg-bad-proof')
        return { ...msg, payload: this.signed({ ...p, proofOfKnowledge: badProof(p) }) };
      if (k === 'dkg-equivocate' && to === this.victim(msg.groupId)) {
        const session = String(p.session);
        let alt = this.altRound1.get(session);
        if (!alt) this.altRound1.set(session, (alt = this.signed(otherRound1(p))));
        return { ...msg, payload: alt };
      }
    }
    if (msg.step === 'echo' && k === 'dkg-lying-echo') {
      const lied = this.deps
        .members(msg.groupId)
        .find((m) => m.peerId === this.victim(msg.groupId));
      const digests = { ...(p.digests as Record<string, string>) };
      const suite = getSuite(this.deps.scheme(msg.groupId));
      if (lied) digests[identifierHex(suite, BigInt(lied.index))] = bytesToHex(randomBytes(32));
      return { ...msg, payload: { ...p, digests } };
    }
    if (msg.step === 'round2') {
      if (k === 'dkg-withhold-round2') return undefined;
      if (k === 'dkg-bad-share-one' && to === this.victim(msg.groupId)) {
        const suite = getSuite(this.deps.scheme(msg.groupId));
        return { ...msg, payload: { ...p, share: bumpScalar(suite, String(p.share)) } };
      }
    }
    return msg;
  }

  /** A repair helper's message to another helper or the new device (no member yet), as lied. */
  private repairMessage(to: string, msg: CeremonyMessage): CeremonyMessage {
    const p = msg.payload as Payload;
    const suite = getSuite(this.deps.scheme(msg.groupId));
    if (this.kase === 'repair-bad-part' && msg.step === 'echo' && typeof p.value === 'string')
      return { ...msg, payload: { ...p, value: bumpScalar(suite, p.value) } };
    if (this.deps.members(msg.groupId).some((m) => m.peerId === to)) return msg;
    // Its sum of parts off by one; the views passed on with it stay true.
    if (this.kase === 'repair-bad-sum' && msg.step === 'round2' && typeof p.value === 'string')
      return { ...msg, payload: { ...p, value: bumpScalar(suite, p.value) } };
    if (this.kase !== 'repair-equivocate' || msg.step !== 'round1' || typeof p.from !== 'string')
      return msg;
    let alt = this.altRepair.get(msg.session);
    if (!alt) {
      // A point moved from one helper's entry to another's: the total still matches this helper's
      // share, so only the other helpers' views (signed by this helper too) show the lie.
      const point = (h: string) => suite.decodePoint(hexToBytes(h), 'repair commitment');
      const c = { ...(p.commitments as Record<string, string>) };
      const [a, b] = Object.keys(c);
      const P = suite.G.multiply(suite.randomScalar());
      c[a!] = bytesToHex(suite.encodePoint(point(c[a!]!).add(P)));
      c[b!] = bytesToHex(suite.encodePoint(point(c[b!]!).subtract(P)));
      const points = new Map(
        Object.entries(c).map(([j, h]) => [parseIdentifier(suite, j), point(h)]),
      );
      const bytes = repairCommitmentsSigningBytes(
        suite,
        msg.session,
        parseIdentifier(suite, p.from),
        points,
      );
      alt = { ...p, commitments: c, signature: bytesToHex(this.deps.me.sign(bytes)) };
      this.altRepair.set(msg.session, alt);
    }
    return { ...msg, payload: alt };
  }

  /** A sign request this node sends as coordinator, as the coordinator cases lie to `to`. */
  private signRequest(to: string, msg: SignMessage): SignMessage {
    const k = this.kase;
    const theirs = msg.commitments.find((c) => c.peerId === to);
    const suite = getSuite(this.deps.scheme(msg.groupId));
    const swap = (peer: string, commitment: Record<string, unknown>): SignMessage => ({
      ...msg,
      commitments: msg.commitments.map((c) => (c.peerId === peer ? { ...c, commitment } : c)),
    });
    // An earlier request's message to this signer (its commitments were used, if it signed).
    const last = this.lastSign.get(to);
    const old = last && last.requestId !== msg.requestId ? last : undefined;
    const other = msg.commitments.find((c) => c.peerId !== to);
    if (theirs && k === 'coord-foreign-commitment')
      return swap(to, {
        ...theirs.commitment,
        hiding: randomPoint(suite),
        binding: randomPoint(suite),
      });
    if (theirs && k === 'coord-foreign-binding')
      return swap(to, { ...theirs.commitment, binding: randomPoint(suite) });
    const used = old?.commitments.find((c) => c.peerId === to);
    if (used && k === 'coord-used-commitment') return swap(to, used.commitment);
    if (old && k === 'coord-replay')
      return { ...old, requestId: msg.requestId, approvals: msg.approvals };
    if (other && k === 'coord-bad-list')
      return swap(other.peerId, { ...other.commitment, hiding: BAD_POINTS['sign-low-order'] });
    // Untampered (the first request in a replay case is honest: it is what is replayed next).
    this.lastSign.set(to, msg);
    return msg;
  }

  /** This node's own approval, as the approval cases lie about it. */
  private approval(s: Signed): Signed {
    const b = s.body;
    if (b.type !== 'decision' || b.decision !== 'approve' || b.by !== this.deps.me.peerId) return s;
    if (this.kase === 'approve-forged')
      return { ...s, sig: s.sig.slice(0, -2) + (s.sig.endsWith('00') ? '01' : '00') };
    if (this.kase === 'approve-other-hash')
      return signStatement({ ...b, requestHash: bytesToHex(randomBytes(32)) }, this.deps.me.sign);
    return s;
  }

  /** A round-1 package signed with this node's identity key, as its lie goes out signed. */
  private signed(p: Payload): Payload {
    const digest = packageDigest(p as unknown as DkgRound1Package);
    return { ...p, signature: bytesToHex(this.deps.me.sign(round1SigningBytes(digest))) };
  }

  /**
   * Records this node's round-1 package; returns the latest one it sent in another session (or
   * this one when there is none yet: the first DKG in replay mode is honest and recorded).
   */
  private replayed(p: Payload): Payload {
    const file = this.deps.stateFile;
    const sent = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Payload[]) : [];
    const other = sent.filter((s) => s.session !== p.session).at(-1);
    if (!sent.some((s) => s.session === p.session) && p.from !== undefined)
      writeFileSync(file, JSON.stringify([...sent, p].slice(-8)));
    return other && this.kase === 'dkg-replay' ? other : p;
  }

  answer(from: string, req: unknown, answer: unknown): unknown {
    const r = req as Partial<SignMessage>;
    if (r?.type !== 'sign' || !answer || typeof answer !== 'object') return answer;
    const a = answer as { share?: string; receipt?: ShareReceipt; refill?: Payload };
    if (typeof a.share !== 'string' || !a.receipt) return answer;
    const k = this.kase;
    const resign = (body: ShareReceipt['body']) => signShareReceipt(body, this.deps.me.sign);
    const suite = getSuite(this.deps.scheme(String(r.groupId)));
    switch (k) {
      case 'sign-bad-share': {
        const share = bumpScalar(suite, a.share);
        return { ...a, share, receipt: resign({ ...a.receipt.body, share }) };
      }
      case 'sign-tampered-commitments': {
        const list = (r.commitments ?? []).slice().reverse();
        return { ...a, receipt: resign({ ...a.receipt.body, commitments: commitmentsHash(list) }) };
      }
      case 'sign-withhold':
        return { error: 'withheld' };
      case 'sign-replay': {
        const last = this.lastShare;
        this.lastShare = { requestId: String(r.requestId), share: a.share, receipt: a.receipt };
        if (!last || last.requestId === r.requestId) return answer;
        return { ...a, share: last.share, receipt: last.receipt };
      }
      case 'sign-off-curve':
      case 'sign-low-order':
      case 'sign-non-canonical':
        if (!a.refill) return answer;
        return { ...a, refill: { ...a.refill, hiding: BAD_POINTS[k] } };
      default:
        return answer;
    }
  }
}

/** ed25519 encodings (hex) that a strict decoder must refuse. */
const BAD_POINTS = {
  // y = 2 is not the y of any point (x² would be a non-square).
  'sign-off-curve': '0200000000000000000000000000000000000000000000000000000000000000',
  // y = −1: the point of order 2.
  'sign-low-order': 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  // y = p + 1, the non-canonical twin of y = 1.
  'sign-non-canonical': 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
} as const;

/** A valid point of the group at random (hex): no member's commitment. */
function randomPoint(suite: ReturnType<typeof getSuite>): string {
  return bytesToHex(suite.encodePoint(suite.G.multiply(suite.randomScalar())));
}

/** s + 1 (mod the group order), in the suite's encoding. */
function bumpScalar(suite: ReturnType<typeof getSuite>, hex: string): string {
  const s = suite.decodeScalar(hexToBytes(hex), 'share');
  return bytesToHex(suite.encodeScalar(suite.Fn.add(s, 1n)));
}

/** A well-formed proof that does not verify: the response z is off by one. */
function badProof(p: Payload): string {
  const suite = getSuite(p.scheme as SchemeName);
  const proof = String(p.proofOfKnowledge);
  const zHex = proof.slice(proof.length - 2 * suite.scalarLength);
  return proof.slice(0, proof.length - zHex.length) + bumpScalar(suite, zHex);
}

/** A valid round-1 package for another polynomial (its proof verifies): equivocation material. */
function otherRound1(p: Payload): Payload {
  const suite = getSuite(p.scheme as SchemeName);
  const id = parseIdentifier(suite, String(p.from));
  const t = (p.commitment as string[]).length;
  const coeffs = randomPoly(suite, t);
  const C = commitPoly(suite, coeffs);
  const proof = proveKnowledge(suite, id, coeffs[0]!, C[0]!, hexToBytes(String(p.session)));
  return {
    ...p,
    commitment: C.map((c) => bytesToHex(suite.encodePoint(c))),
    proofOfKnowledge: bytesToHex(proof),
  };
}
