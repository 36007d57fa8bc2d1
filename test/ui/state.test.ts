// The renderer's state classes against the in-memory fake node: what a custodian's clicks do.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type ApiEvent } from '../../shared/api/index.js';
import type { LinkStatus, NodeBridge } from '../../renderer/lib/bridge.js';
import { AppState } from '../../renderer/state/app.svelte.js';
import { defaultPolicy } from '../../shared/policy/policy.js';
import { BOB, CAROL, createFakeNode, GRACE, type FakeNode } from './fake-api.js';

let node: FakeNode;
let app: AppState;
let stop: (() => void) | undefined;
let statusListener: ((s: LinkStatus) => void) | undefined;

function bridge(n: FakeNode): NodeBridge {
  return {
    api: n,
    onEvent: (cb) => n.onEvent(cb),
    onStatus: (cb) => {
      statusListener = cb;
      cb('online');
      return () => (statusListener = undefined);
    },
  };
}

async function started(seed: boolean): Promise<void> {
  node = createFakeNode({ seed, delayMs: 5 });
  app = new AppState(bridge(node));
  stop = app.start();
  await vi.waitFor(() => expect(app.status).toBeDefined());
  await vi.waitFor(() => expect(app.requests.loaded && app.groups.loaded).toBe(true));
}

beforeEach(() => {
  stop = undefined;
});

afterEach(() => {
  stop?.();
  node.dispose();
});

describe('AppState', () => {
  it('loads the node, its groups and its requests', async () => {
    await started(true);
    expect(app.status?.name).toBe('Alice');
    expect(app.groups.list.map((g) => g.name)).toEqual(['treasury', 'cold wallet']);
    expect(app.requests.list).toHaveLength(5);
  });

  it('counts only the pending requests this custodian has not decided on', async () => {
    await started(true);
    expect(app.requests.waiting).toHaveLength(2);
    expect(app.requests.finished.map((r) => r.status).sort()).toEqual(['denied', 'done', 'failed']);
  });

  it('start returns an undo that stops events and the clock', async () => {
    await started(false);
    stop!();
    stop = undefined;
    await node['group.create']({ name: 'x', threshold: 2, size: 2, scheme: 'ed25519' });
    await new Promise((r) => setTimeout(r, 30));
    expect(app.groups.list).toHaveLength(0);
    expect(statusListener).toBeUndefined();
  });

  it('reloads everything when the link comes back, since events were missed', async () => {
    await started(false);
    statusListener!('offline');
    expect(app.link).toBe('offline');
    await node['group.create']({ name: 'missed', threshold: 2, size: 3, scheme: 'ed25519' });
    statusListener!('online');
    await vi.waitFor(() => expect(app.groups.list.map((g) => g.name)).toContain('missed'));
  });

  it('says in words when the node cannot be reached', async () => {
    node = createFakeNode();
    node.failNext('node.status', new ApiError('unreachable', 'connection refused'));
    app = new AppState(bridge(node));
    await app.load();
    expect(app.error).toMatch(/^Could not reach your Conclave node\. .*conclave start/);
  });

  it('a peer event changes who is shown online without a reload', async () => {
    await started(true);
    node.setOnline(CAROL.peerId, true);
    const carol = () => app.groups.list[0]!.members.find((m) => m.peerId === CAROL.peerId)!.online;
    await vi.waitFor(() => expect(carol()).toBe(true));
  });
});

