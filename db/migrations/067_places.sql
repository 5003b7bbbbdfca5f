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
