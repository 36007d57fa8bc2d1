// Keeping in touch with the other members: reconnection, hello and catch-up on every connection.
import { bytesToHex } from '@noble/hashes/utils.js';
import { isRepairDone, readMetaValue, repairContext, repairDoneKey, short } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

export class SyncService extends NodeService {
  private redial?: NodeJS.Timeout;
  private reconnecting = false;

  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<
      NodeServices,
      'auditLog' | 'ceremony' | 'groups' | 'imports' | 'requests' | 'signing'
    >,
  ) {
    super(ctx);
  }

  private get auditLog() {
    return this.deps.auditLog;
  }
  private get ceremony() {
    return this.deps.ceremony;
  }
  private get groups() {
    return this.deps.groups;
  }
  private get imports() {
    return this.deps.imports;
  }
  private get requests() {
    return this.deps.requests;
  }
  private get signing() {
    return this.deps.signing;
  }

  async reconnect(): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    this.reconnecting = true;
    try {
      const peers = new Map<string, string[]>();
      for (const g of this.store.groups.list()) {
        for (const m of this.store.members.list(g.id))
          if (m.peerId !== this.me.peerId) peers.set(m.peerId, this.allAddrs(m.peerId));
        // Newcomers of pending reshares and repairs: the coordinator must reach them too.
        if (g.status !== 'ready') continue;
        for (const r of this.store.requests.list({
          groupId: g.id,
          statuses: ['pending', 'signing'],
        })) {
          if (r.kind !== 'reshare' && r.kind !== 'repair') continue;
          // A timer: a request whose parameters cannot be read is skipped, never thrown.
          let roster: { peerId: string; addrs: string[] }[] = [];
          try {
            roster = this.ceremony.plannedRoster(g, this.ceremony.ceremonyParams(r));
          } catch {
            continue;
          }
          for (const m of roster)
            if (m.peerId !== this.me.peerId && !peers.has(m.peerId)) peers.set(m.peerId, m.addrs);
        }
      }
      await Promise.all(
        [...peers]
          .filter(([p]) => !this.host.isConnected(p))
          .map(([p, addrs]) => this.host.connect(p, { addrs, timeoutMs: 2500 }).catch(() => false)),
      );
    } finally {
      this.reconnecting = false;
    }
  }

  /** On every (re)connection: tell the peer where we are, and bring it up to date. */
  async onConnect(peer: string): Promise<void> {
    if (!this.groups.isKnownMember(peer)) return;
    this.emit({ type: 'peer', peerId: peer, online: true });
    try {
      // A repaired device first proves it holds the share (to a member that missed it, the only
      // message it will take from this device).
      for (const g of this.groups.sharedGroups(peer)) {
        // Damaged, it reads as none (logged once): the hello and catch-up below still go out.
        const repaired = readMetaValue(this.store, repairDoneKey(g.id), isRepairDone, this.log);
        if (repaired) {
          const { requestId, proof, session } = repaired;
          const done = {
            v: 1,
            type: 'ceremony',
            groupId: g.id,
            requestId,
            // The repair's own session: a member still waiting in it takes the proof there.
            session: session ?? bytesToHex(repairContext(requestId)),
            step: 'done',
            payload: { proof },
          } as const;
          // Not taken (the member was busy, or slow to answer): tried again for a minute in the
          // background, so that one lost answer does not leave the member on the old roster.
          await this.send(peer, done).catch(
            () => void this.sendReliably(peer, done, 60_000).catch(() => undefined),
          );
        }
      }
      await this.send(peer, { v: 1, type: 'hello', addrs: this.host.addrs() });
      for (const g of this.groups.sharedGroups(peer)) {
        try {
          if (g.creatorPeerId === this.me.peerId && g.status !== 'failed')
            await this.send(peer, this.groups.rosterMessage(g.id));
          const result = this.imports.importResult(g);
          if (result) await this.send(peer, result);
          const mine = this.groups.confirmations.get(g.id)?.get(this.me.peerId);
          if (mine && (g.status === 'confirming' || g.status === 'dkg'))
            await this.send(peer, { v: 1, type: 'confirm', groupId: g.id, rosterHash: mine });
          if (g.status !== 'forming')
            void this.auditLog.syncAudit(peer, g.id).catch(() => undefined);
          if (g.status === 'ready') {
            await this.requests.sendStatements(peer, g.id);
            await this.signing.sendNonces(g.id, peer, true);
          }
        } catch (e) {
          // One group's failure (its key package unusable, a refused message) must not keep the
          // peer from the other groups' rosters, results and nonces; a peer gone ends the sync.
          if (!this.host.isConnected(peer)) throw e;
          this.log(`sync of ${short(g.id)} with ${short(peer)} failed: ${(e as Error).message}`);
        }
      }
      for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
        this.requests.evaluate(r.id);
    } catch (e) {
      this.log(`sync with ${short(peer)} failed: ${(e as Error).message}`);
    }
  }

  onDisconnect(peer: string): void {
    // Coordination may move to another approver when this one is gone.
    if (!this.groups.isKnownMember(peer)) return;
    this.emit({ type: 'peer', peerId: peer, online: false });
    for (const r of this.store.requests.list({ statuses: ['pending', 'signing'] }))
      this.requests.evaluate(r.id);
  }

  /** Dials the members now and every 3 s. */
  start(): void {
    const redial = () =>
      void this.reconnect().catch((e) => this.log(`reconnect failed: ${(e as Error).message}`));
    this.redial = setInterval(redial, 3000);
    redial();
  }

  stop(): void {
    clearInterval(this.redial);
  }
}
