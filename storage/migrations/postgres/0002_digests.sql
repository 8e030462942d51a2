-- MD5 and SHA-1 of each blob, computed while it streams in (NULL for blobs written
-- before this migration).
ALTER TABLE blobs ADD COLUMN md5 TEXT;
ALTER TABLE blobs ADD COLUMN sha1 TEXT;
