-- Web (issue 5): who changed which account, when, and what — kept for admins to review.
-- Append-only like the decision log; a password change is recorded as "password_reset", never the password.
-- Names are copied so a row still reads right if a user is renamed later; actor_id is NULL for the CLI.
CREATE TABLE user_changes (
    id INTEGER PRIMARY KEY,
    changed_at TEXT NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    actor_name TEXT NOT NULL,
    target_id INTEGER NOT NULL REFERENCES users(id),
    target_name TEXT NOT NULL,
    change TEXT NOT NULL CHECK (change IN ('created', 'role', 'deactivated', 'reactivated', 'password_reset')),
    old_value TEXT NOT NULL DEFAULT '',
    new_value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX user_changes_target ON user_changes (target_id, id);
CREATE TRIGGER user_changes_no_update BEFORE UPDATE ON user_changes
BEGIN SELECT RAISE(ABORT, 'user_changes is append-only'); END;
CREATE TRIGGER user_changes_no_delete BEFORE DELETE ON user_changes
BEGIN SELECT RAISE(ABORT, 'user_changes is append-only'); END;
