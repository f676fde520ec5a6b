-- The ops console's queries (issue 16).
-- Leads of a brand, newest first, by status and time (listLeads, countLeads).
CREATE INDEX leads_brand_received ON leads (brand, received_at, id);
-- Attempts of the last minutes, per destination and outcome (attemptCounts).
CREATE INDEX attempts_started ON attempts (started_at);
-- Who paused or resumed a destination last ("console", "admin-api", "cli"); NULL before this.
ALTER TABLE destination_state ADD COLUMN updated_by TEXT;
