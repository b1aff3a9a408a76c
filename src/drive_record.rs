//! A drive's record across runs and hosts, the Drive page (`/drives/{serial}`): who the drive
//! is (from its newest SMART capture), the rows it has had on each host, where it was placed
//! and by whom, every burn-in it has had, and how its watched counters and power-on hours moved
//! from one run to the next. Built here from the rows the server reads, so the page cannot
//! disagree with the certificate about identity nor with the verdict about what is watched.

use serde::{Deserialize, Serialize};

use crate::history::AuditEvent;
use crate::job::JobView;
use crate::smart::SmartReport;

/// The audit action of a drive's location or notes edit (`inventory::store::update_drive_text`
/// on the server writes it, with `{"location": {"from", "to"}}` in its detail).
pub const EDIT_ACTION: &str = "drive.edit";

/// The most burn-ins a record reads; a drive has tens, and the history has the rest.
pub const MAX_JOBS: usize = 500;

/// The most places a record reads, newest first; a drive is moved a handful of times.
pub const MAX_PLACES: usize = 500;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriveRecord {
    pub serial: String,
    pub identity: Identity,
    /// Every host, device name and bay the inventory has seen the drive in, most recent
    /// first; the first is where it is now (or was last seen).
    pub places: Vec<Place>,
    /// Location edits, newest first.
    pub locations: Vec<LocationChange>,
    /// Every burn-in read, newest first.
    pub jobs: Vec<JobLine>,
    pub trend: Trend,
    /// What the page must say it left out (jobs beyond [`MAX_JOBS`]).
    pub notes: Vec<String>,
}

/// Who the drive is, as its newest SMART capture says (the inventory's row where SMART is
/// silent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub model: String,
    pub model_family: Option<String>,
    pub vendor: Option<String>,
    pub wwn: Option<String>,
    pub capacity_bytes: u64,
    pub firmware: Option<String>,
    /// `HDD`, `SSD`, `NVME`, `UNKNOWN` (the inventory's reading).
    pub kind: String,
    /// `ata`, `scsi`, `nvme`, `unknown`.
    pub protocol: String,
    pub power_on_hours: Option<u64>,
    /// When the capture the identity comes from was taken; `None` without any capture.
    pub captured_at: Option<String>,
    /// Which capture: `burn-in #12, after the tests`, `the latest reading on truenas-lab`.
    pub source: String,
}

/// A place the drive sat in: a host, a device name and an enclosure bay, from the first poll
/// that found it there to the last. A move to another bay, device name or host opens a new
/// place; the old one keeps its dates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub drive_id: i64,
    pub host_name: String,
    /// The host is archived: its record is kept, it is no longer polled.
    pub host_archived: bool,
    pub devname: String,
    /// The enclosure bay the host reported; `None` where it reports none.
    pub slot: Option<u32>,
    /// The operator's location text; only the current place has one (the location history
    /// lists the edits).
    pub location: String,
    /// The inventory's state (`idle`, `absent`, …) at the current place; `moved` at a place
    /// the drive has left.
    pub state: String,
    /// Where the drive is now (or was last seen): the newest place of its row.
    pub current: bool,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// [`Place::state`] of a place the drive has left.
pub const MOVED: &str = "moved";

/// A location edit: old → new, who and when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationChange {
    pub at: String,
    pub actor: String,
    pub from: String,
    pub to: String,
    /// The host of the drive row edited, when the event names a row still recorded.
    pub host_name: Option<String>,
}

/// A burn-in as the drive's job table lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobLine {
    pub id: i64,
    /// `/jobs/{id}`.
    pub href: String,
    pub host_name: String,
    pub state: String,
    /// `pass`, `warn`, `fail`, `incomplete` (a CSS class and a filter value).
    pub outcome: String,
    /// `PASS`, `PASS WITH WARNINGS`, `FAIL`, `INCOMPLETE`: the certificate's words.
    pub outcome_words: String,
    /// The stages' labels, in order.
    pub stages: Vec<String>,
    pub operator: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_seconds: Option<i64>,
    pub duration: Option<String>,
    pub bad_blocks: u64,
    /// Where the drive sat when the job was made: the device name and bay of the place that
    /// covers that instant on the job's host; `None` where no recorded place does.
    pub devname: Option<String>,
    pub slot: Option<u32>,
}

