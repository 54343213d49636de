//! Points in time given on the command line: RFC 3339 or milliseconds since the epoch.

/// Milliseconds since 1970-01-01T00:00:00Z of `text`: either an integer (milliseconds, as in
/// a manifest's `backupTimestamp`) or an RFC 3339 date-time such as `2026-11-24T23:00:00Z`
/// or `2026-11-24T23:00:00.5+01:00`.
pub fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| format!("{text} is too large to be a time in milliseconds"));
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("{text:?} is neither a time in milliseconds nor an RFC 3339 date-time (e.g. 2026-11-24T23:00:00Z)")
    })
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Optional fraction: milliseconds kept, finer digits dropped.
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let frac = &s[i + 1..i + 1 + digits];
        millis = format!("{:0<3}", &frac[..digits.min(3)]).parse().ok()?;
        i += 1 + digits;
    }
    let offset_minutes = match &s[i..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    u64::try_from(seconds * 1000 + millis).ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_millis;

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
    fn nonsense_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2025-11-24",
            "2025-11-24T13:13:20",
            "2025-02-29T00:00:00Z",
            "2025-11-24T25:00:00Z",
            "2025-11-24T13:13:20.Z",
            "-5",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad:?} accepted");
        }
    }
}
