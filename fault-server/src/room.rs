//! Which room a path joins: the tutorial's rule, and the faults that bend it (any path, case
//! folded, names cut to a prefix, names hashed onto a few buckets).

use crate::Faults;

pub(crate) fn room_of(path: &str, faults: &Faults) -> Option<String> {
    if faults.accept_any_path {
        return Some(path.to_owned());
    }
    // Percent-decoding is deliberately simple: enough for the escapes the suite sends.
    let decoded = percent_decode(path)?;
    let name = decoded.strip_prefix("/ws/chat/")?.strip_suffix('/')?;
    let valid = !name.is_empty()
        && name.len() <= 94
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| room_key(name, faults))
}

/// The key a room's members are filed under: its name, unless a fault merges names.
fn room_key(name: &str, faults: &Faults) -> String {
    let mut key = if faults.fold_case {
        name.to_lowercase()
    } else {
        name.to_owned()
    };
    if let Some(n) = faults.room_prefix {
        key = key.chars().take(n).collect();
    }
    if let Some(buckets) = faults.room_buckets {
        // A fixed-key hasher: the same bucket for a name on every connection, as a
        // deployment's channel choice is.
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&key, &mut hasher);
        key = format!(
            "bucket {}",
            std::hash::Hasher::finish(&hasher) % buckets.max(1)
        );
    }
    key
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
