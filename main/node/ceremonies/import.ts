// Import of an existing key: the importer splits it and deals the shares; members hold them until
// told to use them.
import { readFile, stat } from 'node:fs/promises';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ApiError } from '../../../shared/api/index.js';
import { scalarFromExistingKey, splitExistingKey } from '../../../shared/crypto/dealer.js';
import {
  assertShareMatches,
  externalPublicKey,
  publicPackageFromJSON,
  publicPackageToJSON,
  SecretShare,
  type KeyPackage,
} from '../../../shared/crypto/keys.js';
import { looksLikeKeyFile, parsePrivateKeyFile } from '../../../shared/crypto/key-files.js';
import { getSuite, type SchemeName } from '../../../shared/crypto/suite.js';
import type { GroupMessage } from '../../../shared/protocol/wire.js';
import { NetError } from '../../net/index.js';
import type { GroupRow } from '../../store/index.js';
import { DroppedMessage, isImportRecord, readMetaValue, shareName } from '../common.js';
import { type NodeServices, type NodeContext, NodeService } from '../context.js';
import { crashPoint } from '../crash.js';

/** How long the importer keeps sending its result to a member that has not taken it. */
export const IMPORT_RESULT_RETRY_MS = 120_000;

export class ImportService extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'auditLog' | 'groups' | 'signing'>,
  ) {
    super(ctx);
  }

  private get auditLog() {
    return this.deps.auditLog;
  }
  private get groups() {
    return this.deps.groups;
  }
  private get signing() {
    return this.deps.signing;
  }

  async importGroup(input: {
    name: string;
    threshold: number;
    size: number;
    scheme: SchemeName;
    keyFile: string;
  }) {
    const key = await readKeyFile(input.keyFile, input.scheme);
    let publicKey: string;
    try {
      const suite = getSuite(input.scheme);
      publicKey = bytesToHex(
        suite.encodePoint(suite.G.multiply(scalarFromExistingKey(input.scheme, key))),
      );
    } catch (e) {
      throw new ApiError(
        'bad_input',
        `keyFile: not a ${input.scheme} private key (${(e as Error).message})`,
      );
    } finally {
      key.fill(0);
    }
    const created = this.groups.createGroup(input, { publicKey, keyFile: input.keyFile });
    return {
      ...created,
      warning: `After every member confirmed and the group is ready, destroy ${input.keyFile} and every other copy of the original key: whoever holds it can sign without the group.`,
    };
  }

  /** Importer: split the key and send each member its share over its authenticated channel. */
  async distributeImport(groupId: string): Promise<void> {
    const g = this.store.groups.get(groupId)!;
    // Read before the status changes, checked inside the try: a damaged record fails the group
    // with a reason (this runs unawaited, so a throw here would be an unhandled rejection).
    const meta = readMetaValue(this.store, `import:${groupId}`, isImportRecord, this.log);
    this.groups.updateGroup(groupId, { status: 'dkg', updatedAt: Date.now() });
    this.emit({ type: 'group', id: groupId });
    try {
      if (!meta) throw new Error(`the stored import:${groupId} record is missing or unreadable`);
      if (!meta.keyFile) throw new Error('the key file path is not known to this node');
      const key = await readKeyFile(meta.keyFile, g.scheme);
      let keys: KeyPackage[];
      try {
        keys = splitExistingKey(g.scheme, key, g.threshold, g.size);
      } finally {
        key.fill(0);
      }
      const pub = keys[0].public;
      if (bytesToHex(getSuite(g.scheme).encodePoint(pub.groupKey)) !== meta.publicKey)
        throw new Error(`${meta.keyFile} no longer holds the key the group was created for`);
      const suite = getSuite(g.scheme);
      const pubJson = publicPackageToJSON(pub);
      const members = this.store.members.list(groupId);
      const deadline = Date.now() + this.ceremonyTimeoutMs;
      // Every member must hold its share before anyone uses the group: a member that does not
      // answer in time ends the import for all (they drop what they hold).
      const unreached: string[] = [];
      await Promise.all(
        members
          .filter((m) => m.peerId !== this.me.peerId)
          .map(async (m) => {
            const k = keys.find((x) => x.share.identifier === BigInt(m.index))!;
            try {
              await this.sendReliably(
                m.peerId,
                {
                  v: 1,
                  type: 'import-share',
                  groupId,
                  publicPackage: pubJson as unknown as Record<string, unknown>,
                  share: bytesToHex(suite.encodeScalar(k.share.scalar())),
                },
                deadline - Date.now(),
              );
            } catch (e) {
              const why =
                e instanceof NetError && e.code === 'unreachable'
                  ? 'offline'
                  : e instanceof NetError && e.code === 'timeout'
                    ? 'no answer'
                    : (e as Error).message;
              unreached.push(`${m.name} (${why})`);
            }
          }),
      );
      if (unreached.length) {
        for (const k of keys) k.share.wipe();
        throw new Error(
          `${unreached.join(', ')} did not take ${unreached.length > 1 ? 'their shares' : 'its share'} in time; every member drops the share it received. Bring everyone online and import the key again with a new invite`,
        );
      }
      const mine = keys.find(
        (x) =>
          x.share.identifier === BigInt(this.store.members.get(groupId, this.me.peerId)!.index),
      )!;
      await this.becomeReady(groupId, mine, true);
      // Not this node's own: becomeReady cached it as the group's key package (wiping it left the
      // importer unable to sign, and every sync of its after that group failed on its nonces).
      for (const k of keys) if (k !== mine) k.share.wipe();
      this.store.meta.set(`import:${groupId}`, JSON.stringify({ publicKey: meta.publicKey }));
      this.audit(
        'group.imported',
        { publicKey: meta.publicKey, notice: 'the original key must be destroyed' },
        groupId,
      );
      this.announceResult(groupId, { v: 1, type: 'import-result', groupId, ok: true });
    } catch (e) {
      const reason = `import failed: ${(e as Error).message}`;
      this.groups.failGroup(groupId, reason);
      this.announceResult(groupId, { v: 1, type: 'import-result', groupId, ok: false, reason });
    }
  }

  /**
   * Tells every member how the import ended, retried for two minutes also to members not connected
   * now: a member that stopped while storing its share and comes back after the importer gave up
   * has only this word to drop it (broadcast's 5 s for an unconnected member was over long before
   * its restart, and the push when it reconnects is one attempt among the other groups' syncs).
   */
  announceResult(groupId: string, msg: GroupMessage): void {
    this.broadcast(groupId, msg, IMPORT_RESULT_RETRY_MS);
  }

  /** The importer's result message for a member (sent again whenever the member reconnects). */
  importResult(g: GroupRow): GroupMessage | undefined {
    if (g.creatorPeerId !== this.me.peerId || !this.groups.importedKey(g.id)) return undefined;
    if (g.status === 'ready') return { v: 1, type: 'import-result', groupId: g.id, ok: true };
    if (g.status === 'failed')
      return {
        v: 1,
        type: 'import-result',
        groupId: g.id,
        ok: false,
        reason: (g.error ?? 'import failed').slice(0, 500),
      };
    return undefined;
  }

  /** Member: the importer says whether every member holds its share (use it) or not (drop it). */
  async onImportResult(
    from: string,
    msg: Extract<GroupMessage, { type: 'import-result' }>,
  ): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.creatorPeerId !== from) throw new DroppedMessage('not_creator');
    if (!this.groups.importedKey(g.id)) throw new DroppedMessage('not_an_import');
    const held = this.store.meta.get(`import-held:${g.id}`);
    if (msg.ok) {
      if (g.status === 'ready') return { ok: true };
      if (!held) throw new DroppedMessage('wrong_state');
      const bytes = await this.vault.get(shareName(g.id, 0));
      if (!bytes) {
        this.groups.failGroup(g.id, 'the imported share is missing from the vault');
        return { ok: true };
      }
      const me = this.store.members.get(g.id, this.me.peerId)!;
      let pub: KeyPackage['public'];
      try {
        pub = publicPackageFromJSON(JSON.parse(held));
      } catch {
        // A damaged stored package fails the group with a reason, like a missing share.
        bytes.fill(0);
        this.groups.failGroup(g.id, `the stored import-held:${g.id} package is unreadable`);
        return { ok: true };
      }
      const key: KeyPackage = {
        public: pub,
        share: SecretShare.fromBytes(g.scheme, BigInt(me.index), bytes, 0),
      };
      bytes.fill(0);
      await this.becomeReady(g.id, key, true);
      this.store.meta.set(`import-held:${g.id}`, '');
      return { ok: true };
    }
    if (g.status === 'ready' || g.status === 'failed') return { ok: true };
    if (held) await this.vault.delete(shareName(g.id, 0)).catch(() => undefined);
    this.store.meta.set(`import-held:${g.id}`, '');
    this.groups.failGroup(g.id, msg.reason ?? 'import failed');
    return { ok: true };
  }

  /** Member: accept the importer's share after checking it against the package and the announced key. */
  async onImportShare(
    from: string,
    msg: Extract<GroupMessage, { type: 'import-share' }>,
  ): Promise<unknown> {
    const g = this.store.groups.get(msg.groupId);
    if (!g || g.creatorPeerId !== from) throw new DroppedMessage('not_creator');
    const announced = this.groups.importedKey(g.id);
    if (!announced) throw new DroppedMessage('not_an_import');
    if (g.status === 'ready' || this.store.meta.get(`import-held:${g.id}`)) return { ok: true };
    if (g.status !== 'dkg' && g.status !== 'confirming') throw new DroppedMessage('wrong_state');
    // Test-only: this member goes away as its share arrives.
    if (this.fault === 'exit-mid-ceremony') process.exit(3);
    crashPoint('import-mid');
    let key: KeyPackage;
    try {
      const pub = publicPackageFromJSON(msg.publicPackage as never);
      const me = this.store.members.get(g.id, this.me.peerId)!;
      if (
        pub.scheme !== g.scheme ||
        pub.threshold !== g.threshold ||
        pub.verifyingShares.size !== g.size
      )
        throw new Error('the key package does not match the group');
      if (bytesToHex(getSuite(g.scheme).encodePoint(pub.groupKey)) !== announced)
        throw new Error('the key differs from the one announced in the invite');
      key = {
        public: pub,
        share: SecretShare.fromBytes(g.scheme, BigInt(me.index), hexToBytes(msg.share), 0),
      };
      assertShareMatches(pub, key.share);
    } catch (e) {
      this.groups.failGroup(g.id, `the importer sent an invalid share: ${(e as Error).message}`);
      throw new DroppedMessage('bad_share');
    }
    // Held, not used: the group is ready only when the importer says every member holds one.
    await this.vault.put(shareName(g.id, 0), key.share.toBytes());
    key.share.wipe();
    this.store.tx(() => {
      this.store.meta.set(`import-held:${g.id}`, JSON.stringify(publicPackageToJSON(key.public)));
      this.groups.updateGroup(g.id, { status: 'dkg', updatedAt: Date.now() });
    });
    crashPoint('import-committed');
    this.emit({ type: 'group', id: g.id });
    return { ok: true };
  }

  private async becomeReady(groupId: string, key: KeyPackage, imported: boolean): Promise<void> {
    await this.vault.put(shareName(groupId, key.share.epoch), key.share.toBytes());
    const pubJson = JSON.stringify(publicPackageToJSON(key.public));
    this.store.tx(() => {
      this.groups.updateGroup(groupId, {
        status: 'ready',
        publicPackage: pubJson,
        epoch: key.share.epoch,
        updatedAt: Date.now(),
        inviteSecret: undefined,
      });
      this.audit(
        'group.ready',
        { publicKey: bytesToHex(externalPublicKey(key.public)), epoch: key.share.epoch, imported },
        groupId,
      );
    });
    this.keys.set(groupId, key);
    this.signing.applyEarlyNonces(groupId);
    this.auditLog.syncAuditWithAll(groupId);
    this.emit({ type: 'group', id: groupId });
    for (const m of this.store.members.list(groupId))
      if (m.peerId !== this.me.peerId && this.host.isConnected(m.peerId))
        void this.signing.sendNonces(groupId, m.peerId, true).catch(() => undefined);
  }
}

