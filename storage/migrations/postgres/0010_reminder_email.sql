-- E-mail reminders: an account's address, where ACTION:EMAIL alarms go.
-- The address lives on the account (it is the person's, not the reminders room's); the
-- reminder destination of kind 'email' named "email" follows it, written in the same
-- transaction, so routes, due rows and the delivery log treat e-mail like a webhook.
ALTER TABLE accounts ADD COLUMN email TEXT;
