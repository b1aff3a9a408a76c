//! Alerts: what is wrong and needs a human, and the one lifecycle every alert follows. Pure
//! rules (no clock, no I/O): the server's engine feeds observations in and stores what comes
//! out; channels get the notifications.
//!
//! The lifecycle (Prometheus' `for` and Alertmanager's dedup, plus a resolve that must hold):
//! a condition is **pending** until it has held for its kind's damping time, then **raised**
//! (notified once); a repeat only bumps its count and last-seen time; an admin or operator may
//! **acknowledge** it (seen, still open: reminders stop); it is **resolved** by hand, or by
//! itself once the condition has been clear for [`AlertRules::clear_checks`] checks in a row.
//! A condition that clears while still pending never notifies, so flapping inside the damping
//! time is silent. One open alert exists per (host, kind, subject).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    BurninFailed,
    BurninPassedWithWarnings,
    /// A notice, off by default for channels.
    BurninPassed,
    BurninStuck,
    BurninInterrupted,
    /// Cancelled by someone other than who started it.
    BurninCancelled,
    TemperatureHigh,
    SmartFailed,
    /// A watched SMART counter rose on a drive no burn-in is running on.
    CounterRising,
    HostOffline,
    ApiAuthFailing,
    SshUnreachable,
    PoolDegraded,
    PoolUsage,
}

impl AlertKind {
    pub const ALL: [AlertKind; 14] = [
        AlertKind::BurninFailed,
        AlertKind::BurninPassedWithWarnings,
        AlertKind::BurninPassed,
        AlertKind::BurninStuck,
        AlertKind::BurninInterrupted,
        AlertKind::BurninCancelled,
        AlertKind::TemperatureHigh,
        AlertKind::SmartFailed,
        AlertKind::CounterRising,
        AlertKind::HostOffline,
        AlertKind::ApiAuthFailing,
        AlertKind::SshUnreachable,
        AlertKind::PoolDegraded,
        AlertKind::PoolUsage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BurninFailed => "burnin_failed",
            AlertKind::BurninPassedWithWarnings => "burnin_passed_with_warnings",
            AlertKind::BurninPassed => "burnin_passed",
            AlertKind::BurninStuck => "burnin_stuck",
            AlertKind::BurninInterrupted => "burnin_interrupted",
            AlertKind::BurninCancelled => "burnin_cancelled",
            AlertKind::TemperatureHigh => "temperature_high",
            AlertKind::SmartFailed => "smart_failed",
            AlertKind::CounterRising => "counter_rising",
            AlertKind::HostOffline => "host_offline",
            AlertKind::ApiAuthFailing => "api_auth_failing",
            AlertKind::SshUnreachable => "ssh_unreachable",
            AlertKind::PoolDegraded => "pool_degraded",
            AlertKind::PoolUsage => "pool_usage",
        }
    }

    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == text.trim())
    }

    /// A burn-in's outcome: an event that happened, not a condition that holds. It is raised
    /// at once and stays open until someone resolves it (or the drive's next burn-in passes).
    pub fn is_event(self) -> bool {
        matches!(
            self,
            AlertKind::BurninFailed
                | AlertKind::BurninPassedWithWarnings
                | AlertKind::BurninPassed
                | AlertKind::BurninInterrupted
                | AlertKind::BurninCancelled
        )
    }
}

/// The thresholds and times the rules apply; settings, with these defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertRules {
    /// A host unreachable this long raises a warning…
    pub host_offline_warn_mins: u32,
    /// …and this long, a critical alert.
    pub host_offline_crit_mins: u32,
    /// Pool usage at or above this percentage: warning…
    pub pool_usage_warn_pct: f64,
    /// …and at or above this: critical.
    pub pool_usage_crit_pct: f64,
    /// A drive must stay at or above its kind's critical temperature this long.
    pub temperature_sustain_secs: u64,
    /// API authentication and SSH must keep failing this long.
    pub connection_damping_secs: u64,
    /// A pool must stay degraded this long (a resilver blip is not an alert).
    pub pool_damping_secs: u64,
    /// Clear checks in a row that resolve an alert by itself.
    pub clear_checks: u32,
    /// An open, unacknowledged alert is notified again this often; 0 never.
    pub reminder_mins: u32,
}

