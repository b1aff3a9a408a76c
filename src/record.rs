//! A finished burn-in as the record shows it: the certificate's facts (drive identity, stages,
//! SMART before and after, defects, temperatures, the throughput across the disk, the verdict
//! and its thresholds), built once here so the job page, the print view and the PDF cannot
//! disagree.

use serde::{Deserialize, Serialize};

use crate::badblocks::{BadblocksEvent, BadblocksParser, PhaseKind};
use crate::job::{JobView, StageKind};
use crate::smart::SmartReport;
use crate::verdict::{Level, Thresholds};

/// One phase of a surface test: which pattern, how long it took, how fast it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTiming {
    pub phase: u32,
    /// `write 0xaa`, `read and compare`.
    pub label: String,
    /// badblocks' elapsed seconds at the phase's first and last status line.
    pub first_secs: u64,
    pub last_secs: u64,
    /// Percent of the phase the kept output covers (the middle of a long run may be left out).
    pub covered_percent: f64,
    /// MB/s over the part of the phase the output covers.
    pub mb_s: Option<f64>,
}

/// A point of the throughput curve: where on the disk (percent of its capacity) and how fast.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub phase: u32,
    pub percent: f64,
    pub mb_s: f64,
}

/// What badblocks' kept stderr says about a surface test's timing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SurfaceProfile {
    pub phases: Vec<PhaseTiming>,
    /// MB/s across the disk, each point over at least 1 % of a phase.
    pub curve: Vec<CurvePoint>,
}

/// Reads per-phase timings and the throughput curve from badblocks' stderr (`-s -v` status
/// lines) for a disk of `size_bytes`.
pub fn surface_profile(stderr: &[u8], size_bytes: u64) -> SurfaceProfile {
    let mut parser = BadblocksParser::default();
    let events = parser.feed_stderr(stderr);
    let mut profile = SurfaceProfile::default();
    // (phase, percent, secs) of the phase's first line and of the curve's last point.
    let mut first: Option<(u32, f32, u64)> = None;
    let mut anchor: Option<(u32, f32, u64)> = None;
    let mut last: Option<(u32, f32, u64)> = None;
    let mut labels: Vec<(u32, String)> = Vec::new();
    let close = |profile: &mut SurfaceProfile,
                 first: Option<(u32, f32, u64)>,
                 last: Option<(u32, f32, u64)>,
                 labels: &[(u32, String)]| {
        let (Some((phase, p0, s0)), Some((_, p1, s1))) = (first, last) else { return };
        let covered = f64::from(p1 - p0).max(0.0);
        let secs = s1.saturating_sub(s0);
        let mb_s = (secs > 0 && covered > 0.0)
            .then(|| covered / 100.0 * size_bytes as f64 / secs as f64 / 1e6);
        let label = labels
            .iter()
            .rev()
            .find(|(p, _)| *p == phase)
            .map_or_else(|| format!("phase {phase}"), |(_, l)| l.clone());
        profile.phases.push(PhaseTiming {
            phase,
            label,
            first_secs: s0,
            last_secs: s1,
            covered_percent: covered,
            mb_s,
        });
    };
    for event in events {
        match event {
            BadblocksEvent::PhaseStarted { phase, pattern, kind } => {
                let label = match (kind, pattern) {
                    (PhaseKind::Write, Some(p)) => format!("write 0x{p:02x}"),
                    (PhaseKind::Write, None) => "write".to_owned(),
                    (PhaseKind::ReadCompare, _) => "read and compare".to_owned(),
                    (PhaseKind::ReadOnly, _) => "read".to_owned(),
                    (PhaseKind::NonDestructive, _) => "non-destructive".to_owned(),
                };
                labels.push((phase, label));
            }
            BadblocksEvent::Progress { phase, percent, elapsed_secs, .. } => {
                if first.is_none_or(|(p, _, _)| p != phase) {
                    close(&mut profile, first, last, &labels);
                    first = Some((phase, percent, elapsed_secs));
                    anchor = first;
                }
                if let Some((p, a_pct, a_secs)) = anchor
                    && p == phase
                    && percent - a_pct >= 1.0
                    && elapsed_secs > a_secs
                {
                    let mb_s = f64::from(percent - a_pct) / 100.0 * size_bytes as f64
                        / (elapsed_secs - a_secs) as f64
                        / 1e6;
                    profile.curve.push(CurvePoint {
                        phase,
                        percent: f64::from(a_pct + percent) / 2.0,
                        mb_s,
                    });
                    anchor = Some((phase, percent, elapsed_secs));
                } else if anchor.is_some_and(|(p, a_pct, _)| p == phase && percent < a_pct) {
                    // The kept output skipped back (head and tail joined): start again.
                    anchor = Some((phase, percent, elapsed_secs));
                }
                last = Some((phase, percent, elapsed_secs));
            }
            _ => {}
        }
    }
    close(&mut profile, first, last, &labels);
    profile
}

