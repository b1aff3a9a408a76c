//! Drives as the dashboard shows them.

use serde::{Deserialize, Serialize};

/// What kind of medium a drive is. Decides which tests are offered: a surface test wears flash,
/// so it is not offered by default for SSD and NVMe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DriveKind {
    Hdd,
    Ssd,
    Nvme,
    Unknown,
}

impl DriveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriveKind::Hdd => "HDD",
            DriveKind::Ssd => "SSD",
            DriveKind::Nvme => "NVMe",
            DriveKind::Unknown => "?",
        }
    }

    /// Parses the stored form; anything unrecognised is `Unknown` rather than an error, since
    /// the value comes from a NAS we do not control.
    pub fn parse(s: &str) -> DriveKind {
        match s.to_ascii_uppercase().as_str() {
            "HDD" => DriveKind::Hdd,
            "SSD" => DriveKind::Ssd,
            "NVME" => DriveKind::Nvme,
            _ => DriveKind::Unknown,
        }
    }
}

/// Whether a drive belongs to something that holds data. Anything but `Free` means "hands off"
/// for destructive work.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PoolMembership {
    /// Not in any pool the NAS knows of.
    Free,
    /// Member of an imported pool.
    Pool { name: String },
    /// Member of a pool that is exported but importable: its data is intact.
    ExportedPool { name: String },
    /// Holds the NAS's boot pool.
    Boot,
    /// The NAS did not say (yet).
    Unknown,
}

impl PoolMembership {
    pub fn label(&self) -> String {
        match self {
            PoolMembership::Free => "free".to_owned(),
            PoolMembership::Pool { name } => format!("pool {name}"),
            PoolMembership::ExportedPool { name } => format!("exported pool {name}"),
            PoolMembership::Boot => "boot".to_owned(),
            PoolMembership::Unknown => "unknown".to_owned(),
        }
    }

    /// The CSS modifier the UI uses for the badge.
    pub fn css(&self) -> &'static str {
        match self {
            PoolMembership::Free => "free",
            PoolMembership::Pool { .. } => "pool",
            PoolMembership::ExportedPool { .. } => "exported",
            PoolMembership::Boot => "boot",
            PoolMembership::Unknown => "unknown",
        }
    }
}

/// The drive's own SMART overall-health self-assessment, as last read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmartHealth {
    Passed,
    Failed,
    Unknown,
}

impl SmartHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            SmartHealth::Passed => "passed",
            SmartHealth::Failed => "failed",
            SmartHealth::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> SmartHealth {
        match s {
            "passed" => SmartHealth::Passed,
            "failed" => SmartHealth::Failed,
            _ => SmartHealth::Unknown,
        }
    }
}

/// Where a drive stands in the burn-in workflow, as the dashboard groups it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriveState {
    /// Present, no burn-in running or recorded.
    Idle,
    Queued,
    Running,
    Passed,
    Failed,
    /// The drive is no longer reported by its host; kept for its history.
    Absent,
}

impl DriveState {
    pub const ALL: [DriveState; 6] = [
        DriveState::Idle,
        DriveState::Queued,
        DriveState::Running,
        DriveState::Passed,
        DriveState::Failed,
        DriveState::Absent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DriveState::Idle => "idle",
            DriveState::Queued => "queued",
            DriveState::Running => "running",
            DriveState::Passed => "passed",
            DriveState::Failed => "failed",
            DriveState::Absent => "absent",
        }
    }

    pub fn parse(s: &str) -> Option<DriveState> {
        DriveState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// One row of the drive table: what the dashboard and `GET /api/v1/drives` show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveRow {
    pub id: i64,
    pub host_id: i64,
    pub host_name: String,
    /// Current device name on the host (`sda`, `ada3`, `nvme0n1`). Changes across reboots; never
    /// an identity.
    pub devname: String,
    pub serial: String,
    pub model: String,
    pub size_bytes: u64,
    pub kind: DriveKind,
    pub temperature_c: Option<f64>,
    pub smart_health: SmartHealth,
    pub pool: PoolMembership,
    pub state: DriveState,
    pub location: String,
    pub notes: String,
    /// When the host last reported this drive (RFC 3339 UTC): the age of its data.
    pub seen_at: Option<String>,
    /// The latest burn-in of this drive, if any.
    #[serde(default)]
    pub progress: Option<crate::job::JobProgress>,
}

/// Filters shared by the UI and the JSON API, so the two cannot disagree about what a filter
/// means.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveFilter {
    pub host_id: Option<i64>,
    pub state: Option<DriveState>,
    /// Case-insensitive substring of serial, model, location or device name.
    pub search: Option<String>,
}

