//! Run-time settings: what an admin may change while the dashboard runs, with the one
//! definition of each setting's range. Flags and environment give the first values only; once
//! saved, the stored values rule and take effect without a restart.

use serde::{Deserialize, Serialize};

use crate::verdict::Thresholds;

/// Every run-time setting. `verdict` holds the verdict's thresholds and the temperature table
/// per drive kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Burn-in jobs running at once on one host.
    pub jobs_per_host: u32,
    /// Milliseconds between two job starts on one host (staggered spin-up).
    pub stagger_ms: u64,
    /// Seconds without progress before a stage is flagged stuck.
    pub stuck_after_secs: u64,
    /// Seconds without progress before a stuck self-test is aborted (0: never).
    pub stuck_abort_after_secs: u64,
    /// Seconds a drive may stay at or above its kind's `fail_c` before its job is stopped.
    pub critical_sustain_secs: u64,
    /// Seconds between reads of each host's drive list.
    pub poll_interval_secs: u64,
    /// Seconds between temperature reads of each host.
    pub temperature_interval_secs: u64,
    /// Seconds between SMART reads of idle drives.
    pub smart_interval_secs: u64,
    /// Destructive starts plus cancels allowed on one host within 15 minutes.
    pub destructive_limit: u32,
    /// Failed sign-ins for one account before it is locked (30 s, doubling to 15 min).
    pub login_account_failures: u32,
    /// Failed sign-ins from one address before it is locked.
    pub login_address_failures: u32,
    /// Hours without a request after which a browser session ends.
    pub session_idle_hours: u32,
    /// Days after sign-in after which a browser session ends, however busy.
    pub session_max_days: u32,
    /// Live channels (browser tabs, API sockets) one user may hold open at once.
    pub live_connections_per_user: u32,
    /// Connection tests one host may be put through per minute.
    pub host_tests_per_minute: u32,
    /// Days a finished job's stage output (badblocks' messages, smartctl answers) is kept;
    /// 0 keeps it for ever. Verdicts, SMART snapshots and the job itself are always kept.
    pub stage_output_retention_days: u32,
    /// Where to look for a newer release (JSON with `version`, or a GitHub release's
    /// `tag_name`); empty: never looks, as suits an air-gapped network.
    pub update_check_url: String,
    /// Whether admins may open a shell on a NAS from the page at all.
    pub terminal_enabled: bool,
    /// Minutes without input or output after which a terminal is closed.
    pub terminal_idle_mins: u32,
    /// The dashboard's address as people reach it (`https://burnin.example.lan`), for the
    /// links in notifications; empty: the address it listens on.
    #[serde(default)]
    pub public_url: String,
    /// The alert rules' thresholds and times.
    #[serde(default)]
    pub alerts: crate::alert::AlertRules,
    pub verdict: Thresholds,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            jobs_per_host: 32,
            stagger_ms: 2000,
            stuck_after_secs: 1800,
            stuck_abort_after_secs: 21_600,
            critical_sustain_secs: 300,
            poll_interval_secs: 30,
            temperature_interval_secs: 10,
            smart_interval_secs: 600,
            destructive_limit: 120,
            login_account_failures: 5,
            login_address_failures: 20,
            session_idle_hours: 12,
            session_max_days: 7,
            live_connections_per_user: 20,
            host_tests_per_minute: 6,
            stage_output_retention_days: 0,
            update_check_url: String::new(),
            terminal_enabled: true,
            terminal_idle_mins: 30,
            public_url: String::new(),
            alerts: crate::alert::AlertRules::default(),
            verdict: Thresholds::default(),
        }
    }
}

