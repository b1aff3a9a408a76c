//! Fleet statistics: what the record's finished burn-ins say about models, vendors,
//! capacities and failures. The server reads small aggregated rows (`Rows`); the grouping
//! rules (vendors, capacity buckets, reason kinds, count buckets) live here, once, and every
//! figure carries its numbers as table rows beside its chart, drawn by [`crate::chart`].
//!
//! A job counts once it is judged: its verdict (or, without one, its end state) says pass,
//! pass with warnings or fail. Cancelled and interrupted jobs are incomplete and count only
//! in the jobs per day.

use serde::{Deserialize, Serialize};

use crate::chart;
use crate::job::StageKind;
use crate::verdict::Outcome;

/// How many days the jobs-per-day figure covers, today included.
pub const DAYS: i64 = 90;

/// The verdict's name for ATA attribute 5 (`verdict::watched_counters`, rule `ata.5`).
pub const REALLOCATED_ATA: &str = "Reallocated sectors (5)";
/// The verdict's name for a SAS drive's grown defect list, its reallocations.
pub const GROWN_DEFECTS_SAS: &str = "Grown defect list";

/// How far a job's reallocation counter rose (ATA reallocated sectors or the SAS grown defect
/// list, the larger if a verdict held both); `None` when its verdict watched neither. Stored
/// with the verdict so the distribution is a column's histogram.
pub fn reallocated_rise(verdict: &crate::verdict::Verdict) -> Option<u64> {
    verdict
        .deltas
        .iter()
        .filter(|d| d.name == REALLOCATED_ATA || d.name == GROWN_DEFECTS_SAS)
        .filter_map(|d| Some(d.after?.saturating_sub(d.before?)))
        .max()
}

/// The rules of a verdict's fail-level reasons, in its order, joined by commas: stored with the
/// verdict (`jobs.fail_rules`) so the failure reasons are counted without parsing verdicts.
/// `None` when no reason failed. A rule is a dotted name (`ata.5.delta`), never holding a comma.
pub fn failing_rules(verdict: &crate::verdict::Verdict) -> Option<String> {
    let rules: Vec<&str> = verdict
        .reasons
        .iter()
        .filter(|r| r.level == crate::verdict::Level::Fail && !r.rule.is_empty())
        .map(|r| r.rule.as_str())
        .collect();
    (!rules.is_empty()).then(|| rules.join(","))
}

/// The rules [`failing_rules`] joined.
pub fn split_rules(rules: &str) -> impl Iterator<Item = &str> {
    rules.split(',').map(str::trim).filter(|r| !r.is_empty())
}

/// The buckets of a count (bad blocks, reallocated sectors): none, a few, many, very many.
pub const COUNT_BUCKETS: [&str; 4] = ["0", "1–9", "10–99", "100+"];

/// The bucket of [`COUNT_BUCKETS`] a count falls in.
pub fn count_bucket(count: u64) -> usize {
    match count {
        0 => 0,
        1..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

/// What the server reads from the record, aggregated where SQL can.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Today (UTC) as days since the Unix epoch: the jobs per day end here.
    pub today: i64,
    /// Judged jobs by drive model and outcome.
    pub outcomes: Vec<OutcomeRow>,
    /// Ended jobs by the day (days since the epoch) they ended.
    pub days: Vec<DayRow>,
    /// Passed burn-ins with a surface test: the drive's capacity and the job's seconds.
    pub durations: Vec<(u64, f64)>,
    /// Failed jobs by the stage that failed (a job may have more than one).
    pub failed_stages: Vec<(StageKind, u64)>,
    /// Failed jobs with no failed stage: the verdict failed them (a SMART delta, the heat).
    pub failed_without_stage: u64,
    /// `(job id, rule)` of every failing reason of a failed job.
    pub failure_rules: Vec<(i64, String)>,
    /// Surface-tested jobs by their bad block count: `(count, jobs)`.
    pub bad_blocks: Vec<(u64, u64)>,
    /// Jobs by how much their reallocation counter rose (before → after): `(rise, jobs)`.
    pub reallocations: Vec<(u64, u64)>,
    /// Each drive with a passed surface test: its mean surface test rate over those jobs.
    pub drive_rates: Vec<DriveRate>,
}

/// A drive's surface test rate: the mean of its passed surface tests' closing rates (MB/s over
/// the last measuring window, the same pass and the same end of the disk for every drive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveRate {
    pub serial: String,
    pub model: String,
    pub mb_s: f64,
    /// Passed surface tests the mean is over.
    pub jobs: u64,
}

/// A drive slower than this share of its model's median is marked slow, and faster than
/// [`FAST_ABOVE`] fast: jgreco's solnet-array-test tags (`--SLOW--` under 92 %, `++FAST++`
/// over 107 %), the reference FreeNAS and TrueNAS users compare disks of one array by.
pub const SLOW_BELOW: f64 = 0.92;
pub const FAST_ABOVE: f64 = 1.07;
/// A model's drives are compared once this many have a rate: with fewer, the median is one
/// of the drives being judged.
pub const PEERS_MIN: usize = 3;

/// One model's drives against each other.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRates {
    pub model: String,
    pub drives: u64,
    pub median_mb_s: f64,
    pub min_mb_s: f64,
    pub max_mb_s: f64,
    pub slow: u64,
    pub fast: u64,
}