impl Default for AlertRules {
    fn default() -> AlertRules {
        AlertRules {
            host_offline_warn_mins: 30,
            host_offline_crit_mins: 60,
            pool_usage_warn_pct: 80.0,
            pool_usage_crit_pct: 90.0,
            temperature_sustain_secs: 300,
            connection_damping_secs: 300,
            pool_damping_secs: 120,
            clear_checks: 3,
            reminder_mins: 240,
        }
    }
}

impl AlertRules {
    /// Every value out of range, named.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.host_offline_warn_mins == 0
            || self.host_offline_crit_mins < self.host_offline_warn_mins
        {
            problems.push(format!(
                "host_offline_warn_mins ({}) must be at least 1 and at most host_offline_crit_mins ({})",
                self.host_offline_warn_mins, self.host_offline_crit_mins
            ));
        }
        let pct = |v: f64| v.is_finite() && (1.0..=100.0).contains(&v);
        if !pct(self.pool_usage_warn_pct)
            || !pct(self.pool_usage_crit_pct)
            || self.pool_usage_crit_pct < self.pool_usage_warn_pct
        {
            problems.push(format!(
                "pool_usage_warn_pct ({}) and pool_usage_crit_pct ({}) must be 1–100 %, warn ≤ crit",
                self.pool_usage_warn_pct, self.pool_usage_crit_pct
            ));
        }
        if !(1..=100).contains(&self.clear_checks) {
            problems.push(format!("clear_checks ({}) must be 1–100", self.clear_checks));
        }
        problems
    }

    /// How long a condition of `kind` must hold before it is raised.
    pub fn damping_secs(&self, kind: AlertKind) -> u64 {
        match kind {
            AlertKind::TemperatureHigh => self.temperature_sustain_secs,
            AlertKind::ApiAuthFailing | AlertKind::SshUnreachable => self.connection_damping_secs,
            AlertKind::PoolDegraded | AlertKind::PoolUsage => self.pool_damping_secs,
            // The offline time is the condition itself (see `host_offline`); the rest are
            // facts already established when observed.
            _ => 0,
        }
    }

    /// A host offline for `secs`: the severity it warrants, if any.
    pub fn host_offline(&self, secs: u64) -> Option<Severity> {
        let mins = secs / 60;
        if mins >= u64::from(self.host_offline_crit_mins) {
            Some(Severity::Critical)
        } else if mins >= u64::from(self.host_offline_warn_mins) {
            Some(Severity::Warning)
        } else {
            None
        }
    }

    /// A pool using `allocated` of `size` bytes: the severity it warrants, if any.
    pub fn pool_usage(&self, allocated: u64, size: u64) -> Option<Severity> {
        if size == 0 {
            return None;
        }
        let pct = allocated as f64 * 100.0 / size as f64;
        if pct >= self.pool_usage_crit_pct {
            Some(Severity::Critical)
        } else if pct >= self.pool_usage_warn_pct {
            Some(Severity::Warning)
        } else {
            None
        }
    }
}

/// ZFS pool health as TrueNAS reports it (`pool.query`'s `status`): anything but ONLINE is
/// degraded; FAULTED, UNAVAIL and REMOVED are critical.
pub fn pool_status(status: &str) -> Option<Severity> {
    match status.trim().to_ascii_uppercase().as_str() {
        "ONLINE" | "" => None,
        "FAULTED" | "UNAVAIL" | "REMOVED" => Some(Severity::Critical),
        _ => Some(Severity::Warning),
    }
}

