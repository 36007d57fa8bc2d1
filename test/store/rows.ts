// Rows for the store's tests.
import type { GroupRow } from '../../main/store/index.js';

/** A forming 2-of-3 ed25519 group's row, id g1 unless `over` says otherwise. */
export const groupRow = (over: Partial<GroupRow> = {}): GroupRow => ({
  id: 'g1',
  name: 'Treasury',
  threshold: 2,
  size: 3,
  scheme: 'ed25519',
  status: 'forming',
  creatorPeerId: '12D3KooWAlice',
  epoch: 0,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
