//! Go's time formats as Docker's API reads them: durations (`1h30m`), RFC
//! 3339 dates and their prefixes, Unix timestamps (the prune `until`).

use std::time::{Duration, SystemTime};

/// Resolves a prune `until` value as Docker does (Go's
/// `timetypes.GetTimestamp` then `ParseTimestamps`): a Go duration before
/// `now` (truncated to the second), an RFC 3339 date or date-time (or a
/// prefix of one; without a zone, in the local zone's current offset), or
/// Unix seconds with an optional fraction.
pub(super) fn parse_until(value: &str, now: SystemTime) -> Result<SystemTime, String> {
    if value != "0"
        && let Some(ago) = parse_go_duration(value)
    {
        let at = unix_nanos(now) - ago;
        return Ok(from_unix(at.div_euclid(1_000_000_000) as i64, 0));
    }
    match parse_go_date(value, now) {
        Some(at) => Ok(at),
        None if value.contains('-') => Err(format!(
            "parsing time {value:?}: not an RFC 3339 date or date-time"
        )),
        None => parse_unix_timestamp(value)
            .ok_or_else(|| format!("failed to parse value as time or duration: {value:?}")),
    }
}

/// Nanoseconds since the Unix epoch (negative before it).
fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// The time `seconds` and `nanos` after the Unix epoch.
pub(super) fn from_unix(seconds: i64, nanos: u32) -> SystemTime {
    let whole = Duration::from_secs(seconds.unsigned_abs());
    let base = if seconds >= 0 {
        SystemTime::UNIX_EPOCH + whole
    } else {
        SystemTime::UNIX_EPOCH - whole
    };
    base + Duration::from_nanos(u64::from(nanos))
}

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?` then one or more
/// decimal numbers each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`),
/// like `1h30m` or `-1.5h`.
fn parse_go_duration(text: &str) -> Option<i128> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos = whole.checked_mul(unit)?;
        // Beyond 18 digits a fraction no longer changes whole nanoseconds.
        let fraction = &fraction[..fraction.len().min(18)];
        if !fraction.is_empty() {
            let scale = 10i128.pow(fraction.len() as u32);
            nanos += fraction.parse::<i128>().ok()? * unit / scale;
        }
        total = total.checked_add(nanos)?;
        if total > i128::from(i64::MAX) {
            return None;
        }
        rest = after;
    }
    Some(if negative { -total } else { total })
}

/// How much of a date-time Go's layout for the value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatePrecision {
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
}

/// The date forms of Go's `timetypes.GetTimestamp`: the layout follows from
/// the value's shape (a `.`: with fraction; a `T`: hours, minutes or
/// seconds by the number of colons; else a date), with a `Z`/`±hh:mm` zone
/// or, without one, the local zone's current offset.
fn parse_go_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let in_local = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    let (civil, offset) = if in_local {
        let now = jiff::Timestamp::try_from(now).ok()?;
        (value, jiff::tz::TimeZone::system().to_offset(now))
    } else {
        split_zone(value)?
    };
    let precision = if value.contains('.') {
        DatePrecision::Fraction
    } else if value.contains('T') {
        match civil.matches(':').count() {
            0 => DatePrecision::Hour,
            1 => DatePrecision::Minute,
            _ => DatePrecision::Second,
        }
    } else {
        DatePrecision::Day
    };
    let datetime = parse_civil(civil, precision)?;
    let at = offset.to_timestamp(datetime).ok()?;
    SystemTime::try_from(at).ok()
}

/// Splits a trailing `Z` or `±hh:mm` zone off a date or date-time.
fn split_zone(value: &str) -> Option<(&str, jiff::tz::Offset)> {
    if let Some(civil) = value.strip_suffix('Z') {
        return Some((civil, jiff::tz::Offset::UTC));
    }
    // The zone's sign comes after the date's `YYYY-MM-DD`.
    let sign_at = value.rfind(['+', '-']).filter(|&at| at >= 10)?;
    let (civil, zone) = value.split_at(sign_at);
    let (hours, minutes) = zone[1..].split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
    let seconds = if zone.starts_with('-') {
        -seconds
    } else {
        seconds
    };
    Some((civil, jiff::tz::Offset::from_seconds(seconds).ok()?))
}

