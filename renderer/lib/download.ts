// Saving files the user asked for (audit exports, signatures), and turning audit entries into them.
import type { AuditEntryView } from '../../shared/api/index.js';

export type Download = (filename: string, text: string, type: string) => void;

export const download: Download = (filename, text, type) => {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

const COLUMNS = ['at', 'author', 'authorName', 'seq', 'type', 'group', 'summary', 'hash'] as const;

function csvCell(value: unknown): string {
  let s = value === undefined || value === null ? '' : String(value);
  // A cell starting with = + - @ (or a tab or CR) is a formula to a spreadsheet: defuse it.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function auditCsv(entries: readonly AuditEntryView[]): string {
  const rows = [COLUMNS.join(',')];
  for (const e of entries) rows.push(COLUMNS.map((c) => csvCell(e[c])).join(','));
  return `${rows.join('\r\n')}\r\n`;
}

export function auditJson(entries: readonly AuditEntryView[]): string {
  return `${JSON.stringify(entries, null, 2)}\n`;
}
