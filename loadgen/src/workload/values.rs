//! How a workload file writes its values: a string or a number read with the type's
//! `FromStr` ([`Text`]), durations as humantime writes them, and the text forms of
//! `senders` and `activity` (which `--print-workload` writes back with `Display`).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::{Activity, Senders};

/// A value written as a string or a number, read with `T`'s `FromStr`.
pub(super) struct Text<T>(pub(super) T);

impl<'de, T: FromStr> Deserialize<'de> for Text<T>
where
    T::Err: fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: FromStr> Visitor<'_> for V<T>
        where
            T::Err: fmt::Display,
        {
            type Value = Text<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map(Text).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A duration as humantime writes it (`10s`, `500ms`, `2m`).
pub(super) struct Dur(pub(super) Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s)
            .map(Dur)
            .map_err(|e| format!("{s:?}: {e} (write e.g. \"10s\", \"500ms\" or \"2m\")"))
    }
}

impl FromStr for Senders {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let help = "write a count of members (3) or a share of them (\"10%\")";
        match s.trim().strip_suffix('%') {
            Some(pct) => match pct.trim().parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 100.0 => Ok(Self::Share(p)),
                _ => Err(format!("{s:?}: {help}")),
            },
            None => match s.trim().parse::<u32>() {
                Ok(n) => Ok(Self::Count(n)),
                Err(_) => Err(format!("{s:?}: {help}")),
            },
        }
    }
}

impl fmt::Display for Senders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Share(pct) => write!(f, "\"{pct}%\""),
        }
    }
}

impl FromStr for Activity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let help = "write even or zipf:S (S above 0: the k-th sender sends in proportion to 1/k^S)";
        match s.trim() {
            "even" => Ok(Self::Even),
            other => match other.strip_prefix("zipf:").map(|x| x.trim().parse::<f64>()) {
                Some(Ok(e)) if e.is_finite() && e > 0.0 => Ok(Self::Zipf(e)),
                _ => Err(format!("{s:?}: {help}")),
            },
        }
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Even => f.write_str("even"),
            Self::Zipf(s) => write!(f, "zipf:{s}"),
        }
    }
}

/// A share of members: `"40%"` or a fraction such as `0.4`, from 0 to 1.
pub(super) struct Share(pub(super) f64);

impl FromStr for Share {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (number, scale) = match s.trim().strip_suffix('%') {
            Some(pct) => (pct.trim(), 100.0),
            None => (s.trim(), 1.0),
        };
        match number.parse::<f64>() {
            Ok(v) if (0.0..=scale).contains(&v) => Ok(Self(v / scale)),
            _ => Err(format!(
                "{s:?}: write a share of the members, \"40%\" or 0.4 (0 to 100%)"
            )),
        }
    }
}

/// A chance: `0.1` or `10%` (0 to 1).
pub(crate) fn chance(s: &str) -> Result<f64, String> {
    let (number, scale) = match s.trim().strip_suffix('%') {
        Some(pct) => (pct.trim(), 100.0),
        None => (s.trim(), 1.0),
    };
    match number.parse::<f64>() {
        Ok(v) if (0.0..=scale).contains(&v) => Ok(v / scale),
        _ => Err(format!("{s:?}: write a chance, 0.1 or \"10%\" (0 to 100%)")),
    }
}
