-- Places an item mentions (issue 11 item 1): one row per item and administrative unit, tagged at ingest
-- by classifiers.places. Codes are those of the units after the July 2025 reorganisation (a pre-2025 name is
-- stored as the unit it became): a province 'p:<code>', a commune or ward 'c:<code>'; province_code is
-- the province the unit lies in (its own code for a province), so "in province X" is one indexed look-up.
CREATE TABLE item_places (
    item_id INTEGER NOT NULL REFERENCES items(id),
    code TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('province', 'commune')),
    province_code TEXT NOT NULL,
    PRIMARY KEY (item_id, code)
) WITHOUT ROWID;
CREATE INDEX item_places_code ON item_places (code, item_id);
CREATE INDEX item_places_province ON item_places (province_code, item_id);
-- 1 when a place of the item lies in settings.jurisdiction when it was stored ("Về địa bàn").
ALTER TABLE items ADD COLUMN about_jurisdiction INTEGER NOT NULL DEFAULT 0;
-- The queue's boost for "Về địa bàn": +2.0, the weight of a 0.2 difference in score, of a story with 10+
-- copies, or of 24 hours of age — so a local item outranks an equally scored one from elsewhere fetched up
-- to a day later, but a clearly stronger signal (score +0.3) still comes first. The same formula is in
-- db.items._PRIORITY_SQL (tests/test_db.py holds the two equal). Re-marking about_jurisdiction (a changed
-- jurisdiction, db.places.remark_jurisdiction) fires this trigger, so the queue follows.
DROP TRIGGER items_priority_rescore;
CREATE TRIGGER items_priority_rescore AFTER UPDATE OF score_misinformation, score_harm, cluster_id, about_jurisdiction ON items
BEGIN
    UPDATE items SET priority =
        10.0 * MAX(COALESCE(NEW.score_misinformation, 0), COALESCE(NEW.score_harm, 0))
        + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0
                                WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE id = NEW.cluster_id), 0)
        + COALESCE((SELECT priority_weight FROM sources WHERE id = NEW.source_id), 0)
        + CAST(strftime('%s', NEW.fetched_at) AS REAL) / 43200.0
        + 2.0 * NEW.about_jurisdiction
    WHERE id = NEW.id;
END;
-- The queue filtered to "Về địa bàn": a partial index over the (few) local items, so the filter walks
-- them in priority order instead of every flagged item (db.queue.QueueFilter.about_jurisdiction).
CREATE INDEX items_queue_local ON items (status, priority DESC, id DESC) WHERE about_jurisdiction = 1;
