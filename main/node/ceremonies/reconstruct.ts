// Audited reconstruction of the whole key on the requester's computer (export or one ECDSA
// signature).
import { writeFile } from 'node:fs/promises';
import { x25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ApiError, type RequestView } from '../../../shared/api/index.js';
import { canonicalJSON } from '../../../shared/crypto/backup.js';
import { combineShares } from '../../../shared/crypto/dealer.js';
import { exportKey, sealTo } from '../../../shared/crypto/exported-key.js';
import { CryptoError } from '../../../shared/crypto/errors.js';
import type { PublicKeyPackage, SecretShare } from '../../../shared/crypto/keys.js';
import { getSuite, identifierHex } from '../../../shared/crypto/suite.js';
import { openSealedShare } from '../../../shared/protocol/sealed-share.js';
import { logSafe } from '../../../shared/protocol/text.js';
import { ProtocolError } from '../../../shared/protocol/wire.js';
import {
  RequestParamError,
  fingerprintOf,
  parseRequest,
  readRequest,
  type ReconstructParams,
  type RequestContext,
} from '../../../shared/requests/index.js';
import type { GroupRow, RequestRow } from '../../store/index.js';
import { badRowError, groupContextOf, groupPackageKey, short, TERMINAL } from '../common.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';

export class ReconstructService extends NodeService {
  /** Reconstructions this node asked for: the one-time key and the operation's inputs, memory only. */
  private reconstructJobs = new Map<
    string,
    { secretKey: Uint8Array; out?: string; passphrase?: string }
  >();
  /** Reconstructions this node already sent its sealed share for. */
  private sealedSent = new Set<string>();

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'ceremony' | 'groups' | 'inboxes' | 'requests'>,
  ) {
    super(ctx);
  }

  private get ceremony() {
    return this.deps.ceremony;
  }
  private get groups() {
    return this.deps.groups;
  }
  private get inboxes() {
    return this.deps.inboxes;
  }
  private get requests() {
    return this.deps.requests;
  }

  createReconstructRequest(input: {
    group: string;
    purpose: string;
    operation: 'export' | 'ecdsa-sign';
    out?: string;
    passphrase?: string;
    digest?: string;
    expiresInSec?: number;
  }): RequestView {
    const g = this.groups.findGroup(input.group);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} is ${g.status}`);
    if (input.operation === 'ecdsa-sign' && g.scheme === 'ed25519')
      throw new ApiError('bad_input', 'operation: ecdsa-sign needs a secp256k1 or taproot group');
    // A digest belongs to an ECDSA signature only: the registry's schema refuses one on an export
    // (members' nodes would refuse the request), so it is refused here rather than sent.
    if (input.operation === 'export' && input.digest !== undefined)
      throw new ApiError(
        'bad_input',
        `digest: is only for ecdsa-sign, got ${logSafe(input.digest)} for an export`,
      );
    const eph = x25519.keygen();
    const params: ReconstructParams = {
      ceremony: 'reconstruct',
      group: g.id,
      fromEpoch: g.epoch,
      purpose: input.purpose,
      operation: input.operation,
      requester: this.me.peerId,
      oneTimeKey: bytesToHex(eph.publicKey),
      ...(input.operation === 'ecdsa-sign' && input.digest !== undefined
        ? { digest: input.digest.toLowerCase() }
        : {}),
    };
    const bytes = utf8ToBytes(canonicalJSON(params));
    // This node makes only what the members' nodes accept: the request-kind registry's schema.
    try {
      parseRequest('reconstruct', bytes, this.requestContext(g, this.me.peerId));
    } catch (e) {
      eph.secretKey.fill(0);
      if (e instanceof RequestParamError) throw new ApiError('bad_input', e.message);
      throw e;
    }
    const view = this.requests.createRequest(g, 'reconstruct', bytes, input.expiresInSec);
    this.reconstructJobs.set(view.id, {
      secretKey: eph.secretKey,
      out: input.out,
      passphrase: input.passphrase,
    });
    return view;
  }

  /**
   * Once enough approvals exist: each approver seals its share to the requester's one-time key;
   * the requester combines T shares in memory, performs the stated operation and wipes the key.
   */
  async reconstructStep(r: RequestRow): Promise<void> {
    const g = this.store.groups.get(r.groupId)!;
    const p = readRequest('reconstruct', r.message, this.requestContext(g, r.createdBy));
    // Only current members' approvals count: one since removed or replaced holds no share here.
    const approvers = this.store.decisions
      .list(r.id)
      .filter((d) => d.decision === 'approve' && this.memberByPeer(r.groupId, d.peerId))
      .map((d) => d.peerId);
    const session = bytesToHex(sha256(utf8ToBytes(`conclave/reconstruct/v1:${r.id}`)));
    const aad = utf8ToBytes(`conclave/reconstruct/v1:${r.id}`);
    const suite = getSuite(g.scheme);
    if (
      approvers.includes(this.me.peerId) &&
      p.requester !== this.me.peerId &&
      !this.sealedSent.has(r.id)
    ) {
      this.sealedSent.add(r.id);
      // Test-only: this approver goes away before its share leaves.
      if (this.fault === 'exit-mid-ceremony') process.exit(3);
      const key = await this.keyPackage(g.id);
      // Checked after the last await, so nothing changes between the check, the record and the
      // share leaving.
      const refusal = this.releaseRefusal(r.id);
      if (refusal) {
        this.log(`not sending my share for reconstruction ${r.id}: ${refusal}`);
        return;
      }
      const shareBytes = key.share.toBytes();
      const sealed = sealTo(hexToBytes(p.oneTimeKey), shareBytes, aad);
      shareBytes.fill(0);
      // Fail-closed: the exposure is on this node's record before the share leaves; if it cannot
      // be written, the share does not leave (and the next evaluation tries again).
      try {
        this.recordRelease(g, r.id, p);
      } catch (e) {
        this.sealedSent.delete(r.id);
        this.log(
          `not sending my share for reconstruction ${r.id}: the exposure could not be recorded (${(e as Error).message})`,
        );
        return;
      }
      await this.sendReliably(
        p.requester,
        {
          v: 1,
          type: 'ceremony',
          groupId: g.id,
          requestId: r.id,
          session,
          step: 'round2',
          payload: {
            from: identifierHex(suite, key.share.identifier),
            sealed: sealed as unknown as Record<string, unknown>,
          },
        },
        60_000,
      );
      this.log(
        `sent my sealed share for reconstruction ${r.id} to ${logSafe(this.memberName(g.id, p.requester))}`,
      );
      return;
    }
    if (p.requester !== this.me.peerId || this.ceremony.ceremonies.has(r.id)) return;
    const job = this.reconstructJobs.get(r.id);
    if (!job) {
      this.requests.finish(
        r.id,
        {
          status: 'failed',
          failure: 'this node restarted since the request; its one-time key is gone: ask again',
        },
        'request.failed',
        { id: r.id },
      );
      return;
    }
    this.ceremony.ceremonies.add(r.id);
    this.requests.updateRequest(r.id, { status: 'signing', updatedAt: Date.now() });
    this.notify(r.id);
    let received: SecretShare[] = [];
    try {
      // Checked before any share is awaited: a damaged or missing package fails the request with
      // a reason naming it (not a raw TypeError from combining without one).
      const pub = this.publicPackage(g.id);
      if (!pub)
        throw g.publicPackage
          ? badRowError(groupPackageKey(g.id), 'a key package')
          : new Error('this node holds no public key package for the group');
      const shares: SecretShare[] = [];
      if (approvers.includes(this.me.peerId)) shares.push((await this.keyPackage(g.id)).share);
      received = await this.collectShares(r.id, g, pub, session, approvers, shares.length, job);
      shares.push(...received);
      const secret = combineShares(pub, shares);
      let signature: Uint8Array | undefined;
      if (p.operation === 'export') {
        await writeFile(job.out!, exportKey(g.scheme, secret, job.passphrase!), {
          mode: 0o600,
          flag: 'wx',
        });
      } else {
        const sk = suite.encodeScalar(secret);
        signature = secp256k1.sign(hexToBytes(p.digest!), sk, { prehash: false, lowS: true });
        sk.fill(0);
      }
      const at = Date.now();
      const exposed = `key exposed on ${this.me.name} at ${new Date(at).toISOString()} (${p.purpose})`;
      this.markExposed(g.id, r.id, exposed, signature);
      for (const m of this.store.members.list(g.id))
        if (m.peerId !== this.me.peerId)
          void this.sendReliably(
            m.peerId,
            {
              v: 1,
              type: 'ceremony',
              groupId: g.id,
              requestId: r.id,
              session,
              step: 'done',
              payload: { exposed },
            },
            60_000,
          ).catch(() => undefined);
    } catch (e) {
      this.requests.finish(
        r.id,
        { status: 'failed', failure: `reconstruction failed: ${(e as Error).message}` },
        'request.failed',
        { id: r.id },
      );
    } finally {
      // The key existed in memory for the operation only (a bigint cannot be wiped; it is
      // dropped here with the one-time key and the passphrase).
      job.secretKey.fill(0);
      for (const share of received) share.wipe();
      if (job.passphrase) job.passphrase = undefined;
      this.reconstructJobs.delete(r.id);
      this.ceremony.ceremonies.delete(r.id);
      this.inboxes.drop(session);
    }
  }

  /**
   * The shares the requester still needs (the threshold less the `have` it holds itself), from the
   * approvers' round-2 payloads. Every payload is hostile until openSealedShare accepted it: a
   * malformed one, one that does not open with the one-time key or is not its sender's share is
   * refused, counted and named, and the others' shares are used instead; when too few approvers
   * are left, or the deadline passes, the failure names who sent what could not be used and who
   * sent nothing. A payload from a peer that is not a member (a pending newcomer may send one) is
   * dropped and counted.
   */
  private async collectShares(
    requestId: string,
    g: GroupRow,
    pub: PublicKeyPackage,
    session: string,
    approvers: readonly string[],
    have: number,
    job: { secretKey: Uint8Array },
  ): Promise<SecretShare[]> {
    const need = Math.max(0, g.threshold - have);
    const others = approvers.filter((a) => a !== this.me.peerId);
    const aad = utf8ToBytes(`conclave/reconstruct/v1:${requestId}`);
    const taken = new Map<string, SecretShare>();
    /** Why each refused sender's payload cannot be used. */
    const refused = new Map<string, string>();
    /** Senders looked at (taken, refused or dropped): each payload is judged once. */
    const seen = new Set<string>();
    const deadline = Date.now() + this.ceremonyTimeoutMs;
    const name = (peer: string) => this.memberName(g.id, peer);
    const refusals = () =>
      [...refused]
        .map(([peer, why]) => `${name(peer)} sent a share that cannot be used (${why})`)
        .join(', ');
    const take = (box: ReadonlyMap<string, unknown>) => {
      for (const [peer, raw] of box) {
        if (seen.has(peer) || taken.size >= need) continue;
        seen.add(peer);
        const m = this.memberByPeer(g.id, peer);
        if (!m) {
          this.count(
            'non_member',
            `reconstruction ${logSafe(requestId, 80)} share from ${short(peer)}`,
          );
          continue;
        }
        try {
          taken.set(
            peer,
            openSealedShare(raw, {
              pub,
              identifier: BigInt(m.index),
              secretKey: job.secretKey,
              aad,
            }),
          );
        } catch (e) {
          if (!(e instanceof ProtocolError) && !(e instanceof CryptoError)) throw e;
          const why = e.message.slice(0, 200);
          refused.set(peer, why);
          this.count(
            e instanceof ProtocolError ? 'malformed' : 'bad_share',
            `reconstruction ${logSafe(requestId, 80)} share from ${short(peer)}: ${logSafe(why, 200)}`,
          );
        }
      }
    };
    try {
      while (taken.size < need) {
        // Approvers not heard from yet: if even all of them cannot make up the rest, stop now.
        const waiting = others.filter((a) => !seen.has(a));
        if (taken.size + waiting.length < need)
          throw new Error(
            `${refused.size ? `${refusals()}, and too few approvers are left` : `${others.length} other approver${others.length === 1 ? '' : 's'} can send a share and ${need} are needed`}; nothing was reconstructed and the key is not exposed`,
          );
        const box = await this.inboxes
          .awaitInbox(session, 'round2', seen.size + need - taken.size, deadline)
          .catch((e: unknown) => {
            const missing = waiting
              .filter((a) => !this.inboxes.inbox(session).round2.has(a))
              .map(name);
            if (this.stopped || !missing.length) throw e;
            throw new Error(
              `${missing.join(', ')} did not send ${missing.length > 1 ? 'their shares' : 'its share'} in time${refused.size ? `, and ${refusals()}` : ''}; nothing was reconstructed and the key is not exposed`,
              { cause: e },
            );
          });
        take(box);
      }
    } catch (e) {
      for (const share of taken.values()) share.wipe();
      throw e;
    }
    return [...taken.values()];
  }

  /**
   * The group and request as the registry sees them now: the current roster, so a check made with
   * it says whether the request fits the group as it is, not as it was when received.
   */
  private requestContext(g: GroupRow, author: string): RequestContext {
    return {
      ...groupContextOf(this.store, g, this.requests.policyOf(g.id), this.me.peerId),
      author,
      // Reconstruction's parameters do not depend on the policy hash the request names.
      policyHash: '',
    };
  }

  /**
   * Why this approver must not send its share for a reconstruction now, if it must not. Checked
   * here whatever the receive path checked (finding 2, defence in depth: the roster may have
   * changed since): the share goes to the requester's one-time key, so the requester must be the
   * member who signed the request and still a member; the request must be for the group's current
   * epoch and not already over.
   */
  private releaseRefusal(requestId: string): string | undefined {
    const r = this.store.requests.get(requestId);
    if (!r) return 'the request is gone';
    if (r.kind !== 'reconstruct') return `it is a ${r.kind} request, not a reconstruction`;
    if (TERMINAL.includes(r.status)) return `the request is ${r.status}`;
    const g = this.store.groups.get(r.groupId);
    if (!g || g.status !== 'ready') return 'the group is not ready';
    let p: ReconstructParams;
    try {
      // The registry's full check against the roster as it is now: among the rest, the requester
      // is the request's author and a current member.
      p = parseRequest('reconstruct', r.message, this.requestContext(g, r.createdBy));
    } catch (e) {
      return `it does not fit the group as it is now (${(e as Error).message})`;
    }
    if (p.fromEpoch !== g.epoch)
      return `it was made for epoch ${p.fromEpoch}, the group is at epoch ${g.epoch}`;
    return undefined;
  }

  /**
   * An approver records, in its own audit chain and in its store, that the key is exposed to the
   * requester, in one transaction: called before its share leaves, so the record never depends on
   * the requester saying it is done. A release already recorded (a resend after a restart) is not
   * recorded again.
   */
  private recordRelease(g: GroupRow, requestId: string, p: ReconstructParams): void {
    const releasedKey = `reconstruct-released:${requestId}`;
    if (this.store.meta.get(releasedKey) !== undefined) return;
    const at = Date.now();
    const name = this.memberName(g.id, p.requester);
    const exposed = `key exposed on ${name} at ${new Date(at).toISOString()} (${p.purpose})`;
    this.store.tx(() => {
      this.store.meta.set(releasedKey, String(at));
      this.store.meta.set(`exposed:${g.id}`, exposed);
      this.audit(
        'group.key_exposed',
        {
          requestId,
          exposed,
          to: p.requester,
          toName: name,
          fingerprint: fingerprintOf(p.requester),
          how: 'share-sent',
        },
        g.id,
      );
    });
    this.emit({ type: 'group', id: g.id });
  }

  /**
   * The requester records the key as exposed on its own computer once it reconstructed it; other
   * members record it when the requester says it is done, unless they already did when they sent
   * their share (their own record stands: the requester's word does not replace it).
   */
  markExposed(groupId: string, requestId: string, exposed: string, signature?: Uint8Array): void {
    const r = this.store.requests.get(requestId);
    const g = this.store.groups.get(groupId);
    let requester: string | undefined;
    if (r && g)
      try {
        requester = readRequest(
          'reconstruct',
          r.message,
          this.requestContext(g, r.createdBy),
        ).requester;
      } catch {
        requester = undefined;
      }
    const released = this.store.meta.get(`reconstruct-released:${requestId}`) !== undefined;
    this.store.tx(() => {
      if (!released) {
        this.store.meta.set(`exposed:${groupId}`, exposed);
        this.audit(
          'group.key_exposed',
          {
            requestId,
            exposed,
            ...(requester
              ? {
                  to: requester,
                  toName: this.memberName(groupId, requester),
                  fingerprint: fingerprintOf(requester),
                  how: requester === this.me.peerId ? 'reconstructed' : 'reported',
                }
              : {}),
          },
          groupId,
        );
      }
      this.requests.updateRequest(requestId, {
        status: 'done',
        ...(signature ? { signature } : {}),
        updatedAt: Date.now(),
      });
    });
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }
}
