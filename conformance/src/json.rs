//! The JSON of delivered frames: parsed with evidence, the `message` taken out, and compared
//! as RFC 8259 has it.

/// Parses a delivered frame as JSON, with evidence on failure.
pub fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {}", crate::wire::clip(text)))
}

/// The `message` of a delivered `{"message": V}` frame; anything else is a difference.
pub fn message_of(text: &str) -> Result<serde_json::Value, String> {
    let value = parse_json(text)?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("not an object: {}", crate::wire::clip(text)))?;
    if obj.len() != 1 || !obj.contains_key("message") {
        return Err(format!(
            "expected exactly {{\"message\": ...}}, got {}",
            crate::wire::clip(text)
        ));
    }
    Ok(obj["message"].clone())
}

/// JSON equality as RFC 8259 has it: one number type, so `1E2`, `100` and `100.0` are equal
/// (integers compare exactly, anything else by its double); objects compare by key.
pub fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i128(), y.as_i128()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::json_equal;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        let same = [
            (json!(100), json!(100.0)),
            (json!(1.5), json!(1.50)),
            (json!({"a": [1, {"b": 2.0}]}), json!({"a": [1.0, {"b": 2}]})),
            (json!(-0.0), json!(0)),
        ];
        for (a, b) in same {
            assert!(json_equal(&a, &b), "{a} == {b}");
        }
        let differ = [
            (json!(100), json!(101)),
            (json!(9007199254740993u64), json!(9007199254740992u64)),
            (json!("1"), json!(1)),
            (json!([1]), json!([1, 1])),
            (json!({"a": 1}), json!({"b": 1})),
        ];
        for (a, b) in differ {
            assert!(!json_equal(&a, &b), "{a} != {b}");
        }
    }
}