/// A stage as the certificate lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageLine {
    pub position: u32,
    pub label: String,
    pub state: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration: Option<String>,
    pub throughput_mb_s: Option<f64>,
    pub bad_blocks: u64,
    pub errors: (u32, u32, u32),
    pub detail: String,
}

/// A watched counter in both snapshots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterLine {
    pub name: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub changed: bool,
}

/// A bad block, in badblocks' units and as a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    pub block: u64,
    pub byte_offset: u64,
}

/// A job's page: the job as it stands, the certificate's facts (sealed once the job ended,
/// drawn from the live parts while it runs), and the audit events that name it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job: JobView,
    pub certificate: Certificate,
    /// Whether the evidence is sealed (the job ended); `certificate.bundle_hash` is empty if not.
    pub sealed: bool,
    pub audit: Vec<crate::history::AuditEvent>,
    /// The temperature over the job, as SVG (`crate::chart`); empty without readings.
    pub temperature_chart: String,
    /// The chart's numbers (`temperature_table`).
    pub temperature_table: Vec<TemperatureRow>,
    /// The throughput across the disk, as SVG; empty without a surface scan.
    pub throughput_chart: String,
}

/// The certificate's print view: its facts, the QR code that opens the job (SVG, drawn on
/// the server) and the throughput chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CertificateView {
    pub certificate: Certificate,
    pub qr_svg: String,
    pub throughput_chart: String,
}

/// What deleting a job removed, as the audit event and the answer name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub job_id: i64,
    pub drive_id: i64,
    pub drive_serial: String,
    pub stages: u32,
    pub outputs: u32,
    pub snapshots: u32,
    pub temperature_samples: u32,
    /// Whether a sealed evidence bundle was removed with it.
    pub evidence: bool,
}

/// Everything a certificate shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub job_id: i64,
    /// The job page's address, for the QR code.
    pub job_url: String,
    /// The evidence bundle's hash (`burnin::evidence::manifest_hash`).
    pub bundle_hash: String,
    pub public_key: String,
    pub serial: String,
    pub model: String,
    pub vendor: Option<String>,
    pub wwn: Option<String>,
    pub capacity_bytes: u64,
    pub firmware: Option<String>,
    pub power_on_hours: Option<u64>,
    pub kind: String,
    pub host_name: String,
    pub location: String,
    pub operator: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub state: String,
    /// `PASS`, `PASS WITH WARNINGS`, `FAIL`, `INCOMPLETE`.
    pub outcome: String,
    pub reasons: Vec<(String, String)>,
    pub thresholds: Vec<(String, String)>,
    pub stages: Vec<StageLine>,
    pub counters: Vec<CounterLine>,
    pub bad_blocks: u64,
    /// The first kept bad blocks (at most [`DEFECTS_SHOWN`]).
    pub defects: Vec<Defect>,
    pub temperature_min_c: Option<f64>,
    pub temperature_max_c: Option<f64>,
    pub profile: SurfaceProfile,
    /// When the record was sealed.
    pub sealed_at: String,
}

/// One row of a job's temperature table: a stretch of the run and what the drive read in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemperatureRow {
    /// Unix seconds of the stretch's first and last reading.
    pub from: f64,
    pub to: f64,
    pub samples: usize,
    pub min_c: f64,
    pub mean_c: f64,
    pub max_c: f64,
}

