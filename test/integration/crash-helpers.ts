// Shared steps of the crash tests (issue 13): start a node that SIGKILLs itself at a named point,
// bring it back, read every member's nonce records, and sign to show the group still works.
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import Database from 'libsql';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { GroupView, RequestView } from '../../shared/api/index.js';
import type { CrashPoint } from '../../main/node/crash.js';
import { groupStatus, requestStatus, seen, waitFor, type TestNode } from './harness.js';
import { recordCase } from './reliability-record.js';

/** The environment that makes a node kill itself at `point`. */
export function crashEnv(point: CrashPoint): NodeJS.ProcessEnv {
  return { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_CRASH_AT: point };
}

/** Resolves once `n` killed itself with SIGKILL (not any other exit: that would be a bug). */
export async function waitForCrash(n: TestNode, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    `${n.name} to SIGKILL itself`,
    () => {
      const p = n.proc;
      if (p && p.exitCode !== null) throw new Error(`${n.name} exited ${p.exitCode}: ${n.logs}`);
      return p?.signalCode === 'SIGKILL';
    },
    timeoutMs,
  );
  n.proc = undefined;
}

/** Starts `n` without the crash point (a plain restart). */
export function restart(n: TestNode): Promise<void> {
  return n.start(undefined, {});
}

/** Resolves with the group on every node once all of them show it ready, at one epoch. */
export async function allReady(
  nodes: TestNode[],
  group: string,
  epoch = 0,
  timeoutMs = 120_000,
): Promise<GroupView[]> {
  const views = await Promise.all(
    nodes.map((n) =>
      waitFor(
        `${n.name}: group ready at epoch ${epoch}`,
        async () => {
          const g = await n.api('group.show', { group });
          return g.status === 'ready' && g.epoch === epoch ? g : undefined;
        },
        timeoutMs,
      ),
    ),
  );
  expect(new Set(views.map((g) => g.publicKey)).size).toBe(1);
  return views;
}

/**
 * Every `request.share_released` entry that names a nonce, as every node holds them (the group's
 * log is replicated: each entry is counted once, by author and seq): `[signer, nonce, request]`.
 */
export function nonceRecords(nodes: TestNode[], group: string): [string, string, string][] {
  const seen = new Map<string, [string, string, string]>();
  for (const n of nodes) {
    const db = new Database(join(n.home, 'conclave.db'), { readonly: true });
    try {
      const rows = db
        .prepare(
          "SELECT author, seq, body FROM audit WHERE group_id = ? AND type = 'request.share_released'",
        )
        .all(group) as { author: string; seq: number; body: string }[];
      for (const r of rows) {
        const body = JSON.parse(r.body) as { nonce?: string; id?: string };
        if (body.nonce)
          seen.set(`${r.author}#${r.seq}`, [r.author.split('/')[0]!, body.nonce, body.id ?? '']);
      }
    } finally {
      db.close();
    }
  }
  return [...seen.values()];
}

/** Asserts that no signer used one nonce twice, over all the records every node holds. */
export function expectNoNonceReuse(nodes: TestNode[], group: string): number {
  const records = nonceRecords(nodes, group);
  const uses = new Map<string, string[]>();
  for (const [signer, nonce, id] of records) {
    const k = `${signer}:${nonce}`;
    uses.set(k, [...(uses.get(k) ?? []), id]);
  }
  const twice = [...uses].filter(([, ids]) => ids.length > 1);
  expect(twice, 'a nonce commitment used twice').toEqual([]);
  return records.length;
}

/**
 * Forms a group through the control API (faster than the CLI under load): `creator` creates it
 * (imports `keyFile` when given), the others join and everyone confirms; resolves once all confirmed (the key generation runs on).
 */
export async function formGroupApi(
  creator: TestNode,
  joiners: TestNode[],
  name: string,
  threshold = 2,
  keyFile?: string,
): Promise<string> {
  const all = [creator, ...joiners];
  const spec = { name, threshold, size: all.length, scheme: 'ed25519' as const };
  const created = keyFile
    ? await creator.api('group.import', { ...spec, keyFile })
    : await creator.api('group.create', spec);
  for (const n of joiners) await n.api('group.join', { invite: created.invite });
  await Promise.all(all.map((n) => groupStatus(n, created.id, 'confirming')));
  for (const n of all) await n.api('group.confirm', { group: created.id });
  return created.id;
}

/**
 * `by` asks for a signature of `text` (approving it), `others` approve, and it is done on `by`;
 * the signature verifies under the group key (ed25519 groups).
 */
export async function signAndVerify(
  by: TestNode,
  others: TestNode[],
  group: GroupView,
  text: string,
): Promise<RequestView> {
  const req = await by.api('request.sign', {
    group: group.id,
    message: text,
    encoding: 'utf8',
    approve: true,
  });
  for (const n of others) {
    await seen(n, req.id);
    await n.api('request.approve', { id: req.id });
  }
  const done = await requestStatus(by, req.id, 'done', 120_000);
  expect(
    ed25519.verify(hexToBytes(done.signature!), utf8ToBytes(text), hexToBytes(group.publicKey!)),
  ).toBe(true);
  return done;
}

/** One line in test-results/reliability/crash.jsonl. */
export function recordCrash(name: string, point: CrashPoint, survived: boolean, outcome: string) {
  recordCase({ suite: 'crash', name, point, survived, culprit: null, outcome });
}
