-- Reasons a moderator can read (issue 18): the one reason a queue row shows, stored at insert
-- (pipeline: Scores.top_reason()) so the queue page selects a column instead of parsing the explanation
-- JSON of fifty rows. Not indexed and not in the priority formula: the insert trigger of 033 and the
-- rescore trigger of 030 are untouched.
ALTER TABLE items ADD COLUMN top_reason TEXT NOT NULL DEFAULT '';
-- Items awaiting triage that were stored before this migration get the same reason from their old
-- explanation ({"terms": {category: [word, ...]}, "rules": [{"category", "rule", "match"}]}): the first
-- rule hit, else the first term of the first flagged category, else of the higher-scoring category.
-- Only flagged and escalated items (found through the items_queue index): rewriting every row took
-- 15 s per million items on the test VM, holding the write lock; decided and unflagged old items
-- show no reason in the queue, and every item page still reads its full explanation.
UPDATE items SET top_reason = COALESCE(
    json_extract(explanation, '$.rules[0].name'),
    json_extract(explanation, '$.rules[0].rule'),
    CASE json_extract(flag_reasons, '$[0]') WHEN 'misinformation' THEN json_extract(explanation, '$.terms.misinformation[0]')
                                          WHEN 'harm' THEN json_extract(explanation, '$.terms.harm[0]') END,
    CASE WHEN COALESCE(score_harm, 0) > COALESCE(score_misinformation, 0)
         THEN json_extract(explanation, '$.terms.harm[0]') END,
    json_extract(explanation, '$.terms.misinformation[0]'),
    json_extract(explanation, '$.terms.harm[0]'),
    '')
WHERE status IN ('flagged', 'escalated') AND explanation NOT IN ('', '{}') AND json_valid(explanation)
  AND json_valid(flag_reasons);
