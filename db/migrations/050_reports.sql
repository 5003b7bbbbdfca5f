-- Reports (issue 7): indexes the weekly report needs, and read-only SQL views for analysts in Datasette.
-- Views show local (Asia/Ho_Chi_Minh, UTC+7 — no daylight saving) day and ISO week next to UTC times.
-- The ISO week of a local day d is that of its Thursday: date(d, '-3 days', 'weekday 4').

-- Last item per source (coverage: "gone dark") without scanning all items.
CREATE INDEX IF NOT EXISTS items_source_fetched ON items (source_id, fetched_at);
-- Crawl runs in a period, across sources (coverage: "failing").
CREATE INDEX IF NOT EXISTS crawl_runs_started ON crawl_runs (started_at);
-- Stories a source started carrying in a period (spreading stories, incl. exact reposts).
CREATE INDEX IF NOT EXISTS cluster_sources_first_seen ON cluster_sources (first_seen_at);
-- Decisions to 'confirmed' in a period (top terms).
CREATE INDEX IF NOT EXISTS decisions_new_status_created ON decisions (new_status, created_at);

CREATE VIEW IF NOT EXISTS report_items AS
SELECT
    i.id AS item_id,
    i.fetched_at AS first_seen_utc,
    datetime(i.fetched_at, '+7 hours') AS first_seen_local,
    date(i.fetched_at, '+7 hours') AS local_day,
    strftime('%Y', date(i.fetched_at, '+7 hours', '-3 days', 'weekday 4')) || '-W' ||
        printf('%02d', (CAST(strftime('%j', date(i.fetched_at, '+7 hours', '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1)
        AS local_week,
    s.name AS source,
    s.kind AS source_kind,
    i.language,
    i.title,
    COALESCE(i.url, i.canonical_url) AS url,
    i.status,
    i.flag_reasons,
    json_array_length(i.flag_reasons) > 0 AS flagged,
    i.score_misinformation,
    i.score_harm,
    i.model_version,
    i.cluster_id
FROM items i JOIN sources s ON s.id = i.source_id;

CREATE VIEW IF NOT EXISTS report_decisions AS
SELECT
    d.id AS decision_id,
    d.item_id,
    d.created_at AS decided_at_utc,
    datetime(d.created_at, '+7 hours') AS decided_at_local,
    strftime('%Y', date(d.created_at, '+7 hours', '-3 days', 'weekday 4')) || '-W' ||
        printf('%02d', (CAST(strftime('%j', date(d.created_at, '+7 hours', '-3 days', 'weekday 4')) AS INTEGER) - 1) / 7 + 1)
        AS local_week,
    u.name AS decided_by,
    d.action,
    d.old_status,
    d.new_status,
    d.note,
    i.title,
    s.name AS source,
    i.flag_reasons,
    i.model_version,
    i.fetched_at AS first_seen_utc,
    ROUND((julianday(d.created_at) - julianday(i.fetched_at)) * 24, 2) AS hours_since_first_seen
FROM decisions d
JOIN users u ON u.id = d.user_id
JOIN items i ON i.id = d.item_id
JOIN sources s ON s.id = i.source_id;

CREATE VIEW IF NOT EXISTS report_weekly_crawled AS
SELECT local_week, source, source_kind, language, COUNT(*) AS items, SUM(flagged) AS flagged
FROM report_items GROUP BY local_week, source, source_kind, language;

CREATE VIEW IF NOT EXISTS report_weekly_decisions AS
SELECT local_week, action, decided_by, COUNT(*) AS decisions
FROM report_decisions GROUP BY local_week, action, decided_by;

CREATE VIEW IF NOT EXISTS report_source_health AS
SELECT
    s.name AS source, s.kind, s.language, s.enabled, s.paused, s.consecutive_failures,
    s.last_success_at, s.last_error_at, s.last_error,
    (SELECT MAX(fetched_at) FROM items WHERE items.source_id = s.id) AS last_item_at,
    (SELECT COUNT(*) FROM crawl_runs r WHERE r.source_id = s.id AND r.status = 'error'
        AND r.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-7 days')) AS errors_last_7_days
FROM sources s;

CREATE VIEW IF NOT EXISTS report_clusters AS
SELECT
    c.id AS cluster_id,
    c.first_seen_at,
    c.last_seen_at,
    COUNT(i.id) AS items,
    (SELECT COUNT(*) FROM (SELECT source_id FROM items WHERE items.cluster_id = c.id
        UNION SELECT source_id FROM cluster_sources WHERE cluster_sources.cluster_id = c.id)) AS sources,
    (SELECT title FROM items WHERE items.cluster_id = c.id ORDER BY fetched_at, id LIMIT 1) AS title,
    SUM(i.status = 'confirmed') AS confirmed,
    SUM(i.status IN ('flagged', 'escalated')) AS open
FROM clusters c JOIN items i ON i.cluster_id = c.id
GROUP BY c.id;
