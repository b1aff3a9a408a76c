//! ATA (and SATA behind SAT/USB bridges): the attribute table, the self-test status and the
//! self-test log. Shapes from `SMT@RELEASE_7_4:smartmontools/ataprint.cpp`, summarised in
//! reference/truenas-api.md §5.2.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Code;
use super::lenient::{as_u64, at, bool_at, int_at, string_at, u64_at};

/// The ATA sections of a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtaSmart {
    /// `ata_smart_attributes.revision`.
    pub attributes_revision: Option<u64>,
    /// `ata_smart_attributes.table`, in the drive's order.
    pub attributes: Vec<AtaAttribute>,
    /// `ata_smart_data.self_test.status`: the current or last self-test, as the drive says.
    pub self_test_status: Option<AtaSelfTestStatus>,
    /// `ata_smart_data.self_test.polling_minutes`: the drive's own duration estimates.
    pub polling_minutes: PollingMinutes,
    /// The self-test log: `ata_smart_self_test_log.extended`, else `.standard`.
    pub self_test_log: Option<AtaSelfTestLog>,
}

impl AtaSmart {
    pub(super) fn from_json(root: &Value) -> Option<AtaSmart> {
        let sections = ["ata_smart_attributes", "ata_smart_data", "ata_smart_self_test_log"];
        if !sections.iter().any(|key| at(root, &[key]).is_some_and(Value::is_object)) {
            return None;
        }
        let attributes = at(root, &["ata_smart_attributes", "table"])
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(AtaAttribute::from_json).collect())
            .unwrap_or_default();
        let self_test = at(root, &["ata_smart_data", "self_test"]);
        let minutes =
            |key: &str| self_test.and_then(|test| int_at(test, &["polling_minutes", key]));
        Some(AtaSmart {
            attributes_revision: u64_at(root, &["ata_smart_attributes", "revision"]),
            attributes,
            self_test_status: self_test
                .and_then(|test| at(test, &["status"]))
                .and_then(AtaSelfTestStatus::from_json),
            polling_minutes: PollingMinutes {
                short: minutes("short"),
                extended: minutes("extended"),
                conveyance: minutes("conveyance"),
            },
            self_test_log: AtaSelfTestLog::from_json(root),
        })
    }

    /// The attribute with this id, if the drive reports it.
    pub fn attribute(&self, id: u8) -> Option<&AtaAttribute> {
        self.attributes.iter().find(|attribute| attribute.id == id)
    }

    /// 5 Reallocated_Sector_Ct: sectors remapped to spares.
    pub fn reallocated_sectors(&self) -> Option<u64> {
        self.attribute(5)?.count()
    }

    /// 9 Power_On_Hours. Prefer [`super::SmartReport::power_on_hours`], which smartctl already
    /// derives; this reads the attribute itself (hours only, see [`AtaAttribute::count`]).
    pub fn power_on_hours(&self) -> Option<u64> {
        self.attribute(9)?.count()
    }

    /// 10 Spin_Retry_Count.
    pub fn spin_retries(&self) -> Option<u64> {
        self.attribute(10)?.count()
    }

    /// 187 Reported_Uncorrect: errors ECC could not recover.
    pub fn reported_uncorrectable(&self) -> Option<u64> {
        self.attribute(187)?.count()
    }

    /// 188 Command_Timeout, decoded (see [`CommandTimeouts`]).
    pub fn command_timeouts(&self) -> Option<CommandTimeouts> {
        CommandTimeouts::decode(self.attribute(188)?)
    }

    /// 190 Airflow_Temperature_Cel, in °C.
    pub fn airflow_temperature(&self) -> Option<u64> {
        self.attribute(190)?.temperature()
    }

    /// 194 Temperature_Celsius, in °C.
    pub fn temperature(&self) -> Option<u64> {
        self.attribute(194)?.temperature()
    }

    /// 196 Reallocated_Event_Count.
    pub fn reallocation_events(&self) -> Option<u64> {
        self.attribute(196)?.count()
    }

    /// 197 Current_Pending_Sector: unreadable sectors waiting to be remapped.
    pub fn current_pending_sectors(&self) -> Option<u64> {
        self.attribute(197)?.count()
    }

    /// 198 Offline_Uncorrectable.
    pub fn offline_uncorrectable(&self) -> Option<u64> {
        self.attribute(198)?.count()
    }

    /// 199 UDMA_CRC_Error_Count: transfer errors on the link. A cable or backplane problem, not
    /// the media (reference/anchors.md gotcha 26).
    pub fn udma_crc_errors(&self) -> Option<u64> {
        self.attribute(199)?.count()
    }
}

