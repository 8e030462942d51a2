-- Sign-in checks running now on any node, each a failure to be until it ends: a check
-- reserves a place before it hashes, so parallel guesses spread over the nodes cannot
-- pass a per-address limit while the first ones are still hashing. Decays like `score`
-- (with a half-life of seconds) from `pending_ms`, so a node that dies mid-check leaves
-- nothing behind for long.
ALTER TABLE auth_failures ADD COLUMN pending DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE auth_failures ADD COLUMN pending_ms BIGINT NOT NULL DEFAULT 0;
