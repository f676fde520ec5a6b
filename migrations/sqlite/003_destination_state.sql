-- Per-destination operator state shared by every process on this database: paused
-- destinations get no delivery attempts until resumed (POST /v1/destinations/:id/pause).
-- A destination without a row is not paused.

CREATE TABLE destination_state (
  destination TEXT PRIMARY KEY,
  paused      INTEGER NOT NULL CHECK (paused IN (0, 1)),
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
