// Child process for the crash-durability test: writes rows in transactions and acknowledges each
// commit on stdout ("ok <i>") until the parent SIGKILLs it, with store.tx or (second argument
// 'txNoSync') store.txNoSync. Usage: node --import tsx crash-child.ts <db> [tx|txNoSync]
import { writeSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { makeEntry, type AuditEntry } from '../../shared/audit/chain.js';
import { openStore } from '../../main/store/index.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: crash-child.ts <db> [tx|txNoSync]');
const noSync = process.argv[3] === 'txNoSync';
const secret = ed25519.utils.randomSecretKey();
const store = openStore(path);
store.meta.set('crash.publicKey', Buffer.from(ed25519.getPublicKey(secret)).toString('hex'));
const now = Date.now();
store.groups.insert({
  id: 'g1',
  name: 'Crash',
  threshold: 2,
  size: 3,
  scheme: 'ed25519',
  status: 'ready',
  creatorPeerId: 'child',
  epoch: 0,
  createdAt: now,
  updatedAt: now,
});
let head: AuditEntry | undefined;
for (let i = 0; i < 100_000; i++) {
  (noSync ? store.txNoSync : store.tx)(() => {
    const id = `r${i}`;
    store.requests.insert({
      id,
      groupId: 'g1',
      kind: 'sign',
      message: new Uint8Array([i & 255, i >> 8]),
      createdBy: 'child',
      createdAt: now + i,
      expiresAt: now + i + 60_000,
      status: 'pending',
      culprits: [],
      envelope: JSON.stringify({ id }),
      updatedAt: now + i,
    });
    store.decisions.insert({
      requestId: id,
      peerId: 'child',
      decision: 'approve',
      statement: '{}',
      at: now + i,
    });
    const entry = makeEntry(
      head,
      { author: 'child', at: now + i, type: 'request.approved', group: 'g1', body: { id } },
      (h) => ed25519.sign(h, secret),
    );
    store.audit.append(entry);
    head = entry;
  });
  writeSync(1, `ok ${i}\n`);
}
writeSync(1, 'done\n');
setInterval(() => {}, 1000);
