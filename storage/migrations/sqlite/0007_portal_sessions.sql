-- Portal sessions: a browser signed in to /account/. Only a hash of the session id is
-- stored, so a copy of the database opens no session. stage 1 is a password checked
-- and a second factor still to come; 2 is signed in. The CSRF token is bound to the
-- session and checked on every form the portal receives.

CREATE TABLE portal_sessions (
    id           INTEGER PRIMARY KEY,
    id_hash      TEXT    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stage        INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    addr         TEXT    NOT NULL,
    agent        TEXT    NOT NULL,
    csrf_token   TEXT    NOT NULL
);
CREATE INDEX portal_sessions_by_account ON portal_sessions (account_id);

-- The browser or client behind an audited action, beside its address.
ALTER TABLE audit_log ADD COLUMN agent TEXT;
