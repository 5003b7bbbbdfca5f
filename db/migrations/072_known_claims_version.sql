-- The library's version as one stored counter (issue 11): the pipeline checks its cached claim index
-- against it on every ingest call, and the (COUNT(*), MAX(id)) it replaces cost ~1 ms at 10,000 claims
-- (the count walks an index). Triggers bump it in the transaction of every change that the index or the
-- cached (text, url) pairs depend on — an insert, a delete, a changed text or rebuttal url — so another
-- process (`monitor claims import` beside a running service) is seen at its next ingest call.
CREATE TABLE known_claims_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO known_claims_version (id, version) VALUES (1, 0);
CREATE TRIGGER known_claims_version_insert AFTER INSERT ON known_claims
BEGIN
    UPDATE known_claims_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER known_claims_version_delete AFTER DELETE ON known_claims
BEGIN
    UPDATE known_claims_version SET version = version + 1 WHERE id = 1;
END;
CREATE TRIGGER known_claims_version_update AFTER UPDATE OF text, url ON known_claims
BEGIN
    UPDATE known_claims_version SET version = version + 1 WHERE id = 1;
END;