/// A drive's temperature against its kind's limits ([`crate::TemperatureLimits`], the table
/// every other temperature rule reads): from `crit_c` a warning, from `fail_c` critical. How
/// long it must hold is [`AlertRules::temperature_sustain_secs`], applied by [`step`].
pub fn temperature(limits: &crate::TemperatureLimits, celsius: f64) -> Option<Severity> {
    if limits.too_hot(celsius) {
        Some(Severity::Critical)
    } else if limits.level(celsius) == crate::drive::TemperatureLevel::Crit {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// The drive's own SMART overall-health assessment: FAILED is critical.
pub fn smart_health(health: crate::SmartHealth) -> Option<Severity> {
    (health == crate::SmartHealth::Failed).then_some(Severity::Critical)
}

/// Watched SMART counters ([`crate::verdict::watched_counters`]) that rose between two readings
/// of a drive no burn-in runs on, with the severity they warrant: critical when a counter the
/// verdict fails on rose, a warning when only ones it warns on did (link errors, spin retries).
pub fn counters_rising(
    before: &crate::smart::SmartReport,
    after: &crate::smart::SmartReport,
) -> Option<(Severity, Vec<crate::verdict::Rise>)> {
    let rises = crate::verdict::counters_rising(before, after);
    let worst = rises.iter().map(|r| r.level).max()?;
    let severity =
        if worst == crate::verdict::Level::Fail { Severity::Critical } else { Severity::Warning };
    Some((severity, rises))
}

/// Whether a cancel is worth telling: someone other than who started the job cancelled it.
/// Actors are compared by person, however each signed in; the system's own cancels (a demo
/// host retired) are not news.
pub fn cancelled_by_someone_else(started_by: &str, cancelled_by: &str) -> bool {
    let (starter, canceller) =
        (crate::access::actor_name(started_by), crate::access::actor_name(cancelled_by));
    !canceller.is_empty() && canceller != "system" && canceller != starter
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Raised,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Raised => "raised",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, AlertState::Raised | AlertState::Acknowledged)
    }
}

/// One alert's state, as stored. Times are Unix seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub host_id: i64,
    pub kind: AlertKind,
    /// The drive's serial, the pool's name, the job id; empty for the host itself.
    pub subject: String,
    pub state: AlertState,
    pub severity: Severity,
    pub message: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub raised_at: Option<i64>,
    pub count: u32,
    /// Clear checks in a row while open.
    pub clear_checks: u32,
    pub last_notified: Option<i64>,
}

/// What one check saw of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    Firing { severity: Severity, message: String },
    Clear,
}

/// Why a channel hears of an alert now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Raised,
    /// Its severity rose while open (a host offline for an hour, not half of one).
    Escalated,
    Reminder,
    Acknowledged,
    Resolved,
}

/// The alert after a check (`None`: nothing to keep, as for a pending one that cleared), and
/// the notice it gives, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub alert: Option<Alert>,
    pub notice: Option<Notice>,
}

/// Applies one check at `now` to the open (or pending) alert of a key, if any.
pub fn step(
    current: Option<&Alert>,
    (host_id, kind, subject): (i64, AlertKind, &str),
    seen: Seen,
    now: i64,
    rules: &AlertRules,
) -> Step {
    let damping = if kind.is_event() { 0 } else { rules.damping_secs(kind) as i64 };
    match (current.filter(|a| a.state != AlertState::Resolved), seen) {
        (None, Seen::Clear) => Step { alert: None, notice: None },
        (None, Seen::Firing { severity, message }) => {
            let mut alert = Alert {
                host_id,
                kind,
                subject: subject.to_owned(),
                state: AlertState::Pending,
                severity,
                message,
                first_seen: now,
                last_seen: now,
                raised_at: None,
                count: 1,
                clear_checks: 0,
                last_notified: None,
            };
            if damping == 0 {
                alert.state = AlertState::Raised;
                alert.raised_at = Some(now);
                alert.last_notified = Some(now);
                return Step { alert: Some(alert), notice: Some(Notice::Raised) };
            }
            Step { alert: Some(alert), notice: None }
        }
        (Some(pending), Seen::Clear) if pending.state == AlertState::Pending => {
            Step { alert: None, notice: None }
        }
        (Some(pending), Seen::Firing { severity, message })
            if pending.state == AlertState::Pending =>
        {
            let mut alert = Alert {
                severity,
                message,
                last_seen: now,
                count: pending.count + 1,
                ..pending.clone()
            };
            if now - pending.first_seen >= damping {
                alert.state = AlertState::Raised;
                alert.raised_at = Some(now);
                alert.last_notified = Some(now);
                return Step { alert: Some(alert), notice: Some(Notice::Raised) };
            }
            Step { alert: Some(alert), notice: None }
        }
        (Some(open), Seen::Clear) => {
            // An event stays until someone resolves it; a condition resolves once it has been
            // clear for long enough, never on one good reading.
            if open.kind.is_event() {
                return Step { alert: Some(open.clone()), notice: None };
            }
            let mut alert = Alert { clear_checks: open.clear_checks + 1, ..open.clone() };
            if alert.clear_checks >= rules.clear_checks.max(1) {
                alert.state = AlertState::Resolved;
                alert.last_notified = Some(now);
                return Step { alert: Some(alert), notice: Some(Notice::Resolved) };
            }
            Step { alert: Some(alert), notice: None }
        }
        (Some(open), Seen::Firing { severity, message }) => {
            let escalated = severity > open.severity;
            let mut alert = Alert {
                severity: severity.max(open.severity),
                message,
                last_seen: now,
                count: open.count.saturating_add(1),
                clear_checks: 0,
                ..open.clone()
            };
            if escalated {
                alert.last_notified = Some(now);
                return Step { alert: Some(alert), notice: Some(Notice::Escalated) };
            }
            if reminder_due(open, now, rules) {
                alert.last_notified = Some(now);
                return Step { alert: Some(alert), notice: Some(Notice::Reminder) };
            }
            Step { alert: Some(alert), notice: None }
        }
    }
}

