//! TrueNAS jobs: CORE's (and 25.04's) `smart.test.manual_test` returns a job whose progress
//! follows the drive's self-test (reference §2.3), visible through `core.get_jobs`.

use serde_json::{Value, json};

use super::{
    error::{CallError, errno},
    shapes::{date, now_ms},
};
use crate::{
    clock::SimTime,
    drive::{TestKind, TestResult},
    host::{ApiJob, ApiJobState, HostState},
    scenario::{Personality, Protocol},
};

/// `smart.test.manual_test([{"identifier": ..., "type": "SHORT"|"LONG"|"CONVEYANCE", "mode": ...}])`.
pub fn manual_test(host: &mut HostState, disks: &Value) -> Result<Value, CallError> {
    let Some(disks) = disks.as_array() else {
        return Err(CallError::invalid("disks", "Not a list"));
    };
    if disks.is_empty() {
        return Err(CallError::invalid("disks", "Please specify at least one disk."));
    }
    let mut answers = Vec::new();
    for (index, request) in disks.iter().enumerate() {
        let identifier = request["identifier"].as_str().unwrap_or("");
        let kind = match request["type"].as_str().unwrap_or("") {
            "SHORT" => TestKind::Short,
            "LONG" => TestKind::Long,
            "CONVEYANCE" => TestKind::Conveyance,
            other => {
                return Err(CallError::invalid(
                    &format!("disks.{index}.type"),
                    format!("Invalid choice: {other}"),
                ));
            }
        };
        let now = host.now;
        let Some(position) = host
            .drives
            .iter()
            .position(|d| d.present && super::shapes::identifier(d) == identifier)
        else {
            return Err(CallError::invalid(
                &format!("disks.{index}.identifier"),
                format!("{identifier} is not valid. Please provide a valid disk identifier."),
            ));
        };
        let drive = &mut host.drives[position];
        let devname = drive.devname.clone();
        if host.personality.is_core() && drive.spec.protocol == Protocol::Nvme {
            return Err(CallError::invalid(
                &format!("disks.{index}.identifier"),
                format!("{identifier} is not valid. Please provide a valid disk identifier."),
            ));
        }
        let serial = drive.spec.serial.clone();
        let duration = drive.test_duration(kind);
        let started = drive.start_self_test(kind, now);
        let error = match started {
            Ok(()) => Value::Null,
            Err(done) => json!(format!(
                "Can't start self-test without aborting current test ({}0% remaining), add '-t force' option to override, or run 'smartctl -X' to abort test.",
                ((1.0 - done) * 10.0).ceil() as u32
            )),
        };
        let job_id = if error.is_null() {
            let id = host.next_job_id;
            host.next_job_id += 1;
            host.jobs.insert(
                id,
                ApiJob {
                    id,
                    method: "smart.test.wait".to_owned(),
                    arguments: json!([{"disk": devname}]),
                    description: String::new(),
                    state: ApiJobState::Running,
                    percent: 0.0,
                    progress_description: None,
                    result: Value::Null,
                    error: None,
                    abortable: true,
                    drive_serial: Some(serial),
                    started_at_ms: now_ms(),
                    finished_at_ms: None,
                },
            );
            json!(id)
        } else {
            Value::Null
        };
        answers.push(json!({
            "disk": devname,
            "identifier": identifier,
            "error": error,
            "expected_result_time": date(now_ms() + (duration / host.speed * 1000.0) as i64),
            "job": job_id,
        }));
    }
    Ok(Value::Array(answers))
}

/// Moves jobs along with their drives' self-tests.
pub fn advance_jobs(host: &mut HostState, now: SimTime) {
    let personality = host.personality;
    for job in host.jobs.values_mut() {
        if job.state != ApiJobState::Running {
            continue;
        }
        let Some(serial) = job.drive_serial.clone() else { continue };
        let Some(drive) = host.drives.iter().find(|d| d.spec.serial == serial) else { continue };
        match &drive.self_test {
            Some(run) => {
                let percent = run.fraction(now) * 100.0;
                // CORE reports float percentages; SCALE rounds down (reference §1.2, Jobs).
                job.percent = if personality.is_core() { percent } else { percent.floor() };
            }
            None => {
                job.percent = 100.0;
                job.state = ApiJobState::Success;
                job.finished_at_ms = Some(now_ms());
            }
        }
    }
}

