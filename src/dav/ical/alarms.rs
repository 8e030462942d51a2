//! When an object's alarms fire (RFC 5545 §3.6.6, RFC 9074): every trigger of every
//! VALARM of every instance inside a window, with what a reminder message shows.
//!
//! The reminders room schedules from this; it is pure like the rest of `ical`: no
//! clock (the caller passes the window), no storage. Triggers relative to start or
//! end, absolute triggers, REPEAT/DURATION, RRULE/RDATE/EXDATE and overridden
//! instances come from the recurrence code the queries use, so a reminder and a
//! calendar-query time-range on a VALARM agree. ACKNOWLEDGED at or after a trigger
//! cancels that trigger.

use calcard::icalendar::{ICalendarComponent, ICalendarProperty, ICalendarValue};

use super::IcalError;
use super::object::CalendarObject;
use super::recur::Options;
use super::time::{Basis, Moment, Time, TimeRange};
use super::timerange::Triggers;

/// Most firings computed for one object, however its rules and REPEATs multiply.
const MAX_FIRINGS: usize = 1_000;

/// One trigger of one alarm of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmFiring {
    /// Stable while the instance, alarm, repetition and time stay the same.
    pub key: String,
    /// When it fires, UTC seconds.
    pub at: i64,
    /// `X-DAVGATE-DESTINATION` of the VALARM: a destination named by the client.
    pub destination: Option<String>,
    /// `ACTION` of the VALARM (DISPLAY, AUDIO, EMAIL, …).
    pub action: String,
    /// 0 for the trigger itself, then 1, 2, … for the `REPEAT` follow-ups.
    pub repetition: u32,
    /// SUMMARY of the instance.
    pub summary: String,
    /// DESCRIPTION of the instance.
    pub description: String,
    /// LOCATION of the instance.
    pub location: String,
    /// Start of the instance as a person reads it, in the event's own zone
    /// (`Tue 10 Mar 2026 09:00 Europe/Berlin`; a date alone for all-day events).
    pub start_text: String,
    /// Start of the instance, UTC seconds.
    pub start: Option<i64>,
}

impl CalendarObject {
    /// The firings in `[from, until)`, soonest first, at most a thousand.
    pub fn alarm_firings(
        &self,
        from: i64,
        until: i64,
        options: &Options,
    ) -> Result<Vec<AlarmFiring>, IcalError> {
        if self.comps.iter().all(|c| c.alarms.is_empty()) {
            return Ok(Vec::new());
        }
        let clock = self.clock(&options.floating);
        let range = TimeRange {
            start: Some(from),
            end: Some(until),
        };
        let mut out = Vec::new();
        for occ in self.occurrences(&range, options)? {
            let timing = &self.comps[occ.comp];
            let component = &self.calendar.components[timing.index];
            for (position, alarm) in timing.alarms.iter().enumerate() {
                let Some(triggers) = Triggers::of(alarm, occ.start, occ.end, &clock) else {
                    continue;
                };
                let valarm = &self.calendar.components[alarm.index];
                let acknowledged = valarm
                    .property(&ICalendarProperty::Acknowledged)
                    .and_then(|entry| entry.values.first())
                    .and_then(ICalendarValue::as_partial_date_time)
                    .and_then(|value| Time::from_partial(value, None))
                    .map(|time| clock.moment(time).utc);
                let instance = occ.recurrence_id.or(occ.start).map_or(0, |m| m.utc);
                for k in 0..=i64::from(triggers.repeat) {
                    let at = triggers
                        .first
                        .saturating_add(triggers.every.saturating_mul(k));
                    if at >= until || out.len() >= MAX_FIRINGS {
                        break;
                    }
                    if at < from || acknowledged.is_some_and(|ack| ack >= at) {
                        continue;
                    }
                    out.push(AlarmFiring {
                        key: format!("{instance}/{position}/{k}/{at}"),
                        at,
                        destination: text(valarm, "X-DAVGATE-DESTINATION"),
                        action: text(valarm, "ACTION").unwrap_or_default(),
                        repetition: k as u32,
                        summary: text(component, "SUMMARY").unwrap_or_default(),
                        description: text(component, "DESCRIPTION").unwrap_or_default(),
                        location: text(component, "LOCATION").unwrap_or_default(),
                        start_text: occ
                            .start
                            .map(|s| readable(s, component))
                            .unwrap_or_default(),
                        start: occ.start.map(|s| s.utc),
                    });
                }
            }
        }
        out.sort_by_key(|f| f.at);
        Ok(out)
    }
}

/// The first text value of a property, by name (X- properties included).
fn text(component: &ICalendarComponent, name: &str) -> Option<String> {
    component
        .entries
        .iter()
        .find(|entry| entry.name.as_str().eq_ignore_ascii_case(name))
        .and_then(|entry| entry.values.first())
        .and_then(ICalendarValue::as_text)
        .map(|text| text.trim().to_owned())
}