/// One setting that is out of its range: which, and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Settings {
    /// Every setting out of its range, each with the range it must be in.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut range = |field: &str, value: u64, min: u64, max: u64, unit: &str| {
            if value < min || value > max {
                problems.push(Problem {
                    field: field.to_owned(),
                    message: format!("{value} is outside {min}–{max} {unit}"),
                });
            }
        };
        range("jobs_per_host", self.jobs_per_host.into(), 1, 256, "jobs");
        range("stagger_ms", self.stagger_ms, 0, 600_000, "ms");
        range("stuck_after_secs", self.stuck_after_secs, 1, 7 * 86_400, "seconds");
        range("stuck_abort_after_secs", self.stuck_abort_after_secs, 0, 30 * 86_400, "seconds");
        range("critical_sustain_secs", self.critical_sustain_secs, 0, 86_400, "seconds");
        range("poll_interval_secs", self.poll_interval_secs, 1, 3600, "seconds");
        range("temperature_interval_secs", self.temperature_interval_secs, 1, 3600, "seconds");
        range("smart_interval_secs", self.smart_interval_secs, 5, 86_400, "seconds");
        range("destructive_limit", self.destructive_limit.into(), 1, 10_000, "per 15 minutes");
        range("login_account_failures", self.login_account_failures.into(), 3, 100, "attempts");
        range("login_address_failures", self.login_address_failures.into(), 3, 1000, "attempts");
        range("session_idle_hours", self.session_idle_hours.into(), 1, 24 * 30, "hours");
        range("session_max_days", self.session_max_days.into(), 1, 365, "days");
        range("live_connections_per_user", self.live_connections_per_user.into(), 1, 1000, "");
        range("host_tests_per_minute", self.host_tests_per_minute.into(), 1, 60, "per minute");
        range("terminal_idle_mins", self.terminal_idle_mins.into(), 1, 24 * 60, "minutes");
        range(
            "stage_output_retention_days",
            self.stage_output_retention_days.into(),
            0,
            36_500,
            "days",
        );
        if self.stuck_abort_after_secs != 0 && self.stuck_abort_after_secs < self.stuck_after_secs {
            problems.push(Problem {
                field: "stuck_abort_after_secs".into(),
                message: format!(
                    "{} would abort before a stage is even called stuck ({} s); make it 0 (never) or at least stuck_after_secs",
                    self.stuck_abort_after_secs, self.stuck_after_secs
                ),
            });
        }
        if u64::from(self.session_idle_hours) > u64::from(self.session_max_days) * 24 {
            problems.push(Problem {
                field: "session_idle_hours".into(),
                message: "is longer than session_max_days: a session would end by age first".into(),
            });
        }
        let url = self.update_check_url.trim();
        let web = url.starts_with("https://") || url.starts_with("http://");
        if url.len() > 2000 || url.chars().any(char::is_control) {
            problems.push(Problem {
                field: "update_check_url".into(),
                message: "must be one line of at most 2000 characters".into(),
            });
        } else if !url.is_empty() && !web {
            problems.push(Problem {
                field: "update_check_url".into(),
                message: format!(
                    "{url:?} is not an http:// or https:// address; leave it empty to turn the check off"
                ),
            });
        }
        let public = self.public_url.trim();
        if public.len() > 2000
            || public.chars().any(|c| c.is_control() || c == ' ')
            || !(public.is_empty()
                || public.starts_with("https://")
                || public.starts_with("http://"))
        {
            problems.push(Problem {
                field: "public_url".into(),
                message: format!(
                    "{public:?} is not an http:// or https:// address; leave it empty to use the address the dashboard listens on"
                ),
            });
        }
        for message in self.alerts.problems() {
            problems.push(Problem { field: "alerts".into(), message });
        }
        if let Err(message) = self.verdict.validate() {
            problems.push(Problem { field: "verdict".into(), message });
        }
        problems
    }

    /// Whether the settings may be stored, with every problem in one message.
    pub fn validate(&self) -> Result<(), String> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = problems.iter().map(Problem::to_string).collect();
        Err(format!("settings not saved: {}", list.join("; ")))
    }
}

/// Merges `patch` (a JSON object of the settings to change; nested objects merge, others
/// replace) onto `current`, then reads and checks the result. Fields left out keep their
/// value; an unknown field is an error naming it.
pub fn merge(current: &Settings, patch: &serde_json::Value) -> Result<Settings, String> {
    if !patch.is_object() {
        return Err(
            "send the settings to change as a JSON object, e.g. {\"jobs_per_host\": 8}".into()
        );
    }
    let mut value = serde_json::to_value(current).map_err(|e| e.to_string())?;
    merge_value(&mut value, patch);
    let settings: Settings =
        serde_json::from_value(value).map_err(|e| format!("settings not saved: {e}"))?;
    settings.validate()?;
    Ok(settings)
}

