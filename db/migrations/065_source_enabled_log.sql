-- When each source was enabled and disabled (issue 13 item 4): a report counts a source as idle ("gone
-- dark") only for a period in which it existed and was enabled, so a week before a source was added, or
-- after it was removed from feeds.yaml, does not list it. `sources` keeps only the current flag; this log
-- keeps its history, written by triggers so every writer (feeds.yaml sync, intake sources, a hand edit)
-- records it.
CREATE TABLE source_enabled_log (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX source_enabled_log_source ON source_enabled_log (source_id, changed_at);

-- Sources that exist already: their current state since they were first known, which is their creation
-- time, or their first item or crawl run where those are older (items imported or backdated before the
-- source row). When a disabled source was disabled is not known: it counts as disabled all along.
INSERT INTO source_enabled_log (source_id, enabled, changed_at)
SELECT s.id, s.enabled,
       MIN(s.created_at,
           COALESCE((SELECT MIN(i.fetched_at) FROM items i WHERE i.source_id = s.id), s.created_at),
           COALESCE((SELECT MIN(r.started_at) FROM crawl_runs r WHERE r.source_id = s.id), s.created_at))
FROM sources s;

CREATE TRIGGER source_enabled_log_insert AFTER INSERT ON sources
BEGIN
    INSERT INTO source_enabled_log (source_id, enabled, changed_at) VALUES (NEW.id, NEW.enabled, NEW.created_at);
END;

CREATE TRIGGER source_enabled_log_update AFTER UPDATE OF enabled ON sources WHEN NEW.enabled IS NOT OLD.enabled
BEGIN
    INSERT INTO source_enabled_log (source_id, enabled, changed_at)
    VALUES (NEW.id, NEW.enabled, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
END;