describe('GroupsState', () => {
  it('creates a group, keeps its invite, and follows it to ready', async () => {
    await started(false);
    const form = app.groups.create;
    form.name = 'release signing';
    form.threshold = 2;
    form.size = 3;
    await app.groups.submitCreate();
    const id = app.groups.list[0]!.id;
    expect(app.groups.view).toEqual({ kind: 'detail', id });
    expect(app.groups.invites[id]).toMatch(/^conclave-invite:/);
    expect(form.name).toBe('');
    await vi.waitFor(() => expect(app.groups.selected?.status).toBe('confirming'));
    expect(app.groups.selected?.safetyCode?.split(' ')).toHaveLength(6);
    await app.groups.confirm(id);
    await vi.waitFor(() => expect(app.groups.selected?.status).toBe('ready'));
    expect(app.groups.selected?.publicKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not send a form with a problem, and says what the problem is', async () => {
    await started(false);
    const form = app.groups.create;
    form.name = 'x';
    form.size = 3;
    form.threshold = 4;
    expect(form.problem).toBe('The number of approvals needed must be from 2 to 3.');
    await app.groups.submitCreate();
    expect(form.error).toBe(form.problem);
    expect(node.calls.filter((c) => c.method === 'group.create')).toHaveLength(0);
    form.name = '  ';
    expect(form.problem).toBe('Give the group a name.');
  });

  it('joins with an invite, and explains a bad one', async () => {
    await started(false);
    app.groups.joinText = 'hello';
    await app.groups.submitJoin();
    expect(app.groups.joinError).toMatch(
      /^Could not join with this invite\. Check what you entered/,
    );
    app.groups.joinText = ' conclave-invite:abc ';
    await app.groups.submitJoin();
    expect(app.groups.joinError).toBeUndefined();
    expect(node.calls.at(-1)).toEqual({
      method: 'group.join',
      input: { invite: 'conclave-invite:abc' },
    });
    expect(app.groups.selected?.status).toBe('forming');
  });

  it('a reported mismatch sends nothing to the node', async () => {
    await started(false);
    await node['group.create']({ name: 'g', threshold: 2, size: 2, scheme: 'ed25519' });
    await app.groups.load();
    const id = app.groups.list[0]!.id;
    app.groups.reportMismatch(id, true);
    expect(app.groups.mismatch[id]).toBe(true);
    expect(node.calls.some((c) => c.method === 'group.confirm')).toBe(false);
  });
});

describe('RequestsState', () => {
  it('approving the last needed approval ends with a signature', async () => {
    await started(true);
    const r = app.requests.waiting.find((x) => x.groupName === 'treasury')!;
    expect(app.requests.missing(r)).toBe(1);
    await app.requests.approve(r.id);
    expect(app.requests.waiting.map((x) => x.id)).not.toContain(r.id);
    await vi.waitFor(() =>
      expect(app.requests.list.find((x) => x.id === r.id)?.status).toBe('done'),
    );
    expect(app.requests.list.find((x) => x.id === r.id)?.signature).toMatch(/^[0-9a-f]{128}$/);
  });

  it('denies with a reason, trimmed, and without one', async () => {
    await started(true);
    const [a, b] = app.requests.waiting;
    app.requests.card(a!.id).reason = '  wrong amount ';
    await app.requests.deny(a!.id);
    await app.requests.deny(b!.id);
    const denies = node.calls.filter((c) => c.method === 'request.deny').map((c) => c.input);
    expect(denies).toEqual([{ id: a!.id, reason: 'wrong amount' }, { id: b!.id }]);
    expect(app.requests.card(a!.id).mode).toBe('idle');
  });

  it('shows a failed approval as a sentence on the card and re-reads the request', async () => {
    await started(true);
    const r = app.requests.waiting[0]!;
    node.failNext(
      'request.approve',
      new ApiError('conflict', `request ${r.id} is already expired`),
    );
    await app.requests.approve(r.id);
    expect(app.requests.card(r.id).error).toMatch(/^Could not approve this request\. It changed/);
    expect(node.calls.at(-1)?.method).toBe('request.show');
  });

  it('names culprits and offline approvers', async () => {
    await started(true);
    const failed = app.requests.list.find((r) => r.status === 'failed')!;
    expect(app.requests.names(failed, failed.culprits)).toEqual(['Carol']);
    const r = app.requests.waiting.find((x) => x.groupName === 'treasury')!;
    node.setOnline(BOB.peerId, false);
    await vi.waitFor(() => expect(app.requests.offlineApprovers(r)).toEqual(['Bob']));
  });

  it('an event for a new request from another member puts it in the inbox', async () => {
    await started(true);
    const before = app.requests.waiting.length;
    const created = await node['request.sign']({
      group: 'treasury',
      message: 'abcd',
      encoding: 'hex',
    });
    await vi.waitFor(() => expect(app.requests.waiting.length).toBe(before + 1));
    expect(app.requests.list[0]!.id).toBe(created.id);
  });

  it('creates a sign request from hex with spaces, and refuses odd hex', async () => {
    await started(true);
    const f = app.requests.form;
    f.group = 'g-treasury';
    f.encoding = 'hex';
    f.message = 'de ad be e';
    expect(f.problem).toMatch(/even number/);
    f.message = 'DE AD be ef';
    f.expiresHours = 1;
    const r = await app.requests.submitNew();
    expect(r?.message).toBe('deadbeef');
    expect(node.calls.find((c) => c.method === 'request.sign')?.input).toEqual({
      group: 'g-treasury',
      message: 'deadbeef',
      encoding: 'hex',
      expiresInSec: 3600,
    });
  });
});

describe('AuditState', () => {
  it('filters on every word across type, summary, author and group', async () => {
    await started(true);
    await app.audit.load();
    expect(app.audit.entries.length).toBeGreaterThan(5);
    app.audit.filter = 'denied treasury';
    expect(app.audit.filtered.length).toBeGreaterThan(0);
    expect(app.audit.filtered.every((e) => e.type === 'request.denied')).toBe(true);
    app.audit.filter = 'bob';
    expect(
      app.audit.filtered.every((e) => app.audit.author(e) === 'Bob' || /Bob/.test(e.summary)),
    ).toBe(true);
  });

  it('exports what the filter shows', async () => {
    node = createFakeNode({ seed: true });
    const saved: { name: string; text: string; type: string }[] = [];
    app = new AppState(bridge(node));
    const { AuditState } = await import('../../renderer/state/audit.svelte.js');
    const audit = new AuditState(
      node,
      () => undefined,
      () => '',
      (name, text, type) => saved.push({ name, text, type }),
    );
    await audit.load();
    audit.filter = 'signed';
    audit.exportCsv();
    audit.exportJson();
    expect(saved[0]!.name).toMatch(/^conclave-audit-.*\.csv$/);
    expect(saved[0]!.text.trim().split('\r\n')).toHaveLength(1 + audit.filtered.length);
    expect(JSON.parse(saved[1]!.text)).toHaveLength(audit.filtered.length);
  });

  it('reports the problems verify finds', async () => {
    await started(true);
    node.auditProblems = [{ author: BOB.peerId, seq: 2, problem: 'bad signature' }];
    await app.audit.verify();
    expect(app.audit.report?.ok).toBe(false);
  });
});

describe('SettingsState', () => {
  it('keeps the chosen theme and follows the OS by default', async () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    const root = document.createElement('html');
    node = createFakeNode();
    app = new AppState(bridge(node), { storage, root });
    expect(app.settings.theme).toBe('system');
    expect(root.dataset.theme).toBeUndefined();
    app.settings.setTheme('dark');
    expect(root.dataset.theme).toBe('dark');
    const again = new AppState(bridge(node), { storage, root: document.createElement('html') });
    expect(again.settings.theme).toBe('dark');
  });
});

