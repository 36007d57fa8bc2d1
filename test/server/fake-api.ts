// An in-memory Api for transport tests: records every call and answers with plausible views.
import {
  ApiError,
  type Api,
  type ApiInput,
  type ApiMethod,
  type GroupView,
  type RequestStatus,
  type RequestView,
} from '../../shared/api/index.js';

export interface FakeApi extends Api {
  calls: { method: ApiMethod; input: unknown }[];
  /** Status that request.wait and request.show report; 'pending' by default. */
  requestStatus: RequestStatus;
  auditOk: boolean;
}

export const PEER_A = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
export const PEER_B = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';

export function groupView(name = 'treasury'): GroupView {
  return {
    id: 'g-7f3a',
    name,
    threshold: 2,
    size: 3,
    scheme: 'ed25519',
    status: 'ready',
    publicKey: 'ab'.repeat(32),
    safetyCode: 'apple river stone',
    epoch: 0,
    members: [
      {
        name: 'alice',
        peerId: PEER_A,
        fingerprint: 'AAAA-BBBB',
        index: 1,
        online: true,
        confirmed: true,
        me: true,
      },
      {
        name: 'bob',
        peerId: PEER_B,
        fingerprint: 'CCCC-DDDD',
        index: 2,
        online: false,
        confirmed: true,
        me: false,
      },
    ],
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

export function requestView(id: string, status: RequestStatus): RequestView {
  return {
    id,
    group: 'g-7f3a',
    groupName: 'treasury',
    kind: 'sign',
    status,
    message: '706179',
    messageText: 'pay',
    messageSha256: '00'.repeat(32),
    createdBy: { peerId: PEER_A, name: 'alice', at: '2025-01-01T00:00:00.000Z' },
    createdAt: '2025-01-01T00:00:00.000Z',
    expiresAt: '2025-01-02T00:00:00.000Z',
    approvals: [{ peerId: PEER_A, name: 'alice', at: '2025-01-01T00:00:01.000Z' }],
    denials: [],
    signature: status === 'done' ? 'cd'.repeat(64) : undefined,
    culprits: [],
  };
}

export function fakeApi(): FakeApi {
  const calls: FakeApi['calls'] = [];
  const record = <M extends ApiMethod>(method: M, input: ApiInput<M>) => {
    calls.push({ method, input });
  };
  const api: FakeApi = {
    calls,
    requestStatus: 'pending',
    auditOk: true,
    async 'node.status'(input) {
      record('node.status', input);
      return {
        peerId: PEER_A,
        name: 'alice',
        fingerprint: 'AAAA-BBBB',
        addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER_A}`],
        vault: 'keychain',
        groups: 1,
        pendingRequests: 0,
        dropped: {},
        version: 1,
      };
    },
    async 'settings.get'(input) {
      record('settings.get', input);
      return { name: 'alice', relays: [], notifications: true, restartNeeded: false };
    },
    async 'settings.update'(input) {
      record('settings.update', input);
      return {
        name: input.name ?? 'alice',
        relays: input.relays ?? [],
        notifications: input.notifications ?? true,
        restartNeeded: input.relays !== undefined,
      };
    },
    async 'identity.init'(input) {
      record('identity.init', input);
      throw new ApiError('conflict', 'this node already has an identity');
    },
    async 'vault.unlock'(input) {
      record('vault.unlock', input);
      throw new ApiError('conflict', 'the vault is already unlocked');
    },
    async 'sandbox.start'(input) {
      record('sandbox.start', input);
      return groupView('Sandbox');
    },
    async 'sandbox.members'(input) {
      record('sandbox.members', input);
      return [{ name: 'Bob (simulated)', peerId: PEER_A, pending: ['r-1'] }];
    },
    async 'sandbox.decide'(input) {
      record('sandbox.decide', input);
      return requestView(input.id, 'pending');
    },
    async 'group.create'(input) {
      record('group.create', input);
      return { ...groupView(input.name), status: 'forming', invite: 'conclave1invite' };
    },
    async 'group.import'(input) {
      record('group.import', input);
      return {
        ...groupView(input.name),
        status: 'forming',
        invite: 'conclave1invite',
        warning: 'destroy the key',
      };
    },
    async 'group.join'(input) {
      record('group.join', input);
      return groupView();
    },
    async 'group.list'(input) {
      record('group.list', input);
      return [groupView()];
    },
    async 'group.show'(input) {
      record('group.show', input);
      if (input.group === 'missing') throw new ApiError('not_found', 'no group "missing"');
      if (input.group === 'boom') throw new TypeError('cannot read properties of undefined');
      return groupView();
    },
    async 'group.confirm'(input) {
      record('group.confirm', input);
      return groupView();
    },
    async 'request.sign'(input) {
      record('request.sign', input);
      return requestView('r-1', 'pending');
    },
    async 'request.create'(input) {
      record('request.create', input);
      return { ...requestView('r-9', 'pending'), kind: input.kind };
    },
    async 'request.result'(input) {
      record('request.result', input);
      return { id: input.id, kind: 'x509', status: 'done' };
    },
    async 'request.repair'(input) {
      record('request.repair', input);
      return { ...requestView('r-4', 'pending'), kind: 'repair', description: 'Repair' };
    },
    async 'request.reconstruct'(input) {
      record('request.reconstruct', input);
      return { ...requestView('r-6', 'pending'), kind: 'reconstruct', description: 'Reconstruct' };
    },
    async 'group.policy'(input) {
      record('group.policy', input);
      return {
        group: 'g-7f3a',
        hash: 'ab'.repeat(32),
        policy: { v: 1 },
        description: ['Signing needs 2 of 3.'],
      };
    },
    async 'request.policy'(input) {
      record('request.policy', input);
      return { ...requestView('r-5', 'pending'), kind: 'policy', description: 'Change the policy' };
    },
    async 'request.refresh'(input) {
      record('request.refresh', input);
      return {
        ...requestView('r-2', 'pending'),
        kind: 'refresh',
        description: 'Refresh every share',
      };
    },
    async 'request.reshare'(input) {
      record('request.reshare', input);
      return {
        ...requestView('r-3', 'pending'),
        kind: 'reshare',
        description: 'Reshare the key',
      };
    },
    async 'group.leave'(input) {
      record('group.leave', input);
      return {
        group: 'g-7f3a',
        name: 'treasury',
        shareDeleted: true,
        warning: 'treasury needs 2 of 3 shares to sign; 2 are left.',
      };
    },
    async 'group.invite'(input) {
      record('group.invite', input);
      return { group: 'g-7f3a', invite: 'conclave-invite:newcomer' };
    },
    async 'backup.export'(input) {
      record('backup.export', input);
      return {
        group: 'g-7f3a',
        groupName: 'treasury',
        epoch: 0,
        file: '{"format":"conclave-share-backup"}',
      };
    },
    async 'backup.restore'(input) {
      record('backup.restore', input);
      return groupView();
    },
    async 'request.list'(input) {
      record('request.list', input);
      return [requestView('r-1', 'pending')];
    },
    async 'request.show'(input) {
      record('request.show', input);
      return requestView(input.id, api.requestStatus);
    },
    async 'request.approve'(input) {
      record('request.approve', input);
      return requestView(input.id, 'pending');
    },
    async 'request.deny'(input) {
      record('request.deny', input);
      return requestView(input.id, 'denied');
    },
    async 'request.wait'(input) {
      record('request.wait', input);
      // A real wait: lets tests check that other requests on the same connection go ahead.
      if (input.id === 'slow') await new Promise((done) => setTimeout(done, 300));
      return requestView(input.id, api.requestStatus);
    },
    async 'audit.list'(input) {
      record('audit.list', input);
      return [
        {
          author: PEER_A,
          authorName: 'alice',
          seq: 1,
          at: '2025-01-01T00:00:00.000Z',
          type: 'group.created',
          group: 'g-7f3a',
          summary: 'created treasury (2-of-3 ed25519)',
          hash: 'ef'.repeat(32),
        },
      ];
    },
    async 'audit.verify'(input) {
      record('audit.verify', input);
      return api.auditOk
        ? { ok: true, entries: 1, authors: 1, problems: [] }
        : {
            ok: false,
            entries: 2,
            authors: 1,
            problems: [{ author: PEER_A, seq: 2, problem: 'bad signature' }],
          };
    },
  };
  return api;
}
