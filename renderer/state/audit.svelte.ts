// Activity: the audit log as events (one row per event, with who recorded it), filters by group,
// kind, person and words, its verification, and exports.
import type { Api, AuditEntryView, AuditReport } from '../../shared/api/index.js';
import {
  activityEvents,
  typeWords,
  type ActivityEvent,
  type KnownPerson,
} from '../lib/activity.js';
import { auditCsv, auditJson, download as saveFile, type Download } from '../lib/download.js';
import { explain } from '../lib/errors.js';

export class AuditState {
  entries = $state<AuditEntryView[]>([]);
  filter = $state('');
  /** '' for all, else a group id, an audit type, a peer id. */
  groupFilter = $state('');
  typeFilter = $state('');
  personFilter = $state('');
  report = $state<AuditReport | undefined>();
  verifying = $state(false);
  loaded = $state(false);
  error = $state<string | undefined>();
  verifyError = $state<string | undefined>();

  /** Every member's entries about one event, as one event; newest first. */
  readonly events = $derived.by((): ActivityEvent[] =>
    activityEvents(this.entries, {
      people: this.people(),
      request: (id) => this.requestWords(id),
    }),
  );

  /** The events the filters let through. */
  readonly shown = $derived.by(() => {
    const words = this.filter.toLowerCase().split(/\s+/).filter(Boolean);
    return this.events.filter((ev) => {
      if (this.groupFilter && ev.group !== this.groupFilter) return false;
      if (this.typeFilter && ev.type !== this.typeFilter) return false;
      if (
        this.personFilter &&
        ev.actorPeerId !== this.personFilter &&
        !ev.recordedBy.some((r) => r.peerId === this.personFilter)
      )
        return false;
      if (words.length === 0) return true;
      const hay = [
        ev.type,
        typeWords(ev.type),
        ev.words,
        ...ev.entries.map((e) => e.summary),
        ...ev.recordedBy.map((r) => `${r.name} ${r.peerId} ${r.fingerprint ?? ''}`),
        this.groupName(ev.group),
      ]
        .join(' ')
        .toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  });

  /** The entries of the events shown (what the exports hold). */
  readonly filtered = $derived(this.shown.flatMap((ev) => ev.entries));

  /** Whether any filter is set. */
  readonly filtering = $derived(
    this.filter.trim() !== '' || !!this.groupFilter || !!this.typeFilter || !!this.personFilter,
  );

  /** The choices of each filter: what occurs in the log. */
  readonly choices = $derived.by(() => {
    /* eslint-disable svelte/prefer-svelte-reactivity -- scratch maps local to this derivation */
    const groups = new Map<string, string>();
    const types = new Map<string, string>();
    const people = new Map<string, string>();
    /* eslint-enable svelte/prefer-svelte-reactivity */
    for (const ev of this.events) {
      if (ev.group !== undefined) groups.set(ev.group, this.groupName(ev.group));
      types.set(ev.type, typeWords(ev.type));
      for (const r of ev.recordedBy)
        people.set(r.peerId, r.fingerprint ? `${r.name} (${r.fingerprint.slice(0, 9)})` : r.name);
      if (ev.actorPeerId && ev.actor) people.set(ev.actorPeerId, ev.actor);
    }
    const sorted = (m: Map<string, string>) =>
      [...m]
        .map(([value, label]) => ({ value, label }))
        .sort((a, b) => a.label.localeCompare(b.label));
    return { groups: sorted(groups), types: sorted(types), people: sorted(people) };
  });

  constructor(
    private readonly api: Api,
    readonly nameOf: (peerId: string) => string | undefined,
    readonly groupName: (id: string | undefined) => string,
    private readonly download: Download = saveFile,
    /** The members of every group (names and fingerprints for peer ids). */
    private readonly people: () => readonly KnownPerson[] = () => [],
    /** What a request asked for, in a few words, when this node has it. */
    private readonly requestWords: (id: string) => string | undefined = () => undefined,
  ) {}

  clearFilters(): void {
    this.filter = '';
    this.groupFilter = '';
    this.typeFilter = '';
    this.personFilter = '';
  }

  async load(): Promise<void> {
    try {
      const entries = await this.api['audit.list']({ limit: 10_000 });
      this.entries = entries.sort((a, b) => b.at.localeCompare(a.at) || b.seq - a.seq);
      this.error = undefined;
    } catch (err) {
      this.error = explain(err, 'load the activity log');
    } finally {
      this.loaded = true;
    }
  }

  async verify(): Promise<void> {
    this.verifying = true;
    this.verifyError = undefined;
    try {
      this.report = await this.api['audit.verify']({});
    } catch (err) {
      this.verifyError = explain(err, 'check the activity log');
    } finally {
      this.verifying = false;
    }
  }

  author(e: AuditEntryView): string {
    return e.authorName ?? this.nameOf(e.author) ?? `${e.author.slice(0, 12)}…`;
  }

  /** Exports what the filter shows (everything when there is no filter). */
  exportJson(): void {
    this.download(`conclave-audit-${stamp()}.json`, auditJson(this.filtered), 'application/json');
  }

  exportCsv(): void {
    this.download(`conclave-audit-${stamp()}.csv`, auditCsv(this.filtered), 'text/csv');
  }
}

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
}
