"""CalDAV interop with the Python `caldav` library (PyPI), driven by tests/interop.rs.

usage: caldav_client.py BASE_URL USER PASSWORD

Discovers the principal from the bare server URL, creates a calendar, saves a weekly
recurring event with one moved instance and a plain event, searches a month with
expansion, creates and completes a todo, syncs by token (add, change, delete: only
those come back), and deletes; keeps, finds, edits and deletes a jtx Board note
(VJOURNAL) in the default calendar; searches every component type with one
query; and speaks CardDAV. Exits non-zero with the failed step on any mismatch.
"""

import sys
from datetime import datetime, timezone
from urllib.parse import urlparse

import caldav

WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//davgate interop//EN
BEGIN:VEVENT
UID:weekly-standup
DTSTAMP:20261101T000000Z
DTSTART:20261102T090000Z
DTEND:20261102T093000Z
RRULE:FREQ=WEEKLY;COUNT=10
SUMMARY:Standup
END:VEVENT
BEGIN:VEVENT
UID:weekly-standup
DTSTAMP:20261101T000000Z
RECURRENCE-ID:20261116T090000Z
DTSTART:20261117T140000Z
DTEND:20261117T143000Z
SUMMARY:Standup (moved)
END:VEVENT
END:VCALENDAR
"""

SINGLE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//davgate interop//EN
BEGIN:VEVENT
UID:dentist
DTSTAMP:20261101T000000Z
DTSTART:20261120T150000Z
DTEND:20261120T160000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""

# What jtx Board writes for a note: a dated VJOURNAL (its PRODID is ical4android's).
JOURNAL = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:+//IDN bitfire.at//ical4android (at.techbee.jtx)
BEGIN:VJOURNAL
UID:jtx-note-1
DTSTAMP:20261101T080000Z
DTSTART;VALUE=DATE:20261105
SUMMARY:Meeting notes
DESCRIPTION:Agreed on the release date.
CATEGORIES:Work
STATUS:FINAL
END:VJOURNAL
END:VCALENDAR
"""

