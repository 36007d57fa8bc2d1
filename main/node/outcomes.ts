// Outcomes of requests between members: taking an outcome another member signed (a signature
// anyone can check; a failure only as shared/protocol/evidence.ts allows, issue 9 finding 4) and
// the outcome this node tells the others. Part of the requests service, kept apart for its size.
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { splitAndVerify, verifySignature } from '../../shared/crypto/sign.js';
import { coordinatorOf, failedForGood } from '../../shared/protocol/decisions.js';
import { acceptFailureOutcome, type FailureContext } from '../../shared/protocol/evidence.js';
import { isLowerHex } from '../../shared/protocol/fields.js';
import { signStatement, type OutcomeBody, type Signed } from '../../shared/protocol/wire.js';
import {
  executionOf,
  opOfKind,
  opOfRequest,
  readRequest,
  type SignPart,
} from '../../shared/requests/index.js';
import { verifyEd25519 } from '../crypto/ed25519.js';
import type { RequestRow } from '../store/index.js';
import { DroppedMessage, TERMINAL, short, union } from './common.js';
import { type NodeContext, NodeService } from './context.js';
import type { RequestsService } from './requests.js';
import { trace } from './trace.js';

/** Raw signing and the uses carried out by FROST signing. */
const signs = (kind: string): boolean => opOfKind(kind) === 'sign';

export class Outcomes extends NodeService {
  constructor(
    ctx: NodeContext,
    private readonly requests: RequestsService,
  ) {
    super(ctx);
  }

  /**
   * An outcome another member signed. A signature ends the request: anyone can check it. A failure
   * is one member's word, taken only as shared/protocol/evidence.ts decides (finding 4): for a sign
   * request from the coordinator of the attempt (an approver that is no culprit) once every member
   * decided and its report accounts for the approvers that could not sign; for a ceremony from a
   * participant. It blames only signers its evidence proves here; the rest is kept as "reported".
   * The signed failure is stored as received and relayed unchanged (outcomeOf).
   */
  accept(r: RequestRow, s: Signed<OutcomeBody>): void {
    const b = s.body;
    if (r.status === 'done') return;
    // An ECDH's result never leaves its requester, so its word that it is done is all there is;
    // it ends only its own request.
    if (this.opOf(r) === 'ecdh' && !b.signature && !b.failure) {
      if (b.by !== r.createdBy || TERMINAL.includes(r.status)) return;
      this.requests.finish(r.id, { status: 'done' }, 'request.ecdh_done', { id: r.id, by: b.by });
      return;
    }
    if (b.signature) {
      trace(r.id, 'outcome.recv');
      const pub = this.publicPackage(r.groupId);
      const sig = hexToBytes(b.signature);
      const parts = this.partsOf(r);
      // Every member checks each signature it is told of: an Ed25519 group's with the native-speed
      // strict verifier (the same answers as noble's).
      const valid =
        pub !== undefined &&
        (parts
          ? splitAndVerify(pub, parts, sig, verifyEd25519) !== undefined
          : verifySignature(pub, r.message, sig, verifyEd25519));
      if (!valid) throw new DroppedMessage('bad_result');
      this.requests.finish(
        r.id,
        { status: 'done', signature: hexToBytes(b.signature) },
        'request.signed',
        {
          id: r.id,
          signature: b.signature,
          by: b.by,
        },
      );
      trace(r.id, 'outcome.done');
      return;
    }
    if (!b.failure || TERMINAL.includes(r.status)) return;
    const g = this.store.groups.get(r.groupId)!;
    const ctx: FailureContext = { kind: r.kind, approvers: this.requests.approversOf(r) };
    if (signs(r.kind)) {
      // Decisions can overtake each other: "not yet" (the sender retries) until this node holds
      // the sender's approval and every member's decision, as the coordinator did when it failed.
      if (!ctx.approvers.includes(b.by))
        throw new Error(
          `${short(b.by)} has not approved request ${r.id} as far as this node knows; try again shortly`,
        );
      if (this.requests.decisionsOf(r).length < g.size)
        throw new Error(
          `not every member's decision on request ${r.id} is here yet; try again shortly`,
        );
      ctx.evidence = this.evidenceContext(r);
    } else ctx.participants = this.participantsOf(r);
    const d = acceptFailureOutcome(b, ctx);
    const unfounded =
      !d.accept ||
      (signs(r.kind) &&
        // A culprit of an earlier attempt coordinates no more; and a failure must name (with
        // proof or as a report) enough approvers that the others could not sign.
        (coordinatorOf(ctx.approvers, (p) => p === b.by, r.culprits) !== b.by ||
          !failedForGood({
            decisions: this.requests.decisionsOf(r),
            size: g.size,
            threshold: g.threshold,
            culprits: union(
              union(r.culprits, d.culprits),
              d.reported.map((x) => x.peer),
            ),
          })));
    if (unfounded) {
      // Refused for good, and counted; not thrown, so the rest of the sender's batch is taken.
      this.count('unfounded_failure');
      return;
    }
    this.requests.finish(
      r.id,
      {
        status: 'failed',
        failure: b.failure,
        culprits: union(r.culprits, d.culprits),
        outcome: JSON.stringify(s),
      },
      'request.failed',
      { id: r.id, failure: b.failure, by: b.by, culprits: d.culprits, reported: d.reported },
    );
  }

