-- Console sessions, by the SHA-256 of the id in the session cookie. A
-- deleted token takes its sessions with it.
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL REFERENCES tokens (hash) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_token ON console_sessions (token_hash);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
