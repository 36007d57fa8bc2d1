// The custodian node: composes the services (groups, dkg, requests, signing, ceremonies, audit,
// sync, backup) around one shared context, and implements the API contract.
import type { Api, ApiEvent, Settings } from '../../shared/api/index.js';
import type { GroupPolicy } from '../../shared/policy/policy.js';
import { fingerprint } from '../../shared/protocol/roster.js';
import {
  decodeGroupMessage,
  LIMITS,
  PROTOCOL,
  ProtocolError,
  type GroupMessage,
  type RosterMessage,
} from '../../shared/protocol/wire.js';
import type { HandlerContext, Host, PeerPolicy } from '../net/index.js';
import type { Store } from '../store/index.js';
import type { Vault } from '../vault/index.js';
import { AuditService } from './audit.js';
import { BackupService } from './backup.js';
import { CeremonyService } from './ceremonies/ceremony.js';
import { ImportService } from './ceremonies/import.js';
import { ReconstructService } from './ceremonies/reconstruct.js';
import { RefreshReshareService } from './ceremonies/refresh-reshare.js';
import { RepairService } from './ceremonies/repair.js';
import { SettleService } from './ceremonies/settle.js';
import { DroppedMessage, readRelays, short, type SignMessage } from './common.js';
import { type Identity, type CustodianOptions, type NodeServices, NodeContext } from './context.js';
import { DkgService } from './dkg.js';
import { GroupsService } from './groups.js';
import { Inboxes } from './inbox.js';
import { RequestsService } from './requests.js';
import { UsesService } from './uses.js';
import { EcdhService } from './ecdh.js';
import { SigningService } from './signing.js';
import { SyncService } from './sync.js';

export class Custodian {
  readonly store: Store;
  readonly vault: Vault;
  readonly host: Host;
  readonly me: Identity;
  private readonly ctx: NodeContext;
  private readonly groups: GroupsService;
  private readonly dkg: DkgService;
  private readonly inboxes: Inboxes;
  private readonly requests: RequestsService;
  private readonly uses: UsesService;
  private readonly ecdh: EcdhService;
  private readonly signing: SigningService;
  private readonly auditLog: AuditService;
  private readonly sync: SyncService;
  private readonly backup: BackupService;
  private readonly ceremony: CeremonyService;
  private readonly reshare: RefreshReshareService;
  private readonly repair: RepairService;
  private readonly reconstruct: ReconstructService;
  private readonly imports: ImportService;
  private readonly settle: SettleService;
  /** The stored relays this node started with (settings changes apply at the next start). */
  private readonly startedRelays: string[];
  private unsubscribe: (() => void)[] = [];

  constructor(opts: CustodianOptions) {
    // Every service's log line goes through one escaper: a name or reason from the network that
    // slipped into a line unquoted still cannot forge another line or reorder this one.
    const ctx = (this.ctx = new NodeContext({ ...opts, log: escapingLog(opts.log) }));
    this.store = ctx.store;
    this.vault = ctx.vault;
    this.host = ctx.host;
    this.me = ctx.me;
    this.startedRelays = readRelays(this.store, ctx.log);
    // The services call each other through this registry, filled before any of them runs.
    const s = {} as NodeServices;
    this.groups = s.groups = new GroupsService(ctx, s);
    this.dkg = s.dkg = new DkgService(ctx, s);
    this.inboxes = s.inboxes = new Inboxes(ctx);
    this.requests = s.requests = new RequestsService(ctx, s);
    this.uses = new UsesService(ctx, this.requests, s.groups);
    // Threshold ECDH (age, NIP-44): the requester gathers the partials; its result only reaches
    // this node's own API client through request.result.
    this.ecdh = new EcdhService(ctx, s);
    this.requests.startEcdh = (id) => void this.ecdh.coordinate(id);
    this.uses.ecdhResult = (id) => this.ecdh.resultOf(id);
    this.signing = s.signing = new SigningService(ctx, s);
    this.auditLog = s.auditLog = new AuditService(ctx, s);
    this.sync = s.sync = new SyncService(ctx, s);
    this.backup = s.backup = new BackupService(ctx, s);
    this.ceremony = s.ceremony = new CeremonyService(ctx, s);
    this.reshare = s.reshare = new RefreshReshareService(ctx, s);
    this.repair = s.repair = new RepairService(ctx, s);
    this.reconstruct = s.reconstruct = new ReconstructService(ctx, s);
    this.imports = s.imports = new ImportService(ctx, s);
    this.settle = s.settle = new SettleService(ctx, s);
  }

  /** Subscribes to change events for clients (UI); returns the unsubscribe function. */
  onEvent(cb: (e: ApiEvent) => void): () => void {
    return this.ctx.onEvent(cb);
  }