TODO = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//davgate interop//EN
BEGIN:VTODO
UID:buy-milk
DTSTAMP:20261101T000000Z
DUE:20261125T170000Z
SUMMARY:Buy milk
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
"""


def step(name):
    print(f"step: {name}", flush=True)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def starts(events):
    out = []
    for e in events:
        comp = e.icalendar_component
        out.append((str(comp.get("summary")), comp.get("dtstart").dt.astimezone(timezone.utc)))
    return sorted(out, key=lambda x: x[1])


def main():
    base, user, password = sys.argv[1:4]
    step("discover the principal from the bare server URL")
    client = caldav.DAVClient(url=base, username=user, password=password)
    principal = client.principal()
    homes = principal.calendars()
    check(any(c.url.path.endswith("/default/") for c in homes), f"default calendar missing: {homes}")

    step("create a calendar")
    cal = principal.make_calendar(name="Interop", cal_id="interop")
    check(cal.get_display_name() == "Interop", "display name not kept")
    token0 = cal.objects_by_sync_token().sync_token

    step("save a weekly event with a moved instance, and a plain event")
    cal.save_event(WEEKLY)
    dentist = cal.save_event(SINGLE)

    step("search November with expansion")
    found = cal.search(
        start=datetime(2026, 11, 1, tzinfo=timezone.utc),
        end=datetime(2026, 12, 1, tzinfo=timezone.utc),
        event=True,
        expand=True,
    )
    got = starts(found)
    expected = [
        ("Standup", datetime(2026, 11, 2, 9, tzinfo=timezone.utc)),
        ("Standup", datetime(2026, 11, 9, 9, tzinfo=timezone.utc)),
        ("Standup (moved)", datetime(2026, 11, 17, 14, tzinfo=timezone.utc)),
        ("Dentist", datetime(2026, 11, 20, 15, tzinfo=timezone.utc)),
        ("Standup", datetime(2026, 11, 23, 9, tzinfo=timezone.utc)),
        ("Standup", datetime(2026, 11, 30, 9, tzinfo=timezone.utc)),
    ]
    check(got == expected, f"expanded instances differ:\n got {got}\nwant {expected}")

    step("create and complete a todo")
    todo = cal.save_todo(TODO)
    todo.complete()
    todos = cal.todos(include_completed=True)
    check(len(todos) == 1, f"one todo expected, got {len(todos)}")
    check(str(todos[0].icalendar_component.get("status")) == "COMPLETED", "the todo is not completed")
    check(cal.todos() == [], "a completed todo is still pending")

    step("sync by token: only the changes come back")
    first = cal.objects_by_sync_token(sync_token=token0, load_objects=False)
    check(len(list(first)) == 3, f"three new objects expected, got {len(list(first))}")
    token1 = first.sync_token
    dentist.icalendar_component["summary"] = "Dentist (rescheduled)"
    dentist.save()
    extra = cal.save_event(SINGLE.replace("dentist", "lunch").replace("Dentist", "Lunch"))
    extra.delete()
    delta = cal.objects_by_sync_token(sync_token=token1, load_objects=True)
    changed = {str(o.url).rsplit("/", 1)[-1] for o in delta}
    # The changed event, and the one created and deleted since token1 (as a deletion).
    check(changed == {"dentist.ics", "lunch.ics"}, f"the delta should name exactly the two changes, got {changed}")
    summaries = [str(o.icalendar_component.get("summary")) for o in delta if o.data]
    check(summaries == ["Dentist (rescheduled)"], f"only the changed event should come back with data, got {summaries}")
    empty = cal.objects_by_sync_token(sync_token=delta.sync_token, load_objects=False)
    check(len(list(empty)) == 0, "a sync from the newest token returned changes")

    step("delete the calendar")
    cal.delete()
    check(all(not c.url.path.endswith("/interop/") for c in principal.calendars()), "the calendar is still listed")
    journal_round_trip(principal)
    search_every_component_type(base, user, password)
    carddav_round_trip(client, base, user)
    print("caldav interop: all steps passed")


def journal_round_trip(principal):
    """jtx Board keeps notes as VJOURNALs in the calendar every account gets."""
    step("journal: jtx Board saves a note in the default calendar")
    default = next(c for c in principal.calendars() if c.url.path.endswith("/default/"))
    note = default.save_journal(JOURNAL)
    journals = default.journals()
    check(len(journals) == 1, f"one journal expected, got {len(journals)}")
    check(str(journals[0].icalendar_component.get("summary")) == "Meeting notes", "the note's summary changed")

    step("journal: found by date, then edited and deleted")
    found = default.search(
        start=datetime(2026, 11, 1, tzinfo=timezone.utc),
        end=datetime(2026, 12, 1, tzinfo=timezone.utc),
        journal=True,
    )
    check([str(j.icalendar_component.get("uid")) for j in found] == ["jtx-note-1"], f"search by date: {found}")
    note.icalendar_component["summary"] = "Meeting notes (edited)"
    note.save()
    again = default.journal_by_uid("jtx-note-1")
    check(str(again.icalendar_component.get("summary")) == "Meeting notes (edited)", "the edit was not kept")
    again.delete()
    check(default.journals() == [], "the deleted note is still listed")


# What the library sends for search(start, end) without a component type (the golden
# request calendar-query-001): a time-range straight on VCALENDAR.
ANY_COMPONENT_IN_NOVEMBER = """<?xml version='1.0' encoding='utf-8'?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:time-range start="20261101T000000Z" end="20261201T000000Z"/>
</C:comp-filter></C:filter></C:calendar-query>"""


def search_every_component_type(base, user, password):
    """davgate answers searches that name no component type, so the library need not
    split them into one query per type."""
    step("search without a component type: a note, an event and a task in November")
    client = caldav.DAVClient(
        url=base,
        username=user,
        password=password,
        features={
            "search.comp-type.optional": {"support": "full"},
            "search.time-range.comp-type-optional": {"support": "full"},
            "search.text.comp-type-optional": {"support": "full"},
        },
    )
    default = next(c for c in client.principal().calendars() if c.url.path.endswith("/default/"))
    saved = [
        default.save_journal(JOURNAL),
        default.save_event(SINGLE),
        default.save_todo(TODO),
        default.save_event(SINGLE.replace("dentist", "later").replace("20261120", "20270120")),
    ]
    expected = {"jtx-note-1", "dentist", "buy-milk"}
    # As the library writes it, sent as is: no fallback can hide a refusal.
    raw = default.search(xml=ANY_COMPONENT_IN_NOVEMBER)
    got = {str(o.icalendar_component.get("uid")) for o in raw}
    check(got == expected, f"comp-type-less time range: got {got}, want {expected}")
    found = default.search(
        start=datetime(2026, 11, 1, tzinfo=timezone.utc),
        end=datetime(2026, 12, 1, tzinfo=timezone.utc),
    )
    got = {str(o.icalendar_component.get("uid")) for o in found}
    check(got == expected, f"search(start, end): got {got}, want {expected}")
    for o in saved:
        o.delete()


CARD = """BEGIN:VCARD
VERSION:4.0
UID:{uid}
FN:{name}
EMAIL:{email}
END:VCARD
"""


def carddav_round_trip(client, base, user):
    """The caldav library has no CardDAV objects; its HTTP client speaks it raw."""
    book = f"{base.rstrip('/')}/dav/addressbooks/{user}/default/"

    def report(body):
        response = client.request(book, "REPORT", body, {"Depth": "1", "Content-Type": "application/xml"})
        check(response.status == 207, f"REPORT answered {response.status}: {response.raw}")
        return response.raw if isinstance(response.raw, str) else response.raw.decode()

    step("carddav: create two contacts")
    for uid, name, email in [("ann", "Ann Smith", "ann@example.org"), ("bob", "Bob Jones", "bob@example.com")]:
        body = CARD.format(uid=uid, name=name, email=email).replace("\n", "\r\n")
        response = client.request(book + f"{uid}.vcf", "PUT", body, {"Content-Type": "text/vcard"})
        check(response.status == 201, f"PUT {uid} answered {response.status}")

    step("carddav: sync from scratch")
    sync = '<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>'
    first = report(sync)
    check(first.count("<D:response>") == 2, f"two contacts expected: {first}")
    token = first.split("<D:sync-token>")[1].split("</D:sync-token>")[0]

    step("carddav: multiget")
    multiget = (
        '<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
        '<d:prop><d:getetag/><c:address-data/></d:prop>'
        f"<d:href>{urlparse(book).path}ann.vcf</d:href>"
        "</c:addressbook-multiget>"
    )
    got = report(multiget)
    check("FN:Ann Smith" in got, f"multiget lacks Ann: {got}")

    step("carddav: query by email")
    query = (
        '<c:addressbook-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/></d:prop>'
        '<c:filter><c:prop-filter name="EMAIL"><c:text-match match-type="equals">BOB@example.com</c:text-match>'
        "</c:prop-filter></c:filter></c:addressbook-query>"
    )
    found = report(query)
    check(found.count("<D:response>") == 1 and "bob.vcf" in found, f"query by email: {found}")

    step("carddav: delete, then sync shows only the deletion")
    response = client.request(book + "ann.vcf", "DELETE")
    check(response.status == 204, f"DELETE answered {response.status}")
    delta = report(sync.replace("<d:sync-token/>", f"<d:sync-token>{token}</d:sync-token>"))
    check(delta.count("<D:response>") == 1 and "ann.vcf" in delta and "404" in delta, f"sync delta: {delta}")


if __name__ == "__main__":
    main()
