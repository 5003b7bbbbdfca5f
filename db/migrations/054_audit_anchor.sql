-- The decision log anchored outside the database (issue 15 item 8).
--
-- New rows are hashed with HMAC-SHA256 under the audit key kept beside the database (db/keys.py), over
-- everything a decision means: hash_scheme 2. Rows written before this migration keep their plain SHA-256
-- hashes (hash_scheme 1) untouched; `monitor audit rekey` (or the first decision after the upgrade)
-- verifies them the old way once and anchors them with a signed "rekey" checkpoint (db/decisions.py).
ALTER TABLE decisions ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 1;
-- Who decided, by name at the time (users.name may later be changed; the log keeps what was signed).
ALTER TABLE decisions ADD COLUMN user_name TEXT;
-- The item version the decision produced (items.version after it).
ALTER TABLE decisions ADD COLUMN item_version INTEGER;
-- The person an escalation went to, by name at the time.
ALTER TABLE escalations ADD COLUMN target_user_name TEXT;

-- Escalations are part of what a decision means: append-only like the decisions themselves.
CREATE TRIGGER escalations_no_update BEFORE UPDATE ON escalations
BEGIN SELECT RAISE(ABORT, 'escalations are append-only'); END;
CREATE TRIGGER escalations_no_delete BEFORE DELETE ON escalations
BEGIN SELECT RAISE(ABORT, 'escalations are append-only'); END;