/// A start as its owner wrote it: wall-clock time in the DTSTART zone, named.
fn readable(start: Moment, component: &ICalendarComponent) -> String {
    match start.basis {
        Basis::Date => start.local.format("%a %-d %b %Y").to_string(),
        Basis::Utc => format!("{} UTC", start.local.format("%a %-d %b %Y %H:%M")),
        Basis::Floating => start.local.format("%a %-d %b %Y %H:%M").to_string(),
        Basis::Zoned(_) => {
            let zone = component
                .property(&ICalendarProperty::Dtstart)
                .and_then(|entry| entry.tz_id())
                .unwrap_or_default();
            format!("{} {zone}", start.local.format("%a %-d %b %Y %H:%M"))
                .trim_end()
                .to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Options, parse_utc, validate};

    fn firings(body: &str, from: &str, until: &str) -> Vec<(String, String)> {
        let data = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
            body.replace('\n', "\r\n")
        );
        let object = validate(data.as_bytes()).unwrap();
        object
            .alarm_firings(
                parse_utc(from).unwrap(),
                parse_utc(until).unwrap(),
                &Options::default(),
            )
            .unwrap()
            .into_iter()
            .map(|f| (super::super::format_utc(f.at), f.start_text))
            .collect()
    }

    fn at(list: &[(String, String)]) -> Vec<&str> {
        list.iter().map(|(at, _)| at.as_str()).collect()
    }

    #[test]
    fn relative_to_start_and_end_absolute_and_repeated() {
        let body = "BEGIN:VEVENT\nUID:a\nDTSTART:20260310T090000Z\nDTEND:20260310T100000Z\nSUMMARY:Standup\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:PT5M\nEND:VALARM\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;VALUE=DATE-TIME:20260309T120000Z\nEND:VALARM\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT30M\nREPEAT:2\nDURATION:PT10M\nEND:VALARM\n\
END:VEVENT\n";
        let got = firings(body, "20260301T000000Z", "20260401T000000Z");
        assert_eq!(
            at(&got),
            [
                "20260309T120000Z",
                "20260310T083000Z",
                "20260310T084000Z",
                "20260310T084500Z",
                "20260310T085000Z",
                "20260310T100500Z",
            ]
        );
        assert_eq!(got[0].1, "Tue 10 Mar 2026 09:00 UTC");
        // The window cuts: only what fires inside it.
        let got = firings(body, "20260310T084100Z", "20260310T090000Z");
        assert_eq!(at(&got), ["20260310T084500Z", "20260310T085000Z"]);
    }

    #[test]
    fn acknowledged_after_a_trigger_cancels_it() {
        let body = "BEGIN:VEVENT\nUID:a\nDTSTART:20260310T090000Z\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT30M\nREPEAT:1\nDURATION:PT15M\nACKNOWLEDGED:20260310T083500Z\nEND:VALARM\n\
END:VEVENT\n";
        let got = firings(body, "20260301T000000Z", "20260401T000000Z");
        assert_eq!(at(&got), ["20260310T084500Z"]);
    }

    /// Weekly on Mondays 09:00 Berlin across the switch to summer time (29 March 2026):
    /// the alarm keeps to the wall clock, an EXDATE drops one week and a moved
    /// instance fires from its new time.
    #[test]
    fn weekly_rule_with_exdate_and_a_moved_instance_across_dst() {
        let body = "BEGIN:VEVENT\nUID:w\nDTSTART;TZID=Europe/Berlin:20260316T090000\nDURATION:PT1H\n\
RRULE:FREQ=WEEKLY;COUNT=5\nEXDATE;TZID=Europe/Berlin:20260323T090000\nSUMMARY:Weekly\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT10M\nEND:VALARM\nEND:VEVENT\n\
BEGIN:VEVENT\nUID:w\nRECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\n\
DTSTART;TZID=Europe/Berlin:20260406T140000\nDURATION:PT1H\nSUMMARY:Weekly (moved)\n\
BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT10M\nEND:VALARM\nEND:VEVENT\n";
        let got = firings(body, "20260301T000000Z", "20260501T000000Z");
        assert_eq!(
            at(&got),
            [
                "20260316T075000Z", // CET, UTC+1
                "20260330T065000Z", // CEST, UTC+2: same 08:50 on the wall
                "20260406T115000Z", // moved to 14:00
                "20260413T065000Z",
            ]
        );
        assert_eq!(got[1].1, "Mon 30 Mar 2026 09:00 Europe/Berlin");
        assert_eq!(got[2].1, "Mon 6 Apr 2026 14:00 Europe/Berlin");
    }

    #[test]
    fn the_destination_and_fields_come_from_the_alarm_and_the_instance() {
        let data = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20260310\r\n\
SUMMARY:Birthday\r\nLOCATION:Home\r\nDESCRIPTION:Cake\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
TRIGGER:-P1D\r\nX-DAVGATE-DESTINATION:family\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let object = validate(data.as_bytes()).unwrap();
        let got = object
            .alarm_firings(0, i64::MAX / 2, &Options::default())
            .unwrap();
        assert_eq!(got.len(), 1);
        let firing = &got[0];
        assert_eq!(firing.destination.as_deref(), Some("family"));
        assert_eq!(
            (
                firing.summary.as_str(),
                firing.location.as_str(),
                firing.description.as_str()
            ),
            ("Birthday", "Home", "Cake")
        );
        assert_eq!(firing.start_text, "Tue 10 Mar 2026");
        assert_eq!(firing.action, "DISPLAY");
    }
}
