// Catching a peer up on connection goes group by group: one group's failure (here its nonces)
// must not keep the peer from the next group's news (here an import's result).
import { describe, expect, it } from 'vitest';
import { NodeContext, type NodeServices } from '../../main/node/context.js';
import { SyncService } from '../../main/node/sync.js';
import type { Host } from '../../main/net/index.js';
import { openStore, type GroupRow } from '../../main/store/index.js';
import type { Vault } from '../../main/vault/index.js';
import { peer } from './fixtures.js';

describe('sync on connection', () => {
  it("sends a later group's import result although an earlier group's nonces failed", async () => {
    const [ann, ben] = await Promise.all(['ann', 'ben'].map((n) => peer(n)));
    const store = openStore(':memory:');
    const sent: { to: string; type: unknown; groupId: unknown }[] = [];
    const host = {
      addrs: () => ['/ip4/127.0.0.1/tcp/1'],
      isConnected: () => true,
      request: async (to: string, _protocol: string, msg: Record<string, unknown>) => {
        sent.push({ to, type: msg.type, groupId: msg.groupId });
        return { ok: true };
      },
    } as unknown as Host;
    const logs: string[] = [];
    const ctx = new NodeContext({
      store,
      vault: {} as Vault,
      host,
      identity: ann!,
      log: (l) => logs.push(l),
    });
    const group = (id: string, status: GroupRow['status']) =>
      ({ id, status, creatorPeerId: ben!.peerId }) as GroupRow;
    const [first, second] = [group('aa'.repeat(16), 'ready'), group('bb'.repeat(16), 'failed')];
    const result = { v: 1, type: 'import-result', groupId: second.id, ok: false, reason: 'x' };
    const deps = {
      groups: {
        isKnownMember: () => true,
        sharedGroups: () => [first, second],
        confirmations: new Map(),
      },
      imports: { importResult: (g: GroupRow) => (g.id === second.id ? result : undefined) },
      auditLog: { syncAudit: async () => undefined },
      requests: { sendStatements: async () => undefined, evaluate: () => undefined },
      signing: {
        sendNonces: async () => {
          throw new Error('bad_input: share was wiped');
        },
      },
      ceremony: {},
    } as unknown as NodeServices;
    await new SyncService(ctx, deps).onConnect(ben!.peerId);
    expect(sent.filter((s) => s.type === 'import-result')).toEqual([
      { to: ben!.peerId, type: 'import-result', groupId: second.id },
    ]);
    expect(logs.some((l) => l.includes('share was wiped'))).toBe(true);
  });
});
