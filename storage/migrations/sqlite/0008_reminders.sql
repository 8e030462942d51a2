-- Reminders: VALARMs delivered to a person's chat webhooks.
-- A destination is a named webhook of one account; a route sends every alarm of one
-- calendar to one destination. reminder_due holds each alarm firing within the
-- scheduling horizon, one row per (object, alarm identity); the worker claims due rows
-- by pushing next_try_ms past a lease inside a write transaction, so each row is sent by
-- one node. state: 0 pending, 1 sent, 2 skipped (too late or given up).
-- reminder_stale lists objects whose firings must be recomputed: a calendar write adds
-- its object in the write's own transaction (when the account has a destination), and
-- the worker takes the list, so no write is ever missed, even across a crash.
-- fields is a JSON object of the message fields (subject, date, …) computed when the
-- object was written, so sending needs no calendar parsing.

CREATE TABLE reminder_destinations (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    template   TEXT,
    created_ms INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE reminder_routes (
    collection_id  INTEGER PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    destination_id INTEGER NOT NULL REFERENCES reminder_destinations (id) ON DELETE CASCADE
);

CREATE TABLE reminder_due (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    collection_id  INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_name    TEXT    NOT NULL,
    uid            TEXT    NOT NULL,
    alarm_key      TEXT    NOT NULL,
    due_ms         INTEGER NOT NULL,
    destination_id INTEGER NOT NULL REFERENCES reminder_destinations (id) ON DELETE CASCADE,
    fields         TEXT    NOT NULL,
    state          INTEGER NOT NULL DEFAULT 0,
    tries          INTEGER NOT NULL DEFAULT 0,
    next_try_ms    INTEGER NOT NULL,
    late           INTEGER NOT NULL DEFAULT 0,
    UNIQUE (collection_id, object_name, alarm_key)
);
CREATE INDEX reminder_due_by_next_try ON reminder_due (state, next_try_ms);

CREATE TABLE reminder_log (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms       INTEGER NOT NULL,
    object_name TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    due_ms      INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    tries       INTEGER NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX reminder_log_by_account ON reminder_log (account_id, at_ms);

CREATE TABLE reminder_stale (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_name   TEXT    NOT NULL,
    PRIMARY KEY (collection_id, object_name)
);
