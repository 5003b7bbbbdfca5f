-- Priority at insert (crawler speed): db.items.insert_item computes the priority inside its INSERT,
-- so a stored item is one row write instead of an insert plus an UPDATE of the same row and its four
-- priority indexes (about 5% of the ingest path). Rows inserted without a priority (it defaults to 0)
-- still get one: the trigger touches a score column, which fires items_priority_rescore (030) — the
-- one SQL copy of the formula; db.items keeps the other, and a test holds the two equal.
DROP TRIGGER items_priority_insert;
CREATE TRIGGER items_priority_insert AFTER INSERT ON items WHEN NEW.priority = 0
BEGIN
    UPDATE items SET score_misinformation = score_misinformation WHERE id = NEW.id;
END;
