-- Locks taken without a usable Timeout header used to be stored without an expiry and
-- never went away, not even across restarts. Every lock expires now; the old ones get
-- the default maximum, one hour from this migration.
UPDATE locks
SET timeout_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 3600000
WHERE timeout_ms IS NULL;
