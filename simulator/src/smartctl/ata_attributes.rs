//! The ATA attribute table: the capture's rows with the simulated drive's counters written in,
//! missing counters added, and smartctl's threshold checks (`ata_get_attr_state` in
//! `atacmds.cpp`, `find_failed_attr` in `ataprint.cpp`) redone on the result.

use serde_json::{Value, json};

use super::{capture::Family, text::Lines};
use crate::drive::DriveSim;

/// Above this many reallocated sectors the simulated drive's attribute 5 reaches its threshold
/// and the drive reports SMART failure.
pub(super) const REALLOCATED_FAILURE: u64 = 500;

pub(super) struct Attributes {
    pub table: Vec<Value>,
    /// A pre-fail attribute is at or below its threshold now (exit bit 4).
    pub prefail_failing_now: bool,
    /// Some attribute is, or once was, at or below its threshold (exit bit 5 when healthy).
    pub marginal: bool,
}

/// (id, name, flags, value, worst, threshold) for counters a capture may lack.
const ADDED: [(u8, &str, u16, u8, u8, u8); 8] = [
    (5, "Reallocated_Sector_Ct", 0x0033, 100, 100, 10),
    (9, "Power_On_Hours", 0x0032, 100, 100, 0),
    (12, "Power_Cycle_Count", 0x0032, 100, 100, 0),
    (187, "Reported_Uncorrect", 0x0032, 100, 100, 0),
    (194, "Temperature_Celsius", 0x0022, 100, 100, 0),
    (197, "Current_Pending_Sector", 0x0032, 100, 100, 0),
    (198, "Offline_Uncorrectable", 0x0030, 100, 100, 0),
    (199, "UDMA_CRC_Error_Count", 0x003e, 200, 200, 0),
];

/// smartctl's flag letters, `"PO--CK "` (`PrintSmartAttribWithThres`).
fn flags_json(flags: u16) -> Value {
    let bit = |mask: u16| flags & mask != 0;
    let letter = |mask: u16, c: char| if bit(mask) { c } else { '-' };
    let string: String = [
        letter(0x01, 'P'),
        letter(0x02, 'O'),
        letter(0x04, 'S'),
        letter(0x08, 'R'),
        letter(0x10, 'C'),
        letter(0x20, 'K'),
        if flags & 0xffc0 != 0 { '+' } else { ' ' },
    ]
    .into_iter()
    .collect();
    let mut value = json!({
        "value": flags, "string": string, "prefailure": bit(0x01), "updated_online": bit(0x02),
        "performance": bit(0x04), "error_rate": bit(0x08), "event_count": bit(0x10),
        "auto_keep": bit(0x20),
    });
    if flags & 0xffc0 != 0 {
        value["other"] = json!(flags & 0xffc0);
    }
    value
}

fn number(row: &Value, key: &str) -> Option<u64> {
    row.get(key).and_then(Value::as_u64)
}

/// The row for `id`, added in id order when the capture lacks it.
fn row(table: &mut Vec<Value>, id: u8) -> Option<&mut Value> {
    if !table.iter().any(|row| number(row, "id") == Some(u64::from(id))) {
        let (_, name, flags, value, worst, thresh) = *ADDED.iter().find(|added| added.0 == id)?;
        let new = json!({
            "id": id, "name": name, "value": value, "worst": worst, "thresh": thresh,
            "when_failed": "", "flags": flags_json(flags), "raw": {"value": 0, "string": "0"},
        });
        let at = table
            .iter()
            .position(|row| number(row, "id").is_some_and(|other| other > u64::from(id)))
            .unwrap_or(table.len());
        table.insert(at, new);
    }
    table.iter_mut().find(|row| number(row, "id") == Some(u64::from(id)))
}

fn set_raw(table: &mut Vec<Value>, id: u8, value: u64, string: String) {
    if let Some(row) = row(table, id) {
        row["raw"] = json!({"value": value, "string": string});
    }
}

