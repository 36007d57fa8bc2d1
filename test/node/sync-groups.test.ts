// Catching a peer up on connection goes group by group: one group's failure (here its nonces)
// must not keep the peer from the next group's news (here an import's result).
import { describe, expect, it } from 'vitest';
import type { NodeServices } from '../../main/node/context.js';
import { SyncService } from '../../main/node/sync.js';
import type { GroupRow } from '../../main/store/index.js';
import { harness, peer } from './fixtures.js';

describe('sync on connection', () => {
  it("sends a later group's import result although an earlier group's nonces failed", async () => {
    const [ann, ben] = await Promise.all(['ann', 'ben'].map((n) => peer(n)));
    const { ctx, sent, logs } = harness(ann!, { connected: true });
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
    expect(
      sent
        .filter((s) => s.msg.type === 'import-result')
        .map((s) => ({ to: s.peer, type: s.msg.type, groupId: s.msg.groupId })),
    ).toEqual([{ to: ben!.peerId, type: 'import-result', groupId: second.id }]);
    expect(logs.some((l) => l.includes('share was wiped'))).toBe(true);
  });
});
