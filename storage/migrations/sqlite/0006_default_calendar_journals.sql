-- Default calendars used to be created for events and tasks only, so VJOURNAL was refused
-- (403) and jtx Board had nowhere to keep notes. They hold all three components now; a
-- default calendar is only ever created with exactly VEVENT|VTODO (1|2 = 3), and its
-- component set cannot be changed afterwards, so those are the rows to widen (to 1|2|4).
-- kind 1 is a calendar.
UPDATE collections
SET components = 7
WHERE kind = 1 AND is_default = 1 AND components = 3;
