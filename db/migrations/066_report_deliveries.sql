-- The weekly report sent by e-mail (issue 13 item 5): one row per week and recipient, so a week's report goes
-- to a recipient at most once, across retries and restarts. A row is claimed ('sending', attempts + 1,
-- committed) before the server is contacted; then 'sent', or back to 'pending' with a later next_attempt_at
-- after a failure the server reported, or 'failed' once the attempts are used up. 'uncertain': the connection
-- broke after the message was handed over (or the process died mid-send), so it may have arrived; it is not
-- sent again unless someone says so (`monitor report deliveries --retry ID`).
CREATE TABLE report_deliveries (
    id INTEGER PRIMARY KEY,
    week TEXT NOT NULL,
    recipient TEXT NOT NULL,
    name TEXT,
    files TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    message_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (week, recipient)
);
CREATE INDEX report_deliveries_due ON report_deliveries (status, next_attempt_at);