/// Parses `YYYY-MM-DD[THH[:MM[:SS[.fff]]]]`, requiring exactly `precision`.
fn parse_civil(text: &str, precision: DatePrecision) -> Option<jiff::civil::DateTime> {
    fn number(text: &str, len: usize) -> Option<(i32, &str)> {
        let digits = text.get(..len)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((digits.parse().ok()?, &text[len..]))
    }
    let (year, rest) = number(text, 4)?;
    let (month, rest) = number(rest.strip_prefix('-')?, 2)?;
    let (day, mut rest) = number(rest.strip_prefix('-')?, 2)?;
    let mut time = [0i32; 3];
    let mut nanos = 0i32;
    let mut got = DatePrecision::Day;
    if let Some(after) = rest.strip_prefix('T') {
        (time[0], rest) = number(after, 2)?;
        got = DatePrecision::Hour;
        for (field, next) in [(1, DatePrecision::Minute), (2, DatePrecision::Second)] {
            if let Some(after) = rest.strip_prefix(':') {
                (time[field], rest) = number(after, 2)?;
                got = next;
            }
        }
        if got == DatePrecision::Second
            && let Some(fraction) = rest.strip_prefix('.')
        {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 || len > 9 {
                return None;
            }
            nanos = fraction[..len].parse::<i32>().ok()? * 10i32.pow(9 - len as u32);
            rest = &fraction[len..];
            got = DatePrecision::Fraction;
        }
    }
    if !rest.is_empty() || got != precision {
        return None;
    }
    jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(time[0]).ok()?,
        i8::try_from(time[1]).ok()?,
        i8::try_from(time[2]).ok()?,
        nanos,
    )
    .ok()
}

/// Unix seconds with an optional fraction (`1700000000.5`), as Go's
/// `timetypes.parseTimestamp`.
fn parse_unix_timestamp(text: &str) -> Option<SystemTime> {
    let (seconds, fraction) = match text.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (text, None),
    };
    let seconds: i64 = seconds.parse().ok()?;
    let nanos = match fraction {
        None => 0,
        Some(fraction) => {
            let value: u64 = fraction.parse().ok()?;
            let len = fraction.len() as i32;
            (value as f64 * 10f64.powi(9 - len)) as u32
        }
    };
    Some(from_unix(seconds, nanos.min(999_999_999)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let s = 1_000_000_000i128;
        assert_eq!(parse_go_duration("24h"), Some(24 * 3600 * s));
        assert_eq!(parse_go_duration("1h30m"), Some(5400 * s));
        assert_eq!(parse_go_duration("1.5h"), Some(5400 * s));
        assert_eq!(parse_go_duration(".5s"), Some(s / 2));
        assert_eq!(parse_go_duration("-2m"), Some(-120 * s));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("2us"), parse_go_duration("2µs"));
        assert_eq!(parse_go_duration("0"), Some(0));
        for bad in ["", "5", "h", "1x", ".s", "1h30", "-", "9999999999999h"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn until_values_as_docker_reads_them() {
        let now = from_unix(1_700_000_000, 700_000_000);
        let at = |value: &str| unix_nanos(parse_until(value, now).unwrap());
        let s = 1_000_000_000i128;
        // Durations count back from now, truncated to the second.
        assert_eq!(at("10s"), 1_699_999_990 * s);
        assert_eq!(at("-10s"), 1_700_000_010 * s);
        // "0" is a timestamp, not a duration.
        assert_eq!(at("0"), 0);
        assert_eq!(at("1.5"), s + s / 2);
        assert_eq!(at("2023-11-14T22:13:20.25Z"), 1_700_000_000 * s + s / 4);
        assert_eq!(at("2023-11-14T23:13:20+01:00"), 1_700_000_000 * s);
        assert_eq!(at("2023-11-14T22:13Z"), 1_699_999_980 * s);
        assert_eq!(at("2023-11-14T22Z"), 1_699_999_200 * s);
        assert_eq!(at("2023-11-14T22:13:20-00:30"), (1_700_000_000 + 1800) * s);
        assert_eq!(at("2023-11-14Z"), 1_699_920_000 * s);
        // Without a zone: the local zone's current offset.
        let offset = jiff::tz::TimeZone::system()
            .to_offset(jiff::Timestamp::try_from(now).unwrap())
            .seconds() as i128;
        assert_eq!(at("2023-11-14"), (1_699_920_000 - offset) * s);
        assert_eq!(at("2023-11-14T22:13:20"), (1_700_000_000 - offset) * s);
        for bad in [
            "2023-11-14T22:13:20.Z",
            "2023-11-14T",
            "2023-1-14",
            "2023-11-14T22:13:20Zx",
            "abc",
        ] {
            assert!(parse_until(bad, now).is_err(), "{bad}");
        }
    }
}
