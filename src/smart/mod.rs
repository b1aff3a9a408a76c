//! smartctl's JSON output (`smartctl --json`, smartmontools 7.0–7.5 and the pre-8.0 additions),
//! read into one [`SmartReport`] for ATA, SCSI/SAS and NVMe drives.
//!
//! The parser is deliberately forgiving: anything missing, `null` or of an unexpected type is
//! `None`, because the same code must read every smartctl version TrueNAS CORE and SCALE ship
//! (7.1 to 7.4 in the corpus) with any combination of `-a`/`-x`/`-i`/`-H`/`-A`/`-l selftest`. It
//! only fails when the bytes are not a JSON object at all. Facts about the shapes come from
//! reference/truenas-api.md §5 and the smartmontools sources it cites.
//!
//! What the numbers *mean* for a burn-in verdict is not decided here; this module only reads.

mod ata;
mod lenient;
mod nvme;
mod scsi;
mod selftest;
mod text;

pub use ata::{
    AtaAttribute, AtaSelfTestEntry, AtaSelfTestLog, AtaSelfTestLogKind, AtaSelfTestStatus,
    AtaSmart, CommandTimeouts, PollingMinutes, WhenFailed,
};
pub use nvme::{NvmeCriticalWarning, NvmeHealthLog, NvmeSelfTestEntry, NvmeSelfTestLog, NvmeSmart};
pub use scsi::{
    ScsiErrorCounterLog, ScsiErrorCounters, ScsiSelfTestEntry, ScsiSelfTestStatus, ScsiSmart,
};
pub use selftest::{SelfTestKind, SelfTestOutcome, SelfTestProgress, SelfTestResult};
pub use text::{TestStartOutcome, parse_scsi_self_test_progress_text, parse_self_test_start_text};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::drive::SmartHealth;
use lenient::{at, bool_at, i64_at, int_at, string_at, u64_at};

/// Why smartctl output could not be read at all. Anything short of this is a partial report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SmartParseError {
    #[error("smartctl output is not valid JSON (line {line}, column {column}): {message}")]
    InvalidJson { line: usize, column: usize, message: String },
    #[error("smartctl output is JSON but not an object: found {found}")]
    NotAnObject { found: String },
}

/// Parses the output of `smartctl --json ...` (pretty or compact, any option mix).
///
/// Fails only when the bytes are not a JSON object. smartctl before 7.3 could print stray text
/// such as `  Pending defect count:` before the JSON (reference/anchors.md gotcha 19), so text
/// before the first line that starts with `{` is skipped.
pub fn parse_smartctl_json(bytes: &[u8]) -> Result<SmartReport, SmartParseError> {
    let value: Value = serde_json::from_slice(json_start(bytes)).map_err(|error| {
        SmartParseError::InvalidJson {
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        }
    })?;
    if !value.is_object() {
        let found = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return Err(SmartParseError::NotAnObject { found: found.to_owned() });
    }
    Ok(SmartReport::from_json(&value))
}

/// Skips a UTF-8 byte-order mark and any text before the first line that opens an object.
fn json_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_visible = bytes.iter().position(|byte| !byte.is_ascii_whitespace());
    match first_visible.map(|index| bytes[index]) {
        Some(b'{' | b'[') | None => bytes,
        Some(_) => {
            let line_opening_object =
                bytes.windows(2).position(|pair| pair == b"\n{").map(|index| index + 1);
            line_opening_object.map_or(bytes, |index| &bytes[index..])
        }
    }
}

/// Everything we read from one smartctl run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmartReport {
    /// About smartctl itself: version, exit status, messages.
    pub smartctl: SmartctlInfo,
    /// Who the drive is.
    pub identity: DriveIdentity,
    /// The drive's overall self-assessment, `smart_status.passed`.
    pub health: SmartHealth,
    /// Temperatures in °C.
    pub temperature: Temperature,
    /// `power_on_time.hours` (smartctl fills it for every protocol).
    pub power_on_hours: Option<u64>,
    /// `power_cycle_count`.
    pub power_cycle_count: Option<u64>,
    /// ATA sections, present when any `ata_smart_*` key is.
    pub ata: Option<AtaSmart>,
    /// SCSI/SAS sections, present when any `scsi_*` health key is.
    pub scsi: Option<ScsiSmart>,
    /// NVMe sections, present when any `nvme_*` health key is.
    pub nvme: Option<NvmeSmart>,
}

