-- Foundation schema. Times are UTC ISO 8601 text ("2026-11-23T23:10:11Z"); text is NFC.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    language TEXT,
    interval_seconds INTEGER NOT NULL DEFAULT 3600,
    tags TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_error_at TEXT,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    paused INTEGER NOT NULL DEFAULT 0,
    next_run_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('moderator', 'analyst', 'admin')),
    active INTEGER NOT NULL DEFAULT 1,
    locale TEXT NOT NULL DEFAULT 'vi',
    timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
    created_at TEXT NOT NULL
);

CREATE TABLE clusters (
    id INTEGER PRIMARY KEY,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 1,
    source_count INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    guid TEXT NOT NULL,
    url TEXT,
    canonical_url TEXT,
    title TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    author TEXT,
    published_at TEXT,
    fetched_at TEXT NOT NULL,
    language TEXT,
    content_hash TEXT NOT NULL,
    cluster_id INTEGER REFERENCES clusters(id),
    score_misinformation REAL,
    score_harm REAL,
    explanation TEXT NOT NULL DEFAULT '{}',
    model_version TEXT,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'flagged', 'confirmed', 'dismissed', 'escalated')),
    flag_reasons TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source_id, guid)
);
CREATE INDEX items_canonical_url ON items (canonical_url);
CREATE INDEX items_content_hash ON items (content_hash);
CREATE INDEX items_status_score ON items (status, score_misinformation DESC);
CREATE INDEX items_fetched_at ON items (fetched_at);
CREATE INDEX items_cluster ON items (cluster_id);

-- Search index over diacritic-folded copies of title and text (rowid = items.id), so that
-- "tin gia" finds "tin giả" and "đ" matches "d" (unicode61 alone does not fold đ).
CREATE VIRTUAL TABLE items_fts USING fts5(title, text, tokenize = 'unicode61 remove_diacritics 2');

CREATE TABLE crawl_runs (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'not_modified', 'error')),
    http_status INTEGER,
    items_found INTEGER NOT NULL DEFAULT 0,
    items_new INTEGER NOT NULL DEFAULT 0,
    items_seen INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX crawl_runs_source ON crawl_runs (source_id, started_at);

-- Append-only, hash-chained: row_hash = sha256(prev_hash + canonical row content).
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    old_status TEXT NOT NULL,
    new_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE INDEX decisions_item ON decisions (item_id);
CREATE INDEX decisions_created ON decisions (created_at);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;

CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    card TEXT NOT NULL DEFAULT '',
    promoted INTEGER NOT NULL DEFAULT 0
);

-- Small key/value state: scheduler heartbeat, lock owner, etc.
CREATE TABLE service_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