/// Writes the drive's counters into the capture's table (`capture_temperature` is what the
/// capture's drive read, to move normalised values that tracked it).
pub(super) fn update(
    capture: Vec<Value>,
    drive: &DriveSim,
    family: Option<Family>,
    capture_temperature: Option<u64>,
) -> Attributes {
    let mut table = capture;
    let temperature = drive.temperature().clamp(0, 255) as u64;
    let reallocated = drive.reallocated();
    let hours = drive.power_on_hours();

    set_raw(&mut table, 5, reallocated, reallocated.to_string());
    if let Some(row) = row(&mut table, 5) {
        // The normalised value falls towards the threshold as spares are used up, and reaches
        // it past REALLOCATED_FAILURE: the drive then reports SMART failure.
        let nominal = number(row, "value").unwrap_or(100).min(253);
        let thresh = number(row, "thresh").unwrap_or(10).min(nominal);
        let value = if reallocated > REALLOCATED_FAILURE {
            thresh
        } else {
            let room = nominal.saturating_sub(thresh + 1);
            nominal - reallocated.saturating_mul(room) / REALLOCATED_FAILURE.max(1)
        };
        row["value"] = json!(value);
        row["worst"] = json!(number(row, "worst").unwrap_or(value).min(value));
    }

    let (hours_raw, hours_string) = if family.is_some_and(|f| f.hours_msec) {
        let milliseconds = ((drive.power_on_seconds.max(0.0) % 3600.0) * 1000.0) as u64;
        let seconds = milliseconds / 1000;
        (
            hours | (milliseconds << 32),
            format!(
                "{hours}h+{:02}m+{:02}.{:03}s",
                seconds / 60,
                seconds % 60,
                milliseconds % 1000
            ),
        )
    } else {
        (hours, hours.to_string())
    };
    set_raw(&mut table, 9, hours_raw, hours_string);
    set_raw(&mut table, 12, drive.power_cycles, drive.power_cycles.to_string());
    let count = |value: f64| value.max(0.0) as u64;
    let uncorrect = count(drive.counters.reported_uncorrectable);
    set_raw(&mut table, 187, uncorrect, uncorrect.to_string());
    set_raw(&mut table, 194, temperature, temperature.to_string());
    let pending = drive.pending();
    set_raw(&mut table, 197, pending, pending.to_string());
    let offline = count(drive.counters.offline_uncorrectable);
    set_raw(&mut table, 198, offline, offline.to_string());
    let crc = count(drive.counters.udma_crc);
    set_raw(&mut table, 199, crc, crc.to_string());

    for row in &mut table {
        let id = number(row, "id");
        // Airflow temperature (190) reads the same sensor.
        if id == Some(190) {
            row["raw"] = json!({"value": temperature, "string": temperature.to_string()});
        }
        // Normalised values that tracked the capture's temperature (Seagate's 194 is the
        // temperature, its 190 is 100 minus it) track the simulated one.
        if let (Some(old), Some(value)) = (capture_temperature, number(row, "value")) {
            let worst = number(row, "worst").unwrap_or(value);
            if id == Some(194) && value == old {
                row["value"] = json!(temperature.min(253));
                row["worst"] = json!(worst.max(temperature).min(253));
            } else if id == Some(190) && value + old == 100 {
                let new = 100u64.saturating_sub(temperature).max(1);
                row["value"] = json!(new);
                row["worst"] = json!(worst.min(new));
            }
        }
        if id == Some(188) && family.is_some_and(|f| f.timeouts_raw16) {
            let raw = row["raw"]["value"].as_u64().unwrap_or(0);
            let word = |index: u32| (raw >> (16 * index)) & 0xffff;
            row["raw"]["string"] = json!(format!("{} {} {}", word(2), word(1), word(0)));
        }
    }

    let mut prefail_failing_now = false;
    let mut marginal = false;
    for row in &mut table {
        let Some(thresh) = number(row, "thresh") else { continue };
        let value = number(row, "value").unwrap_or(253);
        let worst = number(row, "worst").unwrap_or(value);
        let state = if thresh == 0 {
            ""
        } else if value <= thresh {
            "now"
        } else if worst <= thresh {
            "past"
        } else {
            ""
        };
        row["when_failed"] = json!(state);
        let prefail = row["flags"]["prefailure"].as_bool().unwrap_or(false);
        prefail_failing_now |= state == "now" && prefail;
        marginal |= !state.is_empty();
    }
    Attributes { table, prefail_failing_now, marginal }
}

/// The `-x` (brief format) attribute table as text.
pub(super) fn text(revision: u64, table: &[Value]) -> Lines {
    let mut lines = Lines::default();
    lines.line(format!("SMART Attributes Data Structure revision number: {revision}"));
    lines.line("Vendor Specific SMART Attributes with Thresholds:");
    lines.line("ID# ATTRIBUTE_NAME          FLAGS    VALUE WORST THRESH FAIL RAW_VALUE");
    let three = |value: Option<u64>| value.map_or("---".to_owned(), |v| format!("{v:03}"));
    for row in table {
        let fail = match row.get("when_failed").and_then(Value::as_str) {
            Some("now") => "NOW",
            Some("past") => "Past",
            _ => "-",
        };
        lines.line(format!(
            "{:>3} {:<24}{}  {:<4}  {:<4}  {:<4}   {:<5}{}",
            number(row, "id").unwrap_or(0),
            row.get("name").and_then(Value::as_str).unwrap_or("Unknown_Attribute"),
            row["flags"]["string"].as_str().unwrap_or("------ "),
            three(number(row, "value")),
            three(number(row, "worst")),
            three(number(row, "thresh")),
            fail,
            row["raw"]["string"].as_str().unwrap_or("0"),
        ));
    }
    for legend in [
        "||||||_ K auto-keep",
        "|||||__ C event count",
        "||||___ R error rate",
        "|||____ S speed/performance",
        "||_____ O updated online",
        "|______ P prefailure warning",
    ] {
        lines.line(format!("{:28}{legend}", ""));
    }
    lines.blank();
    lines
}
