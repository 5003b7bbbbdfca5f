-- Stateless web (issue 14 §3): the login rate limits every `monitor serve` process counts together
-- (db/ratelimits.py, the `monitordb://` storage of web/ratelimit_storage.py). One fixed-window counter per
-- key; expires_at is epoch seconds. Sessions need no table (signed cookies, revoked through
-- users.session_generation), nor do claims (the claims table) or the secret keys (never in the database).
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT COLLATE "C" PRIMARY KEY,
    hits BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_expires ON rate_limits (expires_at);