  /** How a request is carried out (a 'nostr' request is an ECDH or a signature by its bytes). */
  private opOf(r: RequestRow): ReturnType<typeof opOfKind> {
    if (r.kind !== 'nostr') return opOfKind(r.kind);
    try {
      return opOfRequest(r.kind, r.message, this.requests.contextOf(r));
    } catch {
      return opOfKind(r.kind);
    }
  }

  /** The signatures a signing request asks for, as this node reads it; undefined otherwise. */
  private partsOf(r: RequestRow): SignPart[] | undefined {
    if (!signs(r.kind)) return undefined;
    try {
      const exec = executionOf(r.kind, r.message, this.requests.contextOf(r));
      return exec.op === 'sign' ? exec.parts : undefined;
    } catch {
      return undefined;
    }
  }

  /** What a sign request's bad-share evidence is checked against: this node's own view. */
  private evidenceContext(r: RequestRow): FailureContext['evidence'] {
    const parts = this.partsOf(r);
    const member = (p: string) => this.memberByPeer(r.groupId, p);
    return {
      groupId: r.groupId,
      requestId: r.id,
      message: r.message,
      ...(parts ? { parts } : {}),
      publicPackage: this.publicPackage(r.groupId),
      indexOf: (p) => member(p)?.index,
      identityKey: (p) => {
        const key = member(p)?.identityKey;
        return isLowerHex(key, 64) ? hexToBytes(key) : undefined;
      },
    };
  }

  /**
   * Who takes part in a ceremony request, from its parameters: the members (not a repair's lost
   * one) and the newcomers; for a reconstruction its requester and approvers. Only they may report
   * that it failed; a request whose parameters cannot be read has none.
   */
  participantsOf(r: RequestRow): string[] {
    const members = this.store.members.list(r.groupId).map((m) => m.peerId);
    if (r.kind === 'refresh') return members;
    let p: {
      lost?: unknown;
      requester?: unknown;
      newcomer?: { peerId: string };
      add?: { peerId: string }[];
    };
    try {
      p = readRequest(r.kind, r.message, this.requests.contextOf(r)) as typeof p;
    } catch {
      return [];
    }
    if (r.kind === 'reconstruct')
      return typeof p.requester === 'string' ? [p.requester, ...this.requests.approversOf(r)] : [];
    if (r.kind === 'repair')
      return [...members.filter((m) => m !== p.lost), ...(p.newcomer ? [p.newcomer.peerId] : [])];
    if (r.kind === 'reshare') return [...members, ...(p.add ?? []).map((a) => a.peerId)];
    return [];
  }

  /**
   * The outcome this node tells others. A signature anyone can check, so this node signs it anew.
   * A failure is its reporter's statement, relayed exactly as signed (its evidence under its
   * signature); one without a stored statement is this node's own word, given only for a ceremony
   * it took part in. A sign or policy request failed here alone (say, refused under this node's
   * policy) is every member's own business: nothing is sent, others would not take it.
   */
  outcomeOf(r: RequestRow): Signed<OutcomeBody> | undefined {
    if (r.status === 'failed' && r.outcome) {
      try {
        return JSON.parse(r.outcome) as Signed<OutcomeBody>;
      } catch {
        return undefined; // a damaged row: relay nothing rather than stop a sync or a timer
      }
    }
    if (r.status !== 'done' && r.status !== 'failed') return undefined;
    const body: OutcomeBody = {
      v: 1,
      type: 'outcome',
      groupId: r.groupId,
      requestId: r.id,
      culprits: r.culprits,
      by: this.me.peerId,
      at: r.updatedAt,
    };
    if (r.signature) body.signature = bytesToHex(r.signature);
    else if (r.status === 'done' && this.opOf(r) === 'ecdh') {
      // Its requester's word that it is done (the result itself stays with the requester).
      if (r.createdBy !== this.me.peerId) return undefined;
    } else if (
      r.failure &&
      !signs(r.kind) &&
      r.kind !== 'policy' &&
      this.participantsOf(r).includes(this.me.peerId)
    )
      body.failure = r.failure;
    else return undefined;
    return signStatement(body, (h) => this.me.sign(h));
  }
}
