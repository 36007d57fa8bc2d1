// The refresh and repair services alone, over fakes of the services they call: what the tests of
// their failures (late ones, over damaged stored rows) set up alike.
import { RefreshReshareService } from '../../main/node/ceremonies/refresh-reshare.js';
import { RepairService } from '../../main/node/ceremonies/repair.js';
import { SettleService } from '../../main/node/ceremonies/settle.js';
import type { NodeServices } from '../../main/node/context.js';
import type { RequestRow, Store } from '../../main/store/index.js';
import {
  harness,
  insertRepairRequest,
  insertRequest,
  readyGroup,
  type Harness,
  type Peer,
} from './fixtures.js';

/** A group's roster as a ceremony plans it (PlannedMember), from the stored members. */
export function plannedRoster(store: Store, groupId: string) {
  return store.members.list(groupId).map((m) => ({
    peerId: m.peerId,
    name: m.name,
    index: m.index,
    identityKey: m.identityKey,
    addrs: m.addrs,
  }));
}

/** The requests a fake `requests.finish` ended: their ids, and the failures they were given. */
export interface Finished {
  failed: string[];
  failures: string[];
}

function finisher(): Finished & { finish: (id: string, patch: { failure: string }) => void } {
  const failed: string[] = [];
  const failures: string[] = [];
  return {
    failed,
    failures,
    finish: (id, patch) => {
      failed.push(id);
      failures.push(patch.failure);
    },
  };
}

/**
 * The refresh service of `h`'s node over fakes, for a refresh from epoch 0 of the group with its
 * current roster: `insert(id)` stores such a request (signing, by this node), `run(id, session)`
 * runs its rounds with every member; nothing answers, so a round fails as soon as it needs to.
 */
export function refreshRig(h: Harness, groupId: string) {
  const roster = plannedRoster(h.store, groupId);
  const params = { ceremony: 'refresh', group: groupId, fromEpoch: 0 };
  const finished = finisher();
  const deps = {
    ceremony: {
      ceremonies: new Set<string>(),
      runningSessions: new Set<string>(),
      aborted: new Map<string, true>(),
      abortedBy: new Map<string, Map<string, string>>(),
      stoppedBy: () => undefined,
      ceremonyParams: () => params,
      plannedRoster: () => roster,
      ceremonySender: () => async () => undefined,
    },
    groups: {},
    inboxes: { drop: () => undefined },
    repair: {},
    requests: {
      updateRequest: (id: string, patch: object) => h.store.requests.update(id, patch),
      finish: finished.finish,
      announceOutcome: () => undefined,
    },
  } as unknown as NodeServices;
  deps.settle = new SettleService(h.ctx, deps);
  const service = new RefreshReshareService(h.ctx, deps);
  const insert = (id = 'r1') =>
    insertRequest(h.store, params, {
      id,
      groupId,
      kind: 'refresh',
      createdBy: h.ctx.me.peerId,
      status: 'signing',
    });
  const run = (id: string, session: string) =>
    service.runCeremony(
      groupId,
      id,
      session,
      roster.map((m) => m.peerId),
    );
  return {
    roster,
    params,
    service,
    insert,
    run,
    failed: finished.failed,
    failures: finished.failures,
  };
}

/**
 * `device`'s node (its vault in `secrets`), the new device of a repair r1 that puts it in the
 * place of the last of `members` (a 2-of-3 group; the first two help, the first asked). It knows
 * the group from its invitation: forming, `newcomerPackage` as the package it was given, no
 * share. The rounds' messages are awaited with `awaitInbox` (default: none comes in time).
 */
export function newDeviceRepair(
  device: Peer,
  members: [Peer, Peer, Peer],
  newcomerPackage: string,
  awaitInbox: () => Promise<unknown> = async () => {
    throw new Error('deadline passed');
  },
) {
  const [helper1, helper2, lost] = members;
  const secrets = new Map<string, Uint8Array>();
  const h = harness(device, { secrets });
  const groupId = readyGroup(h.store, members, 2);
  h.store.groups.update(groupId, { status: 'forming', error: 'waiting to be added' });
  h.store.meta.set(`newcomer-package:${groupId}`, newcomerPackage);
  const params = insertRepairRequest(h.store, groupId, lost, device, helper1);
  const finished = finisher();
  const deps = {
    ceremony: {
      ceremonies: new Set<string>(),
      abortedBy: new Map<string, Map<string, string>>(),
      stoppedBy: () => undefined,
      ceremonySender: () => async () => undefined,
      participantName: (_g: string, p: string) => p,
    },
    inboxes: {
      awaitInbox,
      inbox: () => ({ round1: new Map(), echo: new Map(), round2: new Map(), done: new Map() }),
      drop: () => undefined,
    },
    groups: {},
    requests: {
      updateRequest: (id: string, patch: Partial<RequestRow>) => h.store.requests.update(id, patch),
      finish: finished.finish,
    },
  } as unknown as NodeServices;
  const svc = new RepairService(h.ctx, deps);
  const run = () =>
    svc.runRepair(groupId, 'r1', 'aa'.repeat(32), [helper1.peerId, helper2.peerId], params);
  return { h, groupId, secrets, params, run, failed: finished.failed, failures: finished.failures };
}
