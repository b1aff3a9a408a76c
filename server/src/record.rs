//! The record's services: a finished job's evidence bundle (sealed once, `crate::signing`), its
//! certificate's facts (`burnin::record`), and offline verification with this dashboard's key.

use std::collections::BTreeMap;

use burnin::access::{Action, Principal};
use burnin::evidence::{self, Bundle, KeyView, Manifest, Part, Verification};
use burnin::job::{JobState, JobView};
use burnin::record::Certificate;
use burnin_app::AppError;
use serde_json::{Value, json};

use crate::{db::DbError, engine::store, inventory, service::Services};

const OUTPUT_PREFIX: &str = "stages/";
/// Jobs sealed in one go by the sealer before it looks again.
const SEAL_BATCH: usize = 100;
/// How often the sealer looks when no runner has told it of an end.
const SEAL_ROUND: std::time::Duration = std::time::Duration::from_secs(300);

impl Services {
    /// The key in use, and those it replaced.
    pub async fn key_view(&self) -> Result<KeyView, AppError> {
        let retired = crate::signing::retired_keys(self.db.pool()).await.map_err(DbError::from)?;
        Ok(KeyView {
            algorithm: "ed25519".into(),
            public_key: self.signer.public_key_text(),
            fingerprint: self.signer.fingerprint(),
            retired,
        })
    }

    /// A finished job's evidence bundle: sealed the first time it is asked for, the same bytes
    /// (and hash) every time after. Refused (409) while the job runs.
    pub async fn evidence(&self, caller: &Principal, job_id: i64) -> Result<Bundle, AppError> {
        crate::service::allow(caller, Action::View)?;
        self.seal(job_id).await
    }