/// The numbers beside a job's temperature chart: the run cut into at most `rows` stretches of
/// equal time, each with its lowest, mean and highest reading. Readings that are not finite
/// are left out; stretches without readings give no row.
pub fn temperature_table(readings: &[(f64, f64)], rows: usize) -> Vec<TemperatureRow> {
    let readings: Vec<(f64, f64)> =
        readings.iter().copied().filter(|(t, c)| t.is_finite() && c.is_finite()).collect();
    let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
        return Vec::new();
    };
    let (start, span) = (first.0, (last.0 - first.0).max(0.0));
    let rows = rows.max(1);
    let mut table: Vec<TemperatureRow> = Vec::new();
    let mut current: Option<(usize, TemperatureRow, f64)> = None;
    for (at, celsius) in readings {
        let slot = if span > 0.0 {
            // Saturating float-to-int: the last reading falls in the last stretch.
            (((at - start) / span * rows as f64) as usize).min(rows - 1)
        } else {
            0
        };
        match &mut current {
            Some((index, row, sum)) if *index == slot => {
                row.to = at;
                row.samples += 1;
                row.min_c = row.min_c.min(celsius);
                row.max_c = row.max_c.max(celsius);
                *sum += celsius;
            }
            _ => {
                if let Some((_, row, sum)) = current.take() {
                    table.push(TemperatureRow { mean_c: sum / row.samples as f64, ..row });
                }
                let row = TemperatureRow {
                    from: at,
                    to: at,
                    samples: 1,
                    min_c: celsius,
                    mean_c: celsius,
                    max_c: celsius,
                };
                current = Some((slot, row, celsius));
            }
        }
    }
    if let Some((_, row, sum)) = current {
        table.push(TemperatureRow { mean_c: sum / row.samples as f64, ..row });
    }
    table
}

/// A long series thinned to at most `points` for a chart: the hottest reading of each bucket,
/// so a short spike is never smoothed away.
pub fn hottest_of_each(readings: &[(f64, f64)], points: usize) -> Vec<(f64, f64)> {
    if readings.len() <= points.max(1) {
        return readings.to_vec();
    }
    let size = readings.len().div_ceil(points.max(1));
    readings
        .chunks(size)
        .filter_map(|chunk| chunk.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)))
        .collect()
}

/// The most defects a certificate lists; the count says how many there are.
pub const DEFECTS_SHOWN: usize = 200;

/// The words for an outcome on a certificate.
pub fn outcome_words(outcome: crate::verdict::Outcome) -> &'static str {
    match outcome {
        crate::verdict::Outcome::Pass => "PASS",
        crate::verdict::Outcome::Warn => "PASS WITH WARNINGS",
        crate::verdict::Outcome::Fail => "FAIL",
        crate::verdict::Outcome::Incomplete => "INCOMPLETE",
    }
}

/// What a certificate is built from.
pub struct Sources<'a> {
    pub job: &'a JobView,
    pub drive: Option<&'a crate::DriveRow>,
    pub before: Option<&'a SmartReport>,
    pub after: Option<&'a SmartReport>,
    pub thresholds: Option<&'a Thresholds>,
    /// The surface stage's kept stderr, for its timings.
    pub surface_stderr: Option<&'a [u8]>,
    pub job_url: String,
    pub bundle_hash: String,
    pub public_key: String,
    pub sealed_at: String,
}

