// Shared steps of the adversary tests (issue 13): run a member with the test-only tampering layer
// (main/node/adversary.ts), switch its lie while it runs, and check an ed25519 group signature;
// and the three-node group, its roles given by peer-id order, that they and the crash tests share.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import type { GroupView } from '../../shared/api/index.js';
import { allReady, formGroupApi } from './crash-helpers.js';
import { formGroup, tempRoot, TestNode } from './harness.js';

/** The environment that starts a node with the tampering layer telling lie `kase`. */
export function lying(kase: string): NodeJS.ProcessEnv {
  return { CONCLAVE_ALLOW_FAULTS: '1', CONCLAVE_TAMPER: kase };
}

/** Switches `liar` to another lie (the layer reads its case file; no restart needed). */
export function setLie(liar: TestNode, kase: string): void {
  writeFileSync(join(liar.home, 'adversary-case'), kase);
}

/** Whether hex signature `sig` over hex message `msg` verifies under the ed25519 `publicKey`. */
export function verifiesEd25519(sig: string, msg: string, publicKey: string): boolean {
  return ed25519.verify(hexToBytes(sig), hexToBytes(msg), hexToBytes(publicKey));
}

/** `by` asks for a signature of 32 random bytes in `group` (hex, not approved yet). */
export async function signRandom(
  by: TestNode,
  group: string,
): Promise<{ id: string; msg: string }> {
  const msg = bytesToHex(randomBytes(32));
  const r = await by.api('request.sign', { group, message: msg, encoding: 'hex' });
  return { id: r.id, msg };
}

/** The three members of a test file's group; `ranked` and `group` are set from beforeAll on. */
export interface ThreeNodeGroup {
  /** The nodes, in the order they were named. */
  readonly nodes: TestNode[];
  /** The nodes by peer id, lowest first: the lowest coordinates every request it approves. */
  ranked: [TestNode, TestNode, TestNode];
  /** The group as its creator shows it once every member holds its share. */
  group: GroupView;
}

/**
 * A 2-of-3 ed25519 group of three fresh nodes for the tests of one file (or describe block):
 * beforeAll initialises, starts and forms it; afterAll stops the nodes and removes their homes.
 * The coordinator of a request is its lowest approving peer id (shared/protocol/decisions.ts) and
 * peer ids are random, so a test gives its members their roles by their order in `ranked`.
 */
export function threeNodeGroup(opts: {
  /** Prefix of the temporary directory holding the nodes' homes. */
  tmpPrefix: string;
  /** The group's name. */
  name: string;
  /** The nodes' names (default n1, n2, n3). */
  names?: [string, string, string];
  /**
   * The rank (in `ranked`) of the member that creates the group, the others joining by rank;
   * by default the first named creates it and the others join in the order named.
   */
  creator?: 0 | 1 | 2;
  /** Extra environment for the member of each rank; those with none start first. */
  env?: (rank: number) => NodeJS.ProcessEnv | undefined;
  /** Form it as custodians do, with the CLI (default), or with the control API (faster). */
  via?: 'cli' | 'api';
  /** How long beforeAll may take (default 180 s). */
  timeoutMs?: number;
}): ThreeNodeGroup {
  const tmp = tempRoot(opts.tmpPrefix);
  const names = opts.names ?? ['n1', 'n2', 'n3'];
  const fx = { nodes: names.map((n) => new TestNode(n, tmp.root)) } as ThreeNodeGroup;

  beforeAll(async () => {
    await Promise.all(fx.nodes.map((n) => n.init()));
    fx.ranked = [...fx.nodes].sort((a, b) => (a.peerId < b.peerId ? -1 : 1)) as [
      TestNode,
      TestNode,
      TestNode,
    ];
    const env = fx.ranked.map((_, rank) => opts.env?.(rank));
    const plain = fx.ranked.filter((_, rank) => env[rank] === undefined);
    await Promise.all(plain.map((n) => n.start()));
    await Promise.all(
      fx.ranked.map((n, rank) => (env[rank] ? n.start(undefined, env[rank]) : undefined)),
    );
    const order = opts.creator === undefined ? fx.nodes : fx.ranked;
    const creator = order[opts.creator ?? 0]!;
    const joiners = order.filter((n) => n !== creator);
    if (opts.via === 'api') {
      const id = await formGroupApi(creator, joiners, opts.name);
      fx.group = (await allReady([creator, ...joiners], id))[0]!;
    } else {
      const formed = await formGroup(creator, joiners, {
        name: opts.name,
        threshold: 2,
        scheme: 'ed25519',
      });
      fx.group = formed.groups[0]!;
    }
  }, opts.timeoutMs ?? 180_000);

  afterAll(async () => {
    if (process.env.CONCLAVE_TEST_LOGS)
      for (const n of fx.nodes) console.log(`--- ${n.name}\n${n.logs}`);
    await Promise.all(fx.nodes.map((n) => n.kill()));
    tmp.cleanup();
  });

  return fx;
}