/// A watched counter's column in the trend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterColumn {
    /// The verdict's rule stem (`ata.5`).
    pub rule: String,
    pub name: String,
}

/// One run's reading in the trend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendRow {
    pub job_id: i64,
    /// When the reading was taken.
    pub at: String,
    /// `after` (the tests) or `before`, when the job has no reading after.
    pub snapshot: String,
    pub power_on_hours: Option<u64>,
    /// One value per [`Trend::counters`] column; `None` where the reading lacks the counter.
    pub values: Vec<Option<u64>>,
}

/// Power-on hours and the watched counters across runs, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub counters: Vec<CounterColumn>,
    pub rows: Vec<TrendRow>,
    /// SVG (`crate::chart`); empty without readings.
    pub hours_chart: String,
    /// SVG; empty without any watched counter read.
    pub counters_chart: String,
}

/// A parsed smartctl capture and when it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub at: String,
    pub report: SmartReport,
}

/// A drive row as the server read it.
#[derive(Clone, Debug, PartialEq)]
pub struct DriveSource {
    pub row: crate::DriveRow,
    pub host_archived: bool,
    /// The drive's latest SMART reading outside any burn-in (`drives.smart_json`).
    pub latest: Option<Reading>,
}

/// A place as the inventory recorded it (`drive_places`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sighting {
    /// Its order of recording: a later place has a larger id.
    pub id: i64,
    pub drive_id: i64,
    pub host_name: String,
    pub host_archived: bool,
    pub devname: String,
    pub slot: Option<u32>,
    pub first_seen: String,
    pub last_seen: String,
}

/// A burn-in with its SMART captures.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub job: JobView,
    pub before: Option<Reading>,
    pub after: Option<Reading>,
}

/// What a record is built from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    pub serial: String,
    pub drives: Vec<DriveSource>,
    /// Every place of those rows, any order. A row without any (never polled since places
    /// were recorded) is listed from the row itself.
    pub sightings: Vec<Sighting>,
    /// Any order; at most [`MAX_JOBS`].
    pub runs: Vec<Run>,
    /// How many burn-ins the drive has in all (more than `runs` when capped).
    pub jobs_total: usize,
    /// Audit events about the serial; those that are not location edits are ignored.
    pub audit: Vec<AuditEvent>,
}

/// Sort key of a timestamp: unparseable ones first, so they never pass for the newest.
fn instant(at: &str) -> f64 {
    crate::format::parse_utc(at).unwrap_or(f64::NEG_INFINITY)
}

pub fn build(src: Sources) -> DriveRecord {
    let mut drives = src.drives;
    drives.sort_by(|a, b| {
        let seen = |d: &DriveSource| d.row.seen_at.as_deref().map_or(f64::NEG_INFINITY, instant);
        seen(b).total_cmp(&seen(a)).then(b.row.id.cmp(&a.row.id))
    });
    let mut runs = src.runs;
    runs.sort_by_key(|r| std::cmp::Reverse(r.job.id));

    let notes = if src.jobs_total > runs.len() {
        vec![format!(
            "Showing the newest {} of {} burn-ins; the history lists them all (/history?serial={}).",
            runs.len(),
            src.jobs_total,
            src.serial
        )]
    } else {
        Vec::new()
    };
    let places = places(&drives, src.sightings);
    DriveRecord {
        identity: identity(&drives, &runs),
        locations: locations(&src.audit, &drives),
        jobs: runs.iter().map(|r| job_line(&r.job, &places)).collect(),
        places,
        trend: trend(&runs),
        notes,
        serial: src.serial,
    }
}