/// One row of the attribute table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaAttribute {
    pub id: u8,
    pub name: Option<String>,
    /// Normalised value; omitted by smartctl when the drive has none.
    pub value: Option<u8>,
    /// Worst normalised value; omitted for `ATTRFLAG_NO_WORSTVAL`.
    pub worst: Option<u8>,
    /// Threshold; present only when the drive has one.
    pub thresh: Option<u8>,
    /// `when_failed`; present only with a threshold.
    pub when_failed: Option<WhenFailed>,
    /// `flags.value`.
    pub flags: Option<u16>,
    /// `flags.prefailure`: a failure here predicts imminent drive failure.
    pub prefailure: Option<bool>,
    /// `raw.value`: the raw 48-bit field as one integer (often several packed fields).
    pub raw_value: Option<u64>,
    /// `raw.string`: smartctl's rendering of the raw field per its drive database.
    pub raw_string: Option<String>,
}

impl AtaAttribute {
    fn from_json(row: &Value) -> Option<AtaAttribute> {
        let when_failed = string_at(row, &["when_failed"]).map(|text| match text.as_str() {
            "" => WhenFailed::Never,
            "now" => WhenFailed::Now,
            "past" => WhenFailed::Past,
            _ => WhenFailed::Other(text),
        });
        Some(AtaAttribute {
            id: int_at(row, &["id"])?,
            name: string_at(row, &["name"]),
            value: int_at(row, &["value"]),
            worst: int_at(row, &["worst"]),
            thresh: int_at(row, &["thresh"]),
            when_failed,
            flags: int_at(row, &["flags", "value"]),
            prefailure: bool_at(row, &["flags", "prefailure"]),
            raw_value: u64_at(row, &["raw", "value"]),
            raw_string: string_at(row, &["raw", "string"]),
        })
    }

    /// The raw value read as a count: the leading decimal number of smartctl's raw string, else
    /// the raw value. The string is smartctl's decoding of vendor layouts, e.g. Seagate
    /// attribute 9 is `"1335h+35m+19.580s"` for raw `9103526781257015` (hours in the low 32
    /// bits, milliseconds above: `sat_xall.json`), and temperatures read `"26 (0 23 0 0 0)"`.
    /// Do not use this for 188; see [`CommandTimeouts`].
    pub fn count(&self) -> Option<u64> {
        self.raw_string.as_deref().and_then(leading_decimal).or(self.raw_value)
    }

    /// A temperature attribute (190, 194) in °C: the leading number of the raw string, else the
    /// low byte of the raw value, where the current temperature lives (the higher bytes hold
    /// min/max: raw `98784247834` is `"26 (0 23 0 0 0)"` in the Exos X16 capture).
    fn temperature(&self) -> Option<u64> {
        self.raw_string
            .as_deref()
            .and_then(leading_decimal)
            .or_else(|| self.raw_value.map(|raw| raw & 0xFF))
    }
}

/// The leading run of decimal digits, unless it is the `0` of a `0x...` hex rendering.
fn leading_decimal(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || text[digits..].starts_with(['x', 'X']) {
        return None;
    }
    text[..digits].parse().ok()
}

/// An attribute's `when_failed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFailed {
    /// `""`: never at or below threshold.
    Never,
    /// `"now"`: at or below threshold now.
    Now,
    /// `"past"`: was at or below threshold once.
    Past,
    /// Any other text (not produced by smartctl 7.x).
    Other(String),
}

