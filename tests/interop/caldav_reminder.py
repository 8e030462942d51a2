"""A reminder written by a real client: the Python `caldav` library (PyPI) saves an event
with a VALARM, built by the library itself, into the account's default calendar; driven by
tests/reminders_clients.rs, whose webhook receiver must then get the reminder.

usage: caldav_reminder.py BASE_URL USER PASSWORD SECONDS_AHEAD

The event starts SECONDS_AHEAD + 60 s from now and its alarm fires 60 s before the start.
Prints the event's UID on the last line.
"""

import sys
from datetime import datetime, timedelta, timezone

import caldav


def main():
    base, user, password, ahead = sys.argv[1:5]
    client = caldav.DAVClient(url=base, username=user, password=password)
    calendars = client.principal().calendars()
    default = [c for c in calendars if c.url.path.endswith("/default/")]
    if not default:
        raise AssertionError(f"default calendar missing: {calendars}")
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=60 + int(ahead))
    event = default[0].save_event(
        dtstart=start,
        dtend=start + timedelta(hours=1),
        summary="Planning",
        location="Room 2",
        alarm_trigger=timedelta(seconds=-60),
        alarm_action="DISPLAY",
    )
    ics = event.data
    if "BEGIN:VALARM" not in ics:
        raise AssertionError(f"the library wrote no VALARM:\n{ics}")
    print(event.icalendar_component.get("uid"), flush=True)


if __name__ == "__main__":
    main()
