-- App passwords, two-factor state, backup codes, addresses credentials were used from,
-- and the audit log.

CREATE TABLE app_passwords (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    public_id       TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    scopes          INTEGER NOT NULL,
    read_only       INTEGER NOT NULL,
    secret_hash     TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    expires_ms      INTEGER,
    revoked_ms      INTEGER,
    last_used_ms    INTEGER,
    last_used_addr  TEXT,
    last_used_agent TEXT
);
CREATE INDEX app_passwords_by_account ON app_passwords (account_id);

-- totp_state: 0 off, 1 enrolled but not confirmed, 2 on. The secret is sealed with a
-- key derived from the server key; totp_last_step is the last accepted time step, so a
-- code cannot be replayed.
ALTER TABLE accounts ADD COLUMN totp_state INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN totp_secret BLOB;
ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

CREATE TABLE backup_codes (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    used_ms    INTEGER
);
CREATE INDEX backup_codes_by_account ON backup_codes (account_id);

CREATE TABLE credential_addresses (
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential    TEXT    NOT NULL,
    addr          TEXT    NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, credential, addr)
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    detail     TEXT    NOT NULL,
    addr       TEXT
);
CREATE INDEX audit_by_account ON audit_log (account_id, at_ms);
