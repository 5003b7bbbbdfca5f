-- Logging out ends the session for good (issue 15 item 10): a session names the user's session generation
-- (inside the stamp web/access.py checks on every request), and /logout increments it, so a cookie saved
-- before the logout no longer loads a user. It ends that user's other sessions too (other browsers).
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