fn identity(drives: &[DriveSource], runs: &[Run]) -> Identity {
    let mut captures: Vec<(&Reading, String)> = Vec::new();
    for run in runs {
        if let Some(after) = &run.after {
            captures.push((after, format!("burn-in #{}, after the tests", run.job.id)));
        }
        if let Some(before) = &run.before {
            captures.push((before, format!("burn-in #{}, before the tests", run.job.id)));
        }
    }
    for drive in drives {
        if let Some(latest) = &drive.latest {
            captures.push((latest, format!("the latest reading on {}", drive.row.host_name)));
        }
    }
    // Stable: among captures of one instant the first listed (a job's after) wins.
    let newest = captures
        .into_iter()
        .rev()
        .max_by(|(a, _), (b, _)| instant(&a.at).total_cmp(&instant(&b.at)));
    let row = drives.first().map(|d| &d.row);
    let id = newest.as_ref().map(|(r, _)| &r.report.identity);
    let text = |pick: fn(&crate::smart::DriveIdentity) -> &Option<String>| {
        id.and_then(|i| pick(i).clone()).filter(|s| !s.trim().is_empty())
    };
    Identity {
        model: text(|i| &i.model).or_else(|| row.map(|r| r.model.clone())).unwrap_or_default(),
        model_family: text(|i| &i.model_family),
        // SMART names the vendor of SCSI drives only; the statistics' mapping reads the rest
        // from the model.
        vendor: text(|i| &i.vendor).or_else(|| {
            let model = text(|i| &i.model).or_else(|| row.map(|r| r.model.clone()))?;
            let vendor = crate::stats::vendor_of(&model);
            (vendor != crate::stats::OTHER_VENDOR).then(|| vendor.to_owned())
        }),
        wwn: text(|i| &i.wwn),
        capacity_bytes: id
            .and_then(|i| i.capacity_bytes)
            .or(row.map(|r| r.size_bytes))
            .unwrap_or(0),
        firmware: text(|i| &i.firmware),
        kind: row.map_or(crate::DriveKind::Unknown, |r| r.kind).as_str().to_owned(),
        protocol: match id.map(|i| i.protocol) {
            Some(crate::smart::Protocol::Ata) => "ata",
            Some(crate::smart::Protocol::Scsi) => "scsi",
            Some(crate::smart::Protocol::Nvme) => "nvme",
            _ => "unknown",
        }
        .to_owned(),
        power_on_hours: newest.as_ref().and_then(|(r, _)| r.report.power_on_hours),
        captured_at: newest.as_ref().map(|(r, _)| r.at.clone()),
        source: newest.map(|(_, source)| source).unwrap_or_default(),
    }
}

/// The places, most recently seen first. Each row's newest place is its current one and takes
/// the row's state and location; a row with no place recorded stands as its own.
fn places(drives: &[DriveSource], mut sightings: Vec<Sighting>) -> Vec<Place> {
    sightings.retain(|s| drives.iter().any(|d| d.row.id == s.drive_id));
    sightings.sort_by_key(|s| std::cmp::Reverse(s.id));
    let mut places: Vec<(f64, i64, Place)> = Vec::new();
    for drive in drives {
        let row = &drive.row;
        let mut own = sightings.iter().filter(|s| s.drive_id == row.id).peekable();
        if own.peek().is_none() {
            let seen = row.seen_at.as_deref().map_or(f64::NEG_INFINITY, instant);
            places.push((
                seen,
                i64::MAX,
                Place {
                    drive_id: row.id,
                    host_name: row.host_name.clone(),
                    host_archived: drive.host_archived,
                    devname: row.devname.clone(),
                    slot: None,
                    location: row.location.clone(),
                    state: row.state.as_str().to_owned(),
                    current: true,
                    first_seen: None,
                    last_seen: row.seen_at.clone(),
                },
            ));
            continue;
        }
        for (index, s) in own.enumerate() {
            let current = index == 0;
            places.push((
                instant(&s.last_seen),
                s.id,
                Place {
                    drive_id: s.drive_id,
                    host_name: s.host_name.clone(),
                    host_archived: s.host_archived,
                    devname: s.devname.clone(),
                    slot: s.slot,
                    location: if current { row.location.clone() } else { String::new() },
                    state: if current { row.state.as_str().to_owned() } else { MOVED.to_owned() },
                    current,
                    first_seen: Some(s.first_seen.clone()),
                    last_seen: Some(s.last_seen.clone()),
                },
            ));
        }
    }
    places.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
    places.into_iter().map(|(_, _, p)| p).collect()
}

