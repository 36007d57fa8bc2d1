// The practice group is kept: a second start (after a restart) brings the same simulated members
// back from their kept homes instead of adding another group; one whose members are gone is left.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Api, GroupView } from '../../shared/api/index.js';
import type { InitOptions, RunningNode, StartOptions } from '../../main/node/index.js';
import { Sandbox, type SandboxKeep } from '../../main/node/sandbox.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The person's node as far as the sandbox sees it, with the calls it got. */
function fakeMain() {
  const groups = new Map<string, GroupView>();
  const calls: string[] = [];
  let n = 0;
  const view = (id: string, name: string) =>
    ({
      id,
      name,
      threshold: 2,
      size: 3,
      scheme: 'ed25519',
      status: 'forming',
      epoch: 0,
      members: [],
      createdAt: '',
    }) as unknown as GroupView;
  const main = {
    'node.status': async () => ({ name: 'alice' }),
    'group.list': async () => [...groups.values()],
    'group.create': async (i: { name: string }) => {
      calls.push('create');
      const g = view(`g${++n}`, i.name);
      groups.set(g.id, g);
      return { ...g, invite: 'invite' };
    },
    'group.show': async (i: { group: string }) => {
      const g = groups.get(i.group);
      if (!g) throw new Error('no group');
      return g;
    },
    'group.leave': async (i: { group: string }) => {
      calls.push(`leave ${i.group}`);
      groups.delete(i.group);
      return { group: i.group, name: '', shareDeleted: false };
    },
  } as unknown as Pick<
    Api,
    'group.create' | 'group.show' | 'group.list' | 'group.leave' | 'node.status'
  >;
  return { main, groups, calls };
}

/** Simulated members that only record where they were started from and with which passphrase. */
function fakeEntry() {
  const started: { home: string; passphrase?: string }[] = [];
  return {
    started,
    entry: {
      initIdentity: async (o: InitOptions) => {
        mkdirSync(o.home, { recursive: true });
        return { peerId: o.home, name: o.name, fingerprint: '', vault: o.vault, home: o.home };
      },
      startCustodian: async (o: StartOptions) => {
        started.push({ home: o.home, passphrase: o.passphrase });
        return {
          peerId: o.home,
          api: {
            'group.join': async () => undefined,
            'group.show': async () => ({ status: 'ready' }),
          },
          addrs: () => [`/ip4/127.0.0.1/tcp/1/p2p/${o.home}`],
          stop: async () => undefined,
        } as unknown as RunningNode;
      },
    },
  };
}

function keep(): SandboxKeep & { secrets: Map<string, string> } {
  const root = mkdtempSync(join(tmpdir(), 'conclave-sandbox-keep-'));
  dirs.push(root);
  const secrets = new Map<string, string>();
  return {
    secrets,
    dir: join(root, 'sandbox'),
    getSecret: async () => secrets.get('s'),
    putSecret: async (v) => void secrets.set('s', v),
  };
}

describe('the practice group across restarts', () => {
  it('a second start brings the same members back, with the same homes and passphrase', async () => {
    const { main, calls, groups } = fakeMain();
    const k = keep();
    const first = fakeEntry();
    const a = new Sandbox(main, first.entry, () => undefined, k);
    const g1 = await a.start();
    await a.stop();
    const second = fakeEntry();
    const introduced: string[] = [];
    const b = new Sandbox(main, second.entry, () => undefined, {
      ...k,
      introduce: async (p) => void introduced.push(p),
    });
    const g2 = await b.start();
    await b.stop();
    expect(g2.id).toBe(g1.id);
    expect(calls).toEqual(['create']);
    expect(groups.size).toBe(1);
    expect(second.started).toEqual(first.started);
    // The person's node is told where the members listen now (their ports are new).
    expect(introduced).toEqual(second.started.map((x) => x.home));
    expect(second.started.every((s) => s.passphrase === k.secrets.get('s'))).toBe(true);
  });

  it('a practice group whose members are gone is left, and one new group is made', async () => {
    const { main, calls, groups } = fakeMain();
    const k = keep();
    const a = new Sandbox(main, fakeEntry().entry, () => undefined, k);
    const g1 = await a.start();
    await a.stop();
    // The members' homes were lost (another machine, a cleaned disk): they cannot come back.
    for (const d of readdirSync(k.dir).filter((f) => f.startsWith('run-')))
      rmSync(join(k.dir, d), { recursive: true, force: true });
    const b = new Sandbox(main, fakeEntry().entry, () => undefined, k);
    const g2 = await b.start();
    await b.stop();
    expect(g2.id).not.toBe(g1.id);
    expect(calls).toEqual(['create', `leave ${g1.id}`, 'create']);
    expect([...groups.keys()]).toEqual([g2.id]);
  });

  it('a damaged practice record is named in the log, and one new group is made', async () => {
    for (const bad of ['{not json', 'null', '{"groupId":"g1","sims":[]}', '{"groupId":"g1"}']) {
      const { main, calls, groups } = fakeMain();
      const k = keep();
      const a = new Sandbox(main, fakeEntry().entry, () => undefined, k);
      const g1 = await a.start();
      await a.stop();
      const record = join(k.dir, 'practice.json');
      writeFileSync(record, bad);
      const logs: string[] = [];
      const b = new Sandbox(main, fakeEntry().entry, (l) => logs.push(l), k);
      const g2 = await b.start();
      await b.stop();
      expect(g2.id).not.toBe(g1.id);
      expect(calls).toEqual(['create', 'create']);
      expect(groups.size).toBe(2);
      expect(logs[0]).toBe(
        `sandbox: the practice group cannot be brought back (the practice record ${record} is unreadable); starting anew`,
      );
    }
  });
});
