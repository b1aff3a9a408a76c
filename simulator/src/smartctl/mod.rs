//! smartctl 7.4 (TrueNAS SCALE's version, reference/truenas-api.md §2.4) answering for
//! simulated drives: `--json` reports per protocol built on real captures, self-test start and
//! abort with smartctl's own words, and the exit-status bits (§5.5).

mod report;

use burnin::remote::{Smartctl, SmartctlAction};
use serde_json::{Value, json};

use crate::{
    drive::{TestKind, TestResult},
    host::HostState,
    scenario::Protocol,
};

pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u32,
}

/// Exit-status bits (smartctl(8), EXIT STATUS).
pub mod bits {
    pub const OPEN_FAILED: u32 = 1 << 1;
    pub const COMMAND_FAILED: u32 = 1 << 2;
    pub const FAILING: u32 = 1 << 3;
    pub const ERROR_LOG: u32 = 1 << 6;
    pub const SELF_TEST_ERRORS: u32 = 1 << 7;
}

fn argv(command: &Smartctl) -> Vec<String> {
    burnin::remote::split_words(&burnin::remote::RemoteCommand::Smartctl(command.clone()).render())
        .unwrap_or_default()
}

/// The `smartctl` block every JSON answer starts with.
fn header(command: &Smartctl, exit_status: u32, output: &[String], messages: Vec<Value>) -> Value {
    let mut block = json!({
        "version": [7, 4],
        "svn_revision": "5530",
        "platform_info": "x86_64-linux-6.12.15-production+truenas",
        "build_info": "(local build)",
        "argv": argv(command),
        "exit_status": exit_status,
    });
    if !messages.is_empty() {
        block["messages"] = Value::Array(messages);
    }
    if command.with_text {
        block["output"] = json!(output);
    }
    block
}