/// The place of drive row `drive_id` that covers `at` on `host`: the newest one there first
/// seen at or before it.
/// A job made before the drive's first recorded poll there falls to the oldest place on that
/// host, since the drive was already in it when the inventory first looked.
fn place_at<'a>(places: &'a [Place], drive_id: i64, host: &str, at: &str) -> Option<&'a Place> {
    let at = instant(at);
    let on_host = || places.iter().filter(|p| p.drive_id == drive_id && p.host_name == host);
    on_host()
        .filter(|p| p.first_seen.as_deref().is_some_and(|f| instant(f) <= at))
        .max_by(|a, b| {
            let first = |p: &Place| p.first_seen.as_deref().map_or(f64::NEG_INFINITY, instant);
            first(a).total_cmp(&first(b))
        })
        .or_else(|| on_host().next_back())
}

fn locations(audit: &[AuditEvent], drives: &[DriveSource]) -> Vec<LocationChange> {
    let mut changes: Vec<(i64, LocationChange)> = audit
        .iter()
        .filter(|e| e.action == EDIT_ACTION)
        .filter_map(|e| {
            let change = e.detail.get("location")?;
            let side = |key: &str| change.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let drive_id = e.detail.get("drive_id").and_then(serde_json::Value::as_i64);
            let host_name = drive_id
                .and_then(|id| drives.iter().find(|d| d.row.id == id))
                .map(|d| d.row.host_name.clone());
            Some((
                e.id,
                LocationChange {
                    at: e.at.clone(),
                    actor: e.actor.clone(),
                    from: side("from").unwrap_or_default(),
                    to: side("to")?,
                    host_name,
                },
            ))
        })
        .collect();
    changes.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    changes.into_iter().map(|(_, c)| c).collect()
}

fn job_line(job: &JobView, places: &[Place]) -> JobLine {
    let place = place_at(places, job.drive_id, &job.host_name, &job.created_at);
    let outcome = job.verdict.as_ref().map_or(crate::verdict::Outcome::Incomplete, |v| v.outcome);
    let duration_seconds = job
        .started_at
        .as_deref()
        .and_then(crate::format::parse_utc)
        .zip(job.finished_at.as_deref().and_then(crate::format::parse_utc))
        .map(|(start, end)| (end - start).max(0.0) as i64);
    JobLine {
        id: job.id,
        href: format!("/jobs/{}", job.id),
        host_name: job.host_name.clone(),
        state: job.state.as_str().to_owned(),
        outcome: outcome.as_str().to_owned(),
        outcome_words: crate::record::outcome_words(outcome).to_owned(),
        stages: job.stages.iter().map(|s| s.kind.label().to_owned()).collect(),
        operator: job.operator.clone(),
        created_at: job.created_at.clone(),
        started_at: job.started_at.clone(),
        finished_at: job.finished_at.clone(),
        duration_seconds,
        duration: duration_seconds.map(|s| crate::job::duration_text(s as f64)),
        bad_blocks: job.stages.iter().map(|s| s.bad_blocks).sum(),
        devname: place.map(|p| p.devname.clone()),
        slot: place.and_then(|p| p.slot),
    }
}

