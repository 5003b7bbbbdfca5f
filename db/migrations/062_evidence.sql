-- Evidence capture (issue 12 item 5): each time an item's page is fetched again to keep it (at confirm, at
-- escalate, or by hand) one row says what came back. The WARC file itself lies beside the database in
-- <db>.evidence/<item id>/ (files, not BLOBs: a capture may be megabytes); `path` is relative to that folder
-- and `sha256` is the hash of the file as written, which `monitor audit verify` checks again.
-- A failed capture has no file: `error` says why (refused address, timeout, too large, HTTP error) and
-- `error_kind` which of those it was. Rows are append-only: a capture is never edited or removed.
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    url TEXT NOT NULL,
    final_url TEXT,
    http_status INTEGER,
    path TEXT,
    sha256 TEXT,
    size INTEGER,
    captured_at TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    user_name TEXT,
    why TEXT NOT NULL CHECK (why IN ('confirm', 'escalate', 'manual')),
    text TEXT,
    error_kind TEXT CHECK (error_kind IS NULL OR error_kind IN ('refused', 'timeout', 'too_large', 'http', 'other')),
    error TEXT,
    CHECK ((path IS NULL) = (error IS NOT NULL))
);
CREATE INDEX evidence_item ON evidence (item_id, id);
CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence captures are append-only'); END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN SELECT RAISE(ABORT, 'evidence captures are append-only'); END;