    /// Seals ended jobs that are not sealed yet, oldest first, up to `SEAL_BATCH` a call, so
    /// that a job's record is fixed as it was when the job ended (where the drive sat, what
    /// the dashboard called it), not when somebody first asks for it. Answers how many.
    pub async fn seal_ended(&self) -> Result<usize, AppError> {
        let ended = store::ended_jobs();
        let ids: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT id FROM jobs WHERE state IN ({ended})
                AND NOT EXISTS (SELECT 1 FROM job_evidence e WHERE e.job_id = jobs.id)
              ORDER BY id LIMIT {SEAL_BATCH}"
        ))
        .fetch_all(self.db.pool())
        .await
        .map_err(DbError::from)?;
        let mut sealed = 0;
        for (id,) in &ids {
            // One job that cannot be sealed (its rows damaged) must not hold back the rest.
            match self.seal(*id).await {
                Ok(_) => sealed += 1,
                Err(error) => {
                    tracing::error!(job.id = id, error = %error.message, "cannot seal a job's evidence")
                }
            }
        }
        Ok(sealed)
    }

    /// Seals every job as it ends, and on start-up whatever ended while no sealer ran (the
    /// first request for a bundle seals it too, should this be behind).
    pub fn start_sealer(&self) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        tokio::spawn(async move {
            let ended = services.engine.ended.clone();
            loop {
                let sealed = match services.seal_ended().await {
                    Ok(n) => n,
                    Err(error) => {
                        tracing::error!(error = %error.message, "cannot seal the ended jobs' evidence");
                        0
                    }
                };
                if sealed > 0 {
                    tracing::info!(evidence.sealed = sealed, "sealed ended jobs' evidence");
                }
                if sealed == SEAL_BATCH {
                    continue;
                }
                // A job ended without a runner (a queued one cancelled) is sealed on the next
                // round at the latest.
                tokio::select! {
                    () = ended.notified() => {}
                    () = tokio::time::sleep(SEAL_ROUND) => {}
                }
            }
        })
    }

    async fn seal(&self, job_id: i64) -> Result<Bundle, AppError> {
        let job = self.engine.view(job_id).await?;
        if job.state.is_active() {
            return Err(AppError::conflict(format!(
                "job {job_id} is still {}: its evidence is sealed when it ends",
                job.state.as_str()
            )));
        }
        let pool = self.db.pool();
        if let Some((manifest, signature)) =
            crate::signing::sealed(pool, job_id).await.map_err(DbError::from)?
        {
            return self.reassemble(&job, manifest, signature).await;
        }
        let (kept, outputs) = self.gather(&job).await?;
        let manifest = manifest_for(&job, &kept);
        let kept_json: BTreeMap<&str, &Value> =
            kept.iter().map(|p| (p.name.as_str(), &p.value)).collect();
        let kept_text = serde_json::to_string(&kept_json)
            .map_err(|e| AppError::internal(format!("cannot write the sealed parts: {e}")))?;
        let mut parts = kept;
        parts.extend(outputs);
        let bundle = self.signer.seal(manifest, parts);
        let (manifest, signature) =
            crate::signing::keep(pool, &bundle, &kept_text).await.map_err(DbError::from)?;
        if manifest != bundle.manifest {
            // Another request sealed it first: hand out that seal, so every copy is the same.
            return self.reassemble(&job, manifest, signature).await;
        }
        tracing::info!(job.id = job_id, evidence.sha256 = %evidence::manifest_hash(&bundle.manifest), "sealed a job's evidence");
        Ok(bundle)
    }

    /// The parts of a job: the ones sealed as they are now (job, drive, verdict, thresholds,
    /// SMART captures), and the stage outputs, re-read each time (retention may drop them).
    async fn gather(&self, job: &JobView) -> Result<(Vec<Part>, Vec<Part>), AppError> {
        let pool = self.db.pool();
        let mut kept = vec![Part::json(
            "job",
            "the job: stages, results, operator, host settings, temperatures",
            &serde_json::to_value(job)
                .map_err(|e| AppError::internal(format!("cannot write the job: {e}")))?,
        )];
        let drive = inventory::get_drive(pool, job.drive_id).await?;
        kept.push(Part::json(
            "drive",
            "the drive as the dashboard knew it when sealing",
            &match &drive {
                Some(d) => json!({
                    "serial": d.serial, "model": d.model, "size_bytes": d.size_bytes,
                    "kind": d.kind, "host_name": d.host_name, "devname": d.devname,
                    "location": d.location,
                }),
                None => json!({"serial": job.drive_serial}),
            },
        ));
        kept.push(Part::json(
            "verdict",
            "the verdict with its reasons",
            &serde_json::to_value(&job.verdict)
                .map_err(|e| AppError::internal(format!("cannot write the verdict: {e}")))?,
        ));
        let thresholds = store::thresholds(pool, job.id)
            .await?
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .unwrap_or(Value::Null);
        kept.push(Part::json("thresholds", "the thresholds the job was judged with", &thresholds));
        for when in ["before", "after"] {
            if let Some(raw) = store::snapshot(pool, job.id, when).await? {
                kept.push(Part::bytes(
                    format!("captures/smart_{when}.json"),
                    format!("smartctl's JSON {when} the tests, as the drive answered"),
                    raw.as_bytes(),
                ));
            }
        }
        let mut outputs = Vec::new();
        for stage in &job.stages {
            for kept_output in &stage.outputs {
                let stream = kept_output.stream.as_str();
                if let Some(bytes) =
                    store::output(pool, job.id, i64::from(stage.position), stream).await?
                {
                    outputs.push(Part::bytes(
                        output_name(stage.position, stage.kind, stream),
                        format!(
                            "{} output `{stream}` of stage {} ({})",
                            if kept_output.omitted > 0 {
                                "head and tail of the"
                            } else {
                                "the full"
                            },
                            stage.position,
                            stage.kind.label()
                        ),
                        &bytes,
                    ));
                }
            }
        }
        Ok((kept, outputs))
    }

    async fn reassemble(
        &self,
        job: &JobView,
        manifest: Manifest,
        signature: String,
    ) -> Result<Bundle, AppError> {
        let pool = self.db.pool();
        let kept: BTreeMap<String, Value> = crate::signing::sealed_parts(pool, job.id)
            .await
            .map_err(DbError::from)?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let mut parts: Vec<Part> = Vec::new();
        for digest in &manifest.parts {
            if let Some(value) = kept.get(&digest.name) {
                parts.push(Part::stored(digest.name.clone(), digest.about.clone(), value.clone()));
                continue;
            }
            let Some(rest) = digest.name.strip_prefix(OUTPUT_PREFIX) else { continue };
            let Some((stage, stream)) = rest.split_once('/') else { continue };
            let Some(position) = stage.split('-').next().and_then(|p| p.parse::<i64>().ok()) else {
                continue;
            };
            // Absent when retention dropped it: the signed digest still names it.
            if let Some(bytes) = store::output(pool, job.id, position, stream).await? {
                parts.push(Part::bytes(digest.name.clone(), digest.about.clone(), &bytes));
            }
        }
        Ok(evidence::reassemble(manifest, signature, parts))
    }

    /// The certificate of a finished job, from its sealed evidence.
    pub async fn certificate(
        &self,
        caller: &Principal,
        job_id: i64,
    ) -> Result<Certificate, AppError> {
        let bundle = self.evidence(caller, job_id).await?;
        Ok(self.certificate_of(&bundle).await)
    }

    /// The certificates of the ended jobs a history filter matches, in its order: one PDF for a
    /// lot of drives. Refused when more than `certificate::BATCH_MAX` match, naming how to narrow.
    pub async fn certificates(
        &self,
        caller: &Principal,
        query: &burnin::history::JobQuery,
    ) -> Result<Vec<Certificate>, AppError> {
        use crate::certificate::BATCH_MAX;
        crate::service::allow(caller, Action::View)?;
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let (rows, next) = self.history_rows(caller, query, cursor.as_ref(), 500).await?;
            ids.extend(
                rows.iter()
                    .filter(|row| JobState::parse(&row.state).is_some_and(|s| !s.is_active()))
                    .map(|row| row.job_id),
            );
            if ids.len() > BATCH_MAX {
                return Err(AppError::bad_request(format!(
                    "more than {BATCH_MAX} finished jobs match, and one PDF holds at most {BATCH_MAX}: narrow the filters (from, to, host_id, serial, verdict)"
                )));
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if ids.is_empty() {
            return Err(AppError::not_found(
                "no finished job matches these filters: a job has a certificate once it ends",
            ));
        }
        let mut certificates = Vec::with_capacity(ids.len());
        for id in ids {
            certificates.push(self.certificate(caller, id).await?);
        }
        Ok(certificates)
    }

    /// A certificate from a bundle's parts (what was sealed, not what the drive says now).
    pub async fn certificate_of(&self, bundle: &Bundle) -> Certificate {
        let part = |name: &str| bundle.parts.get(name);
        let job: Option<JobView> =
            bundle.json_part("job").and_then(|v| serde_json::from_value(v).ok());
        let report = |name: &str| {
            part(name)
                .and_then(Value::as_str)
                .and_then(|raw| burnin::smart::parse_smartctl_json(raw.as_bytes()).ok())
        };
        let before = report("captures/smart_before.json");
        let after = report("captures/smart_after.json");
        let thresholds: Option<burnin::verdict::Thresholds> =
            bundle.json_part("thresholds").and_then(|v| serde_json::from_value(v).ok());
        let drive_value = bundle.json_part("drive").unwrap_or(Value::Null);
        let job = job.unwrap_or_else(|| placeholder_job(&bundle.manifest));
        let drive = drive_row(&drive_value, &job);
        let stderr = job
            .stages
            .iter()
            .find(|s| s.kind == burnin::job::StageKind::Surface)
            .and_then(|s| part(&output_name(s.position, s.kind, "stderr")))
            .and_then(Value::as_str)
            .map(|s| s.as_bytes().to_vec());
        burnin::record::certificate(burnin::record::Sources {
            job: &job,
            drive: Some(&drive),
            before: before.as_ref(),
            after: after.as_ref(),
            thresholds: thresholds.as_ref(),
            surface_stderr: stderr.as_deref(),
            job_url: format!("{}/jobs/{}", self.notifier.base_url(), job.id),
            bundle_hash: evidence::manifest_hash(&bundle.manifest),
            public_key: bundle.manifest.public_key.clone(),
            sealed_at: bundle.manifest.sealed_at.clone(),
        })
    }

    /// A job's page: sealed facts once it ended, live ones while it runs.
    pub async fn job_record_of(
        &self,
        caller: &Principal,
        job_id: i64,
    ) -> Result<burnin::record::JobRecord, AppError> {
        crate::service::allow(caller, Action::View)?;
        let job = self.engine.view(job_id).await?;
        let (certificate, sealed) = if job.state.is_active() {
            let (kept, outputs) = self.gather(&job).await?;
            let manifest = manifest_for(&job, &kept);
            let mut parts = kept;
            parts.extend(outputs);
            let bundle = evidence::reassemble(manifest, String::new(), parts);
            let mut certificate = self.certificate_of(&bundle).await;
            certificate.bundle_hash.clear();
            certificate.public_key.clear();
            certificate.sealed_at.clear();
            (certificate, false)
        } else {
            (self.certificate(caller, job_id).await?, true)
        };
        let pool = self.db.pool();
        let audit = crate::audit::of_job(pool, job_id).await?;
        let readings = store::temperature_series(pool, job_id).await?;
        let temperature_table = burnin::record::temperature_table(&readings, 12);
        let temperatures = burnin::record::hottest_of_each(&readings, 600);
        // The thresholds the job was judged with; today's settings while it still runs.
        let thresholds = store::thresholds(pool, job_id)
            .await?
            .and_then(|text| serde_json::from_str::<burnin::verdict::Thresholds>(&text).ok())
            .unwrap_or_else(|| self.settings.get().verdict);
        let kind = serde_json::from_value(Value::String(certificate.kind.clone()))
            .unwrap_or(burnin::DriveKind::Unknown);
        let limits = certificate_limits(&thresholds, kind);
        let temperature_chart = if temperatures.is_empty() {
            String::new()
        } else {
            burnin::chart::line(&burnin::chart::LineChart {
                title: "Temperature during the burn-in".into(),
                x: burnin::chart::Axis::Time,
                y: burnin::chart::Axis::Number { unit: "°C".into() },
                series: vec![burnin::chart::Series {
                    label: "Drive temperature".into(),
                    points: temperatures,
                }],
                bands: limits,
            })
        };
        let throughput_chart = throughput_chart(&certificate);
        Ok(burnin::record::JobRecord {
            job,
            certificate,
            sealed,
            audit,
            temperature_chart,
            temperature_table,
            throughput_chart,
        })
    }

    /// The certificate's print view: facts, QR code and throughput chart.
    pub async fn certificate_page(
        &self,
        caller: &Principal,
        job_id: i64,
    ) -> Result<burnin::record::CertificateView, AppError> {
        let certificate = self.certificate(caller, job_id).await?;
        let qr_svg = crate::certificate::qr_svg(&certificate.job_url).map_err(|e| {
            AppError::internal(format!("cannot draw the certificate's QR code: {e}"))
        })?;
        let throughput_chart = throughput_chart(&certificate);
        Ok(burnin::record::CertificateView { certificate, qr_svg, throughput_chart })
    }

    /// Deletes an ended job for good (admins), once `confirm` repeats its drive's serial;
    /// the audit event names everything removed.
    pub async fn remove_job(
        &self,
        caller: &Principal,
        job_id: i64,
        confirm: &str,
    ) -> Result<burnin::record::Removed, AppError> {
        crate::service::allow(caller, Action::DeleteHistory)?;
        let job = self.engine.view(job_id).await?;
        if job.state.is_active() {
            return Err(AppError::conflict(format!(
                "job {job_id} is still {}: cancel it and let it end before deleting it",
                job.state.as_str()
            )));
        }
        if confirm.trim() != job.drive_serial {
            return Err(AppError::bad_request(format!(
                "to delete job {job_id}, type its drive's serial ({}) to confirm; nothing was deleted",
                job.drive_serial
            )));
        }
        let pool = self.db.pool();
        let mut tx = crate::db::begin_write(pool).await.map_err(DbError::from)?;
        let removed = store::delete_job(&mut tx, job_id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("there is no job {job_id}")))?;
        crate::audit::record(
            &mut *tx,
            &caller.actor(),
            "burnin.delete",
            &removed.drive_serial,
            &serde_json::to_value(&removed).unwrap_or(Value::Null),
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        tracing::info!(job.id = job_id, drive.serial = %removed.drive_serial, "deleted a job and its record");
        Ok(removed)
    }

    /// Retention: seals, then drops the bulky stage outputs (badblocks' messages, smartctl
    /// answers) of, every job that ended more than `days` days ago; 0 keeps them for ever.
    /// Each stage's bad block list, the verdict, the captures, the certificate and its sealed
    /// hash stay. Answers how many outputs went.
    pub async fn prune_outputs(&self, days: u32, actor: &str) -> Result<u64, AppError> {
        if days == 0 {
            return Ok(0);
        }
        let pool = self.db.pool();
        let system = Principal::system(actor);
        let mut sealed = Vec::new();
        for id in store::jobs_to_prune(pool, days).await? {
            // Sealed first, so the signed digests cover the outputs about to go; a job that
            // cannot be sealed keeps its outputs until it can.
            match self.evidence(&system, id).await {
                Ok(_) => sealed.push(id),
                Err(error) => tracing::warn!(
                    job.id = id,
                    error = %error.message,
                    "kept a job's outputs: its evidence could not be sealed"
                ),
            }
        }
        if sealed.is_empty() {
            return Ok(0);
        }
        let mut tx = crate::db::begin_write(pool).await.map_err(DbError::from)?;
        let removed = store::prune_outputs(&mut tx, &sealed).await?;
        if removed > 0 {
            crate::audit::record(
                &mut *tx,
                actor,
                "retention.pruned",
                "",
                &json!({"stage_outputs": removed, "older_than_days": days, "jobs": sealed}),
            )
            .await?;
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(removed)
    }

    /// Checks a bundle against this dashboard's key, or the retired key that signed it.
    pub async fn verify_bundle(&self, text: &[u8]) -> Result<Verification, AppError> {
        let bundle = evidence::parse(text).map_err(AppError::bad_request)?;
        let report = evidence::verify(&bundle, Some(&self.signer.verifying_key()));
        if report.key_matches_expected != Some(false) {
            return Ok(report);
        }
        let retired = crate::signing::retired_keys(self.db.pool()).await.map_err(DbError::from)?;
        let earlier = retired.into_iter().find(|k| k.public_key == bundle.manifest.public_key);
        match earlier.and_then(|k| Some((evidence::parse_public_key(&k.public_key).ok()?, k))) {
            Some((key, earlier)) => {
                let mut report = evidence::verify(&bundle, Some(&key));
                report.key_retired_at = Some(earlier.retired_at);
                Ok(report)
            }
            None => Ok(report),
        }
    }
}

impl crate::notify::CertificateSource for Services {
    fn certificate_pdf(
        &self,
        job_id: i64,
    ) -> futures_util::future::BoxFuture<'_, Result<(String, Vec<u8>), String>> {
        Box::pin(async move {
            let caller = Principal::system("notifications");
            let certificate = self.certificate(&caller, job_id).await.map_err(|e| e.message)?;
            let pdf = crate::certificate::pdf(&certificate, crate::certificate::Paper::A4)
                .map_err(|e| e.to_string())?;
            Ok((crate::certificate::file_name(&certificate), pdf))
        })
    }
}