fn trend(runs: &[Run]) -> Trend {
    // A job's state after its tests is what the next run starts from; a job that ended before
    // its last capture still says where the counters stood when it began.
    let mut readings: Vec<(i64, &Reading, &str)> = runs
        .iter()
        .filter_map(|r| match (&r.after, &r.before) {
            (Some(after), _) => Some((r.job.id, after, "after")),
            (None, Some(before)) => Some((r.job.id, before, "before")),
            (None, None) => None,
        })
        .collect();
    readings.sort_by(|a, b| instant(&a.1.at).total_cmp(&instant(&b.1.at)).then(a.0.cmp(&b.0)));

    let watched: Vec<Vec<crate::verdict::Watched>> =
        readings.iter().map(|(_, r, _)| crate::verdict::watched_counters(&r.report)).collect();
    let mut counters: Vec<CounterColumn> = Vec::new();
    for w in watched.iter().flatten() {
        if !counters.iter().any(|c| c.rule == w.rule) {
            counters.push(CounterColumn { rule: w.rule.to_owned(), name: w.name.to_owned() });
        }
    }
    let rows: Vec<TrendRow> = readings
        .iter()
        .zip(&watched)
        .map(|((job_id, reading, snapshot), watched)| TrendRow {
            job_id: *job_id,
            at: reading.at.clone(),
            snapshot: (*snapshot).to_owned(),
            power_on_hours: reading.report.power_on_hours,
            values: counters
                .iter()
                .map(|c| watched.iter().find(|w| w.rule == c.rule).and_then(|w| w.value))
                .collect(),
        })
        .collect();

    let points = |value: &dyn Fn(&TrendRow) -> Option<u64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((crate::format::parse_utc(&r.at)?, value(r)? as f64)))
            .collect()
    };
    let hours = points(&|r| r.power_on_hours);
    let hours_chart = if hours.is_empty() {
        String::new()
    } else {
        crate::chart::line(&crate::chart::LineChart {
            title: "Power-on hours at each burn-in".into(),
            x: crate::chart::Axis::Time,
            y: crate::chart::Axis::Number { unit: "h".into() },
            series: vec![crate::chart::Series { label: "Power-on hours".into(), points: hours }],
            bands: vec![],
        })
    };
    let series: Vec<crate::chart::Series> = counters
        .iter()
        .enumerate()
        .map(|(i, c)| crate::chart::Series {
            label: c.name.clone(),
            points: points(&|r| r.values.get(i).copied().flatten()),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let counters_chart = if series.is_empty() {
        String::new()
    } else {
        crate::chart::line(&crate::chart::LineChart {
            title: "Watched SMART counters at each burn-in".into(),
            x: crate::chart::Axis::Time,
            y: crate::chart::Axis::Number { unit: String::new() },
            series,
            bands: vec![],
        })
    };
    Trend { counters, rows, hours_chart, counters_chart }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::job::{JobState, StageKind, StageState, StageView};

    /// An ATA capture with the given power-on hours and reallocated / pending counts.
    fn ata(at: &str, hours: u64, reallocated: u64, pending: u64, firmware: &str) -> Reading {
        let attribute = |id: u8, name: &str, raw: u64| {
            json!({"id": id, "name": name, "value": 100, "worst": 100, "thresh": 10,
                   "raw": {"value": raw, "string": raw.to_string()}})
        };
        let capture = json!({
            "smartctl": {"version": [7, 4], "exit_status": 0},
            "device": {"name": "/dev/sda", "type": "sat", "protocol": "ATA"},
            "model_family": "Seagate IronWolf",
            "model_name": "ST8000VN004-3CP101",
            "serial_number": "ZA1",
            "wwn": {"naa": 5, "oui": 3152, "id": 2_712_847_316u64},
            "firmware_version": firmware,
            "user_capacity": {"blocks": 15_628_053_168u64, "bytes": 8_001_563_222_016u64},
            "smart_status": {"passed": true},
            "power_on_time": {"hours": hours},
            "ata_smart_attributes": {"table": [
                attribute(5, "Reallocated_Sector_Ct", reallocated),
                attribute(9, "Power_On_Hours", hours),
                attribute(197, "Current_Pending_Sector", pending),
            ]},
        });
        Reading {
            at: at.to_owned(),
            report: crate::smart::parse_smartctl_json(capture.to_string().as_bytes())
                .expect("a capture"),
        }
    }

    fn row(id: i64, host: &str, location: &str, seen: &str) -> crate::DriveRow {
        crate::DriveRow {
            id,
            host_id: id,
            host_name: host.to_owned(),
            devname: format!("sd{id}"),
            serial: "ZA1".to_owned(),
            model: "inventory model".to_owned(),
            size_bytes: 1,
            kind: crate::DriveKind::Hdd,
            temperature_c: None,
            smart_health: crate::SmartHealth::Passed,
            pool: crate::PoolMembership::Free,
            state: crate::DriveState::Idle,
            location: location.to_owned(),
            notes: String::new(),
            seen_at: Some(seen.to_owned()),
            progress: None,
        }
    }

    fn job(id: i64, host: &str, start: &str, end: &str, bad_blocks: u64) -> JobView {
        JobView {
            id,
            // The fixture's rows: 1 on old-nas, 2 on new-nas.
            drive_id: if host == "new-nas" { 2 } else { 1 },
            drive_serial: "ZA1".into(),
            host_name: host.into(),
            state: if bad_blocks > 0 { JobState::Failed } else { JobState::Passed },
            operator: "ann".into(),
            created_at: start.into(),
            started_at: Some(start.into()),
            finished_at: Some(end.into()),
            percent: 100.0,
            eta_seconds: None,
            reason: None,
            stages: vec![StageView {
                position: 1,
                kind: StageKind::Surface,
                state: StageState::Passed,
                percent: Some(100.0),
                detail: String::new(),
                started_at: Some(start.into()),
                finished_at: Some(end.into()),
                bad_blocks,
                read_errors: 0,
                write_errors: 0,
                corruption_errors: 0,
                throughput_mb_s: None,
                eta_seconds: None,
                stuck: false,
                log_tail: String::new(),
                bad_block_list: vec![],
                block_size: None,
                outputs: vec![],
            }],
            verdict: Some(crate::verdict::Verdict {
                outcome: if bad_blocks > 0 {
                    crate::verdict::Outcome::Fail
                } else {
                    crate::verdict::Outcome::Pass
                },
                reasons: vec![],
                deltas: vec![],
                max_temperature_c: None,
            }),
            temperatures: vec![],
            cancel_requested: false,
            verdict_final: true,
            host_config: None,
        }
    }

    fn edit(id: i64, at: &str, from: &str, to: &str, drive_id: i64) -> AuditEvent {
        AuditEvent {
            id,
            at: at.into(),
            actor: "ann".into(),
            action: EDIT_ACTION.into(),
            subject: "ZA1".into(),
            address: String::new(),
            detail: json!({"location": {"from": from, "to": to}, "drive_id": drive_id}),
        }
    }

    fn sources() -> Sources {
        Sources {
            serial: "ZA1".into(),
            drives: vec![
                DriveSource {
                    row: row(1, "old-nas", "Shelf A", "2026-11-01T00:00:00.000Z"),
                    host_archived: true,
                    latest: None,
                },
                DriveSource {
                    row: row(2, "new-nas", "Bay 3", "2026-12-01T00:00:00.000Z"),
                    host_archived: false,
                    latest: None,
                },
            ],
            sightings: vec![],
            // Listed out of order: the record sorts them.
            runs: vec![
                Run {
                    job: job(
                        9,
                        "new-nas",
                        "2026-11-20T00:00:00.000Z",
                        "2026-11-21T12:00:00.000Z",
                        24,
                    ),
                    before: Some(ata("2026-11-20T00:00:01.000Z", 130, 2, 0, "SC60")),
                    after: Some(ata("2026-11-21T12:00:00.000Z", 166, 26, 8, "SC61")),
                },
                Run {
                    job: job(
                        4,
                        "old-nas",
                        "2026-11-02T00:00:00.000Z",
                        "2026-11-02T20:00:00.000Z",
                        0,
                    ),
                    before: Some(ata("2026-11-02T00:00:01.000Z", 100, 2, 0, "SC60")),
                    after: None,
                },
                Run {
                    job: job(
                        12,
                        "new-nas",
                        "2026-11-30T00:00:00.000Z",
                        "2026-11-30T00:00:00.000Z",
                        0,
                    ),
                    before: None,
                    after: None,
                },
            ],
            jobs_total: 3,
            audit: vec![
                edit(7, "2026-11-10T00:00:00.000Z", "Shelf A", "Bay 3", 2),
                edit(3, "2026-11-01T00:00:00.000Z", "", "Shelf A", 1),
                AuditEvent {
                    action: "drive.edit".into(),
                    detail: json!({"notes": {"from": "", "to": "RMA"}, "drive_id": 2}),
                    ..edit(8, "2026-11-11T00:00:00.000Z", "", "", 2)
                },
            ],
        }
    }

    #[test]
    fn jobs_are_listed_newest_first_with_links_durations_and_outcomes() {
        let record = build(sources());
        let ids: Vec<i64> = record.jobs.iter().map(|j| j.id).collect();
        assert_eq!(ids, [12, 9, 4]);
        let failed = &record.jobs[1];
        assert_eq!(failed.href, "/jobs/9");
        assert_eq!(failed.host_name, "new-nas");
        assert_eq!(failed.outcome, "fail");
        assert_eq!(failed.outcome_words, "FAIL");
        assert_eq!(failed.bad_blocks, 24);
        assert_eq!(failed.duration_seconds, Some(36 * 3600));
        assert_eq!(failed.duration.as_deref(), Some("1 d 12 h"));
        assert_eq!(failed.stages, [StageKind::Surface.label()]);
        assert_eq!(record.jobs[2].host_name, "old-nas", "jobs from every host");
        assert!(record.notes.is_empty());
    }

    #[test]
    fn the_trend_reads_each_job_after_else_before_in_time_order() {
        let record = build(sources());
        let trend = &record.trend;
        // Job 12 has no capture: it has no point.
        let rows: Vec<(i64, &str, Option<u64>)> =
            trend.rows.iter().map(|r| (r.job_id, r.snapshot.as_str(), r.power_on_hours)).collect();
        assert_eq!(rows, [(4, "before", Some(100)), (9, "after", Some(166))]);
        let rules: Vec<&str> = trend.counters.iter().map(|c| c.rule.as_str()).collect();
        // The verdict's own list, in its order.
        let expected: Vec<&str> =
            crate::verdict::watched_counters(&ata("2026-01-01T00:00:00Z", 1, 0, 0, "x").report)
                .iter()
                .map(|w| w.rule)
                .collect();
        assert_eq!(rules, expected);
        let column = |rule: &str| {
            let i = trend.counters.iter().position(|c| c.rule == rule).expect("a column");
            trend.rows.iter().map(|r| r.values[i]).collect::<Vec<_>>()
        };
        assert_eq!(column("ata.5"), [Some(2), Some(26)]);
        assert_eq!(column("ata.197"), [Some(0), Some(8)]);
        assert_eq!(column("ata.199"), [None, None], "a counter the drive does not report");
        assert!(trend.hours_chart.contains("<svg"), "{}", trend.hours_chart);
        assert!(trend.counters_chart.contains("<svg"), "{}", trend.counters_chart);
    }

    #[test]
    fn identity_comes_from_the_newest_capture() {
        let mut src = sources();
        let record = build(src.clone());
        let id = &record.identity;
        assert_eq!(id.model, "ST8000VN004-3CP101");
        assert_eq!(id.model_family.as_deref(), Some("Seagate IronWolf"));
        assert_eq!(id.firmware.as_deref(), Some("SC61"), "job 9's after capture is the newest");
        assert_eq!(id.capacity_bytes, 8_001_563_222_016);
        assert_eq!(id.power_on_hours, Some(166));
        assert_eq!(id.kind, "HDD");
        assert_eq!(id.protocol, "ata");
        assert_eq!(id.source, "burn-in #9, after the tests");
        assert_eq!(
            id.vendor.as_deref(),
            Some("Seagate"),
            "read from the model where SMART is silent"
        );
        assert!(id.wwn.as_deref().is_some_and(|w| w.starts_with('5')), "{:?}", id.wwn);

        // A later reading outside any burn-in wins.
        src.drives[1].latest = Some(ata("2026-12-01T00:00:00.000Z", 400, 26, 0, "SC62"));
        let id = build(src.clone()).identity;
        assert_eq!(id.firmware.as_deref(), Some("SC62"));
        assert_eq!(id.power_on_hours, Some(400));
        assert_eq!(id.source, "the latest reading on new-nas");

        // Without any capture the inventory's row speaks.
        src.drives.iter_mut().for_each(|d| d.latest = None);
        src.runs.clear();
        let id = build(src).identity;
        assert_eq!(id.model, "inventory model");
        assert_eq!(id.capacity_bytes, 1);
        assert_eq!(id.captured_at, None);
        assert_eq!(id.protocol, "unknown");
        assert_eq!(id.vendor, None, "a model no maker's prefix names");
    }

    #[test]
    fn places_and_location_edits_read_old_to_new() {
        let record = build(sources());
        let hosts: Vec<(&str, bool)> =
            record.places.iter().map(|p| (p.host_name.as_str(), p.host_archived)).collect();
        assert_eq!(hosts, [("new-nas", false), ("old-nas", true)], "most recently seen first");
        let moves: Vec<(&str, &str, Option<&str>)> = record
            .locations
            .iter()
            .map(|c| (c.from.as_str(), c.to.as_str(), c.host_name.as_deref()))
            .collect();
        // The notes edit is not a move.
        assert_eq!(
            moves,
            [("Shelf A", "Bay 3", Some("new-nas")), ("", "Shelf A", Some("old-nas"))]
        );
        assert_eq!(record.locations[0].actor, "ann");
        assert_eq!(record.locations[0].at, "2026-11-10T00:00:00.000Z");
    }

    fn sighting(
        id: i64,
        drive_id: i64,
        host: &str,
        dev: &str,
        slot: u32,
        from: &str,
        to: &str,
    ) -> Sighting {
        Sighting {
            id,
            drive_id,
            host_name: host.into(),
            host_archived: host == "old-nas",
            devname: dev.into(),
            slot: Some(slot),
            first_seen: from.into(),
            last_seen: to.into(),
        }
    }

    #[test]
    fn moves_between_bays_and_hosts_are_each_a_place_with_their_dates() {
        let mut src = sources();
        // Listed out of order, with a place of a drive row that is not this serial's.
        src.sightings = vec![
            sighting(
                30,
                2,
                "new-nas",
                "sdc",
                3,
                "2026-11-25T00:00:00.000Z",
                "2026-12-01T00:00:00.000Z",
            ),
            sighting(
                10,
                1,
                "old-nas",
                "sda",
                1,
                "2026-11-01T00:00:00.000Z",
                "2026-11-05T00:00:00.000Z",
            ),
            sighting(
                20,
                2,
                "new-nas",
                "sdb",
                7,
                "2026-11-10T00:00:00.000Z",
                "2026-11-24T00:00:00.000Z",
            ),
            sighting(
                25,
                99,
                "new-nas",
                "sdq",
                9,
                "2026-11-10T00:00:00.000Z",
                "2026-12-02T00:00:00.000Z",
            ),
        ];
        let record = build(src);
        let places: Vec<(&str, &str, Option<u32>, &str, bool)> = record
            .places
            .iter()
            .map(|p| {
                (p.host_name.as_str(), p.devname.as_str(), p.slot, p.state.as_str(), p.current)
            })
            .collect();
        assert_eq!(
            places,
            [
                ("new-nas", "sdc", Some(3), "idle", true),
                ("new-nas", "sdb", Some(7), MOVED, false),
                ("old-nas", "sda", Some(1), "idle", true),
            ],
            "most recently seen first; each row's newest place is current"
        );
        assert_eq!(record.places[1].first_seen.as_deref(), Some("2026-11-10T00:00:00.000Z"));
        assert_eq!(record.places[1].last_seen.as_deref(), Some("2026-11-24T00:00:00.000Z"));
        assert_eq!(record.places[0].location, "Bay 3", "the row's location is the current place's");
        assert_eq!(record.places[1].location, "", "a place left keeps no location");
        assert!(record.places[2].host_archived);

        // Each job sat where the drive was when it was made.
        let bays: Vec<(i64, Option<&str>, Option<u32>)> =
            record.jobs.iter().map(|j| (j.id, j.devname.as_deref(), j.slot)).collect();
        assert_eq!(
            bays,
            [(12, Some("sdc"), Some(3)), (9, Some("sdb"), Some(7)), (4, Some("sda"), Some(1))]
        );
    }

    #[test]
    fn a_row_without_recorded_places_stands_as_its_own_place() {
        let record = build(sources());
        assert_eq!(record.places.len(), 2);
        assert!(
            record.places.iter().all(|p| p.current && p.slot.is_none() && p.first_seen.is_none())
        );
        assert_eq!(record.places[0].devname, "sd2");
        assert_eq!(record.jobs[0].devname.as_deref(), Some("sd2"));
    }

    #[test]
    fn a_capped_record_says_how_many_it_left_out() {
        let mut src = sources();
        src.jobs_total = 620;
        let record = build(src);
        assert_eq!(record.notes.len(), 1);
        assert!(record.notes[0].contains("newest 3 of 620"), "{}", record.notes[0]);
        assert!(record.notes[0].contains("/history?serial=ZA1"), "{}", record.notes[0]);
    }

    #[test]
    fn a_drive_without_jobs_has_an_empty_trend_and_no_charts() {
        let mut src = sources();
        src.runs.clear();
        src.jobs_total = 0;
        let record = build(src);
        assert!(record.jobs.is_empty());
        assert_eq!(record.trend, Trend::default());
    }
}
