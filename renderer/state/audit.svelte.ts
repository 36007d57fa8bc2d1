// Activity: the audit log with a text filter, its verification, and exports.
import type { Api, AuditEntryView, AuditReport } from '../../shared/api/index.js';
import { auditCsv, auditJson, download as saveFile, type Download } from '../lib/download.js';
import { explain } from '../lib/errors.js';

export class AuditState {
  entries = $state<AuditEntryView[]>([]);
  filter = $state('');
  report = $state<AuditReport | undefined>();
  verifying = $state(false);
  loaded = $state(false);
  error = $state<string | undefined>();
  verifyError = $state<string | undefined>();

  readonly filtered = $derived.by(() => {
    const words = this.filter.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return this.entries;
    return this.entries.filter((e) => {
      const hay = [
        e.type,
        e.summary,
        e.authorName ?? this.nameOf(e.author) ?? '',
        e.author,
        this.groupName(e.group),
      ]
        .join(' ')
        .toLowerCase();
      return words.every((w) => hay.includes(w));
    });
  });

  constructor(
    private readonly api: Api,
    readonly nameOf: (peerId: string) => string | undefined,
    readonly groupName: (id: string | undefined) => string,
    private readonly download: Download = saveFile,
  ) {}

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
