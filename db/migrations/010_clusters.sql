-- Crawler (issue 3): near-duplicate clusters. A story reposted by many pages becomes one cluster
-- whose spread is its number of copies (clusters.size) and sources (clusters.source_count).
ALTER TABLE clusters ADD COLUMN representative_item_id INTEGER;

-- Which sources carried a cluster's story, and when each first did (exact reposts count too).
CREATE TABLE cluster_sources (
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    first_seen_at TEXT NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (cluster_id, source_id)
);
CREATE INDEX cluster_sources_source ON cluster_sources (source_id);

-- MinHash signature per item (for the Jaccard check) and its LSH band keys (for candidate look-up).
-- Kept in SQLite rather than in memory so every process (scheduler, web intake, CLI import) sees
-- one index, and it commits or rolls back with the item itself.
CREATE TABLE item_minhash (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    signature BLOB NOT NULL
);
CREATE TABLE minhash_bands (
    band_key INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE
);
CREATE INDEX minhash_bands_key ON minhash_bands (band_key);
CREATE INDEX minhash_bands_item ON minhash_bands (item_id);

-- Existing clusters get their source rows.
INSERT OR IGNORE INTO cluster_sources (cluster_id, source_id, first_seen_at, copies)
SELECT cluster_id, source_id, MIN(fetched_at), COUNT(*) FROM items WHERE cluster_id IS NOT NULL
GROUP BY cluster_id, source_id;