  /** The policy in force for a group (the default until a policy request changed it). */
  policyOf(groupId: string): GroupPolicy {
    return this.requests.policyOf(groupId);
  }

  async start(): Promise<void> {
    // A new share that was still being stored when the node stopped: "done" was never sent, so
    // nobody can have switched to it.
    for (const g of this.store.groups.list()) {
      const p = this.settle.pendingCeremony(g.id);
      if (p?.stage === 'writing')
        await this.settle.rollbackCeremony(
          g.id,
          p,
          'this node stopped while storing its new share',
        );
    }
    // A refresh, reshare or repair this node was in the middle of (its state was in memory): it
    // cannot go on, and the others cannot finish without it. It is over here; the group proposes
    // it again (a repair whose new device proves it holds the share still ends done: repair.ts).
    for (const r of this.store.requests.list({ statuses: ['signing'] })) {
      if (r.kind !== 'refresh' && r.kind !== 'reshare' && r.kind !== 'repair') continue;
      if (this.settle.pendingCeremony(r.groupId)?.requestId === r.id) continue;
      const epoch = this.store.groups.get(r.groupId)?.epoch ?? 0;
      this.requests.finish(
        r.id,
        {
          status: 'failed',
          // Each kind's failures end the way its own do (repair.ts: the group is unchanged).
          failure:
            r.kind === 'repair'
              ? 'repair failed: this node stopped in the middle of it; it can be proposed again'
              : `${r.kind} failed: this node stopped in the middle of it; the group stays at epoch ${epoch} and a new ${r.kind} can be proposed`,
        },
        'request.failed',
        { id: r.id, failure: 'this node stopped in the middle of it' },
      );
    }
    await this.host.handle(PROTOCOL.join, (from, msg, net) => this.groups.onJoin(from, msg, net), {
      allow: () => true, // newcomers are not members yet; the invite token is checked instead
      maxBytes: LIMITS.join,
      runOnLimitedConnection: true,
    });
    await this.host.handle(
      PROTOCOL.group,
      (from, msg, net) =>
        this.countDrops(from, () => this.onGroupMessage(from, msg, net)).then((answer) =>
          this.ctx.tamper.answer(from, msg, answer),
        ),
      {
        // The membership index answers the first two; the store is read for the rest only.
        allow: (peer) =>
          this.groups.isKnownMember(peer) ||
          this.groups.isFormerMemberOfAny(peer) ||
          this.repair.isAwaitedNewcomer(peer),
        maxBytes: LIMITS.group,
        runOnLimitedConnection: true,
      },
    );
    // Members keep their connection slots; everyone else is an outsider, capped and short-lived.
    this.host.setPeerPolicy(this.peerPolicy);
    this.unsubscribe.push(
      this.ctx.onEvent((e) => {
        if (e.type !== 'peer') this.reviewPeers();
      }),
    );
    this.unsubscribe.push(this.host.onPeerConnect((peer) => void this.sync.onConnect(peer)));
    this.unsubscribe.push(this.host.onPeerDisconnect((peer) => this.sync.onDisconnect(peer)));
    this.unsubscribe.push(
      this.host.onPeerDiscovered((peer, addrs) => {
        if (this.groups.isKnownMember(peer))
          void this.host.addAddresses(peer, addrs).then(() => this.host.connect(peer));
      }),
    );
    // Remember every member's last known addresses so the host can dial them.
    for (const g of this.store.groups.list())
      for (const m of this.store.members.list(g.id))
        if (m.peerId !== this.me.peerId && m.addrs.length)
          await this.host.addAddresses(m.peerId, m.addrs);
    this.requests.start();
    this.sync.start();
    this.ctx.startSweeping();
    for (const g of this.store.groups.list()) {
      if (g.status === 'dkg' && this.store.meta.get(`import-held:${g.id}`)) {
        // An imported share held for the importer's word: it comes when the importer reconnects.
      } else if ((g.status === 'dkg' || g.status === 'failed') && !this.groups.importedKey(g.id)) {
        // A key generation cut short by this node's restart: the same run or a new one (dkg.ts).
        this.dkg.resume(g.id);
      } else if (g.status === 'dkg') {
        // An importer's split is memory only: a restarted importer cannot resume it.
        this.groups.failGroup(
          g.id,
          'the node restarted during key generation; create the group again',
        );
        const result = this.imports.importResult(this.store.groups.get(g.id)!);
        // Retried beyond broadcast's 5 s: at start-up no member is connected yet.
        if (result) this.imports.announceResult(g.id, result);
      }
      // A refresh or reshare this node did its part of before it stopped: learn how it ended.
      if (this.settle.pendingCeremony(g.id)) void this.settle.settleCeremony(g.id, Date.now());
    }
  }