impl DriveFilter {
    pub fn matches(&self, row: &DriveRow) -> bool {
        if self.host_id.is_some_and(|id| id != row.host_id) {
            return false;
        }
        if self.state.is_some_and(|state| state != row.state) {
            return false;
        }
        match self.search.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(needle) => {
                let needle = needle.to_lowercase();
                [&row.serial, &row.model, &row.location, &row.devname]
                    .iter()
                    .any(|field| field.to_lowercase().contains(&needle))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> DriveRow {
        DriveRow {
            id: 1,
            host_id: 7,
            host_name: "nas1".into(),
            devname: "sdc".into(),
            serial: "ZL2ABC01".into(),
            model: "ST12000NM0008".into(),
            size_bytes: 12_000_138_625_024,
            kind: DriveKind::Hdd,
            temperature_c: Some(34.0),
            smart_health: SmartHealth::Passed,
            pool: PoolMembership::Free,
            state: DriveState::Idle,
            location: "Bay 4".into(),
            notes: String::new(),
            seen_at: None,
            progress: None,
        }
    }

    fn check(filter: DriveFilter, expected: bool) {
        assert_eq!(filter.matches(&row()), expected, "{filter:?}");
    }

    #[test]
    fn filter_matches_search_in_any_text_field_ignoring_case() {
        check(DriveFilter::default(), true);
        check(DriveFilter { search: Some("zl2abc".into()), ..Default::default() }, true);
        check(DriveFilter { search: Some("nm0008".into()), ..Default::default() }, true);
        check(DriveFilter { search: Some("bay 4".into()), ..Default::default() }, true);
        check(DriveFilter { search: Some("SDC".into()), ..Default::default() }, true);
        check(DriveFilter { search: Some("  ".into()), ..Default::default() }, true);
        check(DriveFilter { search: Some("WD80".into()), ..Default::default() }, false);
    }

    #[test]
    fn filter_by_host_and_state_must_both_match() {
        check(DriveFilter { host_id: Some(7), ..Default::default() }, true);
        check(DriveFilter { host_id: Some(8), ..Default::default() }, false);
        check(DriveFilter { state: Some(DriveState::Idle), ..Default::default() }, true);
        check(DriveFilter { state: Some(DriveState::Failed), ..Default::default() }, false);
        check(
            DriveFilter { host_id: Some(7), state: Some(DriveState::Running), search: None },
            false,
        );
    }

    #[test]
    fn drive_state_round_trips_through_its_string_form() {
        for state in DriveState::ALL {
            assert_eq!(DriveState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DriveState::parse("bogus"), None);
    }
}

/// The order drives are listed in, everywhere (the API and the table): by host, then by
/// device name the way a person counts (`sdb` before `sdaa`, `nvme2n1` before `nvme10n1`),
/// then by serial.
pub fn natural_order(a: &DriveRow, b: &DriveRow) -> std::cmp::Ordering {
    natural_key(a).cmp(&natural_key(b))
}

/// The key of [`natural_order`], for sorts that cache keys.
pub fn natural_key(row: &DriveRow) -> (String, usize, String, String) {
    (row.host_name.clone(), row.devname.len(), row.devname.clone(), row.serial.clone())
}

/// How hot is too hot for one kind of drive. One table serves the table's colours, the
/// pre-check, the mid-job stop and the verdict:
/// - `warn_c`: shown amber;
/// - `crit_c`: shown red, and the verdict warns when the hottest reading reaches it;
/// - `fail_c`: the pre-check will not start a job at or above it, a job whose drive stays at
///   or above it is stopped, and the verdict fails when the hottest reading reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemperatureLimits {
    pub warn_c: f64,
    pub crit_c: f64,
    pub fail_c: f64,
}

/// A temperature's standing against its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureLevel {
    Normal,
    Warn,
    Crit,
}

impl TemperatureLimits {
    pub fn level(&self, celsius: f64) -> TemperatureLevel {
        if celsius >= self.crit_c {
            TemperatureLevel::Crit
        } else if celsius >= self.warn_c {
            TemperatureLevel::Warn
        } else {
            TemperatureLevel::Normal
        }
    }

    /// At or above the limit where testing stops.
    pub fn too_hot(&self, celsius: f64) -> bool {
        celsius >= self.fail_c
    }
}

/// The limits per kind of drive. Display defaults follow Multi-Report's (HDD 45/50 °C, SSD
/// 50/60, NVMe 55/65; reference/anchors.md gotcha 29); a drive fails at 60 (HDD), 70 (SSD)
/// and 80 °C (NVMe, whose controllers run hot and throttle themselves near there).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemperatureTable {
    pub hdd: TemperatureLimits,
    pub ssd: TemperatureLimits,
    pub nvme: TemperatureLimits,
}

