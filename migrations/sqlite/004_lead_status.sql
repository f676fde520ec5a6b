-- Leads may also be kept as spam (bot checks of the public edge) or as an erased tombstone
-- (privacy). SQLite cannot change a CHECK in place: the table is rebuilt, foreign keys off
-- (the runner turns them off and checks them before COMMIT).
CREATE TABLE leads_new (
  id          TEXT PRIMARY KEY,
  brand       TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('routed', 'unrouted', 'spam', 'erased')),
  received_at INTEGER NOT NULL,
  data        TEXT NOT NULL -- the whole Lead as JSON
);
INSERT INTO leads_new (id, brand, status, received_at, data) SELECT id, brand, status, received_at, data FROM leads;
DROP TABLE leads;
ALTER TABLE leads_new RENAME TO leads;