/// Whether an open alert is due to be told again at `now`: raised (not acknowledged), with
/// reminders on, and last told at least `reminder_mins` ago. Conditions are checked on each
/// repeat (`step`); events, which do not repeat, by the server's minute sweep.
pub fn reminder_due(alert: &Alert, now: i64, rules: &AlertRules) -> bool {
    let every = i64::from(rules.reminder_mins) * 60;
    alert.state == AlertState::Raised
        && every > 0
        && alert.last_notified.is_some_and(|at| now - at >= every)
}

/// Acknowledges an open alert: seen by someone, still open, no more reminders.
pub fn acknowledge(alert: &Alert) -> Result<Alert, String> {
    match alert.state {
        AlertState::Raised => Ok(Alert { state: AlertState::Acknowledged, ..alert.clone() }),
        AlertState::Acknowledged => Err("this alert is already acknowledged".into()),
        AlertState::Pending => Err("this alert is not raised yet".into()),
        AlertState::Resolved => Err("this alert is resolved".into()),
    }
}

/// Resolves an open alert by hand.
pub fn resolve(alert: &Alert, now: i64) -> Result<Alert, String> {
    if alert.state.is_open() {
        Ok(Alert { state: AlertState::Resolved, last_notified: Some(now), ..alert.clone() })
    } else {
        Err(format!("only an open alert can be resolved; this one is {}", alert.state.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firing(severity: Severity) -> Seen {
        Seen::Firing { severity, message: "m".into() }
    }

    /// Feeds a sequence of checks, one a minute; answers the notices given.
    fn run(kind: AlertKind, checks: &[Seen], rules: &AlertRules) -> (Option<Alert>, Vec<Notice>) {
        let mut alert = None;
        let mut notices = Vec::new();
        for (i, seen) in checks.iter().enumerate() {
            let step = step(alert.as_ref(), (1, kind, "sda"), seen.clone(), i as i64 * 60, rules);
            notices.extend(step.notice);
            alert = step.alert;
        }
        (alert, notices)
    }

    #[test]
    fn a_condition_is_raised_only_after_its_damping_time_and_flapping_inside_it_is_silent() {
        let rules = AlertRules::default();
        // Temperature: 5 minutes of damping; up and down every minute never raises.
        let flapping: Vec<Seen> = (0..30)
            .map(|i| if i % 2 == 0 { firing(Severity::Critical) } else { Seen::Clear })
            .collect();
        let (alert, notices) = run(AlertKind::TemperatureHigh, &flapping, &rules);
        assert_eq!(notices, vec![]);
        assert!(alert.is_none());
        // Held for 6 minutes: raised once, at the fifth minute.
        let held: Vec<Seen> = (0..7).map(|_| firing(Severity::Critical)).collect();
        let (alert, notices) = run(AlertKind::TemperatureHigh, &held, &rules);
        assert_eq!(notices, vec![Notice::Raised]);
        let alert = alert.expect("open");
        assert_eq!(alert.state, AlertState::Raised);
        assert_eq!(alert.raised_at, Some(300));
        assert_eq!(alert.count, 7, "repeats bump the count");
    }

    #[test]
    fn an_open_alert_resolves_only_after_enough_clear_checks_and_a_blip_resets_them() {
        let rules = AlertRules::default();
        let mut checks = vec![firing(Severity::Warning); 3];
        checks.extend([Seen::Clear, Seen::Clear, firing(Severity::Warning)]);
        checks.extend([Seen::Clear, Seen::Clear, Seen::Clear]);
        let (alert, notices) = run(AlertKind::SmartFailed, &checks, &rules);
        assert_eq!(notices, vec![Notice::Raised, Notice::Resolved]);
        assert_eq!(alert.expect("kept").state, AlertState::Resolved);
    }

    #[test]
    fn a_host_offline_warns_at_30_minutes_escalates_at_60_and_reminds_while_unacknowledged() {
        let rules = AlertRules { reminder_mins: 120, ..AlertRules::default() };
        let mut alert: Option<Alert> = None;
        let mut notices = Vec::new();
        for minute in 0..=200u64 {
            let seen = match rules.host_offline(minute * 60) {
                Some(severity) => Seen::Firing { severity, message: "offline".into() },
                None => Seen::Clear,
            };
            let step = step(
                alert.as_ref(),
                (1, AlertKind::HostOffline, ""),
                seen,
                minute as i64 * 60,
                &rules,
            );
            notices.extend(step.notice.map(|n| (minute, n)));
            alert = step.alert;
        }
        assert_eq!(
            notices,
            vec![(30, Notice::Raised), (60, Notice::Escalated), (180, Notice::Reminder)]
        );
        assert_eq!(alert.as_ref().map(|a| a.severity), Some(Severity::Critical));
        // Acknowledged, it reminds no more.
        let acked = acknowledge(alert.as_ref().expect("open")).expect("acknowledged");
        let later = step(
            Some(&acked),
            (1, AlertKind::HostOffline, ""),
            firing(Severity::Critical),
            500 * 60,
            &rules,
        );
        assert_eq!(later.notice, None);
        assert_eq!(later.alert.map(|a| a.state), Some(AlertState::Acknowledged));
    }

    #[test]
    fn a_burn_in_event_is_raised_at_once_and_stays_until_resolved_by_hand() {
        let rules = AlertRules::default();
        let checks =
            [firing(Severity::Critical), Seen::Clear, Seen::Clear, Seen::Clear, Seen::Clear];
        let (alert, notices) = run(AlertKind::BurninFailed, &checks, &rules);
        assert_eq!(notices, vec![Notice::Raised]);
        let alert = alert.expect("open");
        assert_eq!(alert.state, AlertState::Raised);
        let resolved = resolve(&alert, 999).expect("resolved");
        assert_eq!(resolved.state, AlertState::Resolved);
        assert!(resolve(&resolved, 1000).is_err());
        assert!(acknowledge(&resolved).is_err());
        // A new occurrence after a resolve is a new alert.
        let again = step(
            Some(&resolved),
            (1, AlertKind::BurninFailed, "sda"),
            firing(Severity::Critical),
            2000,
            &rules,
        );
        assert_eq!(again.notice, Some(Notice::Raised));
        assert_eq!(again.alert.map(|a| a.first_seen), Some(2000));
    }

    #[test]
    fn temperature_alerts_follow_the_drive_kinds_limits() {
        let table = crate::TemperatureTable::default();
        let hdd = table.for_kind(crate::DriveKind::Hdd);
        assert_eq!(temperature(&hdd, hdd.crit_c - 1.0), None);
        assert_eq!(temperature(&hdd, hdd.crit_c), Some(Severity::Warning));
        assert_eq!(temperature(&hdd, hdd.fail_c), Some(Severity::Critical));
        assert_eq!(temperature(&hdd, f64::NAN), None, "an unreadable reading is no alert");
        let nvme = table.for_kind(crate::DriveKind::Nvme);
        assert_eq!(temperature(&nvme, hdd.crit_c), None, "NVMe runs hotter than a disk");
        assert_eq!(smart_health(crate::SmartHealth::Failed), Some(Severity::Critical));
        assert_eq!(smart_health(crate::SmartHealth::Passed), None);
        assert_eq!(smart_health(crate::SmartHealth::Unknown), None);
    }

    /// The Seagate capture with some ATA attributes' raw values replaced.
    fn ata(raws: &[(u64, u64)]) -> crate::smart::SmartReport {
        let capture = include_str!("../simulator/src/smartctl/captures/ata-seagate.json");
        let mut json: serde_json::Value = serde_json::from_str(capture).expect("a capture");
        for attribute in json["ata_smart_attributes"]["table"].as_array_mut().into_iter().flatten()
        {
            if let Some((_, raw)) = raws.iter().find(|(id, _)| attribute["id"] == *id) {
                attribute["raw"] = serde_json::json!({"value": raw, "string": raw.to_string()});
            }
        }
        crate::smart::parse_smartctl_json(json.to_string().as_bytes()).expect("parses")
    }

    #[test]
    fn rising_counters_are_critical_when_the_verdict_fails_on_them_and_warn_otherwise() {
        let quiet = ata(&[(5, 0), (199, 0)]);
        assert_eq!(counters_rising(&quiet, &quiet), None);
        let cable = ata(&[(5, 0), (199, 6)]);
        assert_eq!(counters_rising(&quiet, &cable).map(|(s, _)| s), Some(Severity::Warning));
        let both = ata(&[(5, 2), (199, 6)]);
        let (severity, rises) = counters_rising(&quiet, &both).expect("rises");
        assert_eq!(severity, Severity::Critical);
        assert_eq!(rises.len(), 2);
    }

    #[test]
    fn a_cancel_is_news_only_from_someone_else() {
        assert!(!cancelled_by_someone_else("ann", "ann"));
        assert!(!cancelled_by_someone_else("ann (token #2)", "ann (sso)"));
        assert!(cancelled_by_someone_else("ann", "bob (token #9)"));
        assert!(!cancelled_by_someone_else("ann", "system"));
    }

    #[test]
    fn pool_rules_follow_their_thresholds() {
        let rules = AlertRules::default();
        assert_eq!(rules.pool_usage(79, 100), None);
        assert_eq!(rules.pool_usage(80, 100), Some(Severity::Warning));
        assert_eq!(rules.pool_usage(90, 100), Some(Severity::Critical));
        assert_eq!(rules.pool_usage(5, 0), None);
        assert_eq!(pool_status("ONLINE"), None);
        assert_eq!(pool_status("DEGRADED"), Some(Severity::Warning));
        assert_eq!(pool_status("faulted"), Some(Severity::Critical));
        assert!(AlertRules::default().problems().is_empty());
        let bad = AlertRules { pool_usage_warn_pct: 95.0, ..AlertRules::default() };
        assert!(bad.problems()[0].contains("pool_usage_warn_pct"));
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(kind));
        }
    }
}

/// An alert as the API and the Alerts page show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub host_id: i64,
    pub host_name: String,
    pub kind: AlertKind,
    pub subject: String,
    pub state: AlertState,
    pub severity: Severity,
    pub message: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub raised_at: Option<i64>,
    pub count: u32,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub note: Option<String>,
    /// The burn-in job it is about, if any.
    pub job_id: Option<i64>,
}

/// What a person does to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handling {
    Acknowledge,
    Resolve,
}

/// Which alerts to list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertFilter {
    /// `open` (raised or acknowledged, the default), `raised`, `acknowledged`, `resolved`, `all`.
    pub state: Option<String>,
    pub host_id: Option<i64>,
    pub kind: Option<AlertKind>,
    pub severity: Option<Severity>,
}

/// What the header and the Hosts page show of the open alerts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    /// Raised or acknowledged.
    pub open: u32,
    /// Of those, raised (not yet acknowledged).
    pub unacknowledged: u32,
    /// Open and critical.
    pub critical: u32,
    /// Open alerts per host: (host id, count, worst severity).
    pub by_host: Vec<(i64, u32, Severity)>,
    /// The newest raised critical alerts (at most 5): (id, title), for desktop notifications.
    pub newest_critical: Vec<(i64, String)>,
}
