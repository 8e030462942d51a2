//! Small pure value types parsed out of attribute and element text: iCalendar UTC
//! timestamps (time-range, expand) and Apple calendar colours. No chrono: a UTC
//! instant needs only calendar arithmetic, done here once.

use std::fmt;

/// A UTC date-time in the iCalendar form `YYYYMMDDTHHMMSSZ` (RFC 5545 §3.3.5 form #2),
/// which is the only form RFC 4791 allows in time-range and expand.
///
/// Fields are ordered most- to least-significant, so the derived `Ord` is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IcalUtc {
    /// Year, 0000–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31 (checked against the month).
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60 (60 is a leap second, which RFC 5545 allows).
    pub second: u8,
}

impl IcalUtc {
    /// Parses `YYYYMMDDTHHMMSSZ`, trimming surrounding whitespace.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return Err("expected a UTC date-time like 20240131T235959Z");
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, &'static str> {
            let digits = &bytes[range];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err("expected digits in the date-time");
            }
            Ok(digits
                .iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
        };
        let year = number(0..4)?;
        // Each of these is two digits, so at most 99 and fits a u8.
        let two = |range| number(range).map(|n| n as u8);
        let (month, day) = (two(4..6)?, two(6..8)?);
        let (hour, minute, second) = (two(9..11)?, two(11..13)?, two(13..15)?);
        if !(1..=12).contains(&month) {
            return Err("the month is out of range");
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err("the day is out of range for its month");
        }
        if hour > 23 || minute > 59 || second > 60 {
            return Err("the time of day is out of range");
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The instant `seconds` after the Unix epoch, if it falls in years 0000–9999.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        let days = seconds.div_euclid(86_400);
        let rest = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let year = u16::try_from(year).ok().filter(|y| *y <= 9999)?;
        Some(Self {
            year,
            month,
            day,
            // rest < 86 400, so each quotient fits a u8.
            hour: (rest / 3_600) as u8,
            minute: (rest % 3_600 / 60) as u8,
            second: (rest % 60) as u8,
        })
    }
}

impl fmt::Display for IcalUtc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date: shift the year to start in
/// March so the leap day is last, then count 400-year eras of 146 097 days.
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both are bounded by the arithmetic above: day 1–31, month 1–12.
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An RGBA colour as Apple's `calendar-color` carries it: `#RRGGBBAA`, or `#RRGGBB`
/// (Thunderbird, DAVx5) which means fully opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha (255 = opaque).
    pub a: u8,
}

impl Rgba {
    /// Parses `#RRGGBB` or `#RRGGBBAA` in either case; the `#` may be missing.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let hex = text.trim();
        let hex = hex.strip_prefix('#').unwrap_or(hex);
        if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected a colour like #RRGGBB or #RRGGBBAA");
        }
        // Every byte is an ASCII hex digit, so each two-character slice parses.
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
        let a = if hex.len() == 8 { channel(6) } else { 255 };
        Ok(Self {
            r: channel(0),
            g: channel(2),
            b: channel(4),
            a,
        })
    }
}

/// Always the 8-digit form Apple writes.
impl fmt::Display for Rgba {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{:02X}{:02X}{:02X}{:02X}",
            self.r, self.g, self.b, self.a
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_rfc_form() {
        let t = IcalUtc::parse("20060104T000000Z").unwrap();
        assert_eq!((t.year, t.month, t.day, t.hour), (2006, 1, 4, 0));
        assert_eq!(t.to_string(), "20060104T000000Z");
        assert_eq!(t.unix_seconds(), 1_136_332_800);
    }

    #[test]
    fn rejects_local_dates_and_garbage() {
        for bad in [
            "",
            "20060104T000000",
            "20060104",
            "2006-01-04T00:00:00Z",
            "20061304T000000Z",
            "20060230T000000Z",
            "20060104T240000Z",
            "2006010AT000000Z",
            "+0060104T000000Z",
            "20060104T000000ZZ",
        ] {
            assert!(IcalUtc::parse(bad).is_err(), "{bad:?}");
        }
        // The leap day exists only in leap years; 2000 was one, 1900 was not.
        assert!(IcalUtc::parse("20000229T000000Z").is_ok());
        assert!(IcalUtc::parse("19000229T000000Z").is_err());
    }

    #[test]
    fn epoch_arithmetic_round_trips() {
        for text in [
            "19700101T000000Z",
            "19691231T235959Z",
            "00000101T000000Z",
            "99991231T235959Z",
            "20240229T120000Z",
            "21000301T000000Z",
        ] {
            let t = IcalUtc::parse(text).unwrap();
            assert_eq!(
                IcalUtc::from_unix_seconds(t.unix_seconds()),
                Some(t),
                "{text}"
            );
        }
        assert_eq!(
            IcalUtc::parse("19700101T000001Z").unwrap().unix_seconds(),
            1
        );
        assert_eq!(IcalUtc::from_unix_seconds(i64::MAX / 2), None);
        let a = IcalUtc::parse("20231231T235959Z").unwrap();
        let b = IcalUtc::parse("20240101T000000Z").unwrap();
        assert!(a < b);
    }

    #[test]
    fn colours_in_both_lengths() {
        assert_eq!(
            Rgba::parse("#711A76FF").unwrap(),
            Rgba {
                r: 0x71,
                g: 0x1a,
                b: 0x76,
                a: 0xff
            }
        );
        assert_eq!(Rgba::parse("ff0000").unwrap().to_string(), "#FF0000FF");
        for bad in ["#12345", "#GG0000", "red", "#1234567890", ""] {
            assert!(Rgba::parse(bad).is_err(), "{bad:?}");
        }
    }
}