impl Default for TemperatureTable {
    fn default() -> TemperatureTable {
        TemperatureTable {
            hdd: TemperatureLimits { warn_c: 45.0, crit_c: 50.0, fail_c: 60.0 },
            ssd: TemperatureLimits { warn_c: 50.0, crit_c: 60.0, fail_c: 70.0 },
            nvme: TemperatureLimits { warn_c: 55.0, crit_c: 65.0, fail_c: 80.0 },
        }
    }
}

impl TemperatureTable {
    /// A drive of unknown kind is judged as a hard disk, the strictest.
    pub fn for_kind(&self, kind: DriveKind) -> TemperatureLimits {
        match kind {
            DriveKind::Hdd | DriveKind::Unknown => self.hdd,
            DriveKind::Ssd => self.ssd,
            DriveKind::Nvme => self.nvme,
        }
    }

    /// A clear message for limits no one should set.
    pub fn validate(&self) -> Result<(), String> {
        for (kind, limits) in [("hdd", self.hdd), ("ssd", self.ssd), ("nvme", self.nvme)] {
            for (name, value) in
                [("warn_c", limits.warn_c), ("crit_c", limits.crit_c), ("fail_c", limits.fail_c)]
            {
                if !value.is_finite() || !(20.0..=100.0).contains(&value) {
                    return Err(format!(
                        "temperatures.{kind}.{name} must be between 20 and 100 °C, not {value}"
                    ));
                }
            }
            if !(limits.warn_c <= limits.crit_c && limits.crit_c <= limits.fail_c) {
                return Err(format!(
                    "temperatures.{kind}: the limits must rise from warn_c ({}) to crit_c ({}) to fail_c ({})",
                    limits.warn_c, limits.crit_c, limits.fail_c
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod temperature_tests {
    use super::*;

    #[test]
    fn temperature_levels_switch_at_the_limits() {
        let hdd = TemperatureTable::default().for_kind(DriveKind::Hdd);
        let cases = [
            (30.0, TemperatureLevel::Normal),
            (44.9, TemperatureLevel::Normal),
            (45.0, TemperatureLevel::Warn),
            (49.0, TemperatureLevel::Warn),
            (50.0, TemperatureLevel::Crit),
            (70.0, TemperatureLevel::Crit),
        ];
        for (celsius, level) in cases {
            assert_eq!(hdd.level(celsius), level, "{celsius}");
        }
        let nvme = TemperatureTable::default().for_kind(DriveKind::Nvme);
        assert_eq!(nvme.level(60.0), TemperatureLevel::Warn);
        // An NVMe drive at 62 °C is warm, not too hot to test.
        assert!(!nvme.too_hot(62.0));
        assert!(hdd.too_hot(60.0) && !hdd.too_hot(59.0));
        assert_eq!(TemperatureTable::default().for_kind(DriveKind::Unknown), hdd);
    }

    #[test]
    fn limits_must_rise_and_stay_in_range() {
        assert_eq!(TemperatureTable::default().validate(), Ok(()));
        let mut table = TemperatureTable::default();
        table.ssd.crit_c = 75.0;
        assert!(table.validate().expect_err("out of order").contains("temperatures.ssd"));
        let mut table = TemperatureTable::default();
        table.nvme.fail_c = 500.0;
        assert!(table.validate().expect_err("out of range").contains("nvme.fail_c"));
    }

    #[test]
    fn drives_are_ordered_by_host_then_device_name_as_people_count() {
        let row = |host: &str, devname: &str| DriveRow {
            id: 0,
            host_id: 0,
            host_name: host.into(),
            devname: devname.into(),
            serial: String::new(),
            model: String::new(),
            size_bytes: 0,
            kind: DriveKind::Hdd,
            temperature_c: None,
            smart_health: SmartHealth::Unknown,
            pool: PoolMembership::Free,
            state: DriveState::Idle,
            location: String::new(),
            notes: String::new(),
            seen_at: None,
            progress: None,
        };
        let mut rows = [row("b", "sda"), row("a", "sdaa"), row("a", "sdb"), row("a", "nvme10n1")];
        rows.sort_by(natural_order);
        let names: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.host_name.as_str(), r.devname.as_str())).collect();
        assert_eq!(names, [("a", "sdb"), ("a", "sdaa"), ("a", "nvme10n1"), ("b", "sda")]);
    }
}
