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
    let seconds = pryv_backup::dates::days_from_civil(year, month, day) * 86_400
        + hour * 3600
        + minute * 60
        + second
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

#[cfg(test)]
mod tests {
    use super::{parse_duration_ms, parse_millis};

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
