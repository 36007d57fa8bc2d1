// The activity log as events a custodian reads: every member records the same event in their own
// chain, so entries describing one event become one row that lists who recorded it; types read as
// plain words; people appear by name with a fingerprint, not as peer-id tails.
import type { AuditEntryView, RequestView } from '../../shared/api/index.js';

export interface KnownPerson {
  name: string;
  peerId: string;
  fingerprint: string;
}

export interface ActivityEvent {
  /** Same for every member's entry about this event. */
  key: string;
  type: string;
  group?: string;
  /** When it was first recorded. */
  at: string;
  /** What happened, in plain words, with names. */
  words: string;
  /** Who did it, where the entry says so (the approver, the requester). */
  actor?: string;
  actorPeerId?: string;
  /** Who recorded it, in the order they did. */
  recordedBy: { peerId: string; name: string; fingerprint?: string; at: string }[];
  entries: AuditEntryView[];
}

/** Each audit type as words (the type filter lists these). */
export const AUDIT_TYPE_WORDS: Record<string, string> = {
  'identity.created': 'Identity created',
  'identity.renamed': 'Name changed',
  'group.created': 'Group created',
  'group.joined': 'Joined a group',
  'group.member_joined': 'A member joined',
  'group.confirmed': 'Safety code confirmed',
  'group.ready': 'Group key ready',
  'group.failed': 'Forming the group failed',
  'group.left': 'Left the group',
  'group.imported': 'Existing key imported',
  'group.joined_as_newcomer': 'Joined as a new member',
  'group.newcomer_invited': 'Invite for a new member created',
  'group.newcomer_joined': 'A new member joined with an invite',
  'group.policy_changed': 'Policy changed',
  'group.refreshed': 'Key shares refreshed',
  'group.reshared': 'Members changed (reshare)',
  'group.repaired': 'Lost device replaced (repair)',
  'group.key_exposed': 'Key reconstructed: exposed',
  'backup.exported': 'Backup of a share saved',
  'backup.restored': 'Share restored from a backup',
  'request.created': 'Request made',
  'request.approved': 'Request approved',
  'request.denied': 'Request denied',
  'request.denied_final': 'Request denied for good',
  'request.expired': 'Request expired',
  'request.signed': 'Request signed',
  'request.failed': 'Request failed',
  'request.signing_attempt_failed': 'A signing attempt failed',
  'request.share_released': 'Signature share released',
  'request.share_refused': 'Signature share refused: the coordinator’s request was wrong',
  'request.ecdh_released': 'Decryption share released',
  'request.ecdh_done': 'Decrypted (by the requester)',
  'request.ecdh_partial_invalid': 'A wrong decryption share',
  'audit.checkpoint': 'Log checkpoint',
};

/**
 * Entries a member writes about their own step, summed up by the node as the type alone: the row
 * says who by the recorder's name, and each stays an event of its own.
 */
const SELF_ACTIONS: Record<string, string> = {
  'group.confirmed': 'confirmed the safety code',
  'group.joined': 'joined the group',
  'group.joined_as_newcomer': 'joined as a new member',
  'group.newcomer_invited': 'made an invite for a new member',
  'group.left': 'left the group',
  'identity.renamed': 'changed their name',
  'backup.exported': 'saved a backup of their share',
  'backup.restored': 'restored their share from a backup',
};

/** How far apart two members' records of one event (without a subject) may be. */
const SAME_EVENT_MS = 2 * 60_000;

