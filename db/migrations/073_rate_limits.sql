-- The login rate limits' counters in the database (db/ratelimits.py): what PostgreSQL installations use so
-- that every web process counts together. SQLite keeps them in memory by default (one web process per
-- file; a failed login never waits behind the crawler's write lock); the table lets an operator who runs
-- several `monitor serve` on one file opt in with RATELIMIT_STORAGE_URI = "monitordb://".
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    hits INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_expires ON rate_limits (expires_at);
