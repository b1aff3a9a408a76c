//! The record's queries: which jobs and audit events a caller asks for (filters, sort, cursor
//! pagination), checked here so the API and the UI refuse the same things in the same words,
//! and the CSV export's rules (RFC 4180, formula cells escaped).
//!
//! The SQL that answers these queries is the server's; this module only says what they mean.

use serde::{Deserialize, Serialize};

use crate::job::JobState;
use crate::verdict::Outcome;

/// A page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page size.
pub const MAX_LIMIT: u32 = 1000;
/// The most rows a CSV export holds; past it, the export ends with a note saying so.
pub const CSV_MAX_ROWS: u32 = 100_000;

/// A query parameter that cannot be used, with what it may be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

fn bad(parameter: &str, message: impl Into<String>) -> ParamError {
    ParamError { parameter: parameter.to_owned(), message: message.into() }
}

/// What a history list is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    Created,
    Finished,
    Serial,
    Model,
    Host,
    State,
    Verdict,
    Duration,
    Started,
    Capacity,
    Location,
    BadBlocks,
    Operator,
}

impl SortKey {
    pub const ALL: [SortKey; 13] = [
        SortKey::Created,
        SortKey::Finished,
        SortKey::Serial,
        SortKey::Model,
        SortKey::Host,
        SortKey::State,
        SortKey::Verdict,
        SortKey::Duration,
        SortKey::Started,
        SortKey::Capacity,
        SortKey::Location,
        SortKey::BadBlocks,
        SortKey::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Created => "created",
            SortKey::Finished => "finished",
            SortKey::Serial => "serial",
            SortKey::Model => "model",
            SortKey::Host => "host",
            SortKey::State => "state",
            SortKey::Verdict => "verdict",
            SortKey::Duration => "duration",
            SortKey::Started => "started",
            SortKey::Capacity => "capacity",
            SortKey::Location => "location",
            SortKey::BadBlocks => "bad_blocks",
            SortKey::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|key| key.as_str() == text)
    }

    /// The direction a first click on the column sorts: biggest, latest and worst first for
    /// sizes, times and counts; A to Z for names.
    pub fn first_descending(self) -> bool {
        matches!(
            self,
            SortKey::Created
                | SortKey::Finished
                | SortKey::Started
                | SortKey::Duration
                | SortKey::Capacity
                | SortKey::BadBlocks
        )
    }
}

/// A sort key and its direction; `-created` (newest first) unless asked otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort { key: SortKey::Created, descending: true }
    }
}

impl Sort {
    /// `created`, `-finished`, …: a key, with `-` in front for descending.
    pub fn parse(text: &str) -> Result<Sort, ParamError> {
        let text = text.trim();
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        SortKey::parse(name).map(|key| Sort { key, descending }).ok_or_else(|| {
            let known: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
            bad(
                "sort",
                format!(
                    "unknown sort {text:?}; use one of {} (a leading - sorts descending)",
                    known.join(", ")
                ),
            )
        })
    }

    pub fn as_string(self) -> String {
        format!("{}{}", if self.descending { "-" } else { "" }, self.key.as_str())
    }
}

/// Where the next page starts: the last row's sort value and id, under the sort it was read
/// with. Opaque to clients (base64url of JSON); stable under inserts, because it names a
/// position in the order rather than an offset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort the cursor belongs to (`-created`, or `-id` for the audit log).
    #[serde(rename = "s")]
    pub sort: String,
    /// The last row's sort value, as the server compares it.
    #[serde(rename = "v")]
    pub value: String,
    /// The last row's id (the tie-breaker).
    #[serde(rename = "i")]
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor made by [`Cursor::encode`] for the sort `sort`.
    pub fn decode(text: &str, sort: &str) -> Result<Cursor, ParamError> {
        use base64::Engine as _;
        let invalid = || {
            bad(
                "cursor",
                "not a cursor this server made; use the X-Next-Cursor value of the previous page, with the same sort",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.sort != sort {
            return Err(bad(
                "cursor",
                format!(
                    "this cursor belongs to sort={}, not sort={sort}; start again without a cursor to change the sort",
                    cursor.sort
                ),
            ));
        }
        Ok(cursor)
    }
}

/// Which jobs: every field narrows; `None` does not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    pub drive_id: Option<i64>,
    pub host_id: Option<i64>,
    /// Part of the model, any case.
    pub model: Option<String>,
    /// Part of the serial, any case.
    pub serial: Option<String>,
    pub state: Option<JobState>,
    /// The verdict the job was judged with when it ended; a job not judged yet counts as
    /// `incomplete` (or `fail`, when it ended failed).
    pub verdict: Option<Outcome>,
    /// The operator: a user name matches every way that user acted (`ann` is `ann`,
    /// `ann (token #3)` and `ann (sso)`, as `access::actor_name` reads them); a whole actor
    /// (`ann (token #3)`) matches exactly.
    pub operator: Option<String>,
    /// The job started (or, never started, was created) at or after this instant (UTC, as
    /// stored: `2026-12-04T00:00:00.000Z`).
    pub from: Option<String>,
    /// … and before this instant (exclusive; a date `to` means through that whole day).
    pub to: Option<String>,
}

