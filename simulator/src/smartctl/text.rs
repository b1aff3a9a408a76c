//! smartctl's text conventions: the banner, dates, numbers with thousands separators and SI
//! capacities, as smartmontools 7.4 prints them (`smartctl.cpp`, `utility.cpp`).

/// The plain-text lines `--json=o` collects into `smartctl.output[]`. smartctl splits its
/// `printf` output at every newline (`vjpout` in `smartctl.cpp`), so an empty string is an
/// empty line.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Lines(pub Vec<String>);

impl Lines {
    pub fn line(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }

    pub fn blank(&mut self) {
        self.0.push(String::new());
    }

    /// Text printed in one call that holds newlines; a trailing newline ends the last line.
    pub fn block(&mut self, text: &str) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        self.0.extend(text.split('\n').map(str::to_owned));
    }

    pub fn extend(&mut self, other: Lines) {
        self.0.extend(other.0);
    }
}

pub(super) const RELEASE_DATE: &str = "2023-08-01";
pub(super) const SVN_REVISION: &str = "5530";
/// The drive database shipped with the 7.4 release ("Device is: In smartctl database ...").
pub(super) const DRIVEDB_VERSION: &str = "7.3/5528";

/// `smi()->get_os_version_str()`: `uname` as Linux or FreeBSD formats it.
pub(super) fn platform(core: bool) -> &'static str {
    if core { "FreeBSD 13.3-RELEASE-p4 amd64" } else { "x86_64-linux-6.12.15-production+truenas" }
}

/// `printslogan()`: version line, copyright line, empty line.
pub(super) fn banner(core: bool) -> Lines {
    Lines(vec![
        format!("smartctl 7.4 {RELEASE_DATE} r{SVN_REVISION} [{}] (local build)", platform(core)),
        "Copyright (C) 2002-23, Bruce Allen, Christian Franke, www.smartmontools.org".to_owned(),
        String::new(),
    ])
}

/// `dateandtimezoneepoch()`: `asctime()` without its newline, then the zone. Simulated hosts
/// run on UTC.
pub(super) fn asctime(unix_seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix_seconds.div_euclid(86_400);
    let seconds = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get(days.rem_euclid(7) as usize).copied().unwrap_or("Thu");
    let month_name = MONTHS.get(month.saturating_sub(1) as usize).copied().unwrap_or("Jan");
    format!(
        "{weekday} {month_name} {day:>2} {:02}:{:02}:{:02} {year} UTC",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `format_with_thousands_sep()` in the C locale.
pub(super) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `format_capacity()`: three significant digits with an SI prefix, e.g. `12.0 TB`.
pub(super) fn capacity(value: u64) -> String {
    const PREFIXES: [char; 6] = [' ', 'K', 'M', 'G', 'T', 'P'];
    let mut index = 0;
    let mut divisor: u64 = 1;
    while index < PREFIXES.len() - 1 {
        match divisor.checked_mul(1000) {
            Some(next) if value >= next => {
                divisor = next;
                index += 1;
            }
            _ => break,
        }
    }
    let prefix = PREFIXES.get(index).copied().unwrap_or(' ');
    let whole = value / divisor;
    let rest = value % divisor;
    if index == 0 {
        format!("{whole} B")
    } else if whole >= 100 {
        format!("{whole} {prefix}B")
    } else if whole >= 10 {
        format!("{whole}.{} {prefix}B", rest * 10 / divisor)
    } else {
        format!("{whole}.{:02} {prefix}B", rest * 100 / divisor)
    }
}

/// "16,000,900,661,248 bytes [16.0 TB]", as printed for user capacities.
pub(super) fn bytes_with_capacity(bytes: u64) -> String {
    format!("{} bytes [{}]", thousands(bytes), capacity(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_asctime_in_utc() {
        assert_eq!(asctime(1_234_567_890), "Fri Feb 13 23:31:30 2009 UTC");
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970 UTC");
        assert_eq!(asctime(1_655_567_750), "Sat Jun 18 15:55:50 2022 UTC");
        assert_eq!(asctime(1_709_164_800), "Thu Feb 29 00:00:00 2024 UTC");
    }

    #[test]
    fn numbers_get_thousands_separators_and_si_capacities() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(16_000_900_661_248), "16,000,900,661,248");
        assert_eq!(capacity(16_000_900_661_248), "16.0 TB");
        assert_eq!(capacity(250_059_350_016), "250 GB");
        assert_eq!(capacity(4_000_787_030_016), "4.00 TB");
        assert_eq!(capacity(512), "512 B");
        assert_eq!(capacity(u64::MAX), "18446 PB");
    }
}
