-- leadgate embedded schema. Times are epoch milliseconds (INTEGER).
-- The deliveries table is also the SQLite job queue (lease_until), so a lead and its
-- jobs are written in one transaction and nothing can sit "persisted but not queued".

CREATE TABLE leads (
  id          TEXT PRIMARY KEY,
  brand       TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('routed', 'unrouted')),
  received_at INTEGER NOT NULL,
  data        TEXT NOT NULL -- the whole Lead as JSON
);

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY, -- UUIDv7: time-sortable, used for keyset pagination
  lead_id          TEXT NOT NULL REFERENCES leads (id),
  destination      TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  cycle_attempts   INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error       TEXT,
  next_attempt_at  INTEGER,
  delivered_at     INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  lease_until      INTEGER -- set while a worker holds the delivery; NULL when free
);

-- The queue's claim and the sweeper's findDue: pending rows by due time.
CREATE INDEX deliveries_status_next_attempt ON deliveries (status, next_attempt_at);
-- Admin listing and replay of dead letters per destination, keyset on id.
CREATE INDEX deliveries_destination_status_id ON deliveries (destination, status, id);
-- Listing by status alone (GET /v1/deliveries?status=dead).
CREATE INDEX deliveries_status_id ON deliveries (status, id);
-- A lead's deliveries (GET /v1/leads/:id).
CREATE INDEX deliveries_lead ON deliveries (lead_id);

CREATE TABLE attempts (
  delivery_id   TEXT NOT NULL REFERENCES deliveries (id),
  number        INTEGER NOT NULL,
  started_at    INTEGER NOT NULL,
  duration_ms   INTEGER NOT NULL,
  status_code   INTEGER,
  error_class   TEXT,
  error         TEXT,
  response_body TEXT,
  outcome       TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead')),
  PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
  brand      TEXT NOT NULL,
  key        TEXT NOT NULL,
  body_hash  TEXT NOT NULL,
  lead_id    TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (brand, key)
);

-- Pruning expired keys without a full scan.
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
