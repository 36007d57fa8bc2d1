// The node's SQLite store: groups, members, requests, decisions and the audit log. Nothing secret is
// stored here (shares live in the OS keychain); see GroupRow.inviteSecret for the one join token.
export {
  BUSY_TIMEOUT_MS,
  openStore,
  StoreError,
  vouchForPackage,
  type StoreErrorCode,
} from './store.js';
export { MIGRATIONS } from './migrations.js';
export type {
  AuditEntry,
  AuditHeads,
  AuditListFilter,
  DecisionRow,
  GroupRow,
  GroupStatus,
  MemberRow,
  RequestKind,
  RequestRow,
  RequestStatus,
  Scheme,
  Store,
  StorePragmas,
  VersionedTable,
} from './types.js';
