// Distributed key generation over the network, once every member confirmed the same roster.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import {
  dkgEcho,
  dkgFinalize,
  dkgRound1,
  dkgRound2,
  DkgRound2Package,
  type DkgEcho,
  type DkgParams,
  type DkgRound1Package,
  type DkgState,
} from '../../shared/crypto/dkg.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import { externalPublicKey, publicPackageToJSON } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import { logSafe } from '../../shared/protocol/text.js';
import type { GroupRow } from '../store/index.js';
import { shareName } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

export class DkgService extends NodeService {
  private dkgStates = new Map<string, DkgState>();
  private dkgRunning = new Set<string>();

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

  private dkgParams(g: GroupRow, hash: string): DkgParams {
    const members = this.store.members.list(g.id).sort((a, b) => a.index - b.index);
    return {
      scheme: g.scheme,
      threshold: g.threshold,
      members: members.map((m) => ({
        identifier: BigInt(m.index),
        identityKey: hexToBytes(m.identityKey),
      })),
      sessionId: sha256(utf8ToBytes('conclave/dkg-session/v1:' + hash)),
    };
  }

  async runDkg(groupId: string, hash: string): Promise<void> {
    if (this.dkgRunning.has(groupId)) return;
    this.dkgRunning.add(groupId);
    const g = this.store.groups.get(groupId)!;
    const members = this.store.members.list(groupId).sort((a, b) => a.index - b.index);
    const others = members.filter((m) => m.peerId !== this.me.peerId);
    const meIdx = BigInt(members.find((m) => m.peerId === this.me.peerId)!.index);
    this.groups.updateGroup(groupId, { status: 'dkg', rosterHash: hash, updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    this.log(`key generation for ${logSafe(g.name)} started`);
    const deadline = Date.now() + 120_000;
    try {
      const params = this.dkgParams(g, hash);
      const { state, package: pkg } = dkgRound1(params, meIdx);
      this.dkgStates.set(groupId, state);
      const session = state.session;
      this.groups.updateGroup(groupId, { dkgSession: session });
      const sendAll = (step: 'round1' | 'echo', payload: Record<string, unknown>) =>
        Promise.all(
          others.map((m) =>
            this.sendReliably(
              m.peerId,
              { v: 1, type: 'dkg', groupId, session, step, payload },
              deadline - Date.now(),
            ),
          ),
        );
      await sendAll('round1', pkg as unknown as Record<string, unknown>);
      const r1 = await this.inboxes.awaitInbox(groupId, 'round1', others.length, deadline);
      const echo = dkgEcho(state, [...r1.values()] as DkgRound1Package[]);
      await sendAll('echo', echo as unknown as Record<string, unknown>);
      const echoes = await this.inboxes.awaitInbox(groupId, 'echo', others.length, deadline);
      const out = dkgRound2(state, [...echoes.values()] as DkgEcho[]);
      const suite = getSuite(g.scheme);
      await Promise.all(
        out.map((p) => {
          const to = members.find((m) => BigInt(m.index) === p.to)!;
          return this.sendReliably(
            to.peerId,
            { v: 1, type: 'dkg', groupId, session, step: 'round2', payload: p.toWire(suite) },
            deadline - Date.now(),
          );
        }),
      );
      const r2 = await this.inboxes.awaitInbox(groupId, 'round2', others.length, deadline);
      const received = [...r2.values()].map((w) =>
        DkgRound2Package.fromWire(suite, w as Parameters<typeof DkgRound2Package.fromWire>[1]),
      );
      const key = dkgFinalize(state, received);
      await this.vault.put(shareName(groupId, key.share.epoch), key.share.toBytes());
      const pubJson = JSON.stringify(publicPackageToJSON(key.public));
      this.store.tx(() => {
        this.groups.updateGroup(groupId, {
          status: 'ready',
          publicPackage: pubJson,
          epoch: 0,
          updatedAt: Date.now(),
          inviteSecret: undefined,
        });
        this.audit(
          'group.ready',
          { publicKey: bytesToHex(externalPublicKey(key.public)), epoch: 0 },
          groupId,
        );
      });
      this.keys.set(groupId, key);
      this.signing.applyEarlyNonces(groupId);
      // Once: the first member's sync writes the checkpoint before any member's list is read, so
      // every member gets the whole log, checkpoint included (a second call only resent it all).
      this.auditLog.syncAuditWithAll(groupId);
      this.emit({ type: 'group', id: groupId });
      this.log(
        `key generation for ${logSafe(g.name)} done: public key ${bytesToHex(externalPublicKey(key.public))}`,
      );
      for (const m of others)
        if (this.host.isConnected(m.peerId))
          void this.signing.sendNonces(groupId, m.peerId, true).catch(() => undefined);
    } catch (e) {
      // A node that is stopping ends its wait for the others: no failure of the group, and its
      // store may already be closed (a throw here would be an unhandled rejection).
      if (this.stopped) return;
      const msg =
        e instanceof CryptoError && e.culprits.length
          ? `key generation failed (${e.code}): ${e.culprits.map((c) => this.groups.nameOfIdentifier(groupId, c)).join(', ')} misbehaved — ${e.message}`
          : `key generation failed: ${(e as Error).message}`;
      this.groups.failGroup(groupId, msg);
    } finally {
      this.dkgStates.delete(groupId);
      this.inboxes.drop(groupId);
      this.dkgRunning.delete(groupId);
    }
  }

  /** Forgets the round state of a group whose key generation failed. */
  forget(groupId: string): void {
    this.dkgStates.delete(groupId);
  }
}
