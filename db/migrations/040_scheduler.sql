-- Scheduler state per source: the interval actually in force (adaptive polling, back-off,
-- feed TTL / HTTP cache hints) and when the source last stored a new item ("gone dark").
ALTER TABLE sources ADD COLUMN effective_interval_seconds INTEGER;
ALTER TABLE sources ADD COLUMN last_new_item_at TEXT;
