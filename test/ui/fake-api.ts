// An in-memory custodian node implementing the whole API contract with a tiny state machine, so the
// UI can be driven without a network: groups fill up, confirm and finish a "DKG"; requests collect
// decisions and end signed (with a fake signature), denied, expired or failed; key-lifecycle
// requests carry the node's parameters and, once approved, change the group as the node would
// (epoch, roster, threshold, policy, exposure) under the real policy rules.
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base58 } from '@scure/base';
import { taprootTweakPrivKey } from '@scure/btc-signer/utils.js';
import {
  ApiError,
  type Api,
  type ApiEvent,
  type ApiInput,
  type ApiMethod,
  type AuditEntryView,
  type AuditReport,
  type BackupExported,
  type DecisionView,
  type GroupView,
  type MemberView,
  type NodeStatus,
  type PolicyView,
  type RequestResult,
  type RequestView,
  type Scheme,
  type Settings,
} from '../../shared/api/index.js';
import { API_METHODS, validateInput } from '../../shared/api/schema.js';
import { canonicalJSON } from '../../shared/crypto/backup.js';
import {
  approvalsNeeded,
  checkRequest,
  defaultPolicy,
  describePolicy,
  policyHash,
  validatePolicy,
  type GroupPolicy,
  type RequestKindAll,
  type UseKind,
} from '../../shared/policy/policy.js';
import {
  decodeRequest,
  executionOf,
  fingerprintOf,
  parseRequest,
  resultOf,
  USE_KINDS,
  type KindOutput,
  type RequestContext,
  type SignPart,
} from '../../shared/requests/index.js';
import { groupTaprootKeys } from '../../shared/requests/psbt.js';

export interface Person {
  name: string;
  peerId: string;
  fingerprint: string;
}

function person(name: string): Person {
  const tail = bytesToHex(sha256(utf8ToBytes(name))).toUpperCase();
  return {
    name,
    peerId: `12D3KooW${tail.slice(0, 44)}`.slice(0, 52),
    fingerprint: [0, 4, 8, 12, 16].map((i) => tail.slice(i, i + 4)).join('-'),
  };
}

/**
 * Someone whose peer id is a real Ed25519 peer id, as a node's is (the others' are only shaped like
 * one), so a card that computes a fingerprint from the peer id shows theirs.
 */
export function peerPerson(name: string): Person {
  const key = ed25519.getPublicKey(sha256(utf8ToBytes(`peer/${name}`)));
  const peerId = base58.encode(concatBytes(Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20), key));
  return { name, peerId, fingerprint: fingerprintOf(peerId) };
}

/** How a real node names a peer in an audit summary (main/node/common.ts short). */
export function peerTail(p: Person): string {
  return `…${p.peerId.slice(-8)}`;
}

export const ALICE = person('Alice');
export const BOB = person('Bob');
export const CAROL = person('Carol');
export const DAVE = person('Dave');
const OTHERS = [BOB, CAROL, DAVE, person('Erin'), person('Frank')];
/** Someone who is in no seeded group: joins as a newcomer with `newcomerJoins`. */
export const GRACE = person('Grace');

/** BIP86's first test vector: the taproot output key of `bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr`. */
export const TAPROOT_OUTPUT_KEY =
  'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c';
export const TAPROOT_INTERNAL_KEY =
  'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115';

interface FakeMember extends Person {
  online: boolean;
  confirmed: boolean;
}

interface FakeGroup {
  id: string;
  name: string;
  threshold: number;
  size: number;
  scheme: Scheme;
  status: GroupView['status'];
  members: FakeMember[];
  publicKey?: string;
  internalKey?: string;
  createdAt: number;
  error?: string;
  exposed?: string;
  epoch: number;
  policy: GroupPolicy;
  /** Newcomers who joined with a `group.invite` invite and wait to be added. */
  candidates: Person[];
  /** Set for a group made by group.import: the public key of the key it shares. */
  importedKey?: string;
  /** The invite of a group this node created; the view carries it while the group is forming. */
  invite?: string;
  /** A group made by addKeyGroup: the secret its uses are signed with (a stand-in for FROST). */
  secretKey?: Uint8Array;
}

interface FakeRequest {
  id: string;
  group: string;
  kind: string;
  description?: string;
  fingerprints?: Record<string, string>;
  message: Uint8Array;
  createdBy: DecisionView;
  createdAt: number;
  expiresAt: number;
  status: RequestView['status'];
  approvals: DecisionView[];
  denials: DecisionView[];
  signature?: string;
  failure?: string;
  culprits: string[];
  /** A done use's signatures, one per part, for request.result. */
  output?: KindOutput;
}

export interface FakeNodeOptions {
  /** How long each simulated step (a member joining, the DKG, signing) takes; default 40 ms. */
  delayMs?: number;
  /** Start with groups, requests and audit entries, as a node that has been in use. */
  seed?: boolean;
  /** The clock; tests pin it. */
  now?: () => number;
  /** Start without an identity: everything but identity.init answers "first run", as browser mode does. */
  firstRun?: boolean;
  /** Relays stored before this (fake) start; default none. */
  relays?: string[];
}

export interface FakeNode extends Api {
  onEvent(cb: (e: ApiEvent) => void): () => void;
  calls: { method: ApiMethod; input: unknown }[];
  me: Person;
  /** Another member asks the group to sign `text`, as if from their own node. */
  ask(who: Person, group: string, text: string): RequestView;
  /** The simulated co-custodians once sandbox.start ran. */
  sims: Person[];
  /** Another member decides on a request, as if from their own node. */
  decide(id: string, who: Person, decision: 'approve' | 'deny', reason?: string): void;
  /** A peer goes on- or offline in every group it is in. */
  setOnline(peerId: string, online: boolean): void;
  /** Makes the next call of `method` fail with this error. */
  failNext(method: ApiMethod, error: ApiError): void;
  /** The group's key was reconstructed somewhere (as the node reports it). */
  markExposed(group: string, text: string): void;
  /**
   * An entry in `who`'s chain, as a real node writes it (its summary names people by the tail of
   * their peer id: see peerTail); each member records the same event in their own chain.
   */
  record(who: Person, type: string, summary: string, group?: string, at?: number): void;
  /** This node creates a group nobody joins until told: it stays forming, with its invite. */
  createAlone(input: ApiInput<'group.create'>): Promise<GroupView & { invite: string }>;
  /** Someone joins a ready group with a newcomer invite (a new member, or a lost member's new device). */
  newcomerJoins(group: string, who: Person): void;
  /** Another member proposes a key-lifecycle request, as if from their own node. */
  propose(who: Person, group: string, kind: RequestKindAll, params: unknown): RequestView;
  /** Sets a group's policy directly (as if a change had been approved earlier). */
  setPolicy(group: string, policy: GroupPolicy): void;
  /**
   * A ready group whose key is this secret (a stand-in for the members' shares), so that requests
   * of the uses made for its key are decoded by the real registry and signed for real once approved.
   */
  addKeyGroup(input: {
    name: string;
    scheme: 'ed25519' | 'taproot';
    secretKey: Uint8Array;
    members: Person[];
    threshold?: number;
  }): GroupView;
  /**
   * Another member asks for a use of the key (ssh, age, x509, psbt, nostr) with these exact bytes,
   * checked as a node checks what it receives; they approve it as they send it unless told not to.
   */
  askUse(
    who: Person,
    group: string,
    kind: UseKind,
    message: Uint8Array,
    opts?: { approve?: boolean },
  ): RequestView;
  auditProblems: AuditReport['problems'];
  /** Cancels pending timers. */
  dispose(): void;
}

