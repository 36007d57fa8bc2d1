// Issue 9 finding 6 (newcomer invites expire) end to end: a newcomer with an invite past its
// lifetime is told to ask for a new one and learns nothing of the group; a fresh invite works.
import { afterAll, describe, expect, it } from 'vitest';
import type { GroupView } from '../../shared/api/index.js';
import { formGroup, tempRoot, TestNode } from './harness.js';

describe('newcomer invites', () => {
  const tmp = tempRoot('conclave-invite-');
  const [ann, ben, dan] = ['ann', 'ben', 'dan'].map((n) => new TestNode(n, tmp.root));

  afterAll(async () => {
    await Promise.all([ann, ben, dan].map((n) => n.kill()));
    tmp.cleanup();
  });

  it('refuses an expired invite with a clear error, and takes a fresh one', async () => {
    await Promise.all([ann, ben, dan].map((n) => n.init()));
    // Ann's invites live 1 ms: any join arrives after that.
    await Promise.all([
      ann.start(undefined, { CONCLAVE_NEWCOMER_INVITE_TTL_MS: '1' }),
      ben.start(),
      dan.start(),
    ]);
    const { id } = await formGroup(ann, [ben], { name: 'till', threshold: 2, scheme: 'ed25519' });

    const stale = await ann.cliJson<{ invite: string }>(['group', 'invite', 'till']);
    const refused = await dan.cli(['group', 'join', stale.invite]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/invite expired; ask for a new one/);
    expect(await dan.api('group.list', {})).toEqual([]);
    expect((await ann.api('group.show', { group: id })).newcomers ?? []).toEqual([]);

    // Restarted with the default lifetime (24 h), ann's new invite works.
    await ann.kill();
    await ann.start();
    const fresh = await ann.cliJson<{ invite: string }>(['group', 'invite', 'till']);
    const waiting = await dan.cliJson<GroupView>(['group', 'join', fresh.invite]);
    expect(waiting).toMatchObject({ id, status: 'forming' });
    expect(waiting.error).toMatch(/waiting to be added/);
    expect((await ann.api('group.show', { group: id })).newcomers?.map((n) => n.name)).toEqual([
      'dan',
    ]);
  }, 180_000);
});
