//! Human-readable figures, shared by the page and the API so both print the same.

/// Decimal capacity the way drive vendors label it ("12 TB", "960 GB"), since that is what is
/// printed on the box a technician is holding.
pub fn capacity(bytes: u64) -> String {
    const UNITS: [(&str, f64); 5] =
        [("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let value = bytes as f64;
    for (unit, scale) in UNITS {
        if value >= scale {
            let scaled = value / scale;
            return if scaled >= 100.0 || (scaled.fract() < 0.05) {
                format!("{scaled:.0} {unit}")
            } else {
                format!("{scaled:.1} {unit}")
            };
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_reads_like_the_label_on_the_drive() {
        let cases = [
            (12_000_138_625_024, "12 TB"),
            (8_001_563_222_016, "8 TB"),
            (960_197_124_096, "960 GB"),
            (500_107_862_016, "500 GB"),
            (1_500_301_910_016, "1.5 TB"),
            (20_000_588_955_648, "20 TB"),
            (512, "512 B"),
            (48_210, "48.2 kB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(capacity(bytes), expected, "{bytes}");
        }
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp as the database writes them
/// (`2026-11-22T14:05:09.123Z`). `None` for anything else.
pub fn parse_utc(text: &str) -> Option<f64> {
    let text = text.trim().strip_suffix('Z').or_else(|| text.trim().strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date_parts.next()??, date_parts.next()??, date_parts.next()??);
    let mut time_parts = time.split(':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: f64 = time_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second >= 61.0
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60) as f64 + second)
}

/// An RFC 3339 UTC timestamp (`2026-12-04T03:40:00Z`) of `secs` since the Unix epoch.
pub fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The calendar date of day `days` since the Unix epoch (Howard Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// "just now", "45 s", "12 min", "3 h", "2 d": how old a reading is.
pub fn age(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    match seconds {
        s if s < 5.0 => "just now".to_owned(),
        s if s < 90.0 => format!("{s:.0} s ago"),
        s if s < 5400.0 => format!("{:.0} min ago", s / 60.0),
        s if s < 172_800.0 => format!("{:.0} h ago", s / 3600.0),
        s => format!("{:.0} d ago", s / 86_400.0),
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn database_timestamps_parse_to_epoch_seconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_utc("2026-11-22T14:05:09.500Z"), Some(1_795_356_309.5));
        assert_eq!(parse_utc("2000-02-29T12:00:00Z"), Some(951_825_600.0));
        assert_eq!(parse_utc("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_utc("yesterday"), None);
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(2.0), "just now");
        assert_eq!(age(45.0), "45 s ago");
        assert_eq!(age(600.0), "10 min ago");
        assert_eq!(age(7200.0), "2 h ago");
        assert_eq!(age(3.0 * 86_400.0), "3 d ago");
    }
}