describe('key management', () => {
  it('the inbox counts the approvals the group policy asks for each kind, not always T', async () => {
    await started(true);
    node.setPolicy('treasury', { ...defaultPolicy(), approvals: { sign: 3 } });
    await app.manage.loadPolicy('g-treasury');
    const r = app.requests.waiting.find((x) => x.groupName === 'treasury')!;
    expect(r.approvals).toHaveLength(1);
    expect(app.requests.needed(r)).toBe(3);
    expect(app.requests.missing(r)).toBe(2);
  });

  it('an approved policy change is read again, so the group shows the rules in force', async () => {
    await started(true);
    const before = await node['group.policy']({ group: 'treasury' });
    const r = node.propose(BOB, 'treasury', 'policy', {
      v: 1,
      from: before.hash,
      policy: { ...defaultPolicy(), policyChange: 'all' },
    });
    node.decide(r.id, BOB, 'approve');
    node.decide(r.id, CAROL, 'approve');
    await vi.waitFor(() => expect(app.manage.rules('g-treasury')?.policyChange).toBe('all'));
  });

  it('a new policy is written whole, leaving out approvals equal to T as the node’s default does', async () => {
    await started(true);
    await app.manage.loadPolicy('g-treasury');
    const form = app.manage.policy;
    form.start(app.manage.rules('g-treasury')!, 2, 3);
    form.approvals.sign = 3;
    form.allowed.repair = false;
    expect(form.build(2)).toEqual({
      ...defaultPolicy(),
      allowedKinds: ['sign', 'refresh', 'reshare', 'policy'],
      approvals: { sign: 3 },
    });
    form.approvals.refresh = 4;
    expect(form.problem(2, 3)).toMatch(/from 2 \(the group’s threshold\) to 3/);
  });

  it('opening a reshare or a repair re-reads the group, so a newcomer whose event was missed is listed', async () => {
    await started(true);
    stop!(); // events stop: the newcomer's group event is missed
    stop = undefined;
    node.newcomerJoins('treasury', GRACE);
    expect(app.groups.group('g-treasury')?.newcomers).toBeUndefined();
    for (const action of ['members', 'repair'] as const) {
      app.manage.open('g-treasury', action);
      await vi.waitFor(() =>
        expect(app.groups.group('g-treasury')?.newcomers).toEqual([
          { name: 'Grace', peerId: GRACE.peerId, fingerprint: GRACE.fingerprint },
        ]),
      );
      app.groups.upsert({ ...app.groups.group('g-treasury')!, newcomers: undefined });
    }
  });

  it('a repair names its newcomer by peer id, and needs one chosen even when only one joined', async () => {
    await started(true);
    node.newcomerJoins('treasury', GRACE);
    await vi.waitFor(() => expect(app.groups.group('g-treasury')?.newcomers).toHaveLength(1));
    const g = app.groups.group('g-treasury')!;
    app.manage.open(g.id, 'repair');
    const form = app.manage.repair;
    form.member = BOB.peerId;
    expect(await app.manage.proposeRepair(g)).toBeUndefined();
    expect(form.error).toMatch(/^Choose the new device, after comparing its fingerprint/);
    form.newcomer = GRACE.peerId;
    await app.manage.proposeRepair(g);
    expect(node.calls.filter((c) => c.method === 'request.repair').at(-1)?.input).toEqual({
      group: 'g-treasury',
      member: BOB.peerId,
      newcomer: GRACE.peerId,
    });
  });
});

describe('events', () => {
  it('a group event re-reads just that group', async () => {
    await started(true);
    const before = node.calls.length;
    app.handle({ type: 'group', id: 'g-cold' } satisfies ApiEvent);
    await vi.waitFor(() => expect(node.calls.length).toBe(before + 1));
    expect(node.calls.at(-1)).toEqual({ method: 'group.show', input: { group: 'g-cold' } });
  });
});
