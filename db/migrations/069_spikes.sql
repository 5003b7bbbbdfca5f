-- Spikes (issue 11 item 3): a configured rule that fired, with the stories and items that made it.
-- kind: 'story_sources' (a story reached N sources within H hours), 'rule_rate' (a watchlist rule hit k times
-- its hourly mean of the last 7 days), 'place_rate' (the same for a place). subject is the cluster id, the
-- rule's name or the place code; one spike per rule and subject per window (UNIQUE).
CREATE TABLE spikes (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('story_sources', 'rule_rate', 'place_rate')),
    subject TEXT NOT NULL,
    window_start TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    observed REAL NOT NULL,
    expected REAL,
    UNIQUE (rule, subject, window_start)
);
CREATE INDEX spikes_fired ON spikes (fired_at);
CREATE TABLE spike_items (
    spike_id INTEGER NOT NULL REFERENCES spikes(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    cluster_id INTEGER,
    PRIMARY KEY (spike_id, item_id)
) WITHOUT ROWID;
-- A story's spikes, for its item page (any spike one of its copies made: its own, or a rule's or a place's).
CREATE INDEX spike_items_cluster ON spike_items (cluster_id, spike_id);
-- Watchlist rule hits per item, for the rule_rate spike (the explanation JSON holds them too, but a rate
-- over 7 days must not parse a week of explanations).
CREATE TABLE item_rule_hits (
    item_id INTEGER NOT NULL REFERENCES items(id),
    rule TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (item_id, rule)
) WITHOUT ROWID;
CREATE INDEX item_rule_hits_rule ON item_rule_hits (rule, fetched_at);
