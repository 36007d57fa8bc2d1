// A stub custodian node for the shell tests: every API method answers from a table the test fills
// (or fails with not_found), and the test fires events by hand.
import { ApiError, type Api, type ApiEvent, type RequestView } from '../../shared/api/index.js';
import { API_METHODS } from '../../shared/api/schema.js';
import type { RunningNode } from '../../main/node/index.js';

export const ME = '12D3KooWMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMe';
export const BOB = '12D3KooWBobBobBobBobBobBobBobBobBobBobBobBobBobBob';

export interface FakeNode extends RunningNode {
  calls: { method: string; input: unknown }[];
  answers: Partial<Record<keyof Api, (input: unknown) => unknown>>;
  fire(e: ApiEvent): void;
  stopped: boolean;
}

export function fakeNode(answers: FakeNode['answers'] = {}): FakeNode {
  const listeners = new Set<(e: ApiEvent) => void>();
  const calls: FakeNode['calls'] = [];
  const api = Object.fromEntries(
    API_METHODS.map((method) => [
      method,
      async (input: unknown) => {
        calls.push({ method, input });
        const answer = node.answers[method];
        if (!answer) throw new ApiError('not_found', `${method}: nothing here`);
        return answer(input);
      },
    ]),
  ) as Api;
  const node: FakeNode = {
    api,
    peerId: ME,
    calls,
    answers,
    stopped: false,
    addrs: () => [`/ip4/127.0.0.1/tcp/4001/p2p/${ME}`],
    onEvent(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    fire(e) {
      for (const cb of [...listeners]) cb(e);
    },
    async stop() {
      node.stopped = true;
    },
  };
  return node;
}

export function request(over: Partial<RequestView> & { id: string }): RequestView {
  return {
    group: 'g1',
    groupName: 'Treasury',
    kind: 'sign',
    status: 'pending',
    message: '6869',
    messageText: 'hi',
    messageSha256: '00'.repeat(32),
    createdBy: { peerId: BOB, name: 'Bob', at: '2025-01-01T00:00:00.000Z' },
    createdAt: '2025-01-01T00:00:00.000Z',
    expiresAt: '2025-01-02T00:00:00.000Z',
    approvals: [{ peerId: BOB, name: 'Bob', at: '2025-01-01T00:00:00.000Z' }],
    denials: [],
    culprits: [],
    ...over,
  };
}
