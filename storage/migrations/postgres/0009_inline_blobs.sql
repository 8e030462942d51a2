-- The bytes of small blobs, kept in the database instead of a file or object of their
-- own: written in the transaction that references them, so a small upload costs no
-- file create and no fsync beyond the commit's. A row lives exactly as long as its
-- `blobs` row. Blobs written before this migration, and larger ones, have no row here.
CREATE TABLE blob_data (
    key   TEXT PRIMARY KEY REFERENCES blobs (key) ON DELETE CASCADE,
    bytes BYTEA NOT NULL
);