/// A page of the job history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    pub filter: JobFilter,
    pub sort: Sort,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// The query string of `GET /api/v1/burnin` (and `/burnin.csv`), every value as text so that a
/// bad one is refused naming its parameter.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    pub drive_id: Option<String>,
    pub host_id: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub state: Option<String>,
    pub verdict: Option<String>,
    pub operator: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// The parameters `GET /api/v1/burnin` knows, for the refusal of an unknown one.
pub const JOB_PARAMS: [&str; 12] = [
    "drive_id", "host_id", "model", "serial", "state", "verdict", "operator", "from", "to", "sort",
    "limit", "cursor",
];

/// An empty or blank parameter is the same as none.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn id(parameter: &str, value: &Option<String>) -> Result<Option<i64>, ParamError> {
    given(value)
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| bad(parameter, format!("{text:?} is not an id; ids are numbers")))
        })
        .transpose()
}

fn limit(value: &Option<String>) -> Result<u32, ParamError> {
    match given(value) {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(bad(
                "limit",
                format!(
                    "{text:?} is not a page size; use 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})"
                ),
            )),
        },
    }
}

fn range(
    from: &Option<String>,
    to: &Option<String>,
) -> Result<(Option<String>, Option<String>), ParamError> {
    let from = given(from).map(|text| bound("from", text, false)).transpose()?;
    let to = given(to).map(|text| bound("to", text, true)).transpose()?;
    if let (Some(from), Some(to)) = (&from, &to)
        && from >= to
    {
        return Err(bad("to", "the range is empty: to must come after from"));
    }
    Ok((from, to))
}

fn bound(parameter: &str, text: &str, end: bool) -> Result<String, ParamError> {
    instant_bound(text, end).ok_or_else(|| {
        bad(
            parameter,
            format!(
                "{text:?} is not a date; use YYYY-MM-DD or an RFC 3339 time like 2026-12-04T08:30:00Z"
            ),
        )
    })
}

pub fn parse_verdict(text: &str) -> Result<Outcome, ParamError> {
    [Outcome::Pass, Outcome::Warn, Outcome::Fail, Outcome::Incomplete]
        .into_iter()
        .find(|o| o.as_str() == text)
        .ok_or_else(|| {
            bad(
                "verdict",
                format!("unknown verdict {text:?}; use one of pass, warn, fail, incomplete"),
            )
        })
}

pub fn parse_state(text: &str) -> Result<JobState, ParamError> {
    JobState::parse(text).ok_or_else(|| {
        let known: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        bad("state", format!("unknown state {text:?}; use one of {}", known.join(", ")))
    })
}

impl JobParams {
    pub fn parse(&self) -> Result<JobQuery, ParamError> {
        let sort = given(&self.sort).map(Sort::parse).transpose()?.unwrap_or_default();
        let (from, to) = range(&self.from, &self.to)?;
        let filter = JobFilter {
            drive_id: id("drive_id", &self.drive_id)?,
            host_id: id("host_id", &self.host_id)?,
            model: given(&self.model).map(str::to_owned),
            serial: given(&self.serial).map(str::to_owned),
            state: given(&self.state).map(parse_state).transpose()?,
            verdict: given(&self.verdict).map(parse_verdict).transpose()?,
            operator: given(&self.operator).map(str::to_owned),
            from,
            to,
        };
        let cursor =
            given(&self.cursor).map(|text| Cursor::decode(text, &sort.as_string())).transpose()?;
        Ok(JobQuery { filter, sort, limit: limit(&self.limit)?, cursor })
    }
}