/**
 * Reads a 32-byte private key: an OpenSSH or PKCS#8 PEM Ed25519 private key file (for ed25519
 * groups), a file of 64 hex characters (whitespace ignored) or 32 raw bytes.
 */
export async function readKeyFile(path: string, scheme: SchemeName): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile() || info.size > 16384) throw new Error('not a small regular file');
    raw = await readFile(path);
  } catch (e) {
    throw new ApiError(
      'bad_input',
      `keyFile: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  try {
    const utf8 = raw.toString('utf8');
    if (looksLikeKeyFile(utf8)) {
      let parsed;
      try {
        parsed = parsePrivateKeyFile(utf8);
      } catch (e) {
        throw new ApiError(
          'bad_input',
          `keyFile: ${path}: ${(e as Error).message.replace(/^bad_input: /, '')}`,
        );
      }
      if (scheme !== 'ed25519') {
        parsed.seed.fill(0);
        throw new ApiError(
          'bad_input',
          `keyFile: ${path} holds an Ed25519 key (${parsed.format}); choose the ed25519 scheme to import it`,
        );
      }
      return parsed.seed;
    }
    const text = utf8.replace(/\s+/g, '').replace(/^0x/i, '');
    if (/^[0-9a-fA-F]{64}$/.test(text)) return hexToBytes(text.toLowerCase());
    if (raw.length === 32) return new Uint8Array(raw);
    throw new ApiError(
      'bad_input',
      `keyFile: ${path} is not a key this import reads (${raw.length} bytes); give an OpenSSH or PKCS#8 PEM Ed25519 private key file, 64 hex characters or 32 raw bytes`,
    );
  } finally {
    raw.fill(0);
  }
}
