// The importer's side of an import: after splitting the key and dealing the shares it keeps its
// own share usable as the group's key package (it once wiped it right after caching it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { ImportService } from '../../main/node/ceremonies/import.js';
import type { NodeServices } from '../../main/node/context.js';
import type { GroupRow } from '../../main/store/index.js';
import { harness, peer, readyGroup } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'conclave-import-distribute-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('distributing an imported key', () => {
  it("keeps the importer's own share usable as the group's key package", async () => {
    const [ann, ben, cal] = await Promise.all(['ann', 'ben', 'cal'].map((n) => peer(n)));
    const { store, ctx, sent } = harness(ann!, { secrets: new Map() });
    const groupId = readyGroup(store, [ann!, ben!, cal!], 2);
    store.groups.update(groupId, { status: 'confirming' });
    const seed = randomBytes(32);
    const keyFile = join(dir, 'seed.key');
    writeFileSync(keyFile, bytesToHex(seed) + '\n', { mode: 0o600 });
    const publicKey = bytesToHex(ed25519.getPublicKey(seed));
    store.meta.set(`import:${groupId}`, JSON.stringify({ publicKey, keyFile }));
    const groups = {
      updateGroup: (id: string, patch: Partial<GroupRow>) => store.groups.update(id, patch),
      failGroup: (id: string, error: string) => {
        throw new Error(`the import failed: ${error}`);
      },
      importedKey: () => publicKey,
    };
    const deps = {
      groups,
      signing: { applyEarlyNonces: () => undefined },
      auditLog: { syncAuditWithAll: () => undefined },
    } as unknown as NodeServices;
    await new ImportService(ctx, deps).distributeImport(groupId);

    expect(store.groups.get(groupId)!.status).toBe('ready');
    const key = ctx.keys.get(groupId)!;
    // A wiped share throws here ("share was wiped"): no nonce, no signature share.
    expect(key.share.scalar()).not.toBe(0n);
    expect(sent.filter((s) => s.msg.type === 'import-share').map((s) => s.peer)).toEqual(
      expect.arrayContaining([ben!.peerId, cal!.peerId]),
    );
  });
});