/// Which audit events: the action exactly, or every action under a prefix (`alert.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionMatch {
    Exact(String),
    Prefix(String),
}

impl ActionMatch {
    pub fn parse(text: &str) -> Result<ActionMatch, ParamError> {
        let text = text.trim();
        let (stem, prefix) = match text.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (text, false),
        };
        if stem.contains('*') {
            return Err(bad(
                "action",
                format!(
                    "{text:?}: a * may only end the action (alert.* for every alert action); use an exact action like burnin.refused otherwise"
                ),
            ));
        }
        Ok(if prefix {
            ActionMatch::Prefix(stem.to_owned())
        } else {
            ActionMatch::Exact(stem.to_owned())
        })
    }

    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionMatch::Exact(exact) => action == exact,
            ActionMatch::Prefix(prefix) => action.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// The actor, as [`JobFilter::operator`]: `ann` is `ann`, `ann (token #3)`, `ann (sso)`.
    pub actor: Option<String>,
    pub action: Option<ActionMatch>,
    /// Part of the subject, any case.
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub limit: u32,
    pub cursor: Option<Cursor>,
}

/// The audit log's one order (newest first, by id), as its cursors name it.
pub const AUDIT_SORT: &str = "-id";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

pub const AUDIT_PARAMS: [&str; 7] = ["actor", "action", "subject", "from", "to", "limit", "cursor"];

impl AuditParams {
    pub fn parse(&self) -> Result<AuditQuery, ParamError> {
        let (from, to) = range(&self.from, &self.to)?;
        let filter = AuditFilter {
            actor: given(&self.actor).map(str::to_owned),
            action: given(&self.action).map(ActionMatch::parse).transpose()?,
            subject: given(&self.subject).map(str::to_owned),
            from,
            to,
        };
        let cursor =
            given(&self.cursor).map(|text| Cursor::decode(text, AUDIT_SORT)).transpose()?;
        Ok(AuditQuery { filter, limit: limit(&self.limit)?, cursor })
    }
}

/// The query string of `GET /api/v1/stats` and the statistics page: which finished jobs the
/// figures count.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    pub host_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

pub const STATS_PARAMS: [&str; 3] = ["host_id", "from", "to"];

/// The jobs the statistics count: one host's (none: all), ended in `[from, to)` (UTC text as
/// the database keeps it; `to` is past the last day or instant named).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsScope {
    pub host_id: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl StatsParams {
    pub fn parse(&self) -> Result<StatsScope, ParamError> {
        let (from, to) = range(&self.from, &self.to)?;
        Ok(StatsScope { host_id: id("host_id", &self.host_id)?, from, to })
    }
}

/// One audit event as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// The client address of the request that caused it; empty for the server's own work.
    pub address: String,
    /// What changed (old and new values for settings); never secrets.
    pub detail: serde_json::Value,
}

/// A page of the job history, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<crate::job::JobView>,
    /// The next page's `cursor`, when there is one.
    pub next_cursor: Option<String>,
}

/// A page of the audit log, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

/// A bound of a date range as the database's UTC text (`2026-12-04T08:30:00.000Z`), which
/// compares correctly as text. `YYYY-MM-DD` is that day's midnight (UTC), or with `end` the
/// next day's, so a `to` date includes the whole day; an RFC 3339 time with any offset is
/// turned to UTC, with `end` one millisecond past it (the stored times' precision), so `to`
/// includes the instant named.
pub fn instant_bound(text: &str, end: bool) -> Option<String> {
    let text = text.trim();
    let (millis, whole_day) = if text.len() == 10 {
        (day_number(text)? * 86_400_000, true)
    } else {
        (rfc3339_millis(text)?, false)
    };
    let millis = match (end, whole_day) {
        (true, true) => millis + 86_400_000,
        (true, false) => millis + 1,
        (false, _) => millis,
    };
    Some(utc_millis(millis))
}