  async stop(): Promise<void> {
    this.ctx.stopped = true;
    this.requests.stop();
    this.sync.stop();
    this.ctx.stopSweeping();
    for (const u of this.unsubscribe) u();
    for (const ws of this.ctx.waiters.values()) for (const w of ws) w();
    this.ctx.keys.clear();
    this.signing.myNonces.clear();
    this.ecdh.clear();
  }

  /**
   * Who the host treats as a member, as the store says at each decision (the membership index,
   * read again after any write to the membership: membership.ts): a member of any group
   * this node is in (forming groups included), a newcomer named by a pending reshare or repair, a
   * newcomer that joined with one of this node's invites and waits to be added, and the new device
   * of a repair this node awaits. Everyone else may connect only briefly and a few at a time.
   */
  private readonly peerPolicy: PeerPolicy = {
    isMember: (peer) =>
      this.groups.isKnownMember(peer) ||
      this.groups.isCandidate(peer) ||
      this.repair.isAwaitedNewcomer(peer),
  };
  private reviewScheduled = false;

  /**
   * Membership may have changed (a join, a roster, a reshare or repair switching the roster, a
   * removal, a request naming a newcomer): re-classify the open connections, once per tick.
   */
  private reviewPeers(): void {
    if (this.reviewScheduled || this.ctx.stopped) return;
    this.reviewScheduled = true;
    setImmediate(() => {
      this.reviewScheduled = false;
      if (!this.ctx.stopped) this.host.setPeerPolicy(this.peerPolicy);
    });
  }