/// A drive outside its peers' band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    pub serial: String,
    pub model: String,
    pub mb_s: f64,
    /// Its rate as a percentage of its model's median.
    pub percent_of_median: f64,
    /// True for slow, false for fast.
    pub slow: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeRow {
    pub model: String,
    pub outcome: Outcome,
    pub jobs: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DayRow {
    pub day: i64,
    pub ended: u64,
    pub failed: u64,
}

/// Pass, warn and fail counts of one model or vendor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PassRate {
    pub group: String,
    pub passed: u64,
    /// Passed with warnings (counted as passed in the rate).
    pub warned: u64,
    pub failed: u64,
}

impl PassRate {
    pub fn judged(&self) -> u64 {
        self.passed + self.warned + self.failed
    }

    /// Percent of judged jobs that passed, warnings included.
    pub fn percent(&self) -> f64 {
        let judged = self.judged();
        if judged == 0 { 0.0 } else { (self.passed + self.warned) as f64 * 100.0 / judged as f64 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub ended: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DurationBucket {
    /// `8 TB`, or `under 1 TB`.
    pub capacity: String,
    /// The bucket's whole terabytes (0 for under 1 TB), for ordering.
    pub terabytes: u64,
    pub jobs: u64,
    pub median_hours: f64,
    pub max_hours: f64,
}

/// A labelled number of jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub label: String,
    pub jobs: u64,
}

/// One figure of the page: its chart and the same numbers as a table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Stable, for links and tests: `by-vendor`, `per-day`, …
    pub id: String,
    pub title: String,
    /// What the figure counts, in a sentence.
    pub note: String,
    /// SVG text.
    pub chart: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Judged jobs, and how they came out.
    pub judged: u64,
    pub passed: u64,
    pub warned: u64,
    pub failed: u64,
    pub by_vendor: Vec<PassRate>,
    pub by_model: Vec<PassRate>,
    /// The last [`DAYS`] days, oldest first, days without jobs included.
    pub per_day: Vec<DayCount>,
    pub durations: Vec<DurationBucket>,
    pub failed_stages: Vec<Count>,
    pub failure_reasons: Vec<Count>,
    /// In the order of [`COUNT_BUCKETS`].
    pub bad_blocks: Vec<Count>,
    /// In the order of [`COUNT_BUCKETS`].
    pub reallocations: Vec<Count>,
    /// Models with at least [`PEERS_MIN`] drives measured, most drives first.
    pub model_rates: Vec<ModelRates>,
    /// The drives outside their model's band, the furthest out first.
    pub outliers: Vec<Outlier>,
    /// The figures in the page's order.
    pub figures: Vec<Figure>,
}

/// A drive's maker from its model string. Model strings rarely name the vendor in full
/// (`ST8000VN004`, `WDC WD80EFAX`, `HUH721212ALE604`), so prefixes are matched, longest
/// first within each maker.
pub fn vendor_of(model: &str) -> &'static str {
    let model = model.trim().to_ascii_uppercase();
    // (prefix, vendor): a model starting with the prefix (or its first word equal to it).
    const PREFIXES: [(&str, &str); 26] = [
        ("SEAGATE", "Seagate"),
        ("ST", "Seagate"),
        ("WDC", "Western Digital"),
        ("WESTERN DIGITAL", "Western Digital"),
        ("WD", "Western Digital"),
        ("HGST", "HGST"),
        ("HITACHI", "HGST"),
        ("HUH", "HGST"),
        ("HUS", "HGST"),
        ("HDS", "HGST"),
        ("HDN", "HGST"),
        ("TOSHIBA", "Toshiba"),
        ("MG0", "Toshiba"),
        ("HDWD", "Toshiba"),
        ("HDWG", "Toshiba"),
        ("DT01", "Toshiba"),
        ("SAMSUNG", "Samsung"),
        ("MZ", "Samsung"),
        ("INTEL", "Intel"),
        ("SSDSC", "Intel"),
        ("MICRON", "Micron"),
        ("CRUCIAL", "Crucial"),
        ("CT", "Crucial"),
        ("KINGSTON", "Kingston"),
        ("SANDISK", "SanDisk"),
        ("SOLIDIGM", "Solidigm"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map_or(OTHER_VENDOR, |(_, vendor)| vendor)
}

/// [`vendor_of`] a model no prefix names.
pub const OTHER_VENDOR: &str = "Other";

/// A failing reason's rule (`ata.5.delta`, `surface.bad_blocks`) as the kind of failure it
/// names: the grouping is by rule, never by the reason's text, which may change wording.
pub fn reason_kind(rule: &str) -> &'static str {
    match rule {
        "surface.bad_blocks" => "Bad blocks",
        "surface.failed" => "Surface test failed",
        "precheck.failed" => "Pre-check failed",
        "final_check.failed" => "Final check failed",
        "short_test.failed" | "long_test.failed" | "conveyance_test.failed" => {
            "SMART self-test failed"
        }
        "smart.health" => "SMART health FAILED",
        "ata.5.delta" | "scsi.grown_defects.delta" => "Reallocations rose",
        "ata.197.delta" | "ata.197.left" | "ata.198.delta" => "Pending or offline sectors",
        "ata.187.delta" | "scsi.uncorrected.delta" | "nvme.media_errors.delta" => {
            "Uncorrectable errors rose"
        }
        "ata.188.delta" => "Command timeouts rose",
        "nvme.critical_warning" | "nvme.spare" => "NVMe health warning",
        "temperature.max" => "Too hot",
        "job.failed" => "Ended as failed",
        _ => "Other",
    }
}

/// A stage's short name for a chart axis.
fn stage_label(kind: StageKind) -> &'static str {
    match kind {
        StageKind::Precheck => "Pre-check",
        StageKind::ShortTest => "Short self-test",
        StageKind::LongTest => "Long self-test",
        StageKind::ConveyanceTest => "Conveyance self-test",
        StageKind::Surface => "Surface test",
        StageKind::FinalCheck => "Final check",
    }
}

