-- The weekly report's early-warning figures (issue 11 with issue 13): items about the jurisdiction per
-- period, on a partial index of only those items, so the count costs what they are, not a scan of the week.
CREATE INDEX items_jurisdiction_scan ON items (fetched_at, flag_reasons) WHERE about_jurisdiction = 1;