impl SmartReport {
    fn from_json(root: &Value) -> SmartReport {
        let health = match bool_at(root, &["smart_status", "passed"]) {
            Some(true) => SmartHealth::Passed,
            Some(false) => SmartHealth::Failed,
            None => SmartHealth::Unknown,
        };
        let ata = AtaSmart::from_json(root);
        let scsi = ScsiSmart::from_json(root);
        let nvme = NvmeSmart::from_json(root);
        let mut identity = DriveIdentity::from_json(root);
        if identity.protocol == Protocol::Unknown {
            identity.protocol = match (&ata, &scsi, &nvme) {
                (Some(_), None, None) => Protocol::Ata,
                (None, Some(_), None) => Protocol::Scsi,
                (None, None, Some(_)) => Protocol::Nvme,
                _ => Protocol::Unknown,
            };
        }
        SmartReport {
            smartctl: SmartctlInfo::from_json(root),
            identity,
            health,
            temperature: Temperature {
                current: i64_at(root, &["temperature", "current"]),
                drive_trip: i64_at(root, &["temperature", "drive_trip"]),
            },
            power_on_hours: u64_at(root, &["power_on_time", "hours"]),
            power_cycle_count: u64_at(root, &["power_cycle_count"]),
            ata,
            scsi,
            nvme,
        }
    }

    /// True when smartctl could not read the drive: an `error` message, or exit status bits
    /// 0–1 (reference/anchors.md gotcha 23; smartctl_exporter rejects such output too). Such a
    /// report says nothing about the drive's health.
    pub fn read_failed(&self) -> bool {
        self.smartctl.exit_status.is_some_and(|status| status.is_fatal())
            || self.smartctl.messages.iter().any(|message| message.severity == Severity::Error)
    }

    /// The ATA attribute table, empty for other protocols.
    pub fn attributes(&self) -> &[AtaAttribute] {
        self.ata.as_ref().map_or(&[], |ata| ata.attributes.as_slice())
    }
}

/// About the smartctl run itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmartctlInfo {
    /// `smartctl.version`, `[major, minor]`, e.g. `[7, 4]`.
    pub version: Option<[u32; 2]>,
    /// `smartctl.svn_revision`.
    pub svn_revision: Option<String>,
    /// `smartctl.argv`: which options produced this output.
    pub argv: Vec<String>,
    /// `smartctl.exit_status`, decoded.
    pub exit_status: Option<ExitStatus>,
    /// `smartctl.messages[]`.
    pub messages: Vec<SmartctlMessage>,
}

impl SmartctlInfo {
    fn from_json(root: &Value) -> SmartctlInfo {
        let version =
            at(root, &["smartctl", "version"]).and_then(Value::as_array).and_then(|parts| {
                let part = |index: usize| {
                    parts.get(index).and_then(lenient::as_u64).and_then(|n| u32::try_from(n).ok())
                };
                Some([part(0)?, part(1)?])
            });
        let strings = |key: &str| -> Vec<String> {
            at(root, &["smartctl", key])
                .and_then(Value::as_array)
                .map(|items| items.iter().filter_map(lenient::as_string).collect())
                .unwrap_or_default()
        };
        let messages = at(root, &["smartctl", "messages"])
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(SmartctlMessage::from_json).collect())
            .unwrap_or_default();
        SmartctlInfo {
            version,
            svn_revision: string_at(root, &["smartctl", "svn_revision"]),
            argv: strings("argv"),
            // An exit status is one byte; anything else is not one we can decode.
            exit_status: int_at::<u8>(root, &["smartctl", "exit_status"])
                .map(ExitStatus::from_bits),
            messages,
        }
    }
}

