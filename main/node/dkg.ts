// Distributed key generation over the network, once every member confirmed the same roster. A run
// that a member's restart cut short is followed by a new run (an attempt), agreed by all members.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  dkgEchoEvidence,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  dkgSessionDigest,
  DkgRound2Package,
  type DkgEcho,
  type DkgParams,
  type DkgRound1Package,
} from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import {
  externalPublicKey,
  publicPackageFromJSON,
  publicPackageToJSON,
  type KeyPackage,
  type PublicKeyPackageJSON,
} from '../../shared/crypto/keys.js';
import { getSuite, identifierHex } from '../../shared/crypto/suite.js';
import { logSafe } from '../../shared/protocol/text.js';
import { MAX_DKG_ATTEMPTS, type GroupMessage } from '../../shared/protocol/wire.js';
import type { GroupRow } from '../store/index.js';
import { DroppedMessage, rememberOwnPackage, shareName } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';
import { crashPoint } from './crash.js';

type DkgMessage = Extract<GroupMessage, { type: 'dkg' }>;

/**
 * How long one run may take before the group fails (a new run can follow when members return);
 * CONCLAVE_DKG_TIMEOUT_MS shortens it for tests.
 */
const DKG_RUN_MS = Number(process.env.CONCLAVE_DKG_TIMEOUT_MS) || 120_000;
/**
 * How long a run that failed still delivers the messages it had sent out (see stopSendingTo), and
 * then its report, to each member.
 */
const AFTER_FAILURE_MS = 30_000;
/**
 * How long a member that is ready waits before it syncs the group's log with the others and sends
 * them its first nonce commitments: the members finish within tens of ms of each other, and on
 * shared cores these (a point multiplication per commitment, each member's whole log) delayed
 * the last members' 'ready'. A signing asked for meanwhile waits for the commitments (signing.ts).
 */
const AFTER_READY_MS = 250;
/** How long a ready member retries its first nonce commitments to a connected member. */
const NONCES_RETRY_MS = 60_000;
/** Meta: the run this node is on (absent: the first, 0). */
const attemptKey = (groupId: string) => `dkg-attempt:${groupId}`;
/** Meta: the run whose share this node stored, with its public package; its 'done' step is next. */
const storedKey = (groupId: string) => `dkg-stored:${groupId}`;
/** Meta: the group failed for a reason a new run can cure (a member was missing, not misbehaving). */
const retryKey = (groupId: string) => `dkg-retry:${groupId}`;
/** The inbox of one run: a message of another run never meets this one's packages. */
const inboxKey = (groupId: string, attempt: number) => `dkg:${groupId}:${attempt}`;

/** `p`, with its rejection handled now (it is awaited later, or its failure shows otherwise). */
function background<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** This run was given up for a newer one a member started. */
class Abandoned extends Error {}

/**
 * Another member caught someone misbehaving and said so (a 'done' carrying its failure): it sends
 * nothing more, so this node does not wait for its messages. Its word does not stand in for the
 * others': this node still waits for the messages of every member that did not report and judges
 * them itself (a liar's report blaming an honest member, arriving before that member's echo,
 * would otherwise decide the verdict by message order). Only when what this node was sent shows
 * no culprit does it fail quoting that member (it cannot check its word, so it blames nobody
 * itself) instead of waiting out the deadline; a new run would meet the same member, so none
 * follows.
 */
class ReportedFailure extends Error {}