/// `core.job_abort`: aborting a SMART job aborts the self-test (`smartctl -X`).
pub fn abort(host: &mut HostState, id: u64) -> Result<(), CallError> {
    let Some(job) = host.jobs.get_mut(&id) else {
        return Err(CallError::call(errno::ENOENT, "ENOENT", format!("Job {id} does not exist")));
    };
    if !job.abortable || job.state != ApiJobState::Running {
        return Err(CallError::call(
            errno::EINVAL,
            "EINVAL",
            format!("Job {id} is not running or not abortable"),
        ));
    }
    job.state = ApiJobState::Aborted;
    job.error = Some("Job aborted".to_owned());
    job.finished_at_ms = Some(now_ms());
    if let Some(serial) = job.drive_serial.clone()
        && let Some(drive) = host.drives.iter_mut().find(|d| d.spec.serial == serial)
    {
        drive.abort_self_test();
    }
    Ok(())
}

/// A job as `core.get_jobs` encodes it (CORE has fewer fields; reference §1.2, Jobs).
pub fn encode(job: &ApiJob, personality: Personality) -> Value {
    let mut value = json!({
        "id": job.id,
        "method": job.method,
        "arguments": job.arguments,
        "logs_path": null,
        "logs_excerpt": null,
        "progress": {"percent": job.percent, "description": job.progress_description, "extra": null},
        "result": job.result,
        "error": job.error,
        "exception": null,
        "exc_info": null,
        "state": job.state.as_str(),
        "time_started": date(job.started_at_ms),
        "time_finished": job.finished_at_ms.map(date).unwrap_or(Value::Null),
    });
    if !personality.is_core()
        && let Some(map) = value.as_object_mut()
    {
        map.insert("message_ids".into(), json!([]));
        map.insert("transient".into(), json!(false));
        map.insert("description".into(), json!(job.description));
        map.insert("abortable".into(), json!(job.abortable));
        map.insert("result_encoding_error".into(), Value::Null);
        map.insert("credentials".into(), json!({"type": "API_KEY", "data": {}}));
    }
    value
}

fn describe(kind: TestKind, protocol: Protocol) -> &'static str {
    match (protocol, kind) {
        (Protocol::Scsi, TestKind::Short) => "Background short",
        (Protocol::Scsi, _) => "Background long",
        (_, TestKind::Short) => "Short offline",
        (_, TestKind::Long) => "Extended offline",
        (_, TestKind::Conveyance) => "Conveyance offline",
    }
}

/// `smart.test.results` items: each disk's test log, newest first, and the running test.
pub fn results(host: &HostState) -> Vec<Value> {
    let extended_statuses = host.personality == Personality::Scale2504;
    host.present_drives()
        .map(|drive| {
            let protocol = drive.spec.protocol;
            let mut tests: Vec<Value> = Vec::new();
            if let Some(run) = &drive.self_test {
                let remaining = 1.0 - run.fraction(host.now);
                tests.push(json!({
                    "num": 1,
                    "description": describe(run.kind, protocol),
                    "status": "RUNNING",
                    "status_verbose": format!("Self-test routine in progress ({}0% remaining)", (remaining * 10.0).ceil() as u32),
                    "remaining": remaining,
                    "lifetime": drive.power_on_hours(),
                    "lba_of_first_error": null,
                }));
            }
            for entry in &drive.self_test_log {
                let (status, verbose, lba) = match entry.result {
                    TestResult::Passed => ("SUCCESS", "Completed without error", Value::Null),
                    TestResult::AbortedByHost => (if extended_statuses { "ABORTED" } else { "FAILED" }, "Aborted by host", Value::Null),
                    TestResult::ReadFailure { lba } => ("FAILED", "Completed: read failure", json!(lba)),
                };
                let mut item = json!({
                    "num": tests.len() + 1,
                    "description": describe(entry.kind, protocol),
                    "status": status,
                    "status_verbose": verbose,
                    "lifetime": entry.power_on_hours,
                    "lba_of_first_error": lba,
                });
                if protocol == Protocol::Scsi {
                    item["segment_number"] = Value::Null;
                } else {
                    item["remaining"] = json!(0.0);
                }
                tests.push(item);
            }
            let current = drive.self_test.as_ref().map(|run| json!({"progress": (run.fraction(host.now) * 100.0) as u64}));
            json!({"disk": drive.devname, "tests": tests, "current_test": current})
        })
        .collect()
}
