-- Privacy (GDPR / CNIL): a person's leads indexed by keyed hashes, erasure as a durable job,
-- an audit trail, retention purges, and `lead.erased` notices sent through the deliveries.

-- Deliveries gain a kind (what they send), the erasure whose notice they carry, and the
-- `cancelled` status (their lead was erased before they were sent). A changed CHECK means a
-- rebuild, as in 004 (foreign keys are off while migrating and checked before COMMIT).
CREATE TABLE deliveries_new (
  id               TEXT PRIMARY KEY,
  lead_id          TEXT NOT NULL REFERENCES leads (id),
  destination      TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  cycle_attempts   INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error       TEXT,
  next_attempt_at  INTEGER,
  delivered_at     INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  lease_until      INTEGER,
  kind             TEXT NOT NULL DEFAULT 'lead.created' CHECK (kind IN ('lead.created', 'lead.erased')),
  erasure_id       TEXT
);
INSERT INTO deliveries_new (id, lead_id, destination, status, attempts, cycle_attempts, last_status_code, last_error,
    next_attempt_at, delivered_at, created_at, updated_at, lease_until)
  SELECT id, lead_id, destination, status, attempts, cycle_attempts, last_status_code, last_error,
    next_attempt_at, delivered_at, created_at, updated_at, lease_until FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_status_next_attempt ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_destination_status_id ON deliveries (destination, status, id);
CREATE INDEX deliveries_status_id ON deliveries (status, id);
CREATE INDEX deliveries_lead ON deliveries (lead_id);
-- The notices of one erasure (GET /v1/privacy/erasures/:id).
CREATE INDEX deliveries_erasure ON deliveries (erasure_id) WHERE erasure_id IS NOT NULL;

-- Every lead under the keyed hash (HMAC-SHA256, LEADGATE_PRIVACY_KEY) of its email and of its
-- phone: a person's leads are found without a scan and without the address in clear.
CREATE TABLE lead_identities (
  identity TEXT NOT NULL,
  lead_id  TEXT NOT NULL REFERENCES leads (id),
  brand    TEXT NOT NULL,
  PRIMARY KEY (identity, lead_id)
) WITHOUT ROWID;
CREATE INDEX lead_identities_lead ON lead_identities (lead_id);

-- Erasure and purge remove a lead's rows by lead id.
CREATE INDEX lead_fingerprints_lead ON lead_fingerprints (lead_id);
CREATE INDEX idempotency_keys_lead ON idempotency_keys (lead_id);
-- The retention purge: a brand's oldest leads first.
CREATE INDEX IF NOT EXISTS leads_brand_received ON leads (brand, received_at); -- 005_console made it already (with id)

-- Erasure requests: the record of truth of the job (it resumes from here after a restart).
-- `identities` is a JSON array of keyed hashes: the identifier itself is never stored.
CREATE TABLE privacy_erasures (
  id           TEXT PRIMARY KEY,
  identities   TEXT NOT NULL,
  brand        TEXT,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'done')),
  leads        INTEGER NOT NULL DEFAULT 0,
  requested_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX privacy_erasures_pending ON privacy_erasures (requested_at) WHERE status = 'pending';

-- GDPR art. 30: who exported or erased whose data (a keyed hash), when, and how many leads.
CREATE TABLE privacy_audit (
  id         TEXT PRIMARY KEY,
  at         INTEGER NOT NULL,
  action     TEXT NOT NULL,
  actor      TEXT NOT NULL,
  identity   TEXT NOT NULL,
  brand      TEXT,
  leads      INTEGER,
  erasure_id TEXT
);

-- Work done in code after the SQL: SQLite cannot compute an HMAC, so the plain-sha256
-- fingerprints of existing leads are recomputed with the privacy key, and their identity rows
-- written, by SqliteLeadStore.migrate() in batches (cursor: the last lead id done).
CREATE TABLE code_migrations (
  name   TEXT PRIMARY KEY,
  cursor TEXT,
  done   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO code_migrations (name) VALUES ('005_keyed_hashes');
