// Schema migrations, applied in order; PRAGMA user_version records how many have run.
// Never edit a released migration: append a new one. Tables are STRICT so SQLite refuses a wrong
// type (a fraction where a timestamp belongs) instead of storing it.

export const MIGRATIONS: readonly string[] = [
  // 1: everything.
  `
  CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    size INTEGER NOT NULL,
    scheme TEXT NOT NULL CHECK (scheme IN ('ed25519', 'secp256k1', 'taproot')),
    status TEXT NOT NULL CHECK (status IN ('forming', 'confirming', 'dkg', 'ready', 'failed')),
    creator_peer_id TEXT NOT NULL,
    invite_secret TEXT,
    public_package TEXT CHECK (public_package IS NULL OR json_valid(public_package)),
    epoch INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    error TEXT,
    dkg_session TEXT,
    roster_hash TEXT
  ) STRICT;
  CREATE INDEX groups_by_name ON groups (name);

  CREATE TABLE members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    peer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    roster_index INTEGER NOT NULL,
    addrs TEXT NOT NULL CHECK (json_valid(addrs) AND json_type(addrs) = 'array'),
    confirmed INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, peer_id)
  ) STRICT;

  CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('sign', 'refresh', 'reshare', 'repair', 'policy', 'reconstruct')),
    message BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL
      CHECK (status IN ('pending', 'signing', 'done', 'denied', 'expired', 'failed')),
    signature BLOB,
    failure TEXT,
    culprits TEXT NOT NULL CHECK (json_valid(culprits) AND json_type(culprits) = 'array'),
    envelope TEXT NOT NULL CHECK (json_valid(envelope)),
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX requests_by_group ON requests (group_id, created_at);
  CREATE INDEX requests_by_status ON requests (status, created_at);

  CREATE TABLE decisions (
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    peer_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'deny')),
    reason TEXT,
    statement TEXT NOT NULL CHECK (json_valid(statement)),
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, peer_id)
  ) STRICT;

  -- Entries of every author, ours and the other members'; no foreign key to groups, since an
  -- entry may arrive before (or without) the group it names.
  CREATE TABLE audit (
    author TEXT NOT NULL,
    seq INTEGER NOT NULL,
    v INTEGER NOT NULL,
    prev TEXT NOT NULL,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    group_id TEXT,
    body TEXT NOT NULL CHECK (json_valid(body) AND json_type(body) = 'object'),
    hash TEXT NOT NULL,
    sig TEXT NOT NULL,
    PRIMARY KEY (author, seq)
  ) STRICT;
  CREATE INDEX audit_by_time ON audit (at, author, seq);
  CREATE INDEX audit_by_group ON audit (group_id, at);
  `,
  // 2: the signed outcome that ended a request, kept verbatim so a member relays the reporter's
  // own statement (its signature and evidence) instead of re-signing it under its own name.
  `
  ALTER TABLE requests ADD COLUMN outcome TEXT CHECK (outcome IS NULL OR json_valid(outcome));
  `,
  // 3: the uses of the key (ssh, age, x509, psbt, nostr) as request kinds. SQLite cannot change
  // a CHECK in place: the table is rebuilt. Dropping it would cascade to its decisions (foreign
  // keys stay on inside the migration's transaction), so they are kept aside and put back.
  `
  CREATE TEMP TABLE decisions_kept AS SELECT * FROM decisions;
  CREATE TABLE requests_v3 (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('sign', 'refresh', 'reshare', 'repair', 'policy',
      'reconstruct', 'ssh', 'age', 'x509', 'psbt', 'nostr')),
    message BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    status TEXT NOT NULL
      CHECK (status IN ('pending', 'signing', 'done', 'denied', 'expired', 'failed')),
    signature BLOB,
    failure TEXT,
    culprits TEXT NOT NULL CHECK (json_valid(culprits) AND json_type(culprits) = 'array'),
    envelope TEXT NOT NULL CHECK (json_valid(envelope)),
    updated_at INTEGER NOT NULL,
    outcome TEXT CHECK (outcome IS NULL OR json_valid(outcome))
  ) STRICT;
  INSERT INTO requests_v3 (id, group_id, kind, message, created_by, created_at, expires_at, status,
    signature, failure, culprits, envelope, updated_at, outcome)
    SELECT id, group_id, kind, message, created_by, created_at, expires_at, status, signature,
      failure, culprits, envelope, updated_at, outcome FROM requests;
  DROP TABLE requests;
  ALTER TABLE requests_v3 RENAME TO requests;
  CREATE INDEX requests_by_group ON requests (group_id, created_at);
  CREATE INDEX requests_by_status ON requests (status, created_at);
  INSERT OR IGNORE INTO decisions SELECT * FROM decisions_kept;
  DROP TABLE decisions_kept;
  `,
];
