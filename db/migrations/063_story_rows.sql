-- A row per story in the queue (issue 12 item 1): the queue shows each cluster once, by its best copy under
-- the filters (db/queue.py stories()).
-- Whether a better copy of the same cluster exists is one seek on items_cluster_queue (cluster, status, then
-- the queue order) rather than a read of every copy (fetched_at is there for a date-range filter); its version
-- column lets the page list the versions of a story's open copies (what a story decision decides) from the
-- index alone.
CREATE INDEX IF NOT EXISTS items_cluster_queue ON items (cluster_id, status, priority DESC, id DESC, version,
                                                         fetched_at);
-- A date-range page walks (status, fetched_at) and now needs each item's cluster for that seek: the
-- cluster id is added to the index, which still serves everything the old one did (same leading columns).
DROP INDEX IF EXISTS items_status_fetched;
CREATE INDEX IF NOT EXISTS items_status_fetched_cluster ON items (status, fetched_at, priority, id, cluster_id);
