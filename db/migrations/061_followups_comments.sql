-- Follow-up actions and comments (issue 12 items 4 and 6).
--
-- A follow-up is what was done about a confirmed item: a rebuttal published, a takedown requested, a
-- referral to an agency, the poster contacted. `followups` holds its current state (the outcome changes
-- once known); `followup_log` is the append-only record of each change, HMAC-chained under the audit key
-- like the decision log, and `monitor audit verify` checks that every follow-up row is what its log says.
CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    cluster_id INTEGER,
    kind TEXT NOT NULL,
    link TEXT,
    platform TEXT,
    agency TEXT,
    note TEXT NOT NULL DEFAULT '',
    acted_on TEXT,
    due_on TEXT,
    outcome TEXT NOT NULL DEFAULT 'pending',
    user_id INTEGER NOT NULL REFERENCES users(id),
    user_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    outcome_user_id INTEGER REFERENCES users(id),
    outcome_user_name TEXT,
    outcome_at TEXT
);
CREATE INDEX followups_item ON followups (item_id);
CREATE INDEX followups_open ON followups (outcome, due_on);
CREATE INDEX followups_created ON followups (created_at);

CREATE TABLE followup_log (
    id INTEGER PRIMARY KEY,
    followup_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE INDEX followup_log_followup ON followup_log (followup_id, id);
CREATE TRIGGER followup_log_no_update BEFORE UPDATE ON followup_log
BEGIN SELECT RAISE(ABORT, 'the follow-up log is append-only'); END;
CREATE TRIGGER followup_log_no_delete BEFORE DELETE ON followup_log
BEGIN SELECT RAISE(ABORT, 'the follow-up log is append-only'); END;

-- Comments: a thread of notes per story (the cluster, or the item alone), apart from decisions. An
-- @name mention of an existing user puts the story in that user's inbox until they mark it read.
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    cluster_id INTEGER,
    user_id INTEGER NOT NULL REFERENCES users(id),
    user_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_cluster ON comments (cluster_id, id);
CREATE INDEX comments_item ON comments (item_id, id);

CREATE TABLE comment_mentions (
    comment_id INTEGER NOT NULL REFERENCES comments(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    read_at TEXT,
    PRIMARY KEY (comment_id, user_id)
);
CREATE INDEX comment_mentions_open ON comment_mentions (user_id, read_at);
