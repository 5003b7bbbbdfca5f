-- The library of debunked claims (issue 11 item 2) and the items that repeat them. (`claims` is taken: it
-- holds moderators' claims on queue items, migration 030.) origin says where a claim came from: a confirmed
-- decision on one of the committee's own items, a schema.org ClaimReview, a `role: rebuttal` source, or
-- `monitor claims import`. text_key is the folded text (classifiers.text.search_key), which search reads.
-- A claim is one (text_key, url) pair: the unique index reads a missing url as '' (a plain UNIQUE would let
-- any number of url-less copies in, NULLs being distinct). AUTOINCREMENT: ids are never reused
-- (the library's version, which the pipeline's cached index is checked against, is a counter that triggers
-- keep: migration 072).
CREATE TABLE known_claims (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    text_key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    language TEXT,
    claim_date TEXT,
    url TEXT,
    publisher TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('decision', 'claimreview', 'rebuttal', 'import')),
    item_id INTEGER REFERENCES items(id),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX known_claims_key ON known_claims (text_key, COALESCE(url, ''));
CREATE INDEX known_claims_item ON known_claims (item_id) WHERE item_id IS NOT NULL;
CREATE TABLE claim_matches (
    item_id INTEGER NOT NULL REFERENCES items(id),
    claim_id INTEGER NOT NULL REFERENCES known_claims(id),
    similarity REAL NOT NULL,
    matched_at TEXT NOT NULL,
    PRIMARY KEY (item_id, claim_id)
) WITHOUT ROWID;
CREATE INDEX claim_matches_claim ON claim_matches (claim_id, item_id);
CREATE INDEX claim_matches_time ON claim_matches (matched_at);
