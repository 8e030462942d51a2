-- Calendars and address books, their objects, the change log behind sync tokens, and
-- shares. A collection's sync_seq rises with every change in it; each object and each
-- tombstone remembers the sync_seq of its last change, so "what changed since token N"
-- is one indexed query.

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind        INTEGER NOT NULL,
    slug        TEXT    NOT NULL,
    displayname TEXT,
    description TEXT,
    color       TEXT,
    sort_order  INTEGER,
    timezone    TEXT,
    components  INTEGER NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    sync_seq    INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    UNIQUE (account_id, kind, slug)
);

CREATE TABLE collection_props (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    namespace     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    xml           BLOB    NOT NULL,
    PRIMARY KEY (collection_id, namespace, name)
);

CREATE TABLE dav_objects (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    uid           TEXT    NOT NULL,
    etag          TEXT    NOT NULL,
    component     INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    first_start   INTEGER,
    last_end      INTEGER,
    modified_ms   INTEGER NOT NULL,
    sync_seq      INTEGER NOT NULL,
    UNIQUE (collection_id, name),
    UNIQUE (collection_id, uid)
);
CREATE INDEX dav_objects_by_seq ON dav_objects (collection_id, sync_seq);
CREATE INDEX dav_objects_by_span ON dav_objects (collection_id, first_start, last_end);

CREATE TABLE dav_tombstones (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    sync_seq      INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
);
CREATE INDEX dav_tombstones_by_seq ON dav_tombstones (collection_id, sync_seq);

CREATE TABLE collection_shares (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    grantee       INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    read_only     INTEGER NOT NULL,
    PRIMARY KEY (collection_id, grantee)
);
CREATE INDEX collection_shares_by_grantee ON collection_shares (grantee);
