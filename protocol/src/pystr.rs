//! Strings as Python's `json.dumps` writes them (`ensure_ascii=True`): one `\uXXXX` per UTF-16
//! code unit outside 0x20-0x7E, short forms for `"`, `\` and five control characters.

/// Appends the Python encoding of one JSON string (with its quotes) for a Rust string.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut units = [0u16; 2];
    for ch in s.chars() {
        if ch.is_ascii() {
            write_unit(ch as u16, out);
        } else {
            for unit in ch.encode_utf16(&mut units) {
                write_unit(*unit, out);
            }
        }
    }
    out.push('"');
}

/// The room name as Django's `json_script` filter embeds it in a `<script>` element:
/// `json.dumps` and then `<`, `>`, `&` written as `\u003C`, `\u003E`, `\u0026`.
pub fn json_script_string(s: &str) -> String {
    let mut json = String::with_capacity(s.len() + 2);
    write_str(s, &mut json);
    json.replace('<', "\\u003C")
        .replace('>', "\\u003E")
        .replace('&', "\\u0026")
}

/// Writes one UTF-16 code unit the way Python's `py_encode_basestring_ascii` does.
pub(crate) fn write_unit(unit: u16, out: &mut String) {
    match unit {
        0x22 => out.push_str("\\\""),
        0x5C => out.push_str("\\\\"),
        0x0A => out.push_str("\\n"),
        0x0D => out.push_str("\\r"),
        0x09 => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0C => out.push_str("\\f"),
        0x20..=0x7E => out.push(unit as u8 as char),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((unit >> shift) & 0xF)] as char);
            }
        }
    }
}