/// smartctl's exit status, one flag per bit (reference/truenas-api.md §5.5, from
/// `SMT@RELEASE_7_4:smartmontools/smartctl.8.in` EXIT STATUS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The whole status byte.
    pub bits: u8,
    /// Bit 0: the command line did not parse.
    pub command_line_error: bool,
    /// Bit 1: the device could not be opened, did not answer IDENTIFY, or is asleep (`-n`).
    pub device_open_failed: bool,
    /// Bit 2: some SMART or ATA command failed, or a SMART structure had a checksum error.
    pub smart_command_failed: bool,
    /// Bit 3: SMART status says "DISK FAILING".
    pub disk_failing: bool,
    /// Bit 4: prefail attributes at or below their threshold.
    pub prefail_attributes_at_threshold: bool,
    /// Bit 5: "DISK OK", but some attributes were at or below threshold in the past.
    pub attributes_were_at_threshold: bool,
    /// Bit 6: the device error log has records.
    pub error_log_has_records: bool,
    /// Bit 7: the self-test log has errors.
    pub self_test_log_has_errors: bool,
}

impl ExitStatus {
    /// Decodes a status byte.
    pub fn from_bits(bits: u8) -> ExitStatus {
        let bit = |n: u8| bits & (1 << n) != 0;
        ExitStatus {
            bits,
            command_line_error: bit(0),
            device_open_failed: bit(1),
            smart_command_failed: bit(2),
            disk_failing: bit(3),
            prefail_attributes_at_threshold: bit(4),
            attributes_were_at_threshold: bit(5),
            error_log_has_records: bit(6),
            self_test_log_has_errors: bit(7),
        }
    }

    /// Bits 0–1: smartctl could not read the drive at all. TrueNAS treats only `rc & 0b11` as
    /// failure (`MW@HEAD:utils/disks_/disk_class.py`); bits 2–7 are health information.
    pub fn is_fatal(self) -> bool {
        self.bits & 0b11 != 0
    }
}

/// One of `smartctl.messages[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartctlMessage {
    pub text: String,
    pub severity: Severity,
}

impl SmartctlMessage {
    fn from_json(value: &Value) -> Option<SmartctlMessage> {
        let text = string_at(value, &["string"])?;
        let severity = match string_at(value, &["severity"]).as_deref() {
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            Some("information") => Severity::Information,
            _ => Severity::Unknown,
        };
        Some(SmartctlMessage { text, severity })
    }
}

/// A message's `severity`. `Error` means the drive could not be read (e.g. "Smartctl open
/// device: /dev/nvme0 failed: Permission denied" in `nvme_xall_error.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Information,
    Warning,
    Error,
    Unknown,
}

/// How smartctl talked to the drive (`device.protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Ata,
    Scsi,
    Nvme,
    #[default]
    Unknown,
}

/// Who the drive is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriveIdentity {
    /// `device.protocol`; when smartctl did not say, inferred from which sections are present.
    pub protocol: Protocol,
    /// `device.name`, e.g. `/dev/sda`.
    pub device_name: Option<String>,
    /// `device.type`, e.g. `sat`, `scsi`, `nvme`, `usbjmicron`.
    pub device_type: Option<String>,
    /// `model_family`, from smartctl's drive database (ATA only).
    pub model_family: Option<String>,
    /// ATA/NVMe `model_name`. For SCSI: vendor and product joined, else `scsi_model_name`, else
    /// `model_name` (7.5 re-added it for SCSI).
    pub model: Option<String>,
    /// SCSI vendor (`scsi_vendor`, or `vendor` before 7.3).
    pub vendor: Option<String>,
    /// SCSI product (`scsi_product`, or `product` before 7.3).
    pub product: Option<String>,
    pub serial: Option<String>,
    /// `firmware_version`; SCSI reports the revision instead.
    pub firmware: Option<String>,
    /// The world wide name as bare lowercase hex, e.g. `5000c500a1b2c3d4`.
    pub wwn: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub logical_block_size: Option<u32>,
    pub physical_block_size: Option<u32>,
    /// Revolutions per minute; `Some(0)` is how smartctl says "solid state".
    pub rotation_rate: Option<u32>,
    /// e.g. `3.5 inches`.
    pub form_factor: Option<String>,
    pub smart_available: Option<bool>,
    pub smart_enabled: Option<bool>,
}

