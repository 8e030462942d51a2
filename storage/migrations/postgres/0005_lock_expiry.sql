-- Locks taken without a usable Timeout header used to be stored without an expiry and
-- never went away, not even across restarts. Every lock expires now; the old ones get
-- the default maximum, one hour from this migration.
UPDATE locks
SET timeout_ms = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + 3600000
WHERE timeout_ms IS NULL;
