//! The middleware's query filters and options (`filter_list`): `[[field, op, value], ...]` and
//! `{"get": bool, "limit": n, "offset": n, "order_by": [...], "select": [...], "extra": {...}}`.

use serde_json::Value;

use super::error::CallError;

/// Applies `filters` and `options` to `rows`, as `filter_list` does.
pub fn filter_list(rows: Vec<Value>, filters: &Value, options: &Value) -> Result<Value, CallError> {
    let filters = match filters {
        Value::Null => Vec::new(),
        Value::Array(filters) => filters.clone(),
        _ => return Err(CallError::invalid("filters", "Not a list")),
    };
    let mut kept = Vec::new();
    for row in rows {
        let mut keep = true;
        for filter in &filters {
            if !matches(&row, filter)? {
                keep = false;
                break;
            }
        }
        if keep {
            kept.push(row);
        }
    }
    let options = match options {
        Value::Null => serde_json::Map::new(),
        Value::Object(map) => map.clone(),
        _ => return Err(CallError::invalid("options", "Not a dictionary")),
    };
    if let Some(order) = options.get("order_by").and_then(Value::as_array) {
        for key in order.iter().rev().filter_map(Value::as_str) {
            let (key, reverse) = key.strip_prefix('-').map_or((key, false), |k| (k, true));
            kept.sort_by(|a, b| {
                let ordering = compare(&a[key], &b[key]);
                if reverse { ordering.reverse() } else { ordering }
            });
        }
    }
    let offset = options.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut kept: Vec<Value> = kept.into_iter().skip(offset).collect();
    if let Some(limit) = options.get("limit").and_then(Value::as_u64).filter(|l| *l > 0) {
        kept.truncate(limit as usize);
    }
    if let Some(select) = options.get("select").and_then(Value::as_array) {
        let keys: Vec<&str> = select.iter().filter_map(Value::as_str).collect();
        kept = kept
            .into_iter()
            .map(|row| {
                Value::Object(
                    keys.iter()
                        .filter_map(|k| row.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                        .collect(),
                )
            })
            .collect();
    }
    if options.get("get").and_then(Value::as_bool).unwrap_or(false) {
        return kept
            .into_iter()
            .next()
            .ok_or_else(|| CallError::call(super::error::errno::ENOENT, "ENOENT", "None matched"));
    }
    if options.get("count").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(Value::from(kept.len()));
    }
    Ok(Value::Array(kept))
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

fn matches(row: &Value, filter: &Value) -> Result<bool, CallError> {
    let Some([field, op, value]) = filter.as_array().map(Vec::as_slice) else {
        // `["OR", [[...], [...]]]`
        if let Some([kind, alternatives]) = filter.as_array().map(Vec::as_slice)
            && kind == "OR"
        {
            for alternative in alternatives.as_array().into_iter().flatten() {
                let all = alternative
                    .as_array()
                    .map(|fs| fs.iter().all(|f| matches(row, f).unwrap_or(false)));
                if all.unwrap_or(false)
                    || (alternative.get(0).is_some_and(Value::is_string)
                        && matches(row, alternative)?)
                {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        return Err(CallError::invalid("filters", "Invalid filter"));
    };
    let Some(field) = field.as_str() else {
        return Err(CallError::invalid("filters", "Invalid filter field"));
    };
    let actual = field.split('.').fold(row, |value, key| &value[key]);
    let op = op.as_str().unwrap_or("");
    Ok(match op {
        "=" => actual == value,
        "!=" => actual != value,
        "in" => value.as_array().is_some_and(|list| list.contains(actual)),
        "nin" => value.as_array().is_some_and(|list| !list.contains(actual)),
        "^" => matches_str(actual, value, |a, b| a.starts_with(b)),
        "$" => matches_str(actual, value, |a, b| a.ends_with(b)),
        "~" => matches_str(actual, value, |a, b| a.contains(b)),
        ">" => compare(actual, value).is_gt(),
        "<" => compare(actual, value).is_lt(),
        ">=" => compare(actual, value).is_ge(),
        "<=" => compare(actual, value).is_le(),
        other => return Err(CallError::invalid("filters", format!("Invalid operator {other:?}"))),
    })
}

fn matches_str(actual: &Value, value: &Value, test: impl Fn(&str, &str) -> bool) -> bool {
    match (actual.as_str(), value.as_str()) {
        (Some(actual), Some(value)) => test(actual, value),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows() -> Vec<Value> {
        vec![
            json!({"name": "sda", "size": 10}),
            json!({"name": "sdb", "size": 20}),
            json!({"name": "nvme0n1", "size": 5}),
        ]
    }

    #[test]
    fn filters_and_options_behave_like_filter_list() {
        let got =
            filter_list(rows(), &json!([["name", "^", "sd"]]), &json!({"order_by": ["-size"]}))
                .expect("ok");
        assert_eq!(got, json!([{"name": "sdb", "size": 20}, {"name": "sda", "size": 10}]));
        let one =
            filter_list(rows(), &json!([["name", "=", "sda"]]), &json!({"get": true})).expect("ok");
        assert_eq!(one["size"], 10);
        let none = filter_list(rows(), &json!([["name", "=", "sdz"]]), &json!({"get": true}));
        assert!(none.is_err());
        let bad = filter_list(rows(), &json!([["name", "<>", "sda"]]), &Value::Null);
        assert!(matches!(bad, Err(CallError::Validation { .. })));
        let in_list = filter_list(
            rows(),
            &json!([["name", "in", ["sda", "nvme0n1"]]]),
            &json!({"select": ["name"]}),
        )
        .expect("ok");
        assert_eq!(in_list, json!([{"name": "sda"}, {"name": "nvme0n1"}]));
    }
}