impl DriveIdentity {
    fn from_json(root: &Value) -> DriveIdentity {
        let protocol = match string_at(root, &["device", "protocol"]) {
            Some(name) => match name.to_ascii_lowercase().as_str() {
                "ata" => Protocol::Ata,
                "scsi" => Protocol::Scsi,
                "nvme" => Protocol::Nvme,
                _ => Protocol::Unknown,
            },
            None => Protocol::Unknown,
        };
        // SCSI keys were renamed in 7.3 (`vendor` → `scsi_vendor`, ...) and 7.5 re-added
        // `model_name` (reference/anchors.md gotcha 19), so read both generations.
        let vendor = string_at(root, &["scsi_vendor"]).or_else(|| string_at(root, &["vendor"]));
        let product = string_at(root, &["scsi_product"]).or_else(|| string_at(root, &["product"]));
        let scsi_model = match (&vendor, &product) {
            (Some(vendor), Some(product)) => Some(format!("{} {}", vendor.trim(), product.trim())),
            _ => string_at(root, &["scsi_model_name"]),
        };
        let model = if protocol == Protocol::Scsi {
            scsi_model.or_else(|| string_at(root, &["model_name"]))
        } else {
            string_at(root, &["model_name"]).or(scsi_model)
        };
        let firmware = string_at(root, &["firmware_version"])
            .or_else(|| string_at(root, &["scsi_revision"]))
            .or_else(|| string_at(root, &["revision"]));
        let capacity_bytes = u64_at(root, &["user_capacity", "bytes"])
            .or_else(|| u64_at(root, &["nvme_total_capacity"]));
        DriveIdentity {
            protocol,
            device_name: string_at(root, &["device", "name"]),
            device_type: string_at(root, &["device", "type"]),
            model_family: string_at(root, &["model_family"]),
            model,
            vendor,
            product,
            serial: string_at(root, &["serial_number"]),
            firmware,
            wwn: ata_wwn(root).or_else(|| scsi_logical_unit_id(root)),
            capacity_bytes,
            logical_block_size: int_at(root, &["logical_block_size"]),
            physical_block_size: int_at(root, &["physical_block_size"]),
            rotation_rate: int_at(root, &["rotation_rate"]),
            form_factor: string_at(root, &["form_factor", "name"]),
            smart_available: bool_at(root, &["smart_support", "available"]),
            smart_enabled: bool_at(root, &["smart_support", "enabled"]),
        }
    }
}

/// ATA `wwn{naa, oui, id}` as the 64-bit NAA name in hex. smartctl prints the same three parts
/// as "LU WWN Device Id: %x %06x %09x" (`SMT@RELEASE_7_4:smartmontools/ataprint.cpp`), i.e. 4 +
/// 24 + 36 bits; joined they are the `wwn-0x...` name Linux shows under /dev/disk/by-id.
fn ata_wwn(root: &Value) -> Option<String> {
    let naa = u64_at(root, &["wwn", "naa"])?;
    let oui = u64_at(root, &["wwn", "oui"])?;
    let id = u64_at(root, &["wwn", "id"])?;
    if naa > 0xF || oui > 0xFF_FFFF || id > 0xF_FFFF_FFFF {
        return None;
    }
    Some(format!("{:016x}", naa << 60 | oui << 36 | id))
}

/// SCSI `logical_unit_id` ("0x5000c500..."), in the same bare-hex form as [`ata_wwn`].
fn scsi_logical_unit_id(root: &Value) -> Option<String> {
    let id = string_at(root, &["logical_unit_id"])?;
    let id = id.trim();
    let hex = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")).unwrap_or(id);
    (!hex.is_empty()).then(|| hex.to_ascii_lowercase())
}

/// Temperatures in °C.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Temperature {
    /// `temperature.current`. smartctl reports 0 when a SCSI device has no sensor (QEMU in
    /// `scsi_xall_limited_output.json`); we pass that on as reported.
    pub current: Option<i64>,
    /// `temperature.drive_trip` (SCSI): the drive's own trip point.
    pub drive_trip: Option<i64>,
}

/// A coded value as smartctl reports it: the number from the device and smartctl's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// `value`; every code we read is a byte or a nibble, so anything larger is `None`.
    pub value: Option<u8>,
    /// `string`.
    pub string: Option<String>,
}

impl Code {
    fn from_json(value: &Value) -> Option<Code> {
        value.as_object()?;
        let code = Code { value: int_at(value, &["value"]), string: string_at(value, &["string"]) };
        (code.value.is_some() || code.string.is_some()).then_some(code)
    }
}
