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
import { exportKey, openSealed, sealTo, type Sealed } from '../../../shared/crypto/exported-key.js';
import { SecretShare } from '../../../shared/crypto/keys.js';
import { getSuite, identifierHex } from '../../../shared/crypto/suite.js';
import type { RequestRow } from '../../store/index.js';
import type { ReconstructParams } from '../common.js';
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
    const eph = x25519.keygen();
    const params: ReconstructParams = {
      ceremony: 'reconstruct',
      group: g.id,
      fromEpoch: g.epoch,
      purpose: input.purpose,
      operation: input.operation,
      requester: this.me.peerId,
      oneTimeKey: bytesToHex(eph.publicKey),
      ...(input.digest ? { digest: input.digest.toLowerCase() } : {}),
    };
    const view = this.requests.createRequest(
      g,
      'reconstruct',
      utf8ToBytes(canonicalJSON(params)),
      input.expiresInSec,
    );
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
    const p = JSON.parse(new TextDecoder().decode(r.message)) as ReconstructParams;
    const approvers = this.store.decisions
      .list(r.id)
      .filter((d) => d.decision === 'approve')
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
      const sealed = sealTo(hexToBytes(p.oneTimeKey), key.share.toBytes(), aad);
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
        `sent my sealed share for reconstruction ${r.id} to ${this.memberName(g.id, p.requester)}`,
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
    try {
      const pub = this.publicPackage(g.id)!;
      const shares: SecretShare[] = [];
      if (approvers.includes(this.me.peerId)) shares.push((await this.keyPackage(g.id)).share);
      const others = approvers.filter((a) => a !== this.me.peerId);
      const got = await this.inboxes
        .awaitInbox(
          session,
          'round2',
          Math.min(others.length, g.threshold - shares.length),
          Date.now() + this.ceremonyTimeoutMs,
        )
        .catch((e: unknown) => {
          const box = this.inboxes.inbox(session).round2;
          const missing = others.filter((a) => !box.has(a)).map((a) => this.memberName(g.id, a));
          if (this.stopped || !missing.length) throw e;
          throw new Error(
            `${missing.join(', ')} did not send ${missing.length > 1 ? 'their shares' : 'its share'} in time; nothing was reconstructed and the key is not exposed`,
            { cause: e },
          );
        });
      for (const [peer, raw] of got) {
        const m = this.memberByPeer(g.id, peer)!;
        const bytes = openSealed(job.secretKey, (raw as { sealed: Sealed }).sealed, aad);
        shares.push(SecretShare.fromBytes(g.scheme, BigInt(m.index), bytes, g.epoch));
        bytes.fill(0);
      }
      const secret = combineShares(pub, shares.slice(0, Math.max(g.threshold, shares.length)));
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
      if (job.passphrase) job.passphrase = undefined;
      this.reconstructJobs.delete(r.id);
      this.ceremony.ceremonies.delete(r.id);
      this.inboxes.drop(session);
    }
  }

  /** Every member records that the key was reconstructed, by whom and when. */
  markExposed(groupId: string, requestId: string, exposed: string, signature?: Uint8Array): void {
    this.store.tx(() => {
      this.store.meta.set(`exposed:${groupId}`, exposed);
      this.requests.updateRequest(requestId, {
        status: 'done',
        ...(signature ? { signature } : {}),
        updatedAt: Date.now(),
      });
      this.audit('group.key_exposed', { requestId, exposed }, groupId);
    });
    this.notify(requestId);
    this.emit({ type: 'group', id: groupId });
  }
}
