//! Python's `repr(float)`: shortest round-trip digits, formatted as CPython's
//! `format_float_short` does for mode `'r'` with `Py_DTSF_ADD_DOT_0`.
//!
//! Rust's `{:e}` already yields the shortest digits that round-trip (the same digits as
//! Python's David Gay code), so only the layout has to be redone: fixed notation when the
//! decimal exponent is in `-4 <= e < 16`, otherwise `d.ddde+XX` with at least two exponent digits.

use std::fmt::Write as _;

/// Appends Python's `repr(x)` to `out`. `x` must be finite (JSON has no infinities).
pub(crate) fn write_repr(x: f64, out: &mut String) {
    debug_assert!(x.is_finite());
    let mut sci = String::with_capacity(32);
    // Writing to a String cannot fail.
    let _ = write!(sci, "{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    ties_to_even(x, &mut digits, exp);

    if negative {
        out.push('-');
    }
    // `decpt` as CPython names it: the value is 0.DIGITS x 10^decpt.
    let decpt = exp + 1;
    if (-3..=16).contains(&decpt) {
        fixed(&digits, decpt, out);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.unsigned_abs());
    }
}

/// When `x` lies exactly halfway between two shortest digit strings, Rust may pick either;
/// CPython's dtoa picks the one whose last digit is even. `digits` (with decimal exponent
/// `exp` for its first digit) is Rust's pick; it is replaced by the even one when they differ.
fn ties_to_even(x: f64, digits: &mut String, exp: i32) {
    let n = digits.len();
    // Every f64 has an exact decimal expansion of at most 767 significant digits.
    let exact = format!("{:.800e}", x.abs());
    let Some((mantissa, e)) = exact.split_once('e') else {
        return;
    };
    if e.parse::<i32>() != Ok(exp) {
        return;
    }
    let all: String = mantissa.chars().filter(|c| *c != '.').collect();
    let (head, tail) = all.split_at(n.min(all.len()));
    let halfway = tail.starts_with('5') && tail[1..].bytes().all(|b| b == b'0');
    let Some(last) = head.bytes().last() else {
        return;
    };
    if !halfway {
        return;
    }
    // The two candidates are `head` and `head` + 1 in the last place; the even one wins.
    let even = if (last - b'0') % 2 == 0 {
        head.to_owned()
    } else if last == b'9' {
        // The carry would change the length: leave Rust's pick.
        return;
    } else {
        format!("{}{}", &head[..n - 1], char::from(last + 1))
    };
    if even == *digits {
        return;
    }
    let candidate = format!("{}.{}e{exp}", &even[..1], &even[1..]);
    if candidate.parse::<f64>() == Ok(x.abs()) {
        *digits = even;
    }
}

fn fixed(digits: &str, decpt: i32, out: &mut String) {
    if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..decpt.unsigned_abs() {
            out.push('0');
        }
        out.push_str(digits);
        return;
    }
    let decpt = decpt as usize;
    if digits.len() <= decpt {
        out.push_str(digits);
        for _ in digits.len()..decpt {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt]);
        out.push('.');
        out.push_str(&digits[decpt..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(x: f64) -> String {
        let mut s = String::new();
        write_repr(x, &mut s);
        s
    }

    #[test]
    fn matches_cpython_repr() {
        // Each right-hand side is what CPython 3.11 prints for repr(float(lhs)).
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            // Halfway between two shortest strings: CPython takes the even last digit.
            // (the literal is the double 929822665844195.25, exactly between .2 and .3)
            (929_822_665_844_195.2, "929822665844195.2"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (0.0000123, "1.23e-05"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1e22, "1e+22"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (-1.25, "-1.25"),
            (-1e-7, "-1e-07"),
            (0.30000000000000004, "0.30000000000000004"),
            (123.456, "123.456"),
            (1234567.0, "1234567.0"),
        ];
        for (x, want) in cases {
            assert_eq!(repr(*x), *want, "repr({x:?})");
        }
    }
}