/// Attribute 188 Command_Timeout, unpacked.
///
/// Seagate (and WD/HGST Ultrastar) pack three 16-bit counters into the raw field. Seagate's
/// product manuals, as quoted in AnalogJ/scrutiny issue 774, define:
/// raw bytes 1–0 = total command timeouts, bytes 3–2 = commands that took over 5 s (including
/// those over 7.5 s), bytes 5–4 = commands that took over 7.5 s. smartctl's drive database
/// renders such drives as `"w2 w1 w0"` (`"2 2 2"` for raw `8590065666` in the corpus), and
/// Scrutiny's fix for issue 522 (`webapp/backend/pkg/thresholds/ata_attribute_metadata.go`,
/// attribute 188 `Transform`) takes the last rendered word, w0, i.e. the low 16 bits.
///
/// We do the same from the raw value whenever it exceeds 16 bits, for every vendor: a real
/// count above 65535 timeouts is implausible, while packed values are common (raw
/// `51540393996` = `0x000C_000C_000C` in `sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json`,
/// printed as a plain number by smartctl 7.1, means 12 timeouts, not 51 billion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandTimeouts {
    /// Commands that timed out (low 16 bits when packed). The number to judge a drive by.
    pub timeouts: u64,
    /// Commands that took over 5 s (bits 16–31); `None` when the raw value is a plain count.
    pub over_5s: Option<u16>,
    /// Commands that took over 7.5 s (bits 32–47); `None` when the raw value is a plain count.
    pub over_7_5s: Option<u16>,
}

impl CommandTimeouts {
    fn decode(attribute: &AtaAttribute) -> Option<CommandTimeouts> {
        let word = |raw: u64, index: u32| u16::try_from((raw >> (16 * index)) & 0xFFFF).ok();
        if let Some(raw) = attribute.raw_value {
            return Some(if raw > 0xFFFF {
                CommandTimeouts {
                    timeouts: raw & 0xFFFF,
                    over_5s: word(raw, 1),
                    over_7_5s: word(raw, 2),
                }
            } else {
                CommandTimeouts { timeouts: raw, over_5s: None, over_7_5s: None }
            });
        }
        // No raw value: fall back to smartctl's "w2 w1 w0" rendering, or a single number.
        let text = attribute.raw_string.as_deref()?;
        let words: Vec<u64> =
            text.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
        match words.as_slice() {
            [count] => Some(CommandTimeouts { timeouts: *count, over_5s: None, over_7_5s: None }),
            [over_7_5s, over_5s, timeouts] => Some(CommandTimeouts {
                timeouts: *timeouts,
                over_5s: u16::try_from(*over_5s).ok(),
                over_7_5s: u16::try_from(*over_7_5s).ok(),
            }),
            _ => None,
        }
    }
}

/// `ata_smart_data.self_test.polling_minutes`: each is present only if the test is supported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollingMinutes {
    pub short: Option<u32>,
    pub extended: Option<u32>,
    pub conveyance: Option<u32>,
}

/// An ATA self-test execution status byte with smartctl's reading of it, as found in
/// `ata_smart_data.self_test.status` and in each self-test log entry's `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaSelfTestStatus {
    /// The status byte: high nibble = result (0 ok, 1 aborted by host, 2 interrupted by reset,
    /// 3 fatal, 4–8 failures, 15 in progress), low nibble = tenths remaining.
    pub value: u8,
    pub string: Option<String>,
    /// smartctl omits `passed` for 1, 2, 3 and while in progress.
    pub passed: Option<bool>,
    /// `remaining_percent`: percent still to do. It also appears on *finished* failed log
    /// entries (`usbjmicron_a_when_failed_now.json`: "Completed: read failure", 90), so it
    /// never by itself means "in progress".
    pub remaining_percent: Option<u8>,
}

impl AtaSelfTestStatus {
    fn from_json(status: &Value) -> Option<AtaSelfTestStatus> {
        Some(AtaSelfTestStatus {
            value: int_at(status, &["value"])?,
            string: string_at(status, &["string"]),
            passed: bool_at(status, &["passed"]),
            remaining_percent: int_at(status, &["remaining_percent"]),
        })
    }