/// Days since 1970-01-01 of `YYYY-MM-DD`, refusing dates that do not exist.
fn day_number(date: &str) -> Option<i64> {
    let bytes = date.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = digits(&date[0..4])?;
    let month: i64 = digits(&date[5..7])?;
    let day: i64 = digits(&date[8..10])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-12-04T08:30:00Z`,
/// `2026-12-04T10:30:00.5+02:00`); fractions past milliseconds are cut off.
fn rfc3339_millis(text: &str) -> Option<i64> {
    if text.len() < 20 || !text.is_char_boundary(10) {
        return None;
    }
    let days = day_number(&text[..10])?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    let zone_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let [hour, minute, second] = parts.as_slice() else { return None };
    if hour.len() != 2 || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    let (hour, minute, second) = (digits(hour)?, digits(minute)?, digits(second)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59); // a leap second reads as the second before it
    let millis = match fraction {
        None => 0,
        Some(fraction) => {
            digits(fraction)?;
            let mut three: String = fraction.chars().take(3).collect();
            while three.len() < 3 {
                three.push('0');
            }
            digits(&three)?
        }
    };
    let offset_minutes = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = &zone[1..];
            let (h, m) = zone.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let (h, m) = (digits(h)?, digits(m)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    Some(
        ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + millis)
            - offset_minutes * 60_000,
    )
}

/// `2026-12-04T08:30:00.000Z`: the stored form of a time.
fn utc_millis(millis: i64) -> String {
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::format::civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A page of the history as the History page shows it (the CSV's rows), and the next page's
/// cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    pub next_cursor: Option<String>,
}

/// One job as the CSV export shows it: what an RMA form asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub job_id: i64,
    pub host: String,
    pub serial: String,
    pub model: String,
    pub capacity_bytes: u64,
    pub location: String,
    pub state: String,
    pub verdict: String,
    pub first_reason: String,
    pub bad_blocks: u64,
    pub operator: String,
    pub created: String,
    pub started: String,
    pub finished: String,
    /// Seconds from start to end; `None` until the job has both.
    pub duration_seconds: Option<i64>,
}

/// The CSV export's header row, in column order.
pub const CSV_COLUMNS: [&str; 15] = [
    "job_id",
    "host",
    "serial",
    "model",
    "capacity_bytes",
    "location",
    "state",
    "verdict",
    "first_reason",
    "bad_blocks",
    "operator",
    "created",
    "started",
    "finished",
    "duration_seconds",
];

impl HistoryRow {
    /// The row as one CSV record, CRLF-terminated.
    pub fn csv_record(&self) -> String {
        csv_record(&[
            &self.job_id.to_string(),
            &self.host,
            &self.serial,
            &self.model,
            &self.capacity_bytes.to_string(),
            &self.location,
            &self.state,
            &self.verdict,
            &self.first_reason,
            &self.bad_blocks.to_string(),
            &self.operator,
            &self.created,
            &self.started,
            &self.finished,
            &self.duration_seconds.map(|s| s.to_string()).unwrap_or_default(),
        ])
    }
}

/// The header row of the export.
pub fn csv_header() -> String {
    csv_record(&CSV_COLUMNS)
}

/// One RFC 4180 record: fields escaped (see [`csv_field`]), joined by commas, ended by CRLF.
pub fn csv_record(fields: &[&str]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// One CSV field. A field a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
/// `@`, tab or CR) gets a leading `'` (OWASP's CSV injection rule), so a drive whose serial
/// is `=HYPERLINK(…)` cannot run anything when the export is opened; then a field holding a
/// comma, quote, CR or LF is quoted, its quotes doubled (RFC 4180).
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> JobParams {
        let mut p = JobParams::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "drive_id" => p.drive_id = value,
                "host_id" => p.host_id = value,
                "model" => p.model = value,
                "serial" => p.serial = value,
                "state" => p.state = value,
                "verdict" => p.verdict = value,
                "operator" => p.operator = value,
                "from" => p.from = value,
                "to" => p.to = value,
                "sort" => p.sort = value,
                "limit" => p.limit = value,
                "cursor" => p.cursor = value,
                other => panic!("no parameter {other}"),
            }
        }
        p
    }

    #[test]
    fn no_parameters_mean_every_job_newest_first_a_hundred_at_a_time() {
        let query = JobParams::default().parse().unwrap();
        assert_eq!(query.filter, JobFilter::default());
        assert_eq!(query.sort, Sort { key: SortKey::Created, descending: true });
        assert_eq!(query.limit, 100);
        assert_eq!(query.cursor, None);
        // Blank values are as good as none.
        assert_eq!(params(&[("state", ""), ("limit", " ")]).parse().unwrap().limit, 100);
    }

    #[test]
    fn every_filter_is_read_into_its_type() {
        let query = params(&[
            ("drive_id", "4"),
            ("host_id", "2"),
            ("model", "WDC"),
            ("serial", "ZL2"),
            ("state", "failed"),
            ("verdict", "warn"),
            ("operator", "ann"),
            ("from", "2026-12-01"),
            ("to", "2026-12-03"),
            ("sort", "-duration"),
            ("limit", "1000"),
        ])
        .parse()
        .unwrap();
        assert_eq!(
            query.filter,
            JobFilter {
                drive_id: Some(4),
                host_id: Some(2),
                model: Some("WDC".into()),
                serial: Some("ZL2".into()),
                state: Some(JobState::Failed),
                verdict: Some(Outcome::Warn),
                operator: Some("ann".into()),
                from: Some("2026-12-01T00:00:00.000Z".into()),
                to: Some("2026-12-04T00:00:00.000Z".into()),
            }
        );
        assert_eq!(query.sort, Sort { key: SortKey::Duration, descending: true });
        assert_eq!(query.limit, 1000);
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_parameter_and_what_it_may_be() {
        for (pairs, parameter, names) in [
            (
                vec![("sort", "size")],
                "sort",
                "created, finished, serial, model, host, state, verdict, duration",
            ),
            (vec![("sort", "--created")], "sort", "created"),
            (vec![("verdict", "ok")], "verdict", "pass, warn, fail, incomplete"),
            (vec![("state", "done")], "state", "queued, running, passed"),
            (vec![("host_id", "nas1")], "host_id", "numbers"),
            (vec![("drive_id", "1.5")], "drive_id", "numbers"),
            (vec![("limit", "0")], "limit", "1 to 1000"),
            (vec![("limit", "1001")], "limit", "1 to 1000"),
            (vec![("from", "yesterday")], "from", "YYYY-MM-DD"),
            (vec![("to", "2026-02-30")], "to", "YYYY-MM-DD"),
            (vec![("from", "2026-12-05"), ("to", "2026-12-04")], "to", "after from"),
            (vec![("cursor", "not-a-cursor!")], "cursor", "X-Next-Cursor"),
        ] {
            let error = params(&pairs).parse().unwrap_err();
            assert_eq!(error.parameter, parameter, "{pairs:?}");
            assert!(error.message.contains(names), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn a_cursor_reads_back_under_its_own_sort_only() {
        let cursor = Cursor { sort: "serial".into(), value: "ZL2=\"x\"".into(), id: 42 };
        let text = cursor.encode();
        assert!(
            text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{text}"
        );
        let query = params(&[("sort", "serial"), ("cursor", &text)]).parse().unwrap();
        assert_eq!(query.cursor, Some(cursor));
        let error = params(&[("sort", "-serial"), ("cursor", &text)]).parse().unwrap_err();
        assert_eq!(error.parameter, "cursor");
        assert!(error.message.contains("sort=serial"), "{error}");
        // A cursor of the job list is not one of the audit log.
        let error = AuditParams { cursor: Some(text), ..Default::default() }.parse().unwrap_err();
        assert_eq!(error.parameter, "cursor");
    }

    #[test]
    fn dates_and_times_become_utc_bounds() {
        assert_eq!(instant_bound("2026-12-04", false).unwrap(), "2026-12-04T00:00:00.000Z");
        assert_eq!(instant_bound("2026-12-31", true).unwrap(), "2027-01-01T00:00:00.000Z");
        assert_eq!(instant_bound("2028-02-28", true).unwrap(), "2028-02-29T00:00:00.000Z");
        assert_eq!(
            instant_bound("2026-12-04T08:30:00Z", false).unwrap(),
            "2026-12-04T08:30:00.000Z"
        );
        assert_eq!(
            instant_bound("2026-12-04T08:30:00.1234Z", true).unwrap(),
            "2026-12-04T08:30:00.124Z"
        );
        assert_eq!(
            instant_bound("2026-12-04T01:30:00+02:00", false).unwrap(),
            "2026-12-03T23:30:00.000Z"
        );
        assert_eq!(
            instant_bound("2026-12-04T20:00:00-05:30", false).unwrap(),
            "2026-12-05T01:30:00.000Z"
        );
        for bad in [
            "2026-13-01",
            "2026-02-29",
            "26-12-04",
            "2026-12-04T25:00:00Z",
            "2026-12-04T08:30:00",
            "2026-12-04T08:30Z",
            "2026-12-04T08:30:00+2:00",
            "2026-12-04T08:30:00.Z",
            "2026-12-04Té8:30:00Z",
            "",
        ] {
            assert_eq!(instant_bound(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn an_action_filter_is_exact_or_a_prefix_ending_in_a_star() {
        let prefix = ActionMatch::parse("alert.*").unwrap();
        assert_eq!(prefix, ActionMatch::Prefix("alert.".into()));
        assert!(
            prefix.matches("alert.raised")
                && !prefix.matches("alerts")
                && !prefix.matches("burnin.start")
        );
        let exact = ActionMatch::parse("burnin.refused").unwrap();
        assert!(exact.matches("burnin.refused") && !exact.matches("burnin.refused.again"));
        assert_eq!(ActionMatch::parse("*").unwrap(), ActionMatch::Prefix(String::new()));
        let error = ActionMatch::parse("alert.*.raised").unwrap_err();
        assert_eq!(error.parameter, "action");
        let query = AuditParams {
            actor: Some("ann".into()),
            action: Some("burnin.*".into()),
            subject: Some("ZL2".into()),
            from: Some("2026-12-01".into()),
            limit: Some("5".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(query.limit, 5);
        assert_eq!(query.filter.action, Some(ActionMatch::Prefix("burnin.".into())));
        assert_eq!(query.filter.from.as_deref(), Some("2026-12-01T00:00:00.000Z"));
    }

    #[test]
    fn csv_fields_that_look_like_formulas_get_a_leading_quote_mark() {
        assert_eq!(csv_field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("+49 170"), "'+49 170");
        assert_eq!(csv_field("-cmd"), "'-cmd");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        // Inside a field they are harmless and stay as they are.
        assert_eq!(csv_field("ZL2=1"), "ZL2=1");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn csv_records_follow_rfc_4180() {
        assert_eq!(csv_field("Bay 3, left"), "\"Bay 3, left\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_record(&["a", "b,c", ""]), "a,\"b,c\",\r\n");
        assert_eq!(
            csv_header(),
            "job_id,host,serial,model,capacity_bytes,location,state,verdict,first_reason,bad_blocks,operator,created,started,finished,duration_seconds\r\n"
        );
        let row = HistoryRow {
            job_id: 7,
            host: "nas1".into(),
            serial: "=EVIL()".into(),
            model: "WDC WD80".into(),
            capacity_bytes: 8_001_563_222_016,
            location: "Bay 3, left".into(),
            state: "failed".into(),
            verdict: "fail".into(),
            first_reason: "12 bad blocks (limit 0)".into(),
            bad_blocks: 12,
            operator: "ann".into(),
            created: "2026-12-04T08:00:00.000Z".into(),
            started: "2026-12-04T08:00:01.000Z".into(),
            finished: String::new(),
            duration_seconds: None,
        };
        assert_eq!(
            row.csv_record(),
            "7,nas1,'=EVIL(),WDC WD80,8001563222016,\"Bay 3, left\",failed,fail,12 bad blocks (limit 0),12,ann,2026-12-04T08:00:00.000Z,2026-12-04T08:00:01.000Z,,\r\n"
        );
    }

    #[test]
    fn every_sort_key_reads_back_from_its_name() {
        for key in SortKey::ALL {
            for descending in [false, true] {
                let sort = Sort { key, descending };
                assert_eq!(Sort::parse(&sort.as_string()).unwrap(), sort);
            }
        }
        assert_eq!(JOB_PARAMS.len(), 12);
        assert_eq!(AUDIT_PARAMS.len(), 7);
    }
}