fn answer(document: Value) -> Vec<u8> {
    let mut text = serde_json::to_string(&document).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

pub fn run(state: &mut HostState, command: &Smartctl) -> Output {
    let name = command.device.name();
    // CORE's smartctl reads an NVMe namespace nvdN through its controller nvmeN (§4.2).
    let lookup = if state.personality.is_core() && name.starts_with("nvme") {
        name.replacen("nvme", "nvd", 1)
    } else {
        name.to_owned()
    };
    let now = state.now;
    let personality_core = state.personality.is_core();
    let Some(position) = state.drives.iter().position(|d| d.present && d.devname == lookup) else {
        let message =
            format!("Smartctl open device: {} failed: No such device", command.device.as_str());
        let document = json!({
            "json_format_version": [1, 0],
            "smartctl": header(command, bits::OPEN_FAILED, std::slice::from_ref(&message), vec![json!({"string": message, "severity": "error"})]),
            "local_time": report::local_time(),
        });
        return Output {
            stdout: answer(document),
            stderr: Vec::new(),
            exit_code: bits::OPEN_FAILED,
        };
    };
    let drive = &mut state.drives[position];
    let protocol = drive.spec.protocol;
    match command.action {
        SmartctlAction::Report => {
            let (mut document, exit_status, text) =
                report::build(drive, now, personality_core, &command.device);
            document["smartctl"] = header(command, exit_status, &text, Vec::new());
            Output { stdout: answer(document), stderr: Vec::new(), exit_code: exit_status }
        }
        SmartctlAction::StartSelfTest(kind) => {
            let kind = match kind {
                burnin::remote::SelfTestKind::Short => TestKind::Short,
                burnin::remote::SelfTestKind::Long => TestKind::Long,
                burnin::remote::SelfTestKind::Conveyance => TestKind::Conveyance,
            };
            let mut text =
                vec!["=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===".to_owned()];
            let (exit, messages) = if kind == TestKind::Conveyance
                && (protocol != Protocol::Ata || drive.is_ssd())
            {
                let message = "Conveyance Self-test not supported".to_owned();
                text.push(message.clone());
                (bits::COMMAND_FAILED, vec![json!({"string": message, "severity": "error"})])
            } else {
                let duration = drive.test_duration(kind);
                match drive.start_self_test(kind, now) {
                    Ok(()) => {
                        text.extend(start_text(protocol, kind, duration));
                        (0, Vec::new())
                    }
                    Err(done) => {
                        let remaining = ((1.0 - done) * 10.0).ceil().clamp(1.0, 10.0) as u32 * 10;
                        // atacmds.cpp (ATA/SAS) and nvmeprint.cpp (NVMe) refusals.
                        let refusal = match protocol {
                            Protocol::Nvme => format!(
                                "Can't start self-test without aborting current test ({:.0}% completed)",
                                done * 100.0
                            ),
                            _ => format!(
                                "Can't start self-test without aborting current test ({remaining}% remaining),\nadd '-t force' option to override, or run 'smartctl -X' to abort test."
                            ),
                        };
                        text.extend(refusal.lines().map(str::to_owned));
                        (bits::COMMAND_FAILED, Vec::new())
                    }
                }
            };
            let document = json!({
                "json_format_version": [1, 0],
                "smartctl": header(command, exit, &text, messages),
                "device": report::device_block(protocol, &command.device),
                "local_time": report::local_time(),
            });
            Output { stdout: answer(document), stderr: Vec::new(), exit_code: exit }
        }
        SmartctlAction::AbortSelfTest => {
            drive.abort_self_test();
            let mut text =
                vec!["=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===".to_owned()];
            match protocol {
                Protocol::Ata => {
                    text.push(
                        "Sending command: \"Abort SMART off-line mode self-test routine\".".into(),
                    );
                    text.push("Self-testing aborted!".into());
                }
                Protocol::Scsi => text.push("Self Test returned without error".into()),
                Protocol::Nvme => text.push("Self-test aborted!".into()),
            }
            let document = json!({
                "json_format_version": [1, 0],
                "smartctl": header(command, 0, &text, Vec::new()),
                "device": report::device_block(protocol, &command.device),
                "local_time": report::local_time(),
            });
            Output { stdout: answer(document), stderr: Vec::new(), exit_code: 0 }
        }
    }
}

/// What smartctl 7.4 prints when a test starts (ataprint.cpp ~4651, scsiprint.cpp ~3895,
/// nvmeprint.cpp ~818).
fn start_text(protocol: Protocol, kind: TestKind, duration: f64) -> Vec<String> {
    let minutes = (duration / 60.0).ceil() as u64;
    match protocol {
        Protocol::Ata => {
            let name = match kind {
                TestKind::Short => {
                    "Execute SMART Short self-test routine immediately in off-line mode"
                }
                TestKind::Long => {
                    "Execute SMART Extended self-test routine immediately in off-line mode"
                }
                TestKind::Conveyance => {
                    "Execute SMART Conveyance self-test routine immediately in off-line mode"
                }
            };
            vec![
                format!("Sending command: \"{name}\"."),
                format!("Drive command \"{name}\" successful."),
                "Testing has begun.".to_owned(),
                format!("Please wait {minutes} minutes for test to complete."),
                format!("Test will complete after {}", report::local_time_after(duration)),
                String::new(),
                "Use smartctl -X to abort test.".to_owned(),
            ]
        }
        Protocol::Scsi => match kind {
            TestKind::Short => vec![
                "Short Background Self Test has begun".to_owned(),
                "Use smartctl -X to abort test".to_owned(),
            ],
            _ => vec![
                "Extended Background Self Test has begun".to_owned(),
                format!("Please wait {minutes} minutes for test to complete."),
                format!("Estimated completion time: {}", report::local_time_after(duration)),
                "Use smartctl -X to abort test".to_owned(),
            ],
        },
        Protocol::Nvme => {
            vec!["Self-test has begun".to_owned(), "Use smartctl -X to abort test".to_owned()]
        }
    }
}

/// Whether the newest logged test failed (exit bit 7).
fn newest_failed(log: &[crate::drive::SelfTestLogEntry]) -> bool {
    log.first().is_some_and(|entry| matches!(entry.result, TestResult::ReadFailure { .. }))
}