fn merge_value(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_value(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// The settings that changed between `old` and `new`, as dotted paths with both values:
/// what the audit log records.
pub fn changes(
    old: &Settings,
    new: &Settings,
) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let (Ok(old), Ok(new)) = (serde_json::to_value(old), serde_json::to_value(new)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    diff("", &old, &new, &mut out);
    out
}

fn diff(
    path: &str,
    old: &serde_json::Value,
    new: &serde_json::Value,
    out: &mut Vec<(String, serde_json::Value, serde_json::Value)>,
) {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (key, new_value) in b {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                let old_value = a.get(key).unwrap_or(&serde_json::Value::Null);
                diff(&child, old_value, new_value, out);
            }
        }
        (a, b) if a != b => out.push((path.to_owned(), a.clone(), b.clone())),
        _ => {}
    }
}

/// What the Settings page shows beside the settings; none of it can change at run time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub version: String,
    pub listen: String,
    pub data_dir: String,
    pub database_bytes: Option<u64>,
    /// When this process started (Unix seconds).
    pub started_at: i64,
    /// Settings that are flags or environment only and need a restart to change.
    pub restart_needed_for: Vec<String>,
    pub update: Option<UpdateStatus>,
}

/// The last update check's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStatus {
    pub checked_at: i64,
    pub latest: Option<String>,
    pub newer: bool,
    pub link: Option<String>,
    pub error: Option<String>,
}

/// Settings and the system card, as `GET /api/v1/settings` answers them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub settings: Settings,
    pub system: SystemInfo,
}

/// Whether release `latest` (a tag such as `v1.2.0` or `1.2.0`) is newer than `current`;
/// parts that are not numbers compare as 0, so a malformed tag is never "newer".
pub fn is_newer(latest: &str, current: &str) -> bool {
    fn parts(version: &str) -> Vec<u64> {
        version
            .trim()
            .trim_start_matches(['v', 'V'])
            .split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    }
    let (a, b) = (parts(latest), parts(current));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        if x != y {
            return x > y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().problems(), Vec::new());
    }

    #[test]
    fn merge_changes_only_what_is_given_and_keeps_nested_values() {
        let current = Settings::default();
        let merged = merge(
            &current,
            &serde_json::json!({"jobs_per_host": 4, "verdict": {"temperatures": {"hdd": {"fail_c": 58}}}}),
        )
        .expect("valid");
        assert_eq!(merged.jobs_per_host, 4);
        assert_eq!(merged.verdict.temperatures.hdd.fail_c, 58.0);
        assert_eq!(merged.verdict.temperatures.hdd.warn_c, current.verdict.temperatures.hdd.warn_c);
        assert_eq!(merged.stagger_ms, current.stagger_ms);
        let changed = changes(&current, &merged);
        let paths: Vec<&str> = changed.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["jobs_per_host", "verdict.temperatures.hdd.fail_c"]);
        assert_eq!(changed[0].1, serde_json::json!(32));
        assert_eq!(changed[0].2, serde_json::json!(4));
    }

    #[test]
    fn out_of_range_and_unknown_fields_are_refused_by_name() {
        let current = Settings::default();
        let error = merge(&current, &serde_json::json!({"jobs_per_host": 0})).expect_err("refused");
        assert!(error.contains("jobs_per_host"), "{error}");
        let error = merge(&current, &serde_json::json!({"jobs_per_hots": 3})).expect_err("refused");
        assert!(error.contains("jobs_per_hots"), "{error}");
        let error = merge(
            &current,
            &serde_json::json!({"stuck_after_secs": 3600, "stuck_abort_after_secs": 600}),
        )
        .expect_err("refused");
        assert!(error.contains("stuck_abort_after_secs"), "{error}");
        let error = merge(&current, &serde_json::json!({"update_check_url": "ftp://x"}))
            .expect_err("refused");
        assert!(error.contains("update_check_url"), "{error}");
        let error = merge(
            &current,
            &serde_json::json!({"verdict": {"temperatures": {"hdd": {"fail_c": 20}}}}),
        )
        .expect_err("refused");
        assert!(error.contains("verdict"), "{error}");
        assert!(merge(&current, &serde_json::json!([1])).is_err());
    }

    #[test]
    fn newer_versions_compare_by_number() {
        assert!(is_newer("v0.2.0", "0.1.9"));
        assert!(is_newer("0.10.0", "0.9.0"));
        assert!(!is_newer("0.1.0", "0.1.0"));
        assert!(!is_newer("v0.1", "0.1.0"));
        assert!(!is_newer("garbage", "0.1.0"));
        assert!(is_newer("1.0.0-rc1", "0.9.9"));
    }
}
