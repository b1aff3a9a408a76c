//! Lenient reads of smartctl's JSON.
//!
//! smartctl's JSON is produced by hand-written C++ (`SMT@RELEASE_7_4:smartmontools/json.cpp`)
//! across many versions and drive quirks, and our input may also be truncated or mangled on
//! the way from the NAS. So every read here answers `None` rather than failing: a missing key,
//! a `null`, or a type we cannot sensibly convert all mean "not reported". Where a conversion is
//! sensible (a number sent as a string, a whole number sent as a float) it is made.

use serde_json::Value;

/// The value at `path` below `value`, following object keys.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, key| node.as_object()?.get(*key))
}

/// An unsigned integer. Raw attribute values reach 2^48 and NVMe counters are 128-bit in the
/// drive, so this reads the JSON number as `u64` exactly (serde_json keeps integers exact) and
/// never goes through `f64` unless the producer itself wrote a float.
pub(crate) fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64().or_else(|| whole_f64_to_u64(number.as_f64()?)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<u64>().ok().or_else(|| whole_f64_to_u64(text.parse::<f64>().ok()?))
        }
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A signed integer (temperatures can be negative: `power_cycle_max: -127` in `sat_xall.json`).
pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| whole_f64_to_i64(number.as_f64()?)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>().ok().or_else(|| whole_f64_to_i64(text.parse::<f64>().ok()?))
        }
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A floating-point number; smartctl writes `gigabytes_processed` as a string.
pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    number.is_finite().then_some(number)
}

/// A boolean; also accepts `0`/`1` and `"true"`/`"false"`.
pub(crate) fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => match number.as_u64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        Value::String(text) => match text.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A string; a number is accepted and written out (a serial number that happens to be all
/// digits is still a serial number).
pub(crate) fn as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Shorthand for `at(value, path)` then [`as_u64`].
pub(crate) fn u64_at(value: &Value, path: &[&str]) -> Option<u64> {
    as_u64(at(value, path)?)
}

/// Shorthand for `at(value, path)` then [`as_i64`].
pub(crate) fn i64_at(value: &Value, path: &[&str]) -> Option<i64> {
    as_i64(at(value, path)?)
}

/// An integer that must fit `T` (a status byte, a block size); out of range is `None`.
pub(crate) fn int_at<T: TryFrom<u64>>(value: &Value, path: &[&str]) -> Option<T> {
    T::try_from(u64_at(value, path)?).ok()
}

/// Shorthand for `at(value, path)` then [`as_bool`].
pub(crate) fn bool_at(value: &Value, path: &[&str]) -> Option<bool> {
    as_bool(at(value, path)?)
}

/// Shorthand for `at(value, path)` then [`as_string`].
pub(crate) fn string_at(value: &Value, path: &[&str]) -> Option<String> {
    as_string(at(value, path)?)
}

fn whole_f64_to_u64(number: f64) -> Option<u64> {
    // 2^64 is exactly representable; anything at or above it does not fit.
    let fits = (0.0..18_446_744_073_709_551_616.0).contains(&number);
    (fits && number.fract() == 0.0).then_some(number as u64)
}

fn whole_f64_to_i64(number: f64) -> Option<i64> {
    let fits = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&number);
    (fits && number.fract() == 0.0).then_some(number as i64)
}
