// Encrypted share backups: export and restore of this member's share.
import { bytesToHex } from '@noble/hashes/utils.js';
import { ApiError, type BackupExported, type GroupView } from '../../shared/api/index.js';
import { exportBackup, importBackup } from '../../shared/crypto/backup.js';
import { CryptoError } from '../../shared/crypto/errors.js';
import type { PublicKeyPackage } from '../../shared/crypto/keys.js';
import { getSuite } from '../../shared/crypto/suite.js';
import type { GroupRow } from '../store/index.js';
import { nodeScryptSync } from '../vault/scrypt.js';
import { badRowError, groupPackageKey, shareName } from './common.js';
import { type NodeServices, type NodeContext, NodeService } from './context.js';

export class BackupService extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly deps: Pick<NodeServices, 'groups'>,
  ) {
    super(ctx);
  }

  private get groups() {
    return this.deps.groups;
  }

  async exportShareBackup(ref: string, passphrase: string): Promise<BackupExported> {
    const g = this.groups.findGroup(ref);
    if (g.status !== 'ready') throw new ApiError('not_ready', `group ${g.name} has no key yet`);
    const key = await this.keyPackage(g.id);
    const file = exportBackup(
      key,
      {
        memberName: this.me.name,
        memberIdentity: this.me.peerId,
        groupId: g.id,
        groupName: g.name,
      },
      passphrase,
      { scrypt: nodeScryptSync },
    );
    this.audit('backup.exported', { epoch: g.epoch }, g.id);
    return { group: g.id, groupName: g.name, epoch: g.epoch, file };
  }

  async restoreShareBackup(file: string, passphrase: string): Promise<GroupView> {
    let header;
    try {
      header = JSON.parse(file) as { groupId?: unknown };
    } catch {
      throw new ApiError('bad_input', 'this is not a Conclave share backup file');
    }
    const g =
      typeof header?.groupId === 'string' ? this.store.groups.get(header.groupId) : undefined;
    if (!g || g.status !== 'ready' || !g.publicPackage)
      throw new ApiError(
        'not_found',
        'the backup belongs to a group this node is not part of (to rebuild a lost share on a new device, ask the group for a repair)',
      );
    const me = this.store.members.get(g.id, this.me.peerId);
    // Decoded before the file is: a damaged stored package is this node's fault, not the file's.
    const pub = this.groupPackage(g);
    let restored;
    try {
      restored = importBackup(file, passphrase, {
        scrypt: nodeScryptSync,
        expectEpoch: g.epoch,
        expectGroupKey: bytesToHex(getSuite(g.scheme).encodePoint(pub.groupKey)),
      });
    } catch (e) {
      if (e instanceof CryptoError) {
        const words: Record<string, string> = {
          wrong_passphrase: 'wrong passphrase, or the file was modified',
          backup_tampered: 'the backup file was modified; it cannot be trusted',
          stale_backup: `this backup is out of date: ${e.message.replace(/^stale_backup: /, '')}. A refresh replaced that share; it no longer works`,
          key_mismatch: 'the backup belongs to another key',
          epoch_mismatch: e.message.replace(/^epoch_mismatch: /, ''),
        };
        throw new ApiError('bad_input', words[e.code] ?? e.message);
      }
      throw e;
    }
    if (!me || restored.key.share.identifier !== BigInt(me.index))
      throw new ApiError('conflict', "the backup is another member's share");
    await this.vault.put(shareName(g.id, g.epoch), restored.key.share.toBytes());
    this.keys.delete(g.id);
    this.audit('backup.restored', { epoch: g.epoch }, g.id);
    return this.groups.groupView(g);
  }

  /** The group's stored public key package, or a typed error naming it when it does not decode. */
  private groupPackage(g: GroupRow): PublicKeyPackage {
    const pub = this.publicPackage(g.id);
    if (!pub) throw badRowError(groupPackageKey(g.id), 'a key package');
    return pub;
  }
}