pub fn certificate(src: Sources<'_>) -> Certificate {
    let job = src.job;
    let identity = src.after.or(src.before).map(|report| &report.identity);
    let text = |pick: fn(&crate::smart::DriveIdentity) -> &Option<String>| {
        identity.and_then(|i| pick(i).clone()).filter(|s| !s.trim().is_empty())
    };
    let capacity_bytes =
        identity.and_then(|i| i.capacity_bytes).or(src.drive.map(|d| d.size_bytes)).unwrap_or(0);
    let verdict = job.verdict.as_ref();
    let stages = job
        .stages
        .iter()
        .map(|stage| {
            let duration = match (&stage.started_at, &stage.finished_at) {
                (Some(s), Some(e)) => crate::format::parse_utc(s)
                    .zip(crate::format::parse_utc(e))
                    .map(|(s, e)| crate::job::duration_text(e - s)),
                _ => None,
            };
            StageLine {
                position: stage.position,
                label: stage.kind.label().to_owned(),
                state: stage.state.as_str().to_owned(),
                started_at: stage.started_at.clone(),
                finished_at: stage.finished_at.clone(),
                duration,
                throughput_mb_s: stage.throughput_mb_s,
                bad_blocks: stage.bad_blocks,
                errors: (stage.read_errors, stage.write_errors, stage.corruption_errors),
                detail: stage.detail.clone(),
            }
        })
        .collect();
    let surface = job.stages.iter().find(|s| s.kind == StageKind::Surface);
    let block_size = u64::from(surface.and_then(|s| s.block_size).unwrap_or(4096));
    let defects = surface
        .map(|s| {
            s.bad_block_list
                .iter()
                .take(DEFECTS_SHOWN)
                .map(|&block| Defect { block, byte_offset: block.saturating_mul(block_size) })
                .collect()
        })
        .unwrap_or_default();
    let temps = job.temperatures.iter().copied().filter(|t| t.is_finite());
    let temperature_min_c = temps.clone().reduce(f64::min);
    let temperature_max_c = temps.reduce(f64::max).or(verdict.and_then(|v| v.max_temperature_c));
    let kind = src.drive.map_or(crate::DriveKind::Unknown, |d| d.kind);
    let thresholds = src
        .thresholds
        .map(|t| {
            let limits = t.temperatures.for_kind(kind);
            vec![
                ("Bad blocks tolerated".to_owned(), t.max_bad_blocks.to_string()),
                (
                    format!("Temperature limits ({})", kind.as_str()),
                    format!(
                        "warn {:.0} °C, critical {:.0} °C, fail {:.0} °C",
                        limits.warn_c, limits.crit_c, limits.fail_c
                    ),
                ),
            ]
        })
        .unwrap_or_default();
    Certificate {
        job_id: job.id,
        job_url: src.job_url,
        bundle_hash: src.bundle_hash,
        public_key: src.public_key,
        serial: job.drive_serial.clone(),
        model: text(|i| &i.model).or(src.drive.map(|d| d.model.clone())).unwrap_or_default(),
        vendor: text(|i| &i.vendor),
        wwn: text(|i| &i.wwn),
        capacity_bytes,
        firmware: text(|i| &i.firmware),
        power_on_hours: src.after.or(src.before).and_then(|r| r.power_on_hours),
        kind: kind.as_str().to_owned(),
        host_name: job.host_name.clone(),
        location: src.drive.map(|d| d.location.clone()).unwrap_or_default(),
        operator: job.operator.clone(),
        created_at: job.created_at.clone(),
        started_at: job.started_at.clone(),
        finished_at: job.finished_at.clone(),
        state: job.state.as_str().to_owned(),
        outcome: outcome_words(verdict.map_or(crate::verdict::Outcome::Incomplete, |v| v.outcome))
            .to_owned(),
        reasons: verdict
            .map(|v| {
                v.reasons
                    .iter()
                    .map(|r| {
                        let level = match r.level {
                            Level::Fail => "FAIL",
                            Level::Warn => "WARN",
                            Level::Info => "note",
                        };
                        (level.to_owned(), r.text.clone())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        thresholds,
        stages,
        counters: verdict
            .map(|v| {
                v.deltas
                    .iter()
                    .map(|d| CounterLine {
                        name: d.name.clone(),
                        before: d.before,
                        after: d.after,
                        changed: d.before != d.after,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        bad_blocks: surface.map_or(0, |s| s.bad_blocks),
        defects,
        temperature_min_c,
        temperature_max_c,
        profile: src.surface_stderr.map(|e| surface_profile(e, capacity_bytes)).unwrap_or_default(),
        sealed_at: src.sealed_at,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_temperature_table_cuts_the_run_into_stretches_with_their_extremes_and_mean() {
        // Ten hours, a reading a minute, 30 °C with a 52 °C spike in hour seven.
        let readings: Vec<(f64, f64)> = (0..600)
            .map(|m| {
                (
                    1_700_000_000.0 + f64::from(m) * 60.0,
                    if m == 430 { 52.0 } else { 30.0 + f64::from(m % 3) },
                )
            })
            .collect();
        let table = temperature_table(&readings, 10);
        assert_eq!(table.len(), 10);
        assert_eq!(table.iter().map(|r| r.samples).sum::<usize>(), 600);
        assert!(table.windows(2).all(|w| w[0].to < w[1].from), "stretches are in order");
        let hot: Vec<&TemperatureRow> = table.iter().filter(|r| r.max_c == 52.0).collect();
        assert_eq!(hot.len(), 1);
        assert!(hot[0].from <= readings[430].0 && readings[430].0 <= hot[0].to);
        for row in &table {
            assert!(row.min_c <= row.mean_c && row.mean_c <= row.max_c, "{row:?}");
            assert_eq!(row.min_c, 30.0);
        }
        assert!(temperature_table(&[], 10).is_empty());
        let one = temperature_table(&[(5.0, 40.0), (5.0, f64::NAN)], 10);
        assert_eq!(
            one,
            vec![TemperatureRow {
                from: 5.0,
                to: 5.0,
                samples: 1,
                min_c: 40.0,
                mean_c: 40.0,
                max_c: 40.0
            }]
        );
    }

    #[test]
    fn a_thinned_series_keeps_every_spike() {
        let readings: Vec<(f64, f64)> =
            (0..10_000).map(|i| (f64::from(i), if i == 7_777 { 61.0 } else { 35.0 })).collect();
        let thin = hottest_of_each(&readings, 600);
        assert!(thin.len() <= 600);
        assert!(thin.contains(&(7_777.0, 61.0)));
        assert_eq!(hottest_of_each(&readings[..10], 600), readings[..10].to_vec());
    }
    use super::*;

    #[test]
    fn the_profile_times_each_phase_and_draws_the_curve_across_the_disk() {
        // Two phases of a 1 GB disk: write at 10 MB/s (1 % per second), then read twice as fast.
        let mut err =
            String::from("Checking for bad blocks in read-write mode\nFrom block 0 to 244140\n");
        err.push_str("Testing with pattern 0xaa: ");
        for s in 0..=100u64 {
            err.push_str(&format!(
                "{:.2}% done, 0:{:02}:{:02} elapsed. (0/0/0 errors)",
                s as f64,
                s / 60,
                s % 60
            ));
            err.push_str(&"\x08".repeat(41));
        }
        err.push_str(
            "done                                                 \nReading and comparing: ",
        );
        for s in 0..=50u64 {
            let secs = 101 + s;
            err.push_str(&format!(
                "{:.2}% done, 0:{:02}:{:02} elapsed. (0/0/0 errors)",
                (s * 2) as f64,
                secs / 60,
                secs % 60
            ));
            err.push_str(&"\x08".repeat(41));
        }
        let profile = surface_profile(err.as_bytes(), 1_000_000_000);
        assert_eq!(profile.phases.len(), 2, "{profile:?}");
        assert_eq!(profile.phases[0].label, "write 0xaa");
        assert_eq!(profile.phases[1].label, "read and compare");
        let write = profile.phases[0].mb_s.expect("a write rate");
        let read = profile.phases[1].mb_s.expect("a read rate");
        assert!((write - 10.0).abs() < 0.5, "{write}");
        assert!((read - 20.0).abs() < 1.0, "{read}");
        assert!(profile.curve.len() > 80, "{}", profile.curve.len());
        assert!(profile.curve.iter().all(|p| (0.0..=100.0).contains(&p.percent)));
    }

    #[test]
    fn no_output_gives_an_empty_profile() {
        assert_eq!(surface_profile(b"", 1 << 40), SurfaceProfile::default());
    }
}
