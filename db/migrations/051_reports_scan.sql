-- Reports (issue 7): a covering index for the report's main scan (items first seen in a period, grouped
-- by source, language and flags) and for finding the stories active in a period, so a week of a
-- million-item database is read from the index alone instead of ~80,000 random row look-ups.
CREATE INDEX IF NOT EXISTS items_report_scan ON items (fetched_at, source_id, language, flag_reasons, cluster_id);