/// The capacity bucket of a drive: whole terabytes as vendors label them (8.0016 TB is
/// `8 TB`), and one bucket for everything under 1 TB.
pub fn capacity_bucket(bytes: u64) -> (u64, String) {
    if (bytes as f64) < 0.95e12 {
        return (0, "under 1 TB".to_owned());
    }
    let terabytes = ((bytes as f64) / 1e12).round().max(1.0) as u64;
    (terabytes, format!("{terabytes} TB"))
}

/// The middle value of sorted `values` (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

fn percent_text(value: f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0} %") } else { format!("{value:.1} %") }
}

fn hours_text(value: f64) -> String {
    format!("{value:.1} h")
}

/// Every figure from the rows.
pub fn statistics(rows: &Rows) -> Statistics {
    let by_model = pass_rates(rows.outcomes.iter().map(|r| (r.model.trim().to_owned(), r)));
    let by_vendor = pass_rates(rows.outcomes.iter().map(|r| (vendor_of(&r.model).to_owned(), r)));
    let sum = |pick: fn(&PassRate) -> u64| by_model.iter().map(pick).sum::<u64>();
    let (passed, warned, failed) = (sum(|r| r.passed), sum(|r| r.warned), sum(|r| r.failed));
    let mut stats = Statistics {
        judged: passed + warned + failed,
        passed,
        warned,
        failed,
        by_vendor,
        by_model,
        per_day: per_day(rows),
        durations: durations(&rows.durations),
        failed_stages: failed_stages(rows),
        failure_reasons: failure_reasons(&rows.failure_rules),
        bad_blocks: buckets(&rows.bad_blocks),
        reallocations: buckets(&rows.reallocations),
        model_rates: Vec::new(),
        outliers: Vec::new(),
        figures: Vec::new(),
    };
    (stats.model_rates, stats.outliers) = peers(&rows.drive_rates);
    stats.figures = figures(&stats);
    stats
}

/// Pass rates by group, most judged jobs first (then by name, so ties hold still).
fn pass_rates<'a>(rows: impl Iterator<Item = (String, &'a OutcomeRow)>) -> Vec<PassRate> {
    let mut groups: Vec<PassRate> = Vec::new();
    for (group, row) in rows {
        let group = if group.is_empty() { "unknown model".to_owned() } else { group };
        let index = match groups.iter().position(|g| g.group == group) {
            Some(index) => index,
            None => {
                groups.push(PassRate { group, ..PassRate::default() });
                groups.len() - 1
            }
        };
        let entry = &mut groups[index];
        match row.outcome {
            Outcome::Pass => entry.passed += row.jobs,
            Outcome::Warn => entry.warned += row.jobs,
            Outcome::Fail => entry.failed += row.jobs,
            Outcome::Incomplete => {}
        }
    }
    groups.retain(|g| g.judged() > 0);
    groups.sort_by(|a, b| b.judged().cmp(&a.judged()).then_with(|| a.group.cmp(&b.group)));
    groups
}

fn per_day(rows: &Rows) -> Vec<DayCount> {
    let first = rows.today - (DAYS - 1);
    (first..=rows.today)
        .map(|day| {
            let (ended, failed) = rows
                .days
                .iter()
                .filter(|r| r.day == day)
                .fold((0, 0), |(e, f), r| (e + r.ended, f + r.failed));
            let (year, month, date) = crate::format::civil(day);
            DayCount { day: format!("{year:04}-{month:02}-{date:02}"), ended, failed }
        })
        .collect()
}

fn durations(jobs: &[(u64, f64)]) -> Vec<DurationBucket> {
    let mut buckets: Vec<(u64, String, Vec<f64>)> = Vec::new();
    for (bytes, secs) in jobs.iter().filter(|(_, s)| s.is_finite() && *s >= 0.0) {
        let (terabytes, label) = capacity_bucket(*bytes);
        match buckets.iter_mut().find(|(t, _, _)| *t == terabytes) {
            Some((_, _, hours)) => hours.push(secs / 3600.0),
            None => buckets.push((terabytes, label, vec![secs / 3600.0])),
        }
    }
    buckets.sort_by_key(|(t, _, _)| *t);
    buckets
        .into_iter()
        .map(|(terabytes, capacity, mut hours)| {
            hours.sort_by(f64::total_cmp);
            DurationBucket {
                capacity,
                terabytes,
                jobs: hours.len() as u64,
                median_hours: median(&hours),
                max_hours: hours.last().copied().unwrap_or(0.0),
            }
        })
        .collect()
}

