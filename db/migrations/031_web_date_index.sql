-- Web: the queue's date-range filter (status + fetched_at) served from a covering index, so picking a
-- page's ids sorts index entries only and never reads the wide item rows (1M-row benchmark: 150-240 ms
-- → a few ms).
CREATE INDEX items_status_fetched ON items (status, fetched_at, priority, id);
