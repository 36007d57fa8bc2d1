// `audit list --limit N`: the newest N entries, shown oldest first like the rest of the log.
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../main/node/audit.js';
import type { NodeServices } from '../../main/node/context.js';
import { harness, peer, type Peer } from './fixtures.js';

let alice: Peer;
beforeAll(async () => {
  alice = await peer('alice');
});

describe('AuditService.auditList', () => {
  it('keeps the newest entries when limited, in the order they happened', () => {
    const h = harness(alice);
    const audit = new AuditService(h.ctx, {} as NodeServices);
    for (let i = 1; i <= 5; i++) h.ctx.audit('test.entry', { i });
    const all = audit.auditList({});
    expect(all.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(audit.auditList({ limit: 2 }).map((e) => e.seq)).toEqual([3, 4]);
    expect(audit.auditList({ limit: 10 }).map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
  });
});
