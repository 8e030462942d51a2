-- E-mail reminders and reminder limits.
-- An account's address, where ACTION:EMAIL alarms go.
-- The address lives on the account (it is the person's, not the reminders room's); the
-- reminder destination of kind 'email' named "email" follows it, written in the same
-- transaction, so routes, due rows and the delivery log treat e-mail like a webhook.
ALTER TABLE accounts ADD COLUMN email TEXT;

-- The per-destination rate limit, kept where every node claims: next_send_ms is the
-- earliest time the destination may get its next message; a worker that claims a row
-- moves it on by the configured gap, in the claim's own transaction. A due row that
-- finds its destination busy is pushed to a later slot, not dropped; held_ms is how long
-- the limit held it back, so the grace for a server that was down does not count it.
ALTER TABLE reminder_destinations ADD COLUMN next_send_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reminder_due ADD COLUMN held_ms BIGINT NOT NULL DEFAULT 0;
