-- Web (issue 5): queue priority, claims, escalation targets, API tokens.

-- Priority is stored so the queue can walk an index at a million rows. It is "hotness" in the
-- Reddit sense: an absolute time term (fetch time / 12 h) plus score, spread and source terms,
-- so the order never needs recomputing as time passes — a newer item outranks an older one of
-- equal weight, and 0.1 of score is worth 12 h of age.
ALTER TABLE sources ADD COLUMN priority_weight REAL NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN priority REAL NOT NULL DEFAULT 0;

CREATE TRIGGER items_priority_insert AFTER INSERT ON items
BEGIN
    UPDATE items SET priority =
        10.0 * MAX(COALESCE(NEW.score_misinformation, 0), COALESCE(NEW.score_harm, 0))
        + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0
                                WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE id = NEW.cluster_id), 0)
        + COALESCE((SELECT priority_weight FROM sources WHERE id = NEW.source_id), 0)
        + CAST(strftime('%s', NEW.fetched_at) AS REAL) / 43200.0
    WHERE id = NEW.id;
END;

CREATE TRIGGER items_priority_rescore AFTER UPDATE OF score_misinformation, score_harm, cluster_id ON items
BEGIN
    UPDATE items SET priority =
        10.0 * MAX(COALESCE(NEW.score_misinformation, 0), COALESCE(NEW.score_harm, 0))
        + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0
                                WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE id = NEW.cluster_id), 0)
        + COALESCE((SELECT priority_weight FROM sources WHERE id = NEW.source_id), 0)
        + CAST(strftime('%s', NEW.fetched_at) AS REAL) / 43200.0
    WHERE id = NEW.id;
END;

-- A cluster growing (spread) raises all its copies.
CREATE TRIGGER clusters_spread_priority AFTER UPDATE OF size ON clusters
WHEN (CASE WHEN NEW.size >= 50 THEN 3 WHEN NEW.size >= 10 THEN 2 WHEN NEW.size >= 3 THEN 1 WHEN NEW.size >= 2 THEN 0.5 ELSE 0 END)
  != (CASE WHEN OLD.size >= 50 THEN 3 WHEN OLD.size >= 10 THEN 2 WHEN OLD.size >= 3 THEN 1 WHEN OLD.size >= 2 THEN 0.5 ELSE 0 END)
BEGIN
    UPDATE items SET priority = priority
        + (CASE WHEN NEW.size >= 50 THEN 3.0 WHEN NEW.size >= 10 THEN 2.0 WHEN NEW.size >= 3 THEN 1.0 WHEN NEW.size >= 2 THEN 0.5 ELSE 0.0 END)
        - (CASE WHEN OLD.size >= 50 THEN 3.0 WHEN OLD.size >= 10 THEN 2.0 WHEN OLD.size >= 3 THEN 1.0 WHEN OLD.size >= 2 THEN 0.5 ELSE 0.0 END)
    WHERE cluster_id = NEW.id;
END;

UPDATE items SET priority =
    10.0 * MAX(COALESCE(score_misinformation, 0), COALESCE(score_harm, 0))
    + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0
                            WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE clusters.id = items.cluster_id), 0)
    + COALESCE((SELECT priority_weight FROM sources WHERE sources.id = items.source_id), 0)
    + CAST(strftime('%s', fetched_at) AS REAL) / 43200.0;

CREATE INDEX items_queue ON items (status, priority DESC, id DESC);
CREATE INDEX items_source_queue ON items (source_id, status, priority DESC, id DESC);
CREATE INDEX items_language_queue ON items (language, status, priority DESC, id DESC);

-- One live claim per item; expired claims are simply ignored (and overwritten).
CREATE TABLE claims (
    item_id INTEGER PRIMARY KEY REFERENCES items(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    claimed_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX claims_user ON claims (user_id, expires_at);

-- Who an escalation was sent to (a role, a person, or both); one row per escalate decision.
CREATE TABLE escalations (
    decision_id INTEGER PRIMARY KEY REFERENCES decisions(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    target_role TEXT,
    target_user_id INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX escalations_item ON escalations (item_id);
CREATE INDEX escalations_target ON escalations (target_user_id);

-- API tokens: only a SHA-256 of the token is stored; the token is shown once when created.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX decisions_user ON decisions (user_id, id);
CREATE INDEX decisions_action ON decisions (action, id);