export class DkgService extends NodeService {
  /** Groups whose key generation runs now, with the attempt it is on. */
  private running = new Map<string, number>();
  /** The newest attempt a member asked for, per group (the running one gives way to it). */
  private wanted = new Map<string, number>();
  /** Group keys of the latest stored public packages, by package text (see publicKeyOf). */
  private publicKeys = new Map<string, string>();
  /** Session digests (hex) by group, roster hash and attempt (see sessionOf). */
  private sessions = new Map<string, string>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'auditLog' | 'groups' | 'inboxes' | 'signing'>,
  ) {
    super(ctx);
  }

  private get auditLog() {
    return this.deps.auditLog;
  }
  private get groups() {
    return this.deps.groups;
  }
  private get inboxes() {
    return this.deps.inboxes;
  }
  private get signing() {
    return this.deps.signing;
  }

  private dkgParams(g: GroupRow, hash: string, attempt: number): DkgParams {
    const members = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    return {
      scheme: g.scheme,
      threshold: g.threshold,
      members: members.map((m) => ({
        identifier: BigInt(m.index),
        identityKey: hexToBytes(m.identityKey),
      })),
      // Attempt 0 keeps the original derivation; every later one is a session of its own.
      sessionId: sha256(
        utf8ToBytes(
          'conclave/dkg-session/v1:' + hash + (attempt === 0 ? '' : `:attempt:${attempt}`),
        ),
      ),
    };
  }

  /**
   * The session digest of a run, derived once per group, roster hash and attempt: every DKG
   * message is checked against it, and deriving it reads the roster from the store. The roster
   * hash fixes what the digest covers (the members' positions and keys, threshold and scheme).
   */
  private sessionOf(g: GroupRow, hash: string, attempt: number): string {
    const k = `${g.id}:${hash}:${attempt}`;
    let session = this.sessions.get(k);
    if (session === undefined) {
      session = bytesToHex(dkgSessionDigest(this.dkgParams(g, hash, attempt)));
      // A few runs' worth; a member cannot add entries (the hash is this node's own).
      if (this.sessions.size >= 64) this.sessions.clear();
      this.sessions.set(k, session);
    }
    return session;
  }

  /** The attempt this node is on (stored, so a restart knows which run it was in). */
  private attemptOf(groupId: string): number {
    const n = Number(this.store.meta.get(attemptKey(groupId)) || '0');
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }

  private storedRun(groupId: string): { attempt: number; publicPackage: string } | undefined {
    const raw = this.store.meta.get(storedKey(groupId));
    if (!raw) return undefined;
    try {
      const v = JSON.parse(raw) as { attempt: number; publicPackage: string };
      return typeof v.attempt === 'number' && typeof v.publicPackage === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs the key generation until it is done, fails, or this node stops; a run a member gave up
   * for a newer attempt is followed by that attempt.
   */
  async runDkg(groupId: string, hash: string): Promise<void> {
    if (this.running.has(groupId)) return;
    this.running.set(groupId, -1);
    try {
      for (;;) {
        if (this.stopped) return;
        const attempt = Math.max(this.attemptOf(groupId), this.wanted.get(groupId) ?? 0);
        if (attempt >= MAX_DKG_ATTEMPTS) {
          this.groups.failGroup(
            groupId,
            `key generation failed: gave up after ${MAX_DKG_ATTEMPTS} runs; create the group again`,
          );
          this.store.meta.set(retryKey(groupId), '');
          return;
        }
        this.running.set(groupId, attempt);
        if ((await this.runAttempt(groupId, hash, attempt)) !== 'abandoned') return;
      }
    } finally {
      this.running.delete(groupId);
    }
  }

  private async runAttempt(
    groupId: string,
    hash: string,
    attempt: number,
  ): Promise<'done' | 'failed' | 'abandoned'> {
    const g = this.store.groups.get(groupId)!;
    const members = this.store.members.list(groupId).sort((a, b) => a.index - b.index);
    const others = members.filter((m) => m.peerId !== this.me.peerId);
    const meIdx = BigInt(members.find((m) => m.peerId === this.me.peerId)!.index);
    const suite = getSuite(g.scheme);
    const key = inboxKey(groupId, attempt);
    this.store.tx(() => {
      this.store.meta.set(attemptKey(groupId), String(attempt));
      this.groups.updateGroup(groupId, {
        status: 'dkg',
        rosterHash: hash,
        error: undefined,
        updatedAt: Date.now(),
      });
    });
    this.emit({ type: 'group', id: groupId });
    this.log(
      `key generation for ${logSafe(g.name)} started${attempt ? ` (attempt ${attempt + 1})` : ''}`,
    );
    const deadline = Date.now() + DKG_RUN_MS;
    const abandoned = () => (this.wanted.get(groupId) ?? 0) > attempt;
    /**
     * For the wait for `step`: throws once the run is given up, or once a member reported a
     * failure and every other member that did not has sent its message of `step` (a report ends
     * the wait for its sender's messages only: see ReportedFailure).
     */
    const checkStep = (step: DkgMessage['step']) => () => {
      if (abandoned()) throw new Abandoned();
      const reported = this.reportedFailure(groupId, key);
      if (!reported) return;
      const box = this.inboxes.inbox(key)[step];
      const quiet = this.reporters(key);
      if (others.every((m) => box.has(m.peerId) || quiet.has(m.peerId))) throw reported;
    };
    const session = this.sessionOf(g, hash, attempt);
    const msgOf = (step: DkgMessage['step'], payload: Record<string, unknown>): DkgMessage => ({
      v: 1,
      type: 'dkg',
      groupId,
      session,
      step,
      payload,
      ...(attempt > 0 ? { attempt } : {}),
    });
    /**
     * How the run ended, once it did (and when, and which members had reported by then): the
     * inbox is no longer read after that.
     */
    let ended: 'done' | 'not done' | undefined;
    let endedAt = 0;
    let quietAtEnd: ReadonlyMap<string, string> = new Map();
    /**
     * Whether a delivery to `peer` still under way stops (quietly): when `peer` reported a failure
     * (it refuses the rest), or 30 s after this run failed; never once the run is done (its
     * 'done' carries on to the members that have not taken it). A failed run's messages still go
     * out meanwhile: a member that did not report waits for them before it judges (checkStep),
     * and this node's report to `peer` follows them (so it never arrives before them).
     */
    const stopSendingTo = (peer: string) => () => {
      if (ended === 'done') return false;
      if (ended) return quietAtEnd.has(peer) || Date.now() > endedAt + AFTER_FAILURE_MS;
      return this.reporters(key).has(peer);
    };
    /** The deliveries this run started, per member, settled or not. */
    const inFlight = new Map<string, Promise<unknown>[]>();
    const deliverTo = (peer: string, msg: DkgMessage): Promise<void> => {
      const p = this.deliver(peer, msg, deadline, abandoned, stopSendingTo(peer));
      inFlight.set(peer, [...(inFlight.get(peer) ?? []), p.catch(() => undefined)]);
      return p;
    };
    /**
     * Delivers to every other member, retried until the deadline. Not awaited at once: this node
     * waits for the others' messages of the step meanwhile and works on them, and awaits its own
     * deliveries only before it sends the next step (so each crash point still means what it
     * says). A failed delivery also shows as the addressee's silence at the next step.
     */
    const sendAll = (step: DkgMessage['step'], payload: Record<string, unknown>) =>
      background(Promise.all(others.map((m) => deliverTo(m.peerId, msgOf(step, payload)))));
    try {
      const stored = this.storedRun(groupId);
      let pubJson: string;
      /** This run's key, when this process derived it (after a restart it is read from the vault). */
      let kp: KeyPackage | undefined;
      if (stored && stored.attempt === attempt) {
        // This node stored its share of this run before it restarted: only 'done' is left.
        pubJson = stored.publicPackage;
      } else {
        // Fresh round-1 secrets for every run: none is ever used in two sessions.
        // Signed with the identity key: an echo misreporting a member's package is caught. The
        // others' signatures are checked at native speed (as noble's strict verify answers).
        const { state, package: pkg } = dkgRound1(
          this.dkgParams(g, hash, attempt),
          meIdx,
          undefined,
          (m) => this.me.sign(m),
          verifyEd25519,
        );
        this.groups.updateGroup(groupId, { dkgSession: state.session });
        const r1Sent = sendAll('round1', pkg as unknown as Record<string, unknown>);
        const r1 = await this.awaitAll(
          groupId,
          key,
          'round1',
          others,
          deadline,
          checkStep('round1'),
        );
        const echo = dkgEcho(state, [...r1.values()] as DkgRound1Package[]);
        await r1Sent;
        crashPoint('dkg-round1-sent');
        const echoSent = sendAll('echo', echo as unknown as Record<string, unknown>);
        let echoes: Map<string, unknown>;
        try {
          echoes = await this.awaitAll(groupId, key, 'echo', others, deadline, checkStep('echo'));
        } catch (e) {
          // A reporter's echo will not come: what the others' echoes show is this node's verdict.
          if (!(e instanceof ReportedFailure)) throw e;
          const inHand = [...this.inboxes.inbox(key).echo.values()] as DkgEcho[];
          throw dkgEchoEvidence(state, inHand) ?? e;
        }
        const out = dkgRound2(state, [...echoes.values()] as DkgEcho[]);
        await echoSent;
        crashPoint('dkg-echo-sent');
        const r2Sent = background(
          Promise.all(
            out.map((p) => {
              const to = members.find((m) => BigInt(m.index) === p.to)!;
              return deliverTo(to.peerId, msgOf('round2', p.toWire(suite)));
            }),
          ),
        );
        const r2 = await this.awaitAll(
          groupId,
          key,
          'round2',
          others,
          deadline,
          checkStep('round2'),
        );
        const received = [...r2.values()].map((w) =>
          DkgRound2Package.fromWire(suite, w as Parameters<typeof DkgRound2Package.fromWire>[1]),
        );
        kp = dkgFinalize(state, received);
        await r2Sent;
        crashPoint('dkg-round2-sent');
        crashPoint('dkg-before-store');
        await this.vault.put(shareName(groupId, kp.share.epoch), kp.share.toBytes());
        pubJson = JSON.stringify(publicPackageToJSON(kp.public));
        // Built here from the points this run checked: the store takes its text without decoding
        // it again, and the views and checks that read the row take the package undecoded.
        rememberOwnPackage(kp.public, pubJson);
        this.store.meta.set(
          storedKey(groupId),
          JSON.stringify({ attempt, publicPackage: pubJson }),
        );
        crashPoint('dkg-after-store');
      }
      // Ready only once every member says it stored its share of this run: until then any member
      // that restarts can still start a new run, and nobody is left holding a key the others lack.
      const publicKey = this.publicKeyOf(pubJson, kp);
      // Ready does not wait for the others to take this node's 'done' (that is their wait): its
      // delivery carries on. A member that restarted after storing its share may have lost the
      // others' 'done', so it asks for them again ('ask'); only such a 'done' is answered.
      void sendAll('done', {
        from: identifierHex(suite, meIdx),
        publicKey,
        ...(kp ? {} : { ask: true }),
      });
      const dones = await this.awaitAll(groupId, key, 'done', others, deadline, checkStep('done'));
      if (abandoned()) throw new Abandoned();
      const reported = this.reportedFailure(groupId, key);
      if (reported) throw reported;
      for (const [peer, d] of dones)
        if ((d as { publicKey?: unknown }).publicKey !== publicKey)
          throw new CryptoError(
            'key_mismatch',
            `${this.memberName(groupId, peer)} derived another group key`,
            [identifierHex(suite, BigInt(this.memberByPeer(groupId, peer)!.index))],
          );
      this.store.tx(() => {
        this.groups.updateGroup(groupId, {
          status: 'ready',
          publicPackage: pubJson,
          epoch: 0,
          error: undefined,
          updatedAt: Date.now(),
          inviteSecret: undefined,
        });
        this.store.meta.set(storedKey(groupId), '');
        this.store.meta.set(retryKey(groupId), '');
        this.audit('group.ready', { publicKey, epoch: 0 }, groupId);
      });
      if (kp) this.keys.set(groupId, kp);
      this.emit({ type: 'group', id: groupId });
      this.log(`key generation for ${logSafe(g.name)} done: public key ${publicKey}`);
      this.signing.applyEarlyNonces(groupId);
      // The log's sync and the first nonce commitments wait AFTER_READY_MS: at once, they took
      // the cores from the members still finishing their last step (see AFTER_READY_MS).
      const later = setTimeout(() => {
        if (this.stopped) return;
        // Once: the first member's sync writes the checkpoint before any member's list is read,
        // so every member gets the whole log, checkpoint included (a second call only resent it).
        this.auditLog.syncAuditWithAll(groupId);
        for (const m of others) void this.sendFirstNonces(groupId, m.peerId);
      }, AFTER_READY_MS);
      later.unref?.();
      ended = 'done';
      return 'done';
    } catch (e) {
      ended = 'not done';
      endedAt = Date.now();
      quietAtEnd = this.reporters(key);
      // A node that is stopping ends its wait for the others: no failure of the group, and its
      // store may already be closed (a throw here would be an unhandled rejection).
      if (this.stopped) return 'failed';
      if (e instanceof Abandoned || abandoned()) {
        this.log(`key generation for ${logSafe(g.name)}: a member started a new run; joining it`);
        return 'abandoned';
      }
      const culprits = e instanceof CryptoError ? e.culprits : [];
      const msg =
        e instanceof ReportedFailure
          ? `key generation failed: ${e.message}`
          : culprits.length
            ? `key generation failed (${(e as CryptoError).code}): ${culprits.map((c) => this.groups.nameOfIdentifier(groupId, c)).join(', ')} misbehaved — ${(e as Error).message}`
            : `key generation failed: ${(e as Error).message}`;
      this.groups.failGroup(groupId, msg);
      // Caught here: the others hear it (and whom it blames) now, not at their deadline. Each
      // member's report follows this node's messages to it, so it never arrives before them.
      if (culprits.length) {
        const report = { from: identifierHex(suite, meIdx), failure: msg.slice(0, 1000) };
        for (const m of others)
          void Promise.all(inFlight.get(m.peerId) ?? [])
            .then(() =>
              this.deliver(
                m.peerId,
                msgOf('done', report),
                Date.now() + AFTER_FAILURE_MS,
                () => false,
              ),
            )
            .catch(() => undefined);
      }
      // Nobody misbehaved (a member was away): its return may start a new run (onMessage).
      if (!culprits.length && !(e instanceof ReportedFailure))
        this.store.meta.set(retryKey(groupId), '1');
      return 'failed';
    } finally {
      ended ??= 'not done';
      this.inboxes.drop(key);
    }
  }

  /**
   * This node's first nonce commitments for a member that may coordinate, retried for a minute
   * while it is connected: sent once, one lost under load left that member unable to ask this
   * node to sign until a reconnection. A member not connected gets them on connection (sync.ts).
   */
  private async sendFirstNonces(groupId: string, peer: string): Promise<void> {
    const until = Date.now() + NONCES_RETRY_MS;
    for (let delay = 500; !this.stopped; delay = Math.min(delay * 2, 5_000)) {
      if (!this.host.isConnected(peer)) return;
      try {
        await this.signing.sendNonces(groupId, peer, true);
        return;
      } catch {
        if (Date.now() + delay > until) return;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** awaitInbox for one message from each of `others`; its timeout names those that sent none. */
  private async awaitAll(
    groupId: string,
    key: string,
    step: DkgMessage['step'],
    others: { peerId: string; index: number }[],
    deadline: number,
    check: () => void,
  ): Promise<Map<string, unknown>> {
    try {
      return await this.inboxes.awaitInbox(key, step, others.length, deadline, check);
    } catch (e) {
      if (e instanceof Abandoned || e instanceof ReportedFailure || this.stopped) throw e;
      // Past the deadline, a member's report says more than the silence of those waited for.
      const reported = this.reportedFailure(groupId, key);
      if (reported) throw reported;
      const box = this.inboxes.inbox(key)[step];
      const suite = getSuite(this.store.groups.get(groupId)!.scheme);
      const silent = others
        .filter((m) => !box.has(m.peerId))
        .map((m) => this.groups.nameOfIdentifier(groupId, identifierHex(suite, BigInt(m.index))));
      if (!silent.length) throw e;
      throw new Error(`${(e as Error).message}: nothing from ${silent.join(', ')}`, { cause: e });
    }
  }

  /**
   * The members that reported a failure in this run's 'done' box, each with its report, in the
   * order they arrived (see ReportedFailure).
   */
  private reporters(key: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [peer, d] of this.inboxes.inbox(key).done) {
      const { failure } = d as { failure?: unknown };
      if (typeof failure === 'string') out.set(peer, failure);
    }
    return out;
  }

  /** The first failure a member reported in this run's 'done' box (see ReportedFailure). */
  private reportedFailure(groupId: string, key: string): ReportedFailure | undefined {
    for (const [peer, failure] of this.reporters(key))
      return new ReportedFailure(
        `${this.memberName(groupId, peer)} stopped it: ${logSafe(failure, 1000)}`,
      );
    return undefined;
  }

  /**
   * Like sendReliably, but gives up as soon as the run is given up for a newer one, and ends
   * (resolves) without delivering once `unwanted` says so.
   */
  private async deliver(
    peer: string,
    msg: DkgMessage,
    deadline: number,
    abandoned: () => boolean,
    unwanted: () => boolean = () => false,
  ): Promise<void> {
    for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
      if (this.stopped) throw new Error('node stopped');
      if (abandoned()) throw new Abandoned();
      if (unwanted()) return;
      try {
        await this.send(peer, msg, Math.max(1000, Math.min(10_000, deadline - Date.now())));
        return;
      } catch (e) {
        if (Date.now() + delay > deadline) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * At start: a group whose key generation this node was in when it stopped (or that failed for
   * want of a member) carries on: the same run if this node had stored its share of it, else a new
   * run, which the other members join when its first message reaches them.
   */
  resume(groupId: string): void {
    const g = this.store.groups.get(groupId);
    if (!g || !g.rosterHash) return;
    if (g.status === 'failed' && this.store.meta.get(retryKey(groupId)) !== '1') return;
    if (g.status !== 'dkg' && g.status !== 'failed') return;
    // This node confirmed that roster (the DKG ran): sent again to members that connect (sync.ts),
    // for one that missed it when this node went down.
    if (!this.groups.confirmations.get(groupId)?.has(this.me.peerId))
      this.groups.noteConfirmation(groupId, this.me.peerId, g.rosterHash);
    const current = this.attemptOf(groupId);
    const next = this.storedRun(groupId)?.attempt === current ? current : current + 1;
    this.wanted.set(groupId, Math.max(next, this.wanted.get(groupId) ?? 0));
    void this.runDkg(groupId, g.rosterHash);
  }

  /** A member's DKG message: kept in the inbox of its run; a newer run replaces this node's. */
  onMessage(from: string, msg: DkgMessage): unknown {
    const m = this.memberByPeer(msg.groupId, from);
    const g = this.store.groups.get(msg.groupId);
    if (!m || !g) throw new DroppedMessage('non_member');
    // A group that never reached key generation (still forming, or left) takes no DKG message.
    if (!['confirming', 'dkg', 'ready', 'failed'].includes(g.status))
      throw new DroppedMessage('wrong_state');
    const suite = getSuite(g.scheme);
    // The package's claimed sender must be the authenticated peer's roster position.
    const claimed = (msg.payload as { from?: unknown }).from;
    if (claimed !== identifierHex(suite, BigInt(m.index)))
      throw new DroppedMessage('spoofed_sender');
    const attempt = msg.attempt ?? 0;
    const current = Math.max(this.attemptOf(g.id), this.wanted.get(g.id) ?? 0);
    if (g.status === 'ready') {
      // A member that restarted after storing its share asks again: answer with this node's word.
      if (msg.step === 'done' && attempt === this.attemptOf(g.id)) this.answerDone(g, from, msg);
      else throw new DroppedMessage('wrong_state');
      return { ok: true };
    }
    const retry =
      g.status === 'failed' && this.store.meta.get(retryKey(g.id)) === '1' && attempt > current;
    if (g.status !== 'confirming' && g.status !== 'dkg' && !retry)
      throw new DroppedMessage('wrong_state');
    if (attempt < current) throw new DroppedMessage('stale_attempt');
    const hash = g.rosterHash ?? this.groups.confirmations.get(g.id)?.get(this.me.peerId);
    if (hash && msg.session !== this.sessionOf(g, hash, attempt))
      throw new DroppedMessage('wrong_session');
    if (hash && g.status === 'confirming' && !this.groups.confirmations.get(g.id)?.has(from)) {
      // Its session binds the roster this node confirmed, and a member runs the key generation
      // only once it confirmed: its confirmation, should that message have been lost (it crashed).
      this.groups.noteConfirmation(g.id, from, hash);
      queueMicrotask(() => this.groups.maybeStartDkg(g.id));
    }
    const box = this.inboxes.inbox(inboxKey(g.id, attempt), g.id)[msg.step];
    if (!box.has(from)) box.set(from, msg.payload);
    // Only a member that asks is answered: any other gets this node's own 'done' from its run.
    if (msg.step === 'done' && (msg.payload as { ask?: unknown }).ask === true)
      if (this.storedRun(g.id)?.attempt === attempt) this.answerDone(g, from, msg);
    if (attempt > current) {
      this.wanted.set(g.id, attempt);
      const running = this.running.get(g.id);
      if (running !== undefined) this.inboxes.wake(inboxKey(g.id, running));
      else if (hash && (g.status === 'dkg' || retry)) void this.runDkg(g.id, hash);
    }
    return { ok: true };
  }

  /**
   * Sends this node's 'done' again to a member that (having restarted) may have lost it, marked
   * as an answer so it is not answered in turn.
   */
  private answerDone(g: GroupRow, to: string, msg: DkgMessage): void {
    if ((msg.payload as { echo?: unknown }).echo === true) return;
    const pubJson = g.status === 'ready' ? g.publicPackage : this.storedRun(g.id)?.publicPackage;
    if (!pubJson) return;
    const suite = getSuite(g.scheme);
    const me = this.memberByPeer(g.id, this.me.peerId)!;
    const publicKey = this.publicKeyOf(pubJson);
    const answer: DkgMessage = {
      ...msg,
      payload: { from: identifierHex(suite, BigInt(me.index)), publicKey, echo: true },
    };
    void this.ctx
      .sendReliably(to, answer as GroupMessage, 30_000)
      .catch((e) => this.log(`dkg: answer to ${to} failed: ${(e as Error).message}`));
  }

  /**
   * The group key of a stored public package, decoded once: every member's 'done' is answered
   * with it, and decoding the package (each share's point checked) per answer was most of a
   * 20-member key generation's CPU after the key itself.
   */
  private publicKeyOf(pubJson: string, derived?: KeyPackage): string {
    let key = this.publicKeys.get(pubJson);
    if (key === undefined) {
      // This run's own key needs no decoding: its package was built from checked points.
      const pub =
        derived?.public ?? publicPackageFromJSON(JSON.parse(pubJson) as PublicKeyPackageJSON);
      key = bytesToHex(externalPublicKey(pub));
      // A few runs' worth: the packages are large strings.
      if (this.publicKeys.size >= 8) this.publicKeys.clear();
      this.publicKeys.set(pubJson, key);
    }
    return key;
  }

  /** Forgets the round state of a group whose key generation failed or that was left. */
  forget(groupId: string): void {
    this.wanted.delete(groupId);
  }
}