    /// The result nibble (`value >> 4`).
    pub fn result(&self) -> u8 {
        self.value >> 4
    }

    /// Running now: the result nibble is 15 (`ataprint.cpp` lines 957–984). The only reliable
    /// test (reference/truenas-api.md §5.2).
    pub fn in_progress(&self) -> bool {
        self.result() == 0xF
    }

    /// Percent still to do while in progress: `remaining_percent`, else the low nibble × 10.
    pub fn percent_remaining(&self) -> Option<u8> {
        let remaining = self.remaining_percent.unwrap_or((self.value & 0x0F) * 10);
        self.in_progress().then_some(remaining.min(100))
    }

    /// Percent done while in progress (100 − remaining). Status `0xF0` ("0% remaining") reads
    /// as 100: some Samsung firmware leaves it there after finishing (`BUG_SAMSUNG3` in
    /// `ataprint.cpp`), and either way the test is about to end.
    pub fn percent_done(&self) -> Option<u8> {
        self.percent_remaining().map(|remaining| 100 - remaining)
    }
}

/// Which ATA self-test log smartctl read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtaSelfTestLogKind {
    /// GP log 0x07 (`-x`, `-l xselftest`): 48-bit LBAs.
    Extended,
    /// SMART log 0x06 (`-a`, `-l selftest`).
    Standard,
}

/// The ATA self-test log, newest entry first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaSelfTestLog {
    pub kind: AtaSelfTestLogKind,
    pub revision: Option<u64>,
    /// Entries logged; with 0 smartctl writes no `table` at all.
    pub count: Option<u64>,
    pub error_count_total: Option<u64>,
    /// Failures outdated by a newer successful extended test.
    pub error_count_outdated: Option<u64>,
    /// Newest first.
    pub entries: Vec<AtaSelfTestEntry>,
}

impl AtaSelfTestLog {
    /// `-x` emits `extended` when the drive supports GP logging and falls back to `standard`;
    /// `-a` emits `standard`. TrueNAS reads them in this order too (NAS-141215, NAS-140419).
    fn from_json(root: &Value) -> Option<AtaSelfTestLog> {
        let logs = [
            ("extended", AtaSelfTestLogKind::Extended),
            ("standard", AtaSelfTestLogKind::Standard),
        ];
        let (log, kind) = logs.into_iter().find_map(|(key, kind)| {
            at(root, &["ata_smart_self_test_log", key])
                .filter(|log| log.is_object())
                .map(|log| (log, kind))
        })?;
        let entries = at(log, &["table"])
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(AtaSelfTestEntry::from_json).collect())
            .unwrap_or_default();
        Some(AtaSelfTestLog {
            kind,
            revision: u64_at(log, &["revision"]),
            count: u64_at(log, &["count"]),
            error_count_total: u64_at(log, &["error_count_total"]),
            error_count_outdated: u64_at(log, &["error_count_outdated"]),
            entries,
        })
    }
}

/// One ATA self-test log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtaSelfTestEntry {
    /// `type`: 1 short, 2 extended, 3 conveyance, 4 selective; +0x80 when captive.
    pub test_type: Option<Code>,
    pub status: Option<AtaSelfTestStatus>,
    /// Power-on hours when the test ran.
    pub lifetime_hours: Option<u64>,
    /// First failing LBA; only on failed entries.
    pub lba: Option<u64>,
}

impl AtaSelfTestEntry {
    fn from_json(row: &Value) -> Option<AtaSelfTestEntry> {
        row.as_object()?;
        Some(AtaSelfTestEntry {
            test_type: at(row, &["type"]).and_then(Code::from_json),
            status: at(row, &["status"]).and_then(AtaSelfTestStatus::from_json),
            lifetime_hours: at(row, &["lifetime_hours"]).and_then(as_u64),
            lba: u64_at(row, &["lba"]),
        })
    }
}