/// The manifest of a job's bundle before sealing fills its key and digests.
fn manifest_for(job: &JobView, kept: &[Part]) -> Manifest {
    Manifest {
        job_id: job.id,
        drive_serial: job.drive_serial.clone(),
        drive_model: kept
            .iter()
            .find(|p| p.name == "drive")
            .and_then(Part::as_json)
            .and_then(|drive| drive.get("model").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default(),
        host_name: job.host_name.clone(),
        outcome: job.verdict.as_ref().map_or("incomplete", |v| v.outcome.as_str()).to_owned(),
        started_at: job.started_at.clone(),
        finished_at: job.finished_at.clone(),
        sealed_at: burnin::format::utc(crate::auth::now_unix()),
        issuer: format!("burn-in dashboard {}", env!("CARGO_PKG_VERSION")),
        public_key: String::new(),
        parts: Vec::new(),
    }
}

/// MB/s across the disk, one line per surface pass; empty without a surface scan.
fn throughput_chart(certificate: &Certificate) -> String {
    let curve = &certificate.profile.curve;
    if curve.is_empty() {
        return String::new();
    }
    let mut series: Vec<burnin::chart::Series> = Vec::new();
    for point in curve {
        let label = certificate.profile.phases.iter().find(|p| p.phase == point.phase).map_or_else(
            || format!("Pass {}", point.phase),
            |p| format!("{}. {}", p.phase, p.label),
        );
        match series.iter_mut().find(|s| s.label == label) {
            Some(line) => line.points.push((point.percent, point.mb_s)),
            None => series
                .push(burnin::chart::Series { label, points: vec![(point.percent, point.mb_s)] }),
        }
    }
    burnin::chart::line_from_zero(&burnin::chart::LineChart {
        title: "Throughput across the disk".into(),
        x: burnin::chart::Axis::Number { unit: "%".into() },
        y: burnin::chart::Axis::Number { unit: "MB/s".into() },
        series,
        bands: Vec::new(),
    })
}

/// The warn and critical ranges of the drive's kind, from the thresholds the job was judged
/// with, as chart bands.
fn certificate_limits(
    thresholds: &burnin::verdict::Thresholds,
    kind: burnin::DriveKind,
) -> Vec<burnin::chart::Band> {
    let limits = thresholds.temperatures.for_kind(kind);
    vec![
        burnin::chart::Band {
            from: limits.warn_c,
            to: limits.crit_c,
            level: "warn".into(),
            label: format!("warning from {} °C", limits.warn_c),
        },
        burnin::chart::Band {
            from: limits.crit_c,
            to: limits.fail_c,
            level: "crit".into(),
            label: format!("critical from {} °C, fails at {} °C", limits.crit_c, limits.fail_c),
        },
    ]
}

/// A stage output's part name: `stages/5-surface/stderr`.
pub fn output_name(position: u32, kind: burnin::job::StageKind, stream: &str) -> String {
    format!("{OUTPUT_PREFIX}{position}-{}/{stream}", kind.as_str())
}

fn placeholder_job(manifest: &Manifest) -> JobView {
    JobView {
        id: manifest.job_id,
        drive_id: 0,
        drive_serial: manifest.drive_serial.clone(),
        host_name: manifest.host_name.clone(),
        state: burnin::job::JobState::Interrupted,
        operator: String::new(),
        created_at: manifest.started_at.clone().unwrap_or_default(),
        started_at: manifest.started_at.clone(),
        finished_at: manifest.finished_at.clone(),
        percent: 0.0,
        eta_seconds: None,
        reason: None,
        stages: Vec::new(),
        verdict: None,
        temperatures: Vec::new(),
        cancel_requested: false,
        verdict_final: true,
        host_config: None,
    }
}

fn drive_row(value: &Value, job: &JobView) -> burnin::DriveRow {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    burnin::DriveRow {
        id: job.drive_id,
        host_id: 0,
        host_name: job.host_name.clone(),
        devname: text("devname"),
        serial: job.drive_serial.clone(),
        model: text("model"),
        size_bytes: value.get("size_bytes").and_then(Value::as_u64).unwrap_or(0),
        kind: value
            .get("kind")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or(burnin::DriveKind::Unknown),
        temperature_c: None,
        smart_health: burnin::SmartHealth::Unknown,
        pool: burnin::PoolMembership::Unknown,
        state: burnin::DriveState::Idle,
        location: text("location"),
        notes: String::new(),
        seen_at: None,
        progress: None,
    }
}
