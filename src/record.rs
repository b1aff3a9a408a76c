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
