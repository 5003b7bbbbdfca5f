-- The escalation inbox (issue 12 item 2): an escalation waits in its addressee's inbox (the person, or
-- everyone with the role) until it is resolved, by a decision on the item (read from the log, nothing
-- stored) or by a reply, stored here (escalations is append-only, so the reply gets its own table).
-- A reply is a message, not a decision: it changes no status. One reply closes an escalation.
CREATE TABLE escalation_replies (
    decision_id INTEGER PRIMARY KEY REFERENCES escalations(decision_id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    reply TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS escalations_role ON escalations (target_role, decision_id);
