//! What the fuzz targets check against: straightforward reference implementations, written
//! for clarity and not speed, of the rules the project's parsers and encoders implement.

use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Number, Value};

/// The deepest value [`arbitrary_json`] builds, well inside the server's 128 levels.
pub const MAX_DEPTH: usize = 24;

/// A JSON value built from fuzz bytes: any finite double (every bit pattern the input can
/// reach), any 64-bit integer, any Unicode string, nested arrays and objects.
pub fn arbitrary_json(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let kind = if depth >= MAX_DEPTH {
        u.int_in_range(0..=5)?
    } else {
        u.int_in_range(0..=7)?
    };
    Ok(match kind {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::from(i64::arbitrary(u)?),
        3 => Value::from(u64::arbitrary(u)?),
        4 => {
            let x = f64::from_bits(u64::arbitrary(u)?);
            Number::from_f64(x).map_or(Value::Null, Value::Number)
        }
        5 => Value::String(String::arbitrary(u)?),
        6 => {
            let n = u.int_in_range(0..=8)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(arbitrary_json(u, depth + 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let n = u.int_in_range(0..=8)?;
            let mut map = Map::new();
            for _ in 0..n {
                map.insert(String::arbitrary(u)?, arbitrary_json(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

/// `json.dumps(v)` with Python's defaults, written from Python's documented rules.
pub fn python_dumps(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) if !n.is_f64() => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u), _) if !n.is_f64() => {
                let _ = write!(out, "{u}");
            }
            (_, _, Some(x)) => python_float_repr(x, out),
            _ => unreachable!("a serde_json number is an i64, a u64 or an f64"),
        },
        Value::String(s) => python_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_dumps(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str(k, out);
                out.push_str(": ");
                python_dumps(item, out);
            }
            out.push('}');
        }
    }
}

/// A string with `ensure_ascii=True`: printable ASCII as it is except `"` and `\`, the five
/// short escapes, and everything else as `\uXXXX` per UTF-16 unit, in lowercase hex.
pub fn python_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// `repr(x)` for a finite double: the fewest significant digits that read back as `x`, the
/// nearest to `x` among them, in fixed notation when the decimal exponent is in -4..16 (with
/// `.0` when it is whole), else `d.ddde+XX`.
///
/// For each count of digits in turn it tries the correctly rounded digits and their two
/// neighbours in the last place: when the rounded ones do not read back as `x`, a neighbour on
/// the far side of `x` still may (the interval that reads back as `x` is not centred on the
/// rounded value), and it is then the only one that does.
pub fn python_float_repr(x: f64, out: &mut String) {
    let (digits, exp) = shortest(x.abs());
    out.push_str(if x.is_sign_negative() { "-" } else { "" });
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// The shortest digits of `x >= 0` (no trailing zeros) and the decimal exponent of the first.
fn shortest(x: f64) -> (String, i32) {
    if x == 0.0 {
        return ("0".into(), 0);
    }
    for p in 0..17usize {
        let sci = format!("{x:.p$e}");
        let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
        let exp: i32 = exp.parse().expect("an integer exponent");
        let rounded: u64 = mantissa.replace('.', "").parse().expect("digits");
        let scale = exp - p as i32;
        for n in [rounded, rounded + 1, rounded.saturating_sub(1)] {
            if n == 0 || format!("{n}e{scale}").parse::<f64>() != Ok(x) {
                continue;
            }
            let all = n.to_string();
            let first_exp = scale + all.len() as i32 - 1;
            return (all.trim_end_matches('0').to_owned(), first_exp);
        }
    }
    unreachable!("17 significant digits always read back as the double")
}

/// JSON values equal as a reader of either would see them: numbers by value (an integer
/// beyond 64 bits reads as the nearest double on both sides), objects with their keys in order.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .zip(ys)
                    .all(|((k, x), (l, y))| k == l && json_equal(x, y))
        }
        _ => a == b,
    }
}

/// The tutorial's route written out plainly: drop the query, percent-decode (a `%` not
/// followed by two hex digits stays as it is), require UTF-8, then `/ws/chat/NAME/` with NAME
/// 1 to 94 of `[A-Za-z0-9_]`.
pub fn room_of(target: &str) -> Option<String> {
    let path = match target.find('?') {
        Some(at) => &target[..at],
        None => target,
    };
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                decoded.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8(decoded).ok()?;
    let name = decoded.strip_prefix("/ws/chat/")?.strip_suffix('/')?;
    let valid = (1..=94).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then(|| name.to_owned())
}
