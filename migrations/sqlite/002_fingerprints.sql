-- Duplicate detection (brands with duplicate_window). A fingerprint is the sha256 hex of
-- "<brand>|email|<email>|<service>" or "<brand>|phone|<e164>|<service>": no contact detail
-- is indexed in clear text. Rows are written in the lead's ingest transaction and pruned in
-- bounded batches once expires_at (received_at + the brand's window) has passed.

CREATE TABLE lead_fingerprints (
  fingerprint TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  lead_id     TEXT NOT NULL REFERENCES leads (id),
  expires_at  INTEGER NOT NULL
);

-- findDuplicate: the latest row of a fingerprint at or after a time.
CREATE INDEX lead_fingerprints_fingerprint_received ON lead_fingerprints (fingerprint, received_at);
-- Pruning expired rows without a full scan.
CREATE INDEX lead_fingerprints_expires ON lead_fingerprints (expires_at);