fn failed_stages(rows: &Rows) -> Vec<Count> {
    let mut counts: Vec<Count> = StageKind::ALL
        .iter()
        .map(|kind| Count {
            label: stage_label(*kind).to_owned(),
            jobs: rows.failed_stages.iter().filter(|(k, _)| k == kind).map(|(_, n)| n).sum(),
        })
        .filter(|c| c.jobs > 0)
        .collect();
    if rows.failed_without_stage > 0 {
        counts.push(Count {
            label: "No stage (the verdict)".to_owned(),
            jobs: rows.failed_without_stage,
        });
    }
    counts
}

/// Failed jobs by kind of reason, each job once per kind; most common first.
fn failure_reasons(rules: &[(i64, String)]) -> Vec<Count> {
    let mut seen: Vec<(&'static str, i64)> =
        rules.iter().map(|(job, rule)| (reason_kind(rule), *job)).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut counts: Vec<Count> = Vec::new();
    for (kind, _) in seen {
        match counts.iter_mut().find(|c| c.label == kind) {
            Some(count) => count.jobs += 1,
            None => counts.push(Count { label: kind.to_owned(), jobs: 1 }),
        }
    }
    counts.sort_by(|a, b| b.jobs.cmp(&a.jobs).then_with(|| a.label.cmp(&b.label)));
    counts
}

/// Each model's drives against their median: the models with enough drives measured, and the
/// drives outside [`SLOW_BELOW`]..=[`FAST_ABOVE`] of it.
pub fn peers(rates: &[DriveRate]) -> (Vec<ModelRates>, Vec<Outlier>) {
    let mut models: Vec<(&str, Vec<&DriveRate>)> = Vec::new();
    for rate in rates.iter().filter(|r| r.mb_s.is_finite() && r.mb_s > 0.0) {
        let model = rate.model.trim();
        match models.iter_mut().find(|(m, _)| *m == model) {
            Some((_, drives)) => drives.push(rate),
            None => models.push((model, vec![rate])),
        }
    }
    let mut summaries = Vec::new();
    let mut outliers = Vec::new();
    for (model, mut drives) in models.into_iter().filter(|(_, d)| d.len() >= PEERS_MIN) {
        drives.sort_by(|a, b| a.mb_s.total_cmp(&b.mb_s));
        let sorted: Vec<f64> = drives.iter().map(|d| d.mb_s).collect();
        let median_mb_s = median(&sorted);
        let mut summary = ModelRates {
            model: if model.is_empty() { "unknown model".to_owned() } else { model.to_owned() },
            drives: drives.len() as u64,
            median_mb_s,
            min_mb_s: sorted.first().copied().unwrap_or(0.0),
            max_mb_s: sorted.last().copied().unwrap_or(0.0),
            slow: 0,
            fast: 0,
        };
        for drive in drives {
            let share = drive.mb_s / median_mb_s;
            let slow = share < SLOW_BELOW;
            if slow || share > FAST_ABOVE {
                if slow {
                    summary.slow += 1;
                } else {
                    summary.fast += 1;
                }
                outliers.push(Outlier {
                    serial: drive.serial.clone(),
                    model: summary.model.clone(),
                    mb_s: drive.mb_s,
                    percent_of_median: share * 100.0,
                    slow,
                });
            }
        }
        summaries.push(summary);
    }
    summaries.sort_by(|a, b| b.drives.cmp(&a.drives).then_with(|| a.model.cmp(&b.model)));
    // The furthest from 100 % first; slow before fast at equal distance.
    outliers.sort_by(|a, b| {
        let off = |o: &Outlier| (o.percent_of_median - 100.0).abs();
        off(b)
            .total_cmp(&off(a))
            .then_with(|| b.slow.cmp(&a.slow))
            .then_with(|| a.serial.cmp(&b.serial))
    });
    (summaries, outliers)
}

fn buckets(values: &[(u64, u64)]) -> Vec<Count> {
    let mut counts: Vec<Count> =
        COUNT_BUCKETS.iter().map(|label| Count { label: (*label).to_owned(), jobs: 0 }).collect();
    for (value, jobs) in values {
        counts[count_bucket(*value)].jobs += jobs;
    }
    if counts.iter().all(|c| c.jobs == 0) { Vec::new() } else { counts }
}

/// The most bars a pass-rate chart draws; the table lists every group.
const CHART_GROUPS: usize = 15;

fn figures(stats: &Statistics) -> Vec<Figure> {
    let rate_figure = |id: &str, title: &str, what: &str, rates: &[PassRate]| Figure {
        id: id.to_owned(),
        title: title.to_owned(),
        note: format!(
            "Judged burn-ins by {what}: passed (warnings included) out of all that passed or failed."
        ),
        chart: chart::bars(&chart::BarChart {
            title: title.to_owned(),
            unit: "%".to_owned(),
            bars: rates
                .iter()
                .take(CHART_GROUPS)
                .map(|r| chart::Bar {
                    label: r.group.clone(),
                    value: (r.percent() * 10.0).round() / 10.0,
                    note: format!("{} of {}", r.passed + r.warned, r.judged()),
                })
                .collect(),
        }),
        columns: ["Group", "Jobs", "Passed", "With warnings", "Failed", "Pass rate"]
            .map(String::from)
            .to_vec(),
        rows: rates
            .iter()
            .map(|r| {
                vec![
                    r.group.clone(),
                    r.judged().to_string(),
                    r.passed.to_string(),
                    r.warned.to_string(),
                    r.failed.to_string(),
                    percent_text((r.percent() * 10.0).round() / 10.0),
                ]
            })
            .collect(),
    };
    let count_figure = |id: &str, title: &str, note: &str, first: &str, counts: &[Count]| Figure {
        id: id.to_owned(),
        title: title.to_owned(),
        note: note.to_owned(),
        chart: chart::bars(&chart::BarChart {
            title: title.to_owned(),
            unit: "jobs".to_owned(),
            bars: counts
                .iter()
                .map(|c| chart::Bar {
                    label: c.label.clone(),
                    value: c.jobs as f64,
                    note: String::new(),
                })
                .collect(),
        }),
        columns: vec![first.to_owned(), "Jobs".to_owned()],
        rows: counts.iter().map(|c| vec![c.label.clone(), c.jobs.to_string()]).collect(),
    };
    let day_secs = |index: usize| {
        crate::format::parse_utc(&format!("{}T00:00:00Z", stats.per_day[index].day))
            .unwrap_or_default()
    };
    let any_day = stats.per_day.iter().any(|d| d.ended > 0);
    let per_day = Figure {
        id: "per-day".to_owned(),
        title: format!("Burn-ins ended per day (last {DAYS} days)"),
        note: "Every job that ended, by its day (UTC); failed ones also on their own line. The table lists the days with jobs, newest first.".to_owned(),
        chart: chart::line(&chart::LineChart {
            title: format!("Burn-ins ended per day (last {DAYS} days)"),
            x: chart::Axis::Time,
            y: chart::Axis::Number { unit: "jobs".to_owned() },
            series: if any_day {
                vec![
                    chart::Series {
                        label: "Ended".to_owned(),
                        points: (0..stats.per_day.len())
                            .map(|i| (day_secs(i), stats.per_day[i].ended as f64))
                            .collect(),
                    },
                    chart::Series {
                        label: "Failed".to_owned(),
                        points: (0..stats.per_day.len())
                            .map(|i| (day_secs(i), stats.per_day[i].failed as f64))
                            .collect(),
                    },
                ]
            } else {
                Vec::new()
            },
            bands: Vec::new(),
        }),
        columns: ["Day", "Ended", "Failed"].map(String::from).to_vec(),
        rows: stats
            .per_day
            .iter()
            .rev()
            .filter(|d| d.ended > 0)
            .map(|d| vec![d.day.clone(), d.ended.to_string(), d.failed.to_string()])
            .collect(),
    };
    let duration = Figure {
        id: "duration".to_owned(),
        title: "Burn-in duration by capacity".to_owned(),
        note: "Passed burn-ins that ran a surface test, from start to end: the median and the longest.".to_owned(),
        chart: chart::bars(&chart::BarChart {
            title: "Median burn-in duration by capacity".to_owned(),
            unit: "h".to_owned(),
            bars: stats
                .durations
                .iter()
                .map(|d| chart::Bar {
                    label: d.capacity.clone(),
                    value: (d.median_hours * 10.0).round() / 10.0,
                    note: format!("longest {}, {} jobs", hours_text(d.max_hours), d.jobs),
                })
                .collect(),
        }),
        columns: ["Capacity", "Jobs", "Median", "Longest"].map(String::from).to_vec(),
        rows: stats
            .durations
            .iter()
            .map(|d| {
                vec![
                    d.capacity.clone(),
                    d.jobs.to_string(),
                    hours_text(d.median_hours),
                    hours_text(d.max_hours),
                ]
            })
            .collect(),
    };
    let mb_s = |v: f64| format!("{v:.0} MB/s");
    let band = format!("{:.0}–{:.0} %", SLOW_BELOW * 100.0, FAST_ABOVE * 100.0);
    let model_rates = Figure {
        id: "throughput-by-model".to_owned(),
        title: "Surface test rate by model".to_owned(),
        note: format!(
            "Each drive's surface test rate (the mean over its passed surface tests of the closing rate, measured on the same pass at the same end of the disk), for models with at least {PEERS_MIN} drives measured: the median, the range, and how many drives fall outside {band} of the median."
        ),
        chart: chart::bars(&chart::BarChart {
            title: "Median surface test rate by model".to_owned(),
            unit: "MB/s".to_owned(),
            bars: stats
                .model_rates
                .iter()
                .take(CHART_GROUPS)
                .map(|m| chart::Bar {
                    label: m.model.clone(),
                    value: m.median_mb_s.round(),
                    note: format!(
                        "{} drives, {}–{}, {} slow, {} fast",
                        m.drives,
                        mb_s(m.min_mb_s),
                        mb_s(m.max_mb_s),
                        m.slow,
                        m.fast
                    ),
                })
                .collect(),
        }),
        columns: ["Model", "Drives", "Median", "Slowest", "Fastest", "Slow", "Fast"]
            .map(String::from)
            .to_vec(),
        rows: stats
            .model_rates
            .iter()
            .map(|m| {
                vec![
                    m.model.clone(),
                    m.drives.to_string(),
                    mb_s(m.median_mb_s),
                    mb_s(m.min_mb_s),
                    mb_s(m.max_mb_s),
                    m.slow.to_string(),
                    m.fast.to_string(),
                ]
            })
            .collect(),
    };
    let outliers = Figure {
        id: "throughput-outliers".to_owned(),
        title: "Drives slower or faster than their peers".to_owned(),
        note: format!(
            "Drives whose surface test rate is outside {band} of their model's median (solnet-array-test's slow and fast marks), the furthest out first. A slow drive passed its burn-in but may have weak heads, a bad cable or port, or be a different (SMR) drive under the same name; test it again on another port before it joins a pool."
        ),
        chart: chart::bars(&chart::BarChart {
            title: "Rate as a share of the model's median".to_owned(),
            unit: "%".to_owned(),
            bars: stats
                .outliers
                .iter()
                .take(CHART_GROUPS)
                .map(|o| chart::Bar {
                    label: o.serial.clone(),
                    value: o.percent_of_median.round(),
                    note: format!(
                        "{}, {}, {}",
                        if o.slow { "slow" } else { "fast" },
                        mb_s(o.mb_s),
                        o.model
                    ),
                })
                .collect(),
        }),
        columns: ["Serial", "Model", "Rate", "Of the median", "Mark"].map(String::from).to_vec(),
        rows: stats
            .outliers
            .iter()
            .map(|o| {
                vec![
                    o.serial.clone(),
                    o.model.clone(),
                    mb_s(o.mb_s),
                    format!("{:.0} %", o.percent_of_median),
                    if o.slow { "slow" } else { "fast" }.to_owned(),
                ]
            })
            .collect(),
    };
    vec![
        rate_figure("by-vendor", "Pass rate by vendor", "vendor", &stats.by_vendor),
        rate_figure("by-model", "Pass rate by model", "drive model", &stats.by_model),
        per_day,
        duration,
        model_rates,
        outliers,
        count_figure(
            "failed-stage",
            "Failures by stage",
            "Failed burn-ins by the stage that failed; a failure the verdict found after every stage passed counts as no stage.",
            "Stage",
            &stats.failed_stages,
        ),
        count_figure(
            "failure-reason",
            "Failures by reason",
            "Failed burn-ins by the kind of each failing reason; a job with two kinds of reason counts in both.",
            "Reason",
            &stats.failure_reasons,
        ),
        count_figure(
            "bad-blocks",
            "Bad blocks found",
            "Judged burn-ins with a surface test, by how many bad blocks badblocks found.",
            "Bad blocks",
            &stats.bad_blocks,
        ),
        count_figure(
            "reallocations",
            "Reallocated sectors gained",
            "Judged burn-ins by how much the drive's reallocated sectors (ATA attribute 5) or grown defects (SAS) rose from the before to the after snapshot.",
            "Rise",
            &stats.reallocations,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(model: &str, outcome: Outcome, jobs: u64) -> OutcomeRow {
        OutcomeRow { model: model.into(), outcome, jobs }
    }

    fn fixture() -> Rows {
        Rows {
            today: 20_500,
            outcomes: vec![
                outcome("ST8000VN004", Outcome::Pass, 3),
                outcome("ST8000VN004", Outcome::Fail, 1),
                outcome("ST12000NM0008-2H3101", Outcome::Warn, 2),
                outcome("WDC WD80EFAX-68KNBN0", Outcome::Pass, 1),
                outcome("WDC WD80EFAX-68KNBN0", Outcome::Fail, 1),
                outcome("HGST HUS728T8TAL5200", Outcome::Incomplete, 4),
            ],
            days: vec![
                DayRow { day: 20_500, ended: 3, failed: 1 },
                DayRow { day: 20_499, ended: 2, failed: 0 },
                // Before the window: left out.
                DayRow { day: 20_300, ended: 9, failed: 9 },
            ],
            durations: vec![
                (8_001_563_222_016, 3600.0 * 20.0),
                (8_001_563_222_016, 3600.0 * 24.0),
                (8_001_563_222_016, 3600.0 * 30.0),
                (12_000_138_625_024, 3600.0 * 36.0),
                (12_000_138_625_024, 3600.0 * 40.0),
                (250_059_350_016, 3600.0),
                (4_000_787_030_016, f64::NAN),
            ],
            failed_stages: vec![(StageKind::Surface, 1), (StageKind::LongTest, 1)],
            failed_without_stage: 1,
            failure_rules: vec![
                (7, "surface.failed".into()),
                (7, "surface.bad_blocks".into()),
                (8, "long_test.failed".into()),
                (9, "ata.5.delta".into()),
                (9, "scsi.grown_defects.delta".into()),
                (10, "surface.bad_blocks".into()),
            ],
            bad_blocks: vec![(0, 5), (24, 1), (3, 2), (1000, 1)],
            reallocations: vec![(0, 6), (8, 1)],
            drive_rates: [
                ("A1", "ST8000VN004", 200.0),
                ("A2", "ST8000VN004", 205.0),
                ("A3", "ST8000VN004 ", 210.0),
                ("A4", "ST8000VN004", 180.0),
                ("A5", "ST8000VN004", 235.0),
                ("A6", "ST8000VN004", f64::NAN),
                ("B1", "WDC WD80EFAX", 190.0),
                ("B2", "WDC WD80EFAX", 90.0),
            ]
            .into_iter()
            .map(|(serial, model, mb_s)| DriveRate {
                serial: serial.into(),
                model: model.into(),
                mb_s,
                jobs: 1,
            })
            .collect(),
        }
    }

    #[test]
    fn each_model_s_drives_are_judged_against_their_median_with_solnet_s_marks() {
        let (models, outliers) = peers(&fixture().drive_rates);
        // Two drives of a model are not enough peers; a rate that is not a number is no rate.
        assert_eq!(models.len(), 1, "{models:?}");
        let m = &models[0];
        assert_eq!((m.model.as_str(), m.drives, m.slow, m.fast), ("ST8000VN004", 5, 1, 1));
        assert_eq!((m.median_mb_s, m.min_mb_s, m.max_mb_s), (205.0, 180.0, 235.0));
        // 235 / 205 = 114.6 % is further out than 180 / 205 = 87.8 %.
        let found: Vec<(&str, bool, i64)> = outliers
            .iter()
            .map(|o| (o.serial.as_str(), o.slow, (o.percent_of_median * 10.0).round() as i64))
            .collect();
        assert_eq!(found, vec![("A5", false, 1146), ("A4", true, 878)]);
        // At the marks themselves a drive is in the band.
        let at = |mb_s: f64, serial: &str| DriveRate {
            serial: serial.into(),
            model: "M".into(),
            mb_s,
            jobs: 1,
        };
        let (_, none) =
            peers(&[at(100.0, "x"), at(100.0 * SLOW_BELOW, "y"), at(100.0 * FAST_ABOVE, "z")]);
        assert!(none.is_empty(), "{none:?}");
        let stats = statistics(&fixture());
        let figure = stats.figures.iter().find(|f| f.id == "throughput-outliers").expect("figure");
        assert_eq!(figure.rows.len(), 2);
        assert_eq!(figure.rows[0][0], "A5");
        assert!(figure.chart.contains("<svg"), "{}", figure.chart);
    }

    fn figure<'a>(stats: &'a Statistics, id: &str) -> &'a Figure {
        stats.figures.iter().find(|f| f.id == id).expect("the figure")
    }

    #[test]
    fn the_reallocation_rise_reads_only_the_reallocation_counters() {
        use crate::verdict::{Delta, Verdict};
        let delta = |name: &str, before, after| Delta { name: name.into(), before, after };
        let verdict = |deltas| Verdict {
            outcome: Outcome::Pass,
            reasons: Vec::new(),
            deltas,
            max_temperature_c: None,
        };
        let ata = verdict(vec![
            delta("Reallocated sectors (x)", Some(0), Some(90)),
            delta(REALLOCATED_ATA, Some(2), Some(26)),
            delta("Current pending sectors (197)", Some(0), Some(50)),
        ]);
        assert_eq!(reallocated_rise(&ata), Some(24));
        let sas = verdict(vec![delta(GROWN_DEFECTS_SAS, Some(300), Some(260))]);
        assert_eq!(reallocated_rise(&sas), Some(0), "a counter read lower is no rise");
        let unread = verdict(vec![delta(REALLOCATED_ATA, None, Some(3))]);
        assert_eq!(reallocated_rise(&unread), None);
        assert_eq!(reallocated_rise(&verdict(Vec::new())), None, "NVMe: nothing watched");
    }

    #[test]
    fn failing_rules_keep_the_fail_level_reasons_in_order_and_split_back() {
        use crate::verdict::{Level, Reason, Verdict};
        let reason = |level, rule: &str| Reason {
            level,
            rule: rule.into(),
            text: "t".into(),
            evidence: "e".into(),
        };
        let verdict = |reasons| Verdict {
            outcome: Outcome::Fail,
            reasons,
            deltas: Vec::new(),
            max_temperature_c: None,
        };
        let failed = verdict(vec![
            reason(Level::Fail, "surface.bad_blocks"),
            reason(Level::Warn, "temperature.max"),
            reason(Level::Fail, "ata.5.delta"),
            reason(Level::Fail, ""),
            reason(Level::Info, "ata.9"),
        ]);
        let stored = failing_rules(&failed).expect("two rules failed");
        assert_eq!(stored, "surface.bad_blocks,ata.5.delta");
        assert_eq!(split_rules(&stored).collect::<Vec<_>>(), ["surface.bad_blocks", "ata.5.delta"]);
        assert_eq!(failing_rules(&verdict(vec![reason(Level::Warn, "x.y")])), None);
        assert_eq!(split_rules(" , ").count(), 0);
    }

    #[test]
    fn pass_rates_count_warnings_as_passes_and_leave_out_incomplete_jobs() {
        let stats = statistics(&fixture());
        assert_eq!((stats.judged, stats.passed, stats.warned, stats.failed), (8, 4, 2, 2));
        let models: Vec<(&str, u64, f64)> =
            stats.by_model.iter().map(|r| (r.group.as_str(), r.judged(), r.percent())).collect();
        assert_eq!(
            models,
            [
                ("ST8000VN004", 4, 75.0),
                ("ST12000NM0008-2H3101", 2, 100.0),
                ("WDC WD80EFAX-68KNBN0", 2, 50.0)
            ]
        );
        let vendors: Vec<(&str, u64, u64, u64)> = stats
            .by_vendor
            .iter()
            .map(|r| (r.group.as_str(), r.passed, r.warned, r.failed))
            .collect();
        assert_eq!(vendors, [("Seagate", 3, 2, 1), ("Western Digital", 1, 0, 1)]);
        let table = &figure(&stats, "by-vendor").rows;
        assert_eq!(table[0], ["Seagate", "6", "3", "2", "1", "83.3 %"]);
        assert!(
            figure(&stats, "by-model").chart.contains("<title>ST8000VN004: 75 % (3 of 4)</title>")
        );
    }

    #[test]
    fn vendors_are_read_from_model_prefixes() {
        let cases = [
            ("ST8000DM004-2CX188", "Seagate"),
            ("SEAGATE ST4000NM0023", "Seagate"),
            ("WDC WD40EFZX-68AWUN0", "Western Digital"),
            ("WD101EFBX", "Western Digital"),
            ("HGST HUS728T8TAL5200", "HGST"),
            ("HUH721212ALE604", "HGST"),
            ("TOSHIBA MG06ACA10TE", "Toshiba"),
            ("Samsung SSD 870 EVO 250GB", "Samsung"),
            ("INTEL SSDSC2KB240G8", "Intel"),
            ("  ct1000mx500ssd1", "Crucial"),
            ("QEMU HARDDISK", "Other"),
            ("", "Other"),
        ];
        for (model, vendor) in cases {
            assert_eq!(vendor_of(model), vendor, "{model}");
        }
    }

    #[test]
    fn jobs_per_day_cover_ninety_days_ending_today() {
        let stats = statistics(&fixture());
        assert_eq!(stats.per_day.len(), 90);
        let last = stats.per_day.last().expect("today");
        // Day 20 500 since the epoch is 2026-02-16.
        assert_eq!((last.day.as_str(), last.ended, last.failed), ("2026-02-16", 3, 1));
        assert_eq!(stats.per_day[88].ended, 2);
        assert_eq!(
            stats.per_day.iter().map(|d| d.ended).sum::<u64>(),
            5,
            "older days are left out"
        );
        let table = &figure(&stats, "per-day").rows;
        assert_eq!(table, &[vec!["2026-02-16", "3", "1"], vec!["2026-02-15", "2", "0"]]);
        let chart = &figure(&stats, "per-day").chart;
        assert!(chart.contains("data-points=\"90\""), "{chart}");
        assert!(chart.contains("chart-legend"));
    }

    #[test]
    fn durations_are_bucketed_by_capacity_with_median_and_longest() {
        let stats = statistics(&fixture());
        let buckets: Vec<(&str, u64, f64, f64)> = stats
            .durations
            .iter()
            .map(|d| (d.capacity.as_str(), d.jobs, d.median_hours, d.max_hours))
            .collect();
        assert_eq!(
            buckets,
            [("under 1 TB", 1, 1.0, 1.0), ("8 TB", 3, 24.0, 30.0), ("12 TB", 2, 38.0, 40.0)]
        );
        assert_eq!(figure(&stats, "duration").rows[1], ["8 TB", "3", "24.0 h", "30.0 h"]);
    }

    #[test]
    fn failures_group_by_stage_and_by_kind_of_reason() {
        let stats = statistics(&fixture());
        let stages: Vec<(&str, u64)> =
            stats.failed_stages.iter().map(|c| (c.label.as_str(), c.jobs)).collect();
        assert_eq!(
            stages,
            [("Long self-test", 1), ("Surface test", 1), ("No stage (the verdict)", 1)]
        );
        let reasons: Vec<(&str, u64)> =
            stats.failure_reasons.iter().map(|c| (c.label.as_str(), c.jobs)).collect();
        // Job 9's two reallocation rules are one kind, counted once.
        assert_eq!(
            reasons,
            [
                ("Bad blocks", 2),
                ("Reallocations rose", 1),
                ("SMART self-test failed", 1),
                ("Surface test failed", 1)
            ]
        );
        assert_eq!(reason_kind("something.new"), "Other");
    }

    #[test]
    fn counts_fall_into_the_four_buckets() {
        let stats = statistics(&fixture());
        let jobs: Vec<u64> = stats.bad_blocks.iter().map(|c| c.jobs).collect();
        assert_eq!(jobs, [5, 2, 1, 1]);
        let jobs: Vec<u64> = stats.reallocations.iter().map(|c| c.jobs).collect();
        assert_eq!(jobs, [6, 1, 0, 0]);
        assert_eq!(figure(&stats, "bad-blocks").rows[3], ["100+", "1"]);
        assert!(figure(&stats, "bad-blocks").chart.contains("data-value=\"5\""));
        for (count, bucket) in [(0, 0), (1, 1), (9, 1), (10, 2), (99, 2), (100, 3), (u64::MAX, 3)] {
            assert_eq!(count_bucket(count), bucket, "{count}");
        }
    }

    #[test]
    fn an_empty_record_gives_figures_that_say_no_data() {
        let stats = statistics(&Rows { today: 20_000, ..Rows::default() });
        assert_eq!(stats.judged, 0);
        assert_eq!(stats.figures.len(), 10);
        for figure in &stats.figures {
            assert!(figure.rows.is_empty(), "{}", figure.id);
            assert!(figure.chart.contains("No data"), "{}", figure.id);
        }
    }

    #[test]
    fn the_reallocation_counters_are_the_verdicts_own_names() {
        for (capture, rule, name) in [
            (
                include_str!("../simulator/src/smartctl/captures/ata-seagate.json"),
                "ata.5",
                REALLOCATED_ATA,
            ),
            (
                include_str!("../simulator/src/smartctl/captures/scsi.json"),
                "scsi.grown_defects",
                GROWN_DEFECTS_SAS,
            ),
        ] {
            let report = crate::smart::parse_smartctl_json(capture.as_bytes()).expect("a capture");
            let watched = crate::verdict::watched_counters(&report);
            let counter = watched.iter().find(|w| w.rule == rule).expect("the watched counter");
            assert_eq!(counter.name, name);
        }
    }
}