// Text a person can read: no controls but tabs and line breaks, as the node decides messageText.
// eslint-disable-next-line no-control-regex
const PRINTABLE = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$/;

function printable(bytes: Uint8Array): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return PRINTABLE.test(text) ? text : undefined;
  } catch (_) {
    return undefined;
  }
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fakeHex(seed: string, bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes * 2; i++)
    out += bytesToHex(sha256(utf8ToBytes(`${seed}/${i}`)));
  return out.slice(0, bytes * 2);
}

function publicKeyFor(scheme: Scheme, id: string): { publicKey: string; internalKey?: string } {
  if (scheme === 'taproot')
    return { publicKey: TAPROOT_OUTPUT_KEY, internalKey: TAPROOT_INTERNAL_KEY };
  if (scheme === 'secp256k1') return { publicKey: `02${fakeHex(id, 32)}` };
  return { publicKey: fakeHex(id, 32) };
}

const INVITE_PREFIX = 'conclave-invite:';

const isUse = (kind: string): kind is UseKind => (USE_KINDS as readonly string[]).includes(kind);

export function createFakeNode(opts: FakeNodeOptions = {}): FakeNode {
  const delay = opts.delayMs ?? 40;
  const now = opts.now ?? (() => Date.now());
  let me: Person = ALICE;
  let initialized = !opts.firstRun;
  const sims: Person[] = [];
  const groups = new Map<string, FakeGroup>();
  const requests = new Map<string, FakeRequest>();
  const audit: AuditEntryView[] = [];
  const listeners = new Set<(e: ApiEvent) => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const failures = new Map<ApiMethod, ApiError>();
  const calls: FakeNode['calls'] = [];
  let counter = 0;
  const startedRelays = [...(opts.relays ?? [])];
  let relays = [...startedRelays];
  let notifications = true;
  const lifecycle = () => ({ epoch: 0, policy: defaultPolicy(), candidates: [] as Person[] });

  const emit = (e: ApiEvent) => {
    for (const cb of [...listeners]) cb(e);
  };
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const nextId = (prefix: string) => `${prefix}${fakeHex(`${prefix}${++counter}`, 8)}`;
  const log = (who: Person, type: string, summary: string, group?: string, at = now()) => {
    const seq = audit.filter((e) => e.author === who.peerId).length + 1;
    audit.push({
      author: who.peerId,
      authorName: who.peerId === me.peerId ? me.name : undefined,
      seq,
      at: new Date(at).toISOString(),
      type,
      group,
      summary,
      hash: fakeHex(`${who.peerId}/${seq}`, 32),
    });
  };

  function group(ref: string): FakeGroup {
    const byId = groups.get(ref);
    if (byId) return byId;
    const byName = [...groups.values()].filter((g) => g.name === ref);
    if (byName.length > 1) throw new ApiError('ambiguous', `more than one group is named ${ref}`);
    if (byName.length === 0) throw new ApiError('not_found', `no group ${ref}`);
    return byName[0]!;
  }

  function request(id: string): FakeRequest {
    const r = requests.get(id);
    if (!r) throw new ApiError('not_found', `no request ${id}`);
    return r;
  }

  function groupView(g: FakeGroup): GroupView {
    const complete = g.members.length === g.size;
    const view: GroupView = {
      id: g.id,
      name: g.name,
      threshold: g.threshold,
      size: g.size,
      scheme: g.scheme,
      status: g.status,
      epoch: g.epoch,
      createdAt: new Date(g.createdAt).toISOString(),
      members: g.members.map((m, i): MemberView => ({
        name: m.name,
        peerId: m.peerId,
        fingerprint: m.fingerprint,
        index: i + 1,
        online: m.online,
        confirmed: m.confirmed || g.status === 'ready',
        me: m.peerId === me.peerId,
      })),
    };
    if (complete) {
      view.safetyCode = ['orbit', 'canvas', 'maple', 'quiet', 'harbor', 'ladder'].join(' ');
    }
    if (g.publicKey) view.publicKey = g.publicKey;
    if (g.internalKey) view.internalKey = g.internalKey;
    if (g.error) view.error = g.error;
    if (g.exposed) view.exposed = g.exposed;
    if (g.importedKey) view.importedKey = g.importedKey;
    // As the node: the creator gets the invite again until everyone has joined.
    if (g.invite && g.status === 'forming' && !complete) view.invite = g.invite;
    // As the node: only a ready group lists who joined through this node's invites.
    if (g.status === 'ready' && g.candidates.length)
      view.newcomers = g.candidates.map((c) => ({
        name: c.name,
        peerId: c.peerId,
        fingerprint: c.fingerprint,
      }));
    return view;
  }

  function requestView(r: FakeRequest): RequestView {
    const g = groups.get(r.group)!;
    const view: RequestView = {
      id: r.id,
      group: r.group,
      groupName: g.name,
      kind: r.kind as RequestView['kind'],
      status: r.status,
      message: bytesToHex(r.message),
      messageSha256: bytesToHex(sha256(r.message)),
      createdBy: r.createdBy,
      createdAt: new Date(r.createdAt).toISOString(),
      expiresAt: new Date(r.expiresAt).toISOString(),
      approvals: [...r.approvals],
      denials: [...r.denials],
      culprits: [...r.culprits],
    };
    const text = printable(r.message);
    if (text !== undefined) view.messageText = text;
    if (r.signature) view.signature = r.signature;
    if (r.failure) view.failure = r.failure;
    if (r.description) view.description = r.description;
    if (r.fingerprints) view.fingerprints = { ...r.fingerprints };
    // A use's card, as the node decodes it from the exact bytes (finished ones as they were).
    if (isUse(r.kind))
      view.card = decodeRequest(r.kind, r.message, useContext(g, r.createdBy.peerId), {
        current: r.status === 'pending' || r.status === 'signing',
      });
    return view;
  }

  function newRequest(
    g: FakeGroup,
    message: Uint8Array,
    expiresInSec: number | undefined,
    kind: string,
    by: Person = me,
  ): FakeRequest {
    const id = nextId('r-');
    const at = now();
    const r: FakeRequest = {
      id,
      group: g.id,
      kind,
      message,
      createdBy: { peerId: by.peerId, name: by.name, at: new Date(at).toISOString() },
      createdAt: at,
      expiresAt: at + 1000 * (expiresInSec ?? 24 * 3600),
      status: 'pending',
      approvals: [],
      denials: [],
      culprits: [],
    };
    requests.set(id, r);
    log(by, 'request.created', `request ${id} created by ${by.name}`, g.id);
    emit({ type: 'request', id });
    return r;
  }

  function refreshExpiry(r: FakeRequest): void {
    if (r.status === 'pending' && r.expiresAt <= now()) {
      r.status = 'expired';
      emit({ type: 'request', id: r.id });
    }
  }

  function maybeFinishConfirming(g: FakeGroup): void {
    if (g.status !== 'confirming' || !g.members.every((m) => m.confirmed)) return;
    g.status = 'dkg';
    emit({ type: 'group', id: g.id });
    later(delay * 2, () => {
      g.status = 'ready';
      Object.assign(g, publicKeyFor(g.scheme, g.id));
      log(me, 'group.ready', `group key ready: ${g.publicKey}`, g.id);
      emit({ type: 'group', id: g.id });
    });
  }

  function complete(g: FakeGroup): void {
    g.status = 'confirming';
    emit({ type: 'group', id: g.id });
    // The others compare the code at their own pace.
    g.members
      .filter((m) => m.peerId !== me.peerId)
      .forEach((m, i) =>
        later(delay * (i + 1), () => {
          m.confirmed = true;
          emit({ type: 'group', id: g.id });
          maybeFinishConfirming(g);
        }),
      );
  }

  function applyDecision(
    r: FakeRequest,
    who: Person,
    decision: 'approve' | 'deny',
    reason?: string,
  ): void {
    refreshExpiry(r);
    if (r.status !== 'pending') {
      throw new ApiError('conflict', `request ${r.id} is already ${r.status}`);
    }
    if ([...r.approvals, ...r.denials].some((d) => d.peerId === who.peerId)) {
      throw new ApiError('conflict', `${who.name} already decided on request ${r.id}`);
    }
    const g = groups.get(r.group)!;
    const d: DecisionView = {
      peerId: who.peerId,
      name: who.name,
      at: new Date(now()).toISOString(),
    };
    if (reason) d.reason = reason;
    if (decision === 'approve') {
      r.approvals.push(d);
      log(who, 'request.approved', `request ${r.id} approved by ${who.name}`, g.id);
      const needed = approvalsNeeded(g.policy, r.kind as RequestKindAll, g.threshold, g.size);
      if (r.approvals.length >= needed && r.kind === 'policy') {
        carryOut(g, r);
      } else if (r.approvals.length >= needed) {
        r.status = 'signing';
        later(delay * 2, () => {
          if (r.kind === 'sign') {
            r.status = 'done';
            r.signature = fakeHex(`sig/${r.id}`, 64);
            log(me, 'request.signed', `request ${r.id} signed`, g.id);
          } else if (isUse(r.kind)) {
            finishUse(g, r);
          } else {
            carryOut(g, r);
          }
          emit({ type: 'request', id: r.id });
        });
      }
    } else {
      r.denials.push(d);
      log(
        who,
        'request.denied',
        `request ${r.id} denied by ${who.name}${reason ? `: ${reason}` : ''}`,
        g.id,
      );
      const needed = approvalsNeeded(g.policy, r.kind as RequestKindAll, g.threshold, g.size);
      if (r.denials.length > g.size - needed) r.status = 'denied';
    }
    emit({ type: 'request', id: r.id });
  }

  /** What an approved key-lifecycle request does to its group, as every member's node applies it. */
  function carryOut(g: FakeGroup, r: FakeRequest): void {
    const p = JSON.parse(new TextDecoder().decode(r.message)) as Record<string, unknown>;
    r.status = 'done';
    if (r.kind === 'refresh') g.epoch += 1;
    if (r.kind === 'reshare') {
      const remove = p.remove as string[];
      const add = p.add as Person[];
      g.members = g.members.filter((m) => !remove.includes(m.peerId));
      for (const a of add) {
        const who = [...OTHERS, GRACE].find((x) => x.peerId === a.peerId) ?? {
          ...a,
          fingerprint: '',
        };
        g.members.push({ ...who, online: true, confirmed: true });
      }
      g.candidates = g.candidates.filter((c) => !add.some((a) => a.peerId === c.peerId));
      g.threshold = p.threshold as number;
      g.size = p.size as number;
      g.epoch += 1;
    }
    if (r.kind === 'repair') {
      const nc = p.newcomer as Person;
      const who = [...OTHERS, GRACE].find((x) => x.peerId === nc.peerId) ?? {
        ...nc,
        fingerprint: '',
      };
      g.members = g.members.map((m) =>
        m.peerId === p.lost ? { ...who, online: true, confirmed: true } : m,
      );
      g.candidates = g.candidates.filter((c) => c.peerId !== nc.peerId);
    }
    if (r.kind === 'policy') g.policy = (p as unknown as { policy: GroupPolicy }).policy;
    if (r.kind === 'reconstruct') {
      const requester = g.members.find((m) => m.peerId === p.requester)?.name ?? 'a member';
      g.exposed = `key exposed on ${requester} at ${new Date(now()).toISOString()} (${String(p.purpose)})`;
      if (p.operation === 'ecdsa-sign') r.signature = fakeHex(`ecdsa/${r.id}`, 64);
    }
    log(me, 'request.done', `request ${r.id} (${r.kind}) done`, g.id);
    emit({ type: 'group', id: g.id });
    emit({ type: 'request', id: r.id });
  }

  /** The registry's context for a request of `author` in this group, as a node builds it. */
  function useContext(g: FakeGroup, author: string): RequestContext {
    const key = contextKey(g);
    return {
      groupId: g.id,
      groupName: g.name,
      scheme: g.scheme,
      threshold: g.threshold,
      size: g.size,
      epoch: g.epoch,
      members: g.members.map((m, i) => ({ peerId: m.peerId, name: m.name, index: i + 1 })),
      policy: g.policy,
      me: me.peerId,
      author,
      policyHash: policyHash(g.policy),
      ...(key ? { publicKey: key } : {}),
    };
  }

  /** The group key as the registry takes it (a taproot group's untweaked key, compressed). */
  function contextKey(g: FakeGroup): string | undefined {
    if (g.secretKey)
      return g.scheme === 'ed25519'
        ? bytesToHex(ed25519.getPublicKey(g.secretKey))
        : bytesToHex(secp256k1.getPublicKey(g.secretKey, true));
    if (g.scheme === 'taproot') return g.internalKey && `02${g.internalKey}`;
    return g.publicKey;
  }

  /** As a node refuses a use it creates or receives: bytes that are not exactly the kind, or the policy. */
  function checkUse(
    g: FakeGroup,
    kind: UseKind,
    message: Uint8Array,
    by: Person,
    exp?: number,
  ): void {
    if (g.status !== 'ready')
      throw new ApiError('not_ready', `group ${g.name} is ${g.status}, not ready`);
    try {
      parseRequest(kind, message, useContext(g, by.peerId));
    } catch (e) {
      throw new ApiError('bad_input', (e as Error).message);
    }
    const expiresInSec = exp ?? g.policy.defaultExpirySec;
    const verdict = checkRequest(g.policy, { kind, message, expiresInSec }, g.threshold, g.size);
    if (!verdict.allowed)
      throw new ApiError('conflict', `the group policy does not allow this: ${verdict.reason}`);
  }

  /** One part's signature with the group's stand-in secret, as FROST would make it. */
  function signPart(g: FakeGroup, sk: Uint8Array, part: SignPart): Uint8Array {
    if (g.scheme === 'ed25519') return ed25519.sign(part.message, sk);
    const aux = new Uint8Array(32);
    if (g.scheme === 'taproot' && part.tweak !== false && !part.bip340)
      return schnorr.sign(part.message, taprootTweakPrivKey(sk), aux);
    return schnorr.sign(part.message, sk, aux);
  }

  /** An approved use: every part signed (a group without a stand-in secret gets made-up bytes). */
  function finishUse(g: FakeGroup, r: FakeRequest): void {
    try {
      const exec = executionOf(r.kind, r.message, useContext(g, r.createdBy.peerId));
      if (exec.op === 'sign') {
        const sigs = exec.parts.map((p, i) =>
          g.secretKey ? signPart(g, g.secretKey, p) : hexToBytes(fakeHex(`sig/${r.id}/${i}`, 64)),
        );
        if (g.secretKey) r.output = { signatures: sigs };
        r.signature = bytesToHex(concatBytes(...sigs));
      }
      r.status = 'done';
      log(me, 'request.signed', `request ${r.id} signed`, g.id);
    } catch (e) {
      r.status = 'failed';
      r.failure = (e as Error).message;
    }
  }

  /** A key-lifecycle request with the node's parameters and description, under the group policy. */
  function ceremony(
    g: FakeGroup,
    kind: RequestKindAll,
    params: unknown,
    description: string,
    expiresInSec: number | undefined,
    by: Person = me,
  ): FakeRequest {
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
    const message = utf8ToBytes(canonicalJSON(params));
    const expiry = expiresInSec ?? g.policy.defaultExpirySec;
    const verdict = checkRequest(
      g.policy,
      { kind, message, expiresInSec: expiry },
      g.threshold,
      g.size,
    );
    if (!verdict.allowed)
      throw new ApiError('conflict', `the group policy does not allow this: ${verdict.reason}`);
    const r = newRequest(g, message, expiry, kind, by);
    r.description = description;
    return r;
  }

  function candidate(g: FakeGroup, ref: string): Person {
    const found = g.candidates.filter((c) => c.peerId === ref || c.name === ref);
    if (found.length === 0)
      throw new ApiError(
        'not_found',
        `no newcomer "${ref}" joined through your invites; send them one with: conclave group invite ${g.name}`,
      );
    if (found.length > 1)
      throw new ApiError('ambiguous', `several newcomers are called "${ref}"; use the peer id`);
    return found[0]!;
  }

  function seed(): void {
    const t0 = now();
    const hour = 3600_000;
    const treasury: FakeGroup = {
      id: 'g-treasury',
      name: 'treasury',
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      status: 'ready',
      members: [me, BOB, CAROL].map((p) => ({ ...p, online: p !== CAROL, confirmed: true })),
      createdAt: t0 - 72 * hour,
      ...publicKeyFor('ed25519', 'g-treasury'),
      ...lifecycle(),
    };
    const cold: FakeGroup = {
      id: 'g-cold',
      name: 'cold wallet',
      threshold: 2,
      size: 3,
      scheme: 'taproot',
      status: 'ready',
      members: [BOB, me, CAROL].map((p) => ({ ...p, online: p !== CAROL, confirmed: true })),
      createdAt: t0 - 48 * hour,
      ...publicKeyFor('taproot', 'g-cold'),
      ...lifecycle(),
    };
    groups.set(treasury.id, treasury);
    groups.set(cold.id, cold);
    log(
      me,
      'group.created',
      'created group treasury (2-of-3, ed25519)',
      treasury.id,
      t0 - 72 * hour,
    );
    log(me, 'group.ready', `group key ready: ${treasury.publicKey}`, treasury.id, t0 - 71 * hour);
    log(
      BOB,
      'group.created',
      'created group cold wallet (2-of-3, taproot)',
      cold.id,
      t0 - 48 * hour,
    );

    const add = (
      g: FakeGroup,
      by: Person,
      message: Uint8Array,
      ageMs: number,
      extra: Partial<FakeRequest> = {},
    ) => {
      const id = nextId('r-');
      const createdAt = t0 - ageMs;
      requests.set(id, {
        id,
        group: g.id,
        kind: 'sign',
        message,
        createdBy: { peerId: by.peerId, name: by.name, at: new Date(createdAt).toISOString() },
        createdAt,
        expiresAt: createdAt + 24 * hour,
        status: 'pending',
        approvals: [],
        denials: [],
        culprits: [],
        ...extra,
      });
      log(by, 'request.created', `request ${id} created by ${by.name}`, g.id, createdAt);
      const who = (peerId: string) => [me, ...OTHERS].find((p) => p.peerId === peerId)!;
      for (const d of extra.approvals ?? []) {
        log(
          who(d.peerId),
          'request.approved',
          `request ${id} approved by ${d.name}`,
          g.id,
          Date.parse(d.at),
        );
      }
      for (const d of extra.denials ?? []) {
        const why = d.reason ? `: ${d.reason}` : '';
        log(
          who(d.peerId),
          'request.denied',
          `request ${id} denied by ${d.name}${why}`,
          g.id,
          Date.parse(d.at),
        );
      }
      if (extra.status === 'done')
        log(me, 'request.signed', `request ${id} signed`, g.id, createdAt + hour);
      if (extra.status === 'failed') {
        log(me, 'request.failed', `request ${id} failed: ${extra.failure}`, g.id, createdAt + hour);
      }
      return id;
    };
    const decision = (p: Person, minutesAgo: number, reason?: string): DecisionView => ({
      peerId: p.peerId,
      name: p.name,
      at: new Date(t0 - minutesAgo * 60_000).toISOString(),
      ...(reason ? { reason } : {}),
    });
    add(
      cold,
      CAROL,
      utf8ToBytes('Rotate the deploy key for build.example.org (ticket OPS-1412)'),
      30 * hour,
      {
        status: 'failed',
        approvals: [decision(CAROL, 1790), decision(me, 1780)],
        failure: 'Carol did not send her signature share in time',
        culprits: [CAROL.peerId],
      },
    );
    add(treasury, CAROL, utf8ToBytes('Release v2.3.1 of the mobile app'), 20 * hour, {
      status: 'done',
      approvals: [decision(CAROL, 1190), decision(BOB, 1150)],
      signature: fakeHex('sig/seed', 64),
    });
    add(treasury, BOB, utf8ToBytes('Transfer 25 000 EUR to the payroll account'), 8 * hour, {
      status: 'denied',
      approvals: [decision(BOB, 479)],
      denials: [decision(me, 470, 'Not in this month’s budget'), decision(CAROL, 460)],
    });
    add(cold, BOB, hexToBytes(`70736274ff0100${fakeHex('psbt', 90)}`), 40 * 60_000, {
      approvals: [decision(BOB, 39)],
    });
    add(
      treasury,
      BOB,
      utf8ToBytes(
        'Pay invoice #2024-117 to Northwind Ltd\nAmount: 12 400.00 EUR\nIBAN: DE89 3704 0044 0532 0130 00',
      ),
      12 * 60_000,
      { approvals: [decision(BOB, 11)] },
    );
  }

  if (opts.seed) seed();

  // Partial: an operation added to the contract later answers "not implemented" until it is here.
  const core: Partial<Api> = {
    async 'node.status'(): Promise<NodeStatus> {
      const pending = [...requests.values()].filter(
        (r) => r.status === 'pending' || r.status === 'signing',
      ).length;
      return {
        peerId: me.peerId,
        name: me.name,
        fingerprint: me.fingerprint,
        addrs: [`/ip4/127.0.0.1/tcp/40123/p2p/${me.peerId}`],
        vault: 'keychain',
        groups: groups.size,
        pendingRequests: pending,
        dropped: {},
        version: 1,
      };
    },
    async 'settings.get'(): Promise<Settings> {
      return {
        name: me.name,
        relays: [...relays],
        notifications,
        restartNeeded: JSON.stringify(relays) !== JSON.stringify(startedRelays),
      };
    },
    async 'settings.update'(input) {
      if (input.name !== undefined && input.name !== me.name) {
        log(me, 'identity.renamed', `renamed from ${me.name} to ${input.name}`);
        // Existing rosters keep the confirmed name; only groups formed or joined later use it.
        me = { ...me, name: input.name };
      }
      if (input.relays !== undefined) relays = [...input.relays];
      if (input.notifications !== undefined) notifications = input.notifications;
      return core['settings.get']!({});
    },
    async 'group.create'(input, joiners?: Person[]) {
      const id = nextId('g-');
      const g: FakeGroup = {
        id,
        name: input.name,
        threshold: input.threshold,
        size: input.size,
        scheme: input.scheme,
        status: 'forming',
        members: [{ ...me, online: true, confirmed: false }],
        createdAt: now(),
        ...lifecycle(),
      };
      groups.set(id, g);
      log(
        me,
        'group.created',
        `created group ${g.name} (${g.threshold}-of-${g.size}, ${g.scheme})`,
        id,
      );
      // The others join one after another, as they paste the invite.
      (joiners ?? OTHERS).slice(0, g.size - 1).forEach((p, i) =>
        later(delay * (i + 1), () => {
          g.members.push({ ...p, online: true, confirmed: false });
          if (g.members.length === g.size) complete(g);
          else emit({ type: 'group', id });
        }),
      );
      const invite =
        INVITE_PREFIX +
        btoa(JSON.stringify({ v: 1, groupId: id, name: g.name, creator: me.peerId }))
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '');
      g.invite = invite;
      return { ...groupView(g), invite };
    },
    async 'group.join'(input) {
      if (!input.invite.startsWith(INVITE_PREFIX)) {
        throw new ApiError('bad_input', 'an invite code starts with "conclave-invite:"');
      }
      const id = nextId('g-');
      const g: FakeGroup = {
        id,
        name: 'shared signing key',
        threshold: 2,
        size: 3,
        scheme: 'ed25519',
        status: 'forming',
        members: [BOB, me].map((p) => ({ ...p, online: true, confirmed: false })),
        createdAt: now(),
        ...lifecycle(),
      };
      groups.set(id, g);
      later(delay, () => {
        g.members.push({ ...CAROL, online: true, confirmed: false });
        complete(g);
      });
      return groupView(g);
    },
    async 'group.list'() {
      return [...groups.values()].map(groupView);
    },
    async 'group.show'(input) {
      return groupView(group(input.group));
    },
    async 'group.confirm'(input) {
      const g = group(input.group);
      if (g.status === 'ready' || g.status === 'dkg') return groupView(g);
      if (g.status !== 'confirming') {
        throw new ApiError(
          'not_ready',
          `group ${g.name} is ${g.status}: wait until every member has joined`,
        );
      }
      g.members.find((m) => m.peerId === me.peerId)!.confirmed = true;
      log(me, 'group.confirmed', `confirmed the roster of ${g.name}`, g.id);
      emit({ type: 'group', id: g.id });
      maybeFinishConfirming(g);
      return groupView(g);
    },
    async 'request.sign'(input) {
      const g = group(input.group);
      if (g.status !== 'ready') {
        throw new ApiError('not_ready', `group ${g.name} is ${g.status}, not ready to sign`);
      }
      const message =
        input.encoding === 'hex' ? hexToBytes(input.message) : utf8ToBytes(input.message);
      return requestView(newRequest(g, message, input.expiresInSec, 'sign'));
    },
    async 'request.create'(input) {
      const g = group(input.group);
      if (!isUse(input.kind))
        throw new ApiError('bad_input', `kind: ${input.kind} requests have their own operation`);
      const message = hexToBytes(input.message.toLowerCase());
      checkUse(g, input.kind, message, me, input.expiresInSec);
      const r = newRequest(g, message, input.expiresInSec, input.kind);
      if (input.approve) applyDecision(r, me, 'approve');
      return requestView(r);
    },
    async 'request.result'(input): Promise<RequestResult> {
      const r = request(input.id);
      const out: RequestResult = {
        id: r.id,
        kind: r.kind as RequestResult['kind'],
        status: r.status,
      };
      if (r.status !== 'done') return out;
      // As the node: what a decryption produced stays in its requester's node's memory.
      if (r.kind === 'age')
        throw new ApiError(
          'conflict',
          r.createdBy.peerId === me.peerId
            ? `request ${r.id}: its result is no longer here (it is kept in memory only, until the node stops)`
            : `request ${r.id}: only its requester's node holds what it decrypted`,
        );
      if (!r.output) return out;
      try {
        const g = groups.get(r.group)!;
        const artifact = resultOf(r.kind, r.message, r.output, useContext(g, r.createdBy.peerId));
        if (artifact) out.artifact = artifact;
      } catch (e) {
        throw new ApiError(
          'internal',
          `request ${r.id}: cannot build its result: ${(e as Error).message}`,
        );
      }
      return out;
    },
    async 'request.list'(input) {
      const groupId = input.group ? group(input.group).id : undefined;
      return [...requests.values()]
        .filter((r) => groupId === undefined || r.group === groupId)
        .map((r) => (refreshExpiry(r), r))
        .filter((r) => !input.pending || r.status === 'pending' || r.status === 'signing')
        .sort((a, b) => b.createdAt - a.createdAt)
        .map(requestView);
    },
    async 'request.show'(input) {
      const r = request(input.id);
      refreshExpiry(r);
      return requestView(r);
    },
    async 'request.approve'(input) {
      const r = request(input.id);
      applyDecision(r, me, 'approve');
      return requestView(r);
    },
    async 'request.deny'(input) {
      const r = request(input.id);
      applyDecision(r, me, 'deny', input.reason);
      return requestView(r);
    },
    async 'request.wait'(input) {
      const r = request(input.id);
      const until = now() + input.timeoutSec * 1000;
      while (['pending', 'signing'].includes(r.status) && now() < until) {
        await new Promise((done) => later(Math.min(delay, 50), () => done(undefined)));
        refreshExpiry(r);
      }
      return requestView(r);
    },
    async 'audit.list'(input) {
      const groupId = input.group ? group(input.group).id : undefined;
      return audit
        .filter((e) => groupId === undefined || e.group === groupId)
        .sort((a, b) => b.at.localeCompare(a.at))
        .slice(0, input.limit ?? 1000);
    },
    async 'audit.verify'() {
      return {
        ok: node.auditProblems.length === 0,
        entries: audit.length,
        authors: new Set(audit.map((e) => e.author)).size,
        problems: [...node.auditProblems],
      };
    },
    async 'request.refresh'(input) {
      const g = group(input.group);
      const params = { ceremony: 'refresh', group: g.id, fromEpoch: g.epoch };
      const r = ceremony(
        g,
        'refresh',
        params,
        `Refresh every member's share of ${g.name} (epoch ${g.epoch} → ${g.epoch + 1}). The public key stays the same; the old shares and their backups stop working. Every member must be online.`,
        input.expiresInSec,
      );
      return requestView(r);
    },
    async 'request.repair'(input) {
      const g = group(input.group);
      if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
      const lost = g.members.filter((m) => m.peerId === input.member || m.name === input.member);
      if (lost.length !== 1)
        throw new ApiError(
          lost.length ? 'ambiguous' : 'not_found',
          `no single member "${input.member}" in ${g.name}`,
        );
      if (lost[0]!.peerId === me.peerId)
        throw new ApiError(
          'bad_input',
          'member: you cannot repair your own share from this device; ask another member',
        );
      let nc: Person;
      if (input.newcomer) nc = candidate(g, input.newcomer);
      else if (g.candidates.length === 1) nc = g.candidates[0]!;
      else
        throw new ApiError(
          'not_found',
          g.candidates.length
            ? 'several newcomers joined through your invites: say which one with newcomer'
            : `the new device must first join with an invite from you: conclave group invite ${g.name}`,
        );
      const params = {
        ceremony: 'repair',
        group: g.id,
        fromEpoch: g.epoch,
        lost: lost[0]!.peerId,
        newcomer: { peerId: nc.peerId, name: nc.name, addrs: [] },
      };
      const r = ceremony(
        g,
        'repair',
        params,
        `Repair: rebuild ${lost[0]!.name}'s share on a new device, ${nc.name} (fingerprint ${nc.fingerprint}), which takes their place; ${lost[0]!.name}'s old identity stops counting. ${g.threshold} members help without any of them learning the share; the public key and epoch stay the same.`,
        input.expiresInSec,
      );
      r.fingerprints = { [nc.peerId]: nc.fingerprint };
      return requestView(r);
    },
    async 'request.reconstruct'(input) {
      const g = group(input.group);
      if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
      if (input.operation === 'ecdsa-sign' && g.scheme === 'ed25519')
        throw new ApiError('bad_input', 'operation: ecdsa-sign needs a secp256k1 or taproot group');
      const params = {
        ceremony: 'reconstruct',
        group: g.id,
        fromEpoch: g.epoch,
        purpose: input.purpose,
        operation: input.operation,
        requester: me.peerId,
        oneTimeKey: fakeHex(`otk/${counter}`, 32),
        ...(input.digest ? { digest: input.digest.toLowerCase() } : {}),
      };
      const what =
        input.operation === 'export'
          ? 'export it encrypted (to migrate it elsewhere)'
          : `sign the digest ${input.digest} with ECDSA`;
      const r = ceremony(
        g,
        'reconstruct',
        params,
        `RECONSTRUCT the whole key of ${g.name} on ${me.name}'s computer to ${what}. Purpose: "${input.purpose}". Approvers send their shares to that computer; afterwards the key must be treated as exposed and funds moved to a new key.`,
        input.expiresInSec,
      );
      return requestView(r);
    },
    async 'group.policy'(input): Promise<PolicyView> {
      const g = group(input.group);
      return {
        group: g.id,
        hash: policyHash(g.policy),
        policy: g.policy as unknown as Record<string, unknown>,
        description: describePolicy(g.policy, g.threshold, g.size),
      };
    },
    async 'request.policy'(input) {
      const g = group(input.group);
      if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
      let next: GroupPolicy;
      try {
        next = validatePolicy(input.policy, g.threshold, g.size);
      } catch (e) {
        throw new ApiError('bad_input', `policy: ${(e as Error).message}`);
      }
      const change = { v: 1, from: policyHash(g.policy), policy: next };
      const r = ceremony(
        g,
        'policy',
        change,
        `Change the group policy of ${g.name} to: ${describePolicy(next, g.threshold, g.size).join(' ')}`,
        input.expiresInSec,
      );
      return requestView(r);
    },
    async 'identity.init'(input) {
      if (initialized) throw new ApiError('conflict', 'this node already has an identity');
      me = { ...person(input.name), name: input.name };
      initialized = true;
      log(me, 'identity.created', `identity created: ${me.name}`);
      return core['node.status']!({});
    },
    async 'sandbox.start'() {
      const existing = [...groups.values()].find((g) => g.name.startsWith('Sandbox'));
      if (existing) return groupView(existing);
      if (sims.length === 0) sims.push(person('Bob (simulated)'), person('Carol (simulated)'));
      const create = core['group.create'] as (i: unknown, joiners: Person[]) => Promise<GroupView>;
      const g = await create(
        { name: 'Sandbox 10:00', threshold: 2, size: 3, scheme: 'ed25519' },
        sims,
      );
      return groupView(groups.get(g.id)!);
    },
    async 'sandbox.members'() {
      return sims.map((p) => ({
        name: p.name,
        peerId: p.peerId,
        pending: [...requests.values()]
          .filter((r) => r.status === 'pending')
          .filter((r) => groups.get(r.group)!.members.some((m) => m.peerId === p.peerId))
          .filter((r) => ![...r.approvals, ...r.denials].some((d) => d.peerId === p.peerId))
          .map((r) => r.id),
      }));
    },
    async 'sandbox.decide'(input) {
      const sim = sims.find((p) => p.name === input.member || p.peerId === input.member);
      if (!sim) throw new ApiError('not_found', 'the sandbox is not running: start it first');
      const r = request(input.id);
      applyDecision(r, sim, input.decision, input.reason);
      return requestView(r);
    },
    async 'group.leave'(input) {
      const g = group(input.group);
      groups.delete(g.id);
      const ready = g.status === 'ready';
      const left = g.size - 1;
      return {
        group: g.id,
        name: g.name,
        shareDeleted: ready,
        ...(ready
          ? {
              warning:
                left < g.threshold
                  ? `${g.name} needs ${g.threshold} of ${g.size} shares to sign; with yours deleted only ${left} ${left === 1 ? 'is' : 'are'} left, so its key is lost for everyone.`
                  : `${g.name} needs ${g.threshold} of ${g.size} shares to sign; ${left} are left.`,
            }
          : {}),
      };
    },
    async 'group.invite'(input) {
      const g = group(input.group);
      if (g.status !== 'ready')
        throw new ApiError(
          'not_ready',
          `group ${g.name} is ${g.status}; newcomers join a ready group`,
        );
      return {
        group: g.id,
        invite: `${INVITE_PREFIX}${fakeHex(`newcomer/${g.id}/${counter++}`, 24)}`,
      };
    },
    async 'request.reshare'(input) {
      const g = group(input.group);
      if (g.status !== 'ready')
        throw new ApiError(
          'not_ready',
          `group ${g.name} is ${g.status}; only a ready group can be reshared`,
        );
      const add = (input.add ?? []).map((ref) => candidate(g, ref));
      const remove = (input.remove ?? []).map((ref) => {
        const found = g.members.filter((m) => m.peerId === ref || m.name === ref);
        if (found.length === 0) throw new ApiError('not_found', `no member "${ref}" in ${g.name}`);
        if (found.length > 1)
          throw new ApiError('ambiguous', `several members are called "${ref}"; use the peer id`);
        return found[0]!;
      });
      if (
        new Set(add.map((a) => a.peerId)).size !== add.length ||
        new Set(remove.map((m) => m.peerId)).size !== remove.length
      )
        throw new ApiError('bad_input', 'a newcomer or member is named twice');
      const size = g.members.length - remove.length + add.length;
      const threshold = input.threshold ?? Math.min(g.threshold, size);
      if (threshold < 2 || threshold > size)
        throw new ApiError(
          'bad_input',
          `threshold: must be from 2 to the new size (${size}), got ${threshold}`,
        );
      if (add.length === 0 && remove.length === 0 && threshold === g.threshold)
        throw new ApiError(
          'bad_input',
          'nothing to change: add or remove members, or change the threshold (or propose a refresh)',
        );
      const params = {
        ceremony: 'reshare',
        group: g.id,
        fromEpoch: g.epoch,
        threshold,
        size,
        add: add.map((a) => ({ peerId: a.peerId, name: a.name, addrs: [] })),
        remove: remove.map((m) => m.peerId),
      };
      const parts = [
        ...add.map((a) => `add ${a.name} (${a.fingerprint})`),
        ...remove.map((m) => `remove ${m.name}`),
        ...(threshold !== g.threshold
          ? [`change the threshold from ${g.threshold} to ${threshold}`]
          : []),
      ];
      const r = ceremony(
        g,
        'reshare',
        params,
        `Reshare ${g.name}: ${parts.join(', ')} (epoch ${g.epoch} → ${g.epoch + 1}, ${threshold} of ${size} afterwards). The public key stays the same; removed members' shares stop working.`,
        input.expiresInSec,
      );
      if (add.length)
        r.fingerprints = Object.fromEntries(add.map((a) => [a.peerId, a.fingerprint]));
      return requestView(r);
    },
    async 'group.import'(input) {
      const { invite, id } = await core['group.create']!(input);
      const g = groups.get(id)!;
      g.importedKey = publicKeyFor(g.scheme, g.id).publicKey;
      return {
        ...groupView(g),
        invite,
        warning: `After every member confirmed and the group is ready, destroy ${input.keyFile} and every other copy of the original key: whoever holds it can sign without the group.`,
      };
    },
    async 'backup.export'(input): Promise<BackupExported> {
      const g = group(input.group);
      if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} has no share yet`);
      const file = JSON.stringify({
        v: 1,
        groupId: g.id,
        epoch: g.epoch,
        sealed: fakeHex(`backup/${g.id}/${g.epoch}`, 48),
      });
      return { group: g.id, groupName: g.name, epoch: g.epoch, file };
    },
    async 'backup.restore'(input) {
      let parsed: { groupId?: unknown; epoch?: unknown };
      try {
        parsed = JSON.parse(input.file) as { groupId?: unknown; epoch?: unknown };
      } catch (_) {
        throw new ApiError('bad_input', 'this is not a Conclave share backup file');
      }
      const g = groups.get(String(parsed.groupId));
      if (!g || g.status !== 'ready')
        throw new ApiError(
          'not_found',
          'the backup belongs to a group this node is not part of (to rebuild a lost share on a new device, ask the group for a repair)',
        );
      if (parsed.epoch !== g.epoch)
        throw new ApiError(
          'bad_input',
          `this backup is out of date: it holds epoch ${String(parsed.epoch)}, the group is at ${g.epoch}. A refresh replaced that share; it no longer works`,
        );
      log(me, 'backup.restored', `share of ${g.name} restored from a backup`, g.id);
      return groupView(g);
    },
  };

  // Every call is recorded, validated as a transport would, and may be made to fail once.
  const wrapped = Object.fromEntries(
    API_METHODS.map((method) => [
      method,
      async (input: unknown) => {
        calls.push({ method, input });
        const failure = failures.get(method);
        if (failure) {
          failures.delete(method);
          throw failure;
        }
        if (!initialized && method !== 'identity.init') {
          throw new ApiError(
            'not_ready',
            'first run: create your identity first (your name, and where your share is kept)',
          );
        }
        const checked = validateInput(method, input);
        const impl = core[method] as ((i: ApiInput<ApiMethod>) => Promise<unknown>) | undefined;
        if (!impl) throw new ApiError('internal', `the fake node does not implement ${method}`);
        return impl(checked);
      },
    ]),
  ) as Api;

  const node: FakeNode = {
    ...wrapped,
    calls,
    get me() {
      return me;
    },
    sims,
    auditProblems: [],
    onEvent(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    ask(who, ref, text) {
      return requestView(newRequest(group(ref), utf8ToBytes(text), undefined, 'sign', who));
    },
    decide(id, who, decision, reason) {
      applyDecision(request(id), who, decision, reason);
    },
    newcomerJoins(ref, who) {
      const g = group(ref);
      g.candidates = [...g.candidates.filter((c) => c.peerId !== who.peerId), who];
      log(me, 'group.newcomer_joined', `${who.name} joined ${g.name} as a newcomer`, g.id);
      // A group event, so an open reshare or repair form lists them at once.
      emit({ type: 'group', id: g.id });
    },
    propose(who, ref, kind, params) {
      const g = group(ref);
      const r = ceremony(g, kind, params, `${kind} proposed by ${who.name}`, undefined, who);
      // Newcomers' fingerprints, as the node gives them (for those this fake knows).
      const p = params as { add?: { peerId: string }[]; newcomer?: { peerId: string } };
      const known = [...(p.add ?? []), ...(p.newcomer ? [p.newcomer] : [])]
        .map((n) => g.candidates.find((c) => c.peerId === n.peerId))
        .filter((c): c is Person => c !== undefined);
      if (known.length)
        r.fingerprints = Object.fromEntries(known.map((c) => [c.peerId, c.fingerprint]));
      return requestView(r);
    },
    addKeyGroup(input) {
      const id = nextId('g-');
      const sk = input.secretKey;
      let keys: { publicKey: string; internalKey?: string };
      if (input.scheme === 'ed25519') keys = { publicKey: bytesToHex(ed25519.getPublicKey(sk)) };
      else {
        const compressed = bytesToHex(secp256k1.getPublicKey(sk, true));
        const k = groupTaprootKeys({ publicKey: compressed } as RequestContext)!;
        keys = { publicKey: bytesToHex(k.output), internalKey: compressed.slice(2) };
      }
      const g: FakeGroup = {
        id,
        name: input.name,
        threshold: input.threshold ?? 2,
        size: input.members.length,
        scheme: input.scheme,
        status: 'ready',
        members: input.members.map((p) => ({ ...p, online: true, confirmed: true })),
        createdAt: now(),
        ...keys,
        secretKey: sk,
        ...lifecycle(),
      };
      groups.set(id, g);
      log(me, 'group.ready', `group key ready: ${g.publicKey}`, id);
      emit({ type: 'group', id });
      return groupView(g);
    },
    askUse(who, ref, kind, message, opts = {}) {
      const g = group(ref);
      checkUse(g, kind, message, who);
      const r = newRequest(g, message, undefined, kind, who);
      if (opts.approve ?? true) applyDecision(r, who, 'approve');
      return requestView(r);
    },
    setPolicy(ref, policy) {
      const g = group(ref);
      g.policy = validatePolicy(policy, g.threshold, g.size);
      emit({ type: 'group', id: g.id });
    },
    record(who, type, summary, ref, at) {
      log(who, type, summary, ref === undefined ? undefined : group(ref).id, at);
    },
    createAlone(input) {
      const create = core['group.create'] as (
        i: ApiInput<'group.create'>,
        joiners: Person[],
      ) => Promise<GroupView & { invite: string }>;
      return create(input, []);
    },
    markExposed(ref, text) {
      const g = group(ref);
      g.exposed = text;
      emit({ type: 'group', id: g.id });
    },
    setOnline(peerId, online) {
      for (const g of groups.values()) {
        for (const m of g.members) if (m.peerId === peerId) m.online = online;
      }
      emit({ type: 'peer', peerId, online });
    },
    failNext(method, error) {
      failures.set(method, error);
    },
    dispose() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      listeners.clear();
    },
  };
  return node;
}
