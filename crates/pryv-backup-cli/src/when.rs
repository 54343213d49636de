//! Points in time given on the command line, and times shown to people.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Milliseconds since 1970-01-01T00:00:00Z of `text`, given as one of:
/// - an RFC 3339 date-time with its zone: `2026-11-24T23:00:00Z`, `2026-11-24T23:00:00.5+01:00`;
/// - a date-time without zone, taken as UTC: `2026-11-24T23:00:00`, `2026-11-24 23:00`;
/// - a date, its first instant in UTC: `2026-11-24`;
/// - an age before now: `36h`, `2d`, `1w` (see [`parse_duration_ms`]);
/// - milliseconds since the epoch, 13 digits as in a manifest's `backupTimestamp`.
///
/// Other numbers are refused: seconds and milliseconds cannot be told apart by value.
pub fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let examples = "e.g. 2026-11-24, 2026-11-24T23:00:00Z, 2026-11-24 23:00 (UTC), 2d (two days ago), or 13-digit milliseconds";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.len() {
            13 => text
                .parse()
                .map_err(|_| format!("{text} is not a time in milliseconds")),
            10 => Err(format!(
                "{text} looks like seconds since the epoch: times in numbers are milliseconds \
                 (write {text}000), or give a date ({examples})"
            )),
            _ => Err(format!(
                "{text} is ambiguous: give milliseconds since the epoch (13 digits) or a date ({examples})"
            )),
        };
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return millis_of(time.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return millis_of(time.and_utc());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return millis_of(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(age) = parse_duration_ms(text) {
        return pryv_backup::clock::now_millis()
            .checked_sub(age)
            .ok_or_else(|| format!("{text} before now is before 1970"));
    }
    Err(format!("{text:?} is not a point in time ({examples})"))
}

fn millis_of(time: DateTime<Utc>) -> Result<u64, String> {
    u64::try_from(time.timestamp_millis()).map_err(|_| format!("{time} is before 1970"))
}

/// A time for people: RFC 3339 in UTC, with how long ago it was (`2026-12-07T10:31:19Z, 3 h
/// ago`), or how far ahead when a clock was ahead.
pub fn for_people(ms: u64) -> String {
    format!("{}, {}", utc(ms), age(ms))
}

/// RFC 3339 in UTC to the second (`2026-12-07T10:31:19Z`).
pub fn utc(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or_else(
            || format!("{ms} ms"),
            |time| time.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

/// How long ago `ms` was (`3 h ago`), or how far ahead of this host's clock.
pub fn age(ms: u64) -> String {
    let now = pryv_backup::clock::now_millis();
    let (span, ahead) = if now >= ms {
        (now - ms, false)
    } else {
        (ms - now, true)
    };
    let seconds = span / 1000;
    let age = match seconds {
        0..90 => format!("{seconds} s"),
        90..5400 => format!("{} min", seconds / 60),
        5400..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    };
    if ahead {
        format!("{age} ahead of this host's clock")
    } else {
        format!("{age} ago")
    }
}

/// Milliseconds of a duration such as `36h`, `7d`, `2w1d` or `1y` (365 days): numbers with
/// a unit each (h, d, w, y), summed.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a duration such as 36h, 7d, 2w or 1y");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let hours: u64 = match c {
            'h' => 1,
            'd' => 24,
            'w' => 7 * 24,
            'y' => 365 * 24,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(hours * 3_600_000)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::{for_people, parse_duration_ms, parse_millis};

    #[test]
    fn durations_sum_their_parts() {
        assert_eq!(parse_duration_ms("36h"), Ok(36 * 3_600_000));
        assert_eq!(parse_duration_ms("2w1d"), Ok(15 * 24 * 3_600_000));
        assert_eq!(parse_duration_ms("1y"), Ok(365 * 24 * 3_600_000));
        for bad in ["", "7", "d", "3m", "-1d", "0d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn milliseconds_and_rfc3339() {
        assert_eq!(parse_millis("1763990000000"), Ok(1_763_990_000_000));
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_millis("2025-11-24T13:13:20Z"), Ok(1_763_990_000_000));
        assert_eq!(
            parse_millis("2025-11-24T14:13:20.25+01:00"),
            Ok(1_763_990_000_250)
        );
        assert_eq!(
            parse_millis("2025-11-24t10:13:20.123456-03:00"),
            Ok(1_763_990_000_123)
        );
        assert_eq!(parse_millis("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
    }

    #[test]
    fn dates_and_times_without_zone_are_utc() {
        assert_eq!(parse_millis("2025-11-24"), Ok(1_763_942_400_000));
        assert_eq!(parse_millis("2025-11-24T13:13:20"), Ok(1_763_990_000_000));
        assert_eq!(parse_millis("2025-11-24 13:13:20.5"), Ok(1_763_990_000_500));
        assert_eq!(parse_millis("2025-11-24 13:13"), Ok(1_763_989_980_000));
    }

    #[test]
    fn an_age_is_counted_back_from_now() {
        let now = pryv_backup::clock::now_millis();
        let two_days_ago = parse_millis("2d").unwrap();
        let expected = now - 2 * 86_400_000;
        assert!(two_days_ago.abs_diff(expected) < 60_000, "{two_days_ago}");
    }

    #[test]
    fn numbers_other_than_milliseconds_are_refused_with_the_reason() {
        let seconds = parse_millis("1763990000").unwrap_err();
        assert!(seconds.contains("looks like seconds"), "{seconds}");
        assert!(seconds.contains("1763990000000"), "{seconds}");
        let short = parse_millis("17639900").unwrap_err();
        assert!(short.contains("ambiguous"), "{short}");
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2025-02-29T00:00:00Z",
            "2025-02-29",
            "2025-11-24T25:00:00Z",
            "2025-11-24T13:13:20.Z",
            "-5",
            "5 days",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn times_for_people_say_utc_and_age() {
        let now = pryv_backup::clock::now_millis();
        let shown = for_people(now - 3 * 3_600_000);
        assert!(shown.ends_with("Z, 3 h ago"), "{shown}");
        assert_eq!(
            for_people(1_763_990_000_000).split(',').next(),
            Some("2025-11-24T13:13:20Z")
        );
        assert!(
            for_people(now + 7_200_000).contains("ahead"),
            "{}",
            for_people(now + 7_200_000)
        );
    }
}