  /** Counts and logs (rate limited) a message a service refused, naming the sender's peer id. */
  private async countDrops<T>(from: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DroppedMessage) this.ctx.count(e.reason, `from ${short(from)}`);
      throw e;
    }
  }

  private async onGroupMessage(from: string, raw: unknown, net: HandlerContext): Promise<unknown> {
    let msg: GroupMessage | SignMessage;
    try {
      msg = decodeGroupMessage(raw);
    } catch (e) {
      if (e instanceof ProtocolError) throw new DroppedMessage(e.code);
      throw e;
    }
    // Non-members may only ask how a ceremony ended, or prove a repair finished.
    if (
      !this.groups.isKnownMember(from) &&
      !(msg.type === 'ceremony' && (msg.step === 'status' || msg.step === 'done'))
    )
      throw new DroppedMessage('non_member');
    switch (msg.type) {
      case 'hello': {
        // Only what this connection vouches for: a member cannot make us dial third parties.
        const addrs = this.groups.vouchedAddrs(from, msg.addrs, net.remoteAddr);
        if (addrs.length === 0) return { ok: true };
        for (const g of this.groups.sharedGroups(from))
          this.groups.updateMember(g.id, from, { addrs });
        await this.host.addAddresses(from, addrs);
        return { ok: true };
      }
      case 'roster':
        if (
          !this.store.groups.get(msg.groupId) ||
          this.store.groups.get(msg.groupId)!.creatorPeerId !== from
        )
          throw new DroppedMessage('not_creator');
        this.store.tx(() => this.groups.applyRoster(msg as RosterMessage));
        return { ok: true };
      case 'confirm': {
        if (!this.ctx.memberByPeer(msg.groupId, from)) throw new DroppedMessage('non_member');
        this.groups.noteConfirmation(msg.groupId, from, msg.rosterHash);
        this.ctx.emit({ type: 'group', id: msg.groupId });
        this.groups.maybeStartDkg(msg.groupId);
        return { ok: true };
      }
      case 'dkg':
        return this.dkg.onMessage(from, msg);
      case 'statements':
        this.requests.acceptStatements(from, msg.items);
        return { ok: true };
      case 'audit':
        this.auditLog.acceptAudit(from, msg);
        return { ok: true };
      case 'audit-heads':
        return this.auditLog.auditHeads(from, msg);
      case 'audit-want':
        return this.auditLog.onAuditWant(from, msg);
      case 'nonces':
        this.signing.acceptNonces(from, msg);
        return { ok: true };
      case 'sign':
        return this.signing.onSign(from, msg as SignMessage);
      case 'ecdh':
        return this.ecdh.onEcdh(from, msg);
      case 'ceremony':
        return this.ceremony.onCeremony(from, msg);
      case 'import-share':
        return this.imports.onImportShare(from, msg);
      case 'import-result':
        return this.imports.onImportResult(from, msg);
    }
  }

  settings(): Settings {
    const relays = readRelays(this.store, this.ctx.log);
    return {
      name: this.me.name,
      relays,
      notifications: this.store.meta.get('notifications') !== '0',
      restartNeeded: JSON.stringify(relays) !== JSON.stringify(this.startedRelays),
    };
  }

  updateSettings(input: { name?: string; relays?: string[]; notifications?: boolean }): Settings {
    this.store.tx(() => {
      if (input.name !== undefined && input.name !== this.me.name) {
        this.store.meta.set('name', input.name);
        this.ctx.audit('identity.renamed', { from: this.me.name, to: input.name });
        this.me.name = input.name;
      }
      if (input.relays !== undefined) this.store.meta.set('relays', JSON.stringify(input.relays));
      if (input.notifications !== undefined)
        this.store.meta.set('notifications', input.notifications ? '1' : '0');
    });
    return this.settings();
  }

  /** The API contract served to the CLI, the UI and browser mode (entry points add the rest). */
  api(): Omit<
    Api,
    'identity.init' | 'vault.unlock' | 'sandbox.start' | 'sandbox.members' | 'sandbox.decide'
  > {
    const status = () => {
      const pending = this.store.requests.list({ statuses: ['pending', 'signing'] }).length;
      return {
        peerId: this.me.peerId,
        name: this.me.name,
        fingerprint: fingerprint(this.me.publicKey),
        addrs: this.host.addrs(),
        vault: this.vault.kind,
        groups: this.store.groups.list().length,
        pendingRequests: pending,
        dropped: { ...this.host.stats().dropped, ...this.ctx.dropped },
        connections: this.host.stats().connections,
        buffers: this.ctx.bufferSizes(),
        version: 1,
      };
    };
    return {
      'node.status': async () => status(),
      'settings.get': async () => this.settings(),
      'settings.update': async (i) => this.updateSettings(i),
      'group.create': async (i) => this.groups.createGroup(i),
      'group.join': async (i) => this.groups.joinGroup(i.invite),
      'group.import': async (i) => this.imports.importGroup(i),
      'group.invite': async (i) => this.groups.inviteNewcomer(i.group),
      'group.leave': async (i) => this.groups.leaveGroup(i.group),
      'request.reshare': async (i) => this.reshare.createReshareRequest(i),
      'request.repair': async (i) => this.repair.createRepairRequest(i),
      'group.list': async () => this.store.groups.list().map((g) => this.groups.groupView(g)),
      'group.show': async (i) => this.groups.groupView(this.groups.findGroup(i.group)),
      'group.confirm': async (i) => this.groups.confirmGroup(i.group),
      'request.sign': async (i) => this.requests.createSignRequest(i),
      'request.create': async (i) => this.uses.createUseRequest(i),
      'request.result': async (i) => this.uses.requestResult(i.id),
      'request.refresh': async (i) => this.reshare.createRefreshRequest(i),
      'group.policy': async (i) => this.requests.policyView(i.group),
      'request.reconstruct': async (i) => this.reconstruct.createReconstructRequest(i),
      'request.policy': async (i) => this.requests.createPolicyRequest(i),
      'request.list': async (i) => {
        const groupId = i.group ? this.groups.findGroup(i.group).id : undefined;
        for (const r of this.store.requests.list({ groupId, statuses: ['pending', 'signing'] }))
          this.requests.refreshStatus(r.id);
        const rows = this.store.requests.list({
          groupId,
          statuses: i.pending ? ['pending', 'signing'] : undefined,
        });
        return rows.map((r) => this.requests.requestView(r));
      },
      'request.show': async (i) => {
        this.requests.refreshStatus(this.requests.getRequest(i.id).id);
        return this.requests.requestView(this.store.requests.get(i.id)!);
      },
      'request.approve': (i) => this.requests.decideThenAnswer(i.id, 'approve'),
      'request.deny': (i) => this.requests.decideThenAnswer(i.id, 'deny', i.reason),
      'request.wait': async (i) => this.requests.waitRequest(i.id, i.timeoutSec),
      'audit.list': async (i) => this.auditLog.auditList(i),
      'audit.verify': async () => this.auditLog.auditVerify(),
      'backup.export': async (i) => this.backup.exportShareBackup(i.group, i.passphrase),
      'backup.restore': async (i) => this.backup.restoreShareBackup(i.file, i.passphrase),
    };
  }
}

/** Characters a log line must not carry raw: as logSafe escapes, minus the quotes. */
const UNSAFE_IN_LINE =
  /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u{115F}\u{1160}\u{2800}\u{3164}\u{FFA0}]|(?! )\p{Zs}/gu;

/** `log` with line breaks, bidi overrides, invisible and other unsafe characters shown as \u{…}. */
export function escapingLog(log: (line: string) => void): (line: string) => void {
  return (line) =>
    log(
      String(line).replace(UNSAFE_IN_LINE, (ch) => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`),
    );
}

export {
  CUSTODIAN_FAULTS,
  type CustodianFault,
  type CustodianOptions,
  type Identity,
} from './context.js';
export { DroppedMessage, printableText, shareName } from './common.js';
