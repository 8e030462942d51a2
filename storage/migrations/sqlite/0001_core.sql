-- Accounts, the file tree with its trash, blobs, dead properties and locks.
-- Timestamps are milliseconds since the Unix epoch; flags are 0/1 integers so the
-- same queries run on PostgreSQL.

CREATE TABLE accounts (
    id                    INTEGER PRIMARY KEY,
    username              TEXT    NOT NULL UNIQUE,
    password_hash         TEXT    NOT NULL,
    credential_generation INTEGER NOT NULL DEFAULT 1,
    disabled              INTEGER NOT NULL DEFAULT 0,
    quota_bytes           INTEGER,
    upload_limit_bytes    INTEGER,
    used_bytes            INTEGER NOT NULL DEFAULT 0,
    files_root            INTEGER,
    trash_root            INTEGER,
    created_ms            INTEGER NOT NULL
);

CREATE TABLE blobs (
    key        TEXT    PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE nodes (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    parent_id     INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    size          INTEGER NOT NULL DEFAULT 0,
    etag          TEXT    NOT NULL,
    mtime_ms      INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    content_type  TEXT,
    blob_key      TEXT    REFERENCES blobs (key),
    trashed_ms    INTEGER,
    trash_origin  TEXT
);
CREATE UNIQUE INDEX nodes_by_parent ON nodes (parent_id, name_key);
CREATE INDEX nodes_by_blob ON nodes (blob_key);
CREATE INDEX nodes_by_account ON nodes (account_id);
CREATE INDEX nodes_trashed ON nodes (trashed_ms) WHERE trashed_ms IS NOT NULL;

CREATE TABLE dead_props (
    node_id   INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    prefix    TEXT,
    xml       BLOB    NOT NULL,
    PRIMARY KEY (node_id, namespace, name)
);

CREATE TABLE locks (
    token       TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    path        TEXT    NOT NULL,
    principal   TEXT,
    owner_xml   BLOB,
    timeout_ms  INTEGER,
    shared      INTEGER NOT NULL,
    deep        INTEGER NOT NULL
);
CREATE INDEX locks_by_account ON locks (account_id);
