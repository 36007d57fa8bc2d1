// Issue 11 item 8: how log entries become events, from summaries as the node writes them
// (main/node/audit.ts summarize): one event per subject, names for peer-id tails, words per type.
import { describe, expect, it } from 'vitest';
import type { AuditEntryView } from '../../shared/api/index.js';
import { activityEvents, AUDIT_TYPE_WORDS, typeWords } from '../../renderer/lib/activity.js';
import { ALICE, BOB, CAROL, peerTail } from './fake-api.js';

let seq = 0;
function entry(who: { peerId: string }, type: string, summary: string, at: string): AuditEntryView {
  seq += 1;
  return { author: `${who.peerId}/g1`, seq, at, type, group: 'g1', summary, hash: `h${seq}` };
}
const people = [ALICE, BOB, CAROL];

describe('activityEvents', () => {
  it('merges every member’s entry about one event, and keeps decisions by different people apart', () => {
    const entries = [ALICE, BOB, CAROL].flatMap((p, i) => [
      entry(p, 'request.signed', 'request abc123 signed', `2026-03-01T10:00:0${i}Z`),
      entry(
        p,
        'request.approved',
        `request abc123 approved by ${peerTail(BOB)}`,
        `2026-03-01T09:00:0${i}Z`,
      ),
      entry(
        p,
        'request.approved',
        `request abc123 approved by ${peerTail(CAROL)}`,
        `2026-03-01T09:30:0${i}Z`,
      ),
    ]);
    const events = activityEvents(entries, { people, request: () => '“Release v2.3.1”' });
    expect(events.map((e) => e.words)).toEqual([
      'Request signed: “Release v2.3.1” (request abc123)',
      `Carol (${CAROL.fingerprint.slice(0, 9)}) approved “Release v2.3.1” (request abc123)`,
      `Bob (${BOB.fingerprint.slice(0, 9)}) approved “Release v2.3.1” (request abc123)`,
    ]);
    expect(events[0]!.recordedBy.map((r) => r.name)).toEqual(['Alice', 'Bob', 'Carol']);
    expect(events[0]!.at).toBe('2026-03-01T10:00:00Z');
    expect(events[0]!.entries).toHaveLength(3);
  });

  it('shows each approval once, recorded by its approver, and the outcome recorded by all', () => {
    // As nodes write them since issue 12: every member records the request and the outcome (which
    // lists the approvals it held); only an approver's own chain has its approval.
    const entries = [ALICE, BOB, CAROL].flatMap((p, i) => [
      entry(
        p,
        'request.created',
        `request abc123 created by ${peerTail(ALICE)}`,
        `2026-03-01T08:00:0${i}Z`,
      ),
      entry(p, 'request.signed', 'request abc123 signed', `2026-03-01T10:00:0${i}Z`),
    ]);
    entries.push(
      entry(
        BOB,
        'request.approved',
        `request abc123 approved by ${peerTail(BOB)}`,
        '2026-03-01T09:00:00Z',
      ),
      entry(
        CAROL,
        'request.approved',
        `request abc123 approved by ${peerTail(CAROL)}`,
        '2026-03-01T09:30:00Z',
      ),
    );
    const events = activityEvents(entries, { people, request: () => '“Release v2.3.1”' });
    expect(events.map((e) => [e.type, e.recordedBy.map((r) => r.name)])).toEqual([
      ['request.signed', ['Alice', 'Bob', 'Carol']],
      ['request.approved', ['Carol']],
      ['request.approved', ['Bob']],
      ['request.created', ['Alice', 'Bob', 'Carol']],
    ]);
    expect(events[1]!.words).toBe(
      `Carol (${CAROL.fingerprint.slice(0, 9)}) approved “Release v2.3.1” (request abc123)`,
    );
    expect(events[1]!.actorPeerId).toBe(CAROL.peerId);
  });

  it('a denial keeps its reason; a share names whom it went to; an unknown tail says so', () => {
    const [denied, share, other] = activityEvents(
      [
        entry(
          ALICE,
          'request.denied',
          `request r1 denied by ${peerTail(CAROL)}: not budgeted`,
          '2026-03-01T12:00:00Z',
        ),
        entry(
          ALICE,
          'request.share_released',
          `signature share for request r1 released to ${peerTail(BOB)}`,
          '2026-03-01T11:00:00Z',
        ),
        entry(ALICE, 'request.created', 'request r2 created by …ZZZZZZZZ', '2026-03-01T10:00:00Z'),
      ],
      { people },
    );
    expect(denied!.words).toBe(
      `Carol (${CAROL.fingerprint.slice(0, 9)}) denied request r1, saying “not budgeted”`,
    );
    expect(share!.words).toBe(
      `Signature share released to Bob (${BOB.fingerprint.slice(0, 9)}), for request r1`,
    );
    expect(other!.words).toBe('An unknown member (…ZZZZZZZZ) asked for request r2');
  });

  it('a refused share names the coordinator it was refused to and the reason, as the recorder said', () => {
    const [refused] = activityEvents(
      [
        entry(
          ALICE,
          'request.share_refused',
          `signature share for request r1 refused to ${peerTail(BOB)}: commitment already used`,
          '2026-03-01T11:00:00Z',
        ),
      ],
      { people },
    );
    expect(refused!.words).toBe(
      `Signature share refused to Bob (${BOB.fingerprint.slice(0, 9)}), for request r1, saying “commitment already used”`,
    );
    expect(refused!.recordedBy.map((r) => r.name)).toEqual(['Alice']);
  });

  it('every type reads as words, a step of one’s own says whose, and other records close in time merge', () => {
    const events = activityEvents(
      [
        entry(ALICE, 'identity.created', 'identity created: Alice', '2026-03-01T07:00:00Z'),
        entry(
          ALICE,
          'group.created',
          'created group treasury (2-of-3, ed25519)',
          '2026-03-01T08:00:00Z',
        ),
        entry(ALICE, 'group.member_joined', 'group.member_joined', '2026-03-01T08:01:00Z'),
        entry(ALICE, 'group.member_joined', 'group.member_joined', '2026-03-01T08:01:30Z'),
        entry(ALICE, 'group.confirmed', 'group.confirmed', '2026-03-01T08:02:00Z'),
        entry(BOB, 'group.confirmed', 'group.confirmed', '2026-03-01T08:02:01Z'),
        entry(ALICE, 'audit.checkpoint', 'audit.checkpoint', '2026-03-01T09:00:00Z'),
        entry(BOB, 'audit.checkpoint', 'audit.checkpoint', '2026-03-01T09:00:01Z'),
        entry(ALICE, 'request.denied_final', 'request.denied_final', '2026-03-01T09:30:00Z'),
        entry(BOB, 'request.denied_final', 'request.denied_final', '2026-03-01T09:30:02Z'),
        entry(CAROL, 'request.denied_final', 'request.denied_final', '2026-03-01T09:45:00Z'),
        entry(ALICE, 'group.something_new', 'group.something_new', '2026-03-01T10:00:00Z'),
      ],
      { people },
    );
    expect(events.map((e) => [e.words, e.recordedBy.map((r) => r.name).join(', ')])).toEqual([
      ['Group something new', 'Alice'],
      // Carol's, a quarter of an hour later, is another event.
      ['Request denied for good', 'Carol'],
      ['Request denied for good', 'Alice, Bob'],
      [expect.stringMatching(/^Log checkpoint: each member listed signed/), 'Alice, Bob'],
      ['Bob confirmed the safety code', 'Bob'],
      ['Alice confirmed the safety code', 'Alice'],
      // Recorded twice by the same member: two members joined.
      ['A member joined', 'Alice'],
      ['A member joined', 'Alice'],
      ['Group “treasury” created: 2 of 3 members must approve (ed25519)', 'Alice'],
      ['Identity created for Alice', 'Alice'],
    ]);
    for (const w of Object.values(AUDIT_TYPE_WORDS)) expect(w).not.toMatch(/[a-z]\.[a-z]|_/);
    expect(typeWords('request.denied_final')).toBe('Request denied for good');
  });
});