/** Words for an audit type, also for one this version does not know ("group.something_new"). */
export function typeWords(type: string): string {
  const known = AUDIT_TYPE_WORDS[type];
  if (known) return known;
  const words = type.replace(/[._]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Bob (9F3A-21C0)": a name with the start of the fingerprint, telling two Carols apart. */
export function personWords(p: { name: string; fingerprint?: string }): string {
  return p.fingerprint ? `${p.name} (${p.fingerprint.slice(0, 9)})` : p.name;
}

export interface ActivityContext {
  people: readonly KnownPerson[];
  /** What a request asked for, in a few words, when this node has it. */
  request?: (id: string) => string | undefined;
}

/** A person by full peer id or by the node's tail form "…<last 8>" (main/node/common.ts short). */
function findPerson(people: readonly KnownPerson[], ref: string): KnownPerson | undefined {
  const tail = ref.startsWith('…') ? ref.slice(1) : undefined;
  return people.find((p) => (tail ? p.peerId.endsWith(tail) : p.peerId === ref));
}

/** Replaces every peer-id tail ("…AB12CD34") in node text with the name and fingerprint. */
function nameTails(text: string, people: readonly KnownPerson[]): string {
  return text.replace(/…[0-9A-Za-z]{8}\b/g, (t) => {
    const p = findPerson(people, t);
    return p ? personWords(p) : `an unknown member (${t})`;
  });
}

/** The author's peer id: a group chain's author is "<peer>/<group>". */
function authorPeer(author: string): string {
  return author.split('/')[0]!;
}

/** The event's subject from the node's summary: the request id, else the summary itself. */
function subjectOf(e: AuditEntryView): string | undefined {
  if (e.summary === e.type) return undefined;
  const id = /\brequest (\S+)/.exec(e.summary) ?? /\breconstruction (\S+)/.exec(e.summary);
  // Decisions differ by who decided: keep the whole summary (it names them).
  if (id && !/^request\.(approved|denied)$/.test(e.type)) return `request:${id[1]}`;
  return e.summary;
}

function requestSubject(id: string, ctx: ActivityContext): string {
  const what = ctx.request?.(id);
  return what ? `${what} (request ${id.slice(0, 10)})` : `request ${id.slice(0, 16)}`;
}

/** The event in plain words, from its type and the node's summary. */
function wordsOf(
  e: AuditEntryView,
  ctx: ActivityContext,
): { words: string; actor?: string; actorPeerId?: string } {
  const label = typeWords(e.type);
  const s = e.summary;
  const id = /\brequest (\S+)/.exec(s)?.[1];
  if (
    e.type === 'request.created' ||
    e.type === 'request.approved' ||
    e.type === 'request.denied'
  ) {
    // "request <id> approved by …AB12CD34[: reason]": the node names the decider by a tail.
    const by = /\bby (…[0-9A-Za-z]{8}|[^:]+?)(?::|$)/.exec(s)?.[1]?.trim();
    const known = by ? findPerson(ctx.people, by) : undefined;
    const actor = known ? personWords(known) : by ? nameTails(by, ctx.people) : undefined;
    const verb = { created: 'asked for', approved: 'approved', denied: 'denied' }[
      e.type.slice('request.'.length) as 'created' | 'approved' | 'denied'
    ];
    const reason = e.type === 'request.denied' ? /: (.+)$/.exec(s)?.[1] : undefined;
    const subject = id ? requestSubject(id, ctx) : 'a request';
    const who = actor ? actor.charAt(0).toUpperCase() + actor.slice(1) : 'Someone';
    return {
      words: `${who} ${verb} ${subject}${reason ? `, saying “${reason}”` : ''}`,
      ...(actor ? { actor } : {}),
      ...(known ? { actorPeerId: known.peerId } : {}),
    };
  }
  if (e.type === 'request.share_released' && id) {
    const to = /released to (\S+)/.exec(s)?.[1];
    return {
      words: `Signature share released${to ? ` to ${nameTails(to, ctx.people)}` : ''}, for ${requestSubject(id, ctx)}`,
    };
  }
  if (e.type === 'request.share_refused' && id) {
    // The recorder's own statement about the coordinator it refused (its word, not proof).
    const m = /refused to (\S+): (.+)$/.exec(s);
    return {
      words: `Signature share refused${m ? ` to ${nameTails(m[1]!, ctx.people)}` : ''}, for ${requestSubject(id, ctx)}${m ? `, saying “${m[2]}”` : ''}`,
    };
  }
  if (e.type === 'audit.checkpoint')
    return {
      words:
        'Log checkpoint: each member listed signed how far every log they hold reached, so an entry removed later shows up',
    };
  if (e.type === 'identity.created') {
    const name = /^identity created: (.*)$/.exec(s)?.[1];
    return { words: name ? `Identity created for ${name}` : label };
  }
  if (e.type === 'group.created') {
    const m = /^created group (.+) \((\d+)-of-(\d+), (\w+)\)$/.exec(s);
    if (m)
      return {
        words: `Group “${m[1]}” created: ${m[2]} of ${m[3]} members must approve (${m[4]})`,
      };
  }
  if (e.type === 'group.ready') {
    const key = /([0-9a-f]{16,})/.exec(s)?.[1];
    if (key)
      return { words: `Group key ready: ${(key.slice(0, 16).match(/.{4}/g) ?? []).join(' ')}…` };
  }
  if (id && e.type.startsWith('request.')) return { words: `${label}: ${requestSubject(id, ctx)}` };
  if (s === e.type || s.trim() === '') return { words: label };
  return { words: `${label}: ${nameTails(s, ctx.people)}` };
}

/** Groups entries (newest first or in any order) into events, newest first. */
export function activityEvents(
  entries: readonly AuditEntryView[],
  ctx: ActivityContext,
): ActivityEvent[] {
  const byKey = new Map<string, ActivityEvent>();
  // For entries the node sums up as their type alone: the latest event of that type and group.
  const latest = new Map<string, ActivityEvent>();
  const sorted = [...entries].sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
  for (const e of sorted) {
    const peer = authorPeer(e.author);
    const person = findPerson(ctx.people, peer);
    const recorder = {
      peerId: peer,
      name: person?.name ?? e.authorName ?? `${peer.slice(0, 8)}…${peer.slice(-4)}`,
      ...(person ? { fingerprint: person.fingerprint } : {}),
      at: e.at,
    };
    const subject = subjectOf(e);
    const base = `${e.type}|${e.group ?? ''}`;
    let key = `${base}|${subject ?? `${e.author}/${e.seq}`}`;
    if (subject === undefined && !(e.type in SELF_ACTIONS)) {
      // Without a subject, the same kind of entry in the same group from another member within
      // a short while is taken as their record of the same event (a denial for good, a refresh).
      const open = latest.get(base);
      if (
        open &&
        !open.recordedBy.some((r) => r.peerId === peer) &&
        Date.parse(e.at) - Date.parse(open.recordedBy.at(-1)!.at) <= SAME_EVENT_MS
      )
        key = open.key;
    }
    const known = byKey.get(key);
    if (known) {
      known.entries.push(e);
      if (!known.recordedBy.some((r) => r.peerId === peer)) known.recordedBy.push(recorder);
      continue;
    }
    const { words, actor, actorPeerId } =
      subject === undefined && e.type in SELF_ACTIONS
        ? { words: `${recorder.name} ${SELF_ACTIONS[e.type]}`, actor: undefined, actorPeerId: peer }
        : wordsOf(e, ctx);
    const ev: ActivityEvent = {
      key,
      type: e.type,
      ...(e.group !== undefined ? { group: e.group } : {}),
      at: e.at,
      words,
      ...(actor ? { actor } : {}),
      ...(actorPeerId ? { actorPeerId } : {}),
      recordedBy: [recorder],
      entries: [e],
    };
    byKey.set(key, ev);
    if (subject === undefined) latest.set(base, ev);
  }
  return [...byKey.values()].reverse();
}

/** A request in a few words for a log row: its first line quoted, or what it does. */
export function requestWords(r: RequestView | undefined): string | undefined {
  if (!r) return undefined;
  if (r.kind !== 'sign') return r.card?.title ?? r.description?.split('.')[0];
  if (r.messageText === undefined) return `${r.message.length / 2} bytes of binary data`;
  const line = r.messageText.split('\n')[0]!.trim();
  return `“${line.length > 50 ? `${line.slice(0, 50)}…` : line}”`;
}
