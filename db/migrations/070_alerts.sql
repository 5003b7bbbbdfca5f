-- Alerts to the people on duty (issue 11 item 4; monitor/alerts). One row per alert and recipient: the outbox
-- the sender works through and the log /alerts/ shows. A recipient is a channel of feeds.yaml's `alerts:` list,
-- recorded by its NAME (its URL holds secrets and is never stored), or a user's own subscription.
-- story is the cluster id. events: the JSON list of event kinds that made it, reasons: their details (claims
-- and rebuttal links, places, spikes) as JSON. A row is claimed ('sending', attempts + 1, committed) before
-- the channel is contacted; then 'sent', or back to 'pending' with a later next_attempt_at, or 'failed' once
-- the attempts are used up. 'uncertain': an e-mail handed over when the connection broke, never re-sent by
-- itself. digest = 1: held outside working hours for the recipient's morning digest (next_attempt_at is then
-- the digest time; every due digest row of a recipient goes out in one message).
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    story INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items(id),
    events TEXT NOT NULL,
    reasons TEXT NOT NULL DEFAULT '{}',
    channel TEXT,
    user_id INTEGER REFERENCES users(id),
    digest INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'uncertain')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    claimed_at TEXT,
    last_error TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((channel IS NULL) != (user_id IS NULL))
);
CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
CREATE INDEX alerts_story ON alerts (story, created_at);
CREATE INDEX alerts_created ON alerts (created_at);
-- A user's own subscription: which events, which places (codes of item_places; [] = everywhere), at which
-- address: an e-mail address (sent through settings.smtp), a Telegram chat id (the bot of
-- settings.alerts.telegram_token) or a webhook URL (JSON POST).
CREATE TABLE alert_subscriptions (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('email', 'telegram', 'webhook')),
    address TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '[]',
    places TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
-- Where the event scan got to: 'items' (the last item id scanned), 'spikes' (the last spike id), 'claims_at'
-- (the latest claim_matches.matched_at seen, for matches made after their item was scanned).
CREATE TABLE alert_cursor (
    name TEXT PRIMARY KEY,
    position TEXT NOT NULL
) WITHOUT ROWID;
