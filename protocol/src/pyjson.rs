//! JSON re-encoding that is byte-identical to Python's `json.dumps` with default settings.
//!
//! The reader and the writer are one pass: [`Transcoder`] validates the input as Python's
//! `json.loads` would (plus the reference server's limits) and writes the Python encoding of
//! what it read. There is no intermediate tree, and nothing is lost on the way: integers keep
//! every digit, a lone `\ud800` escape stays a lone surrogate, and duplicate keys are resolved
//! as a Python `dict` resolves them (the last value wins, at the first key's position).
//!
//! Python's output rules (`ensure_ascii=True`, separators `", "` and `": "`): every character
//! outside 0x20-0x7E becomes `\uXXXX` in lowercase hex, one escape per UTF-16 code unit; `"`,
//! `\`, and the five control characters with short forms use them; `/` is left as it is.

use std::collections::HashMap;

use crate::pyfloat;
use crate::pystr::write_unit;
pub use crate::pystr::{json_script_string, write_str};

/// Python's default limit on the digits of an integer it parses from text (`sys.int_info`);
/// beyond it `json.loads` raises, so such a number counts as out of range.
pub const MAX_INT_DIGITS: usize = 4300;

/// Why the input is not acceptable JSON. Offsets are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid JSON at byte {offset}: {problem}")]
    Syntax {
        offset: usize,
        problem: &'static str,
    },
    #[error("NaN and Infinity are not JSON (byte {offset})")]
    NonFinite { offset: usize },
    #[error("number out of range at byte {offset}")]
    NumberOutOfRange { offset: usize },
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: usize },
}

/// Appends Python's `repr` of a finite float, as `json.dumps` writes it.
pub fn write_float(x: f64, out: &mut String) {
    pyfloat::write_repr(x, out);
}

/// A one-pass JSON reader that writes Python's encoding of what it reads.
#[derive(Debug)]
pub(crate) struct Transcoder<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
}

type Result<T> = std::result::Result<T, JsonError>;

impl<'a> Transcoder<'a> {
    /// `src` must be valid UTF-8 (the caller checks it once, up front).
    pub(crate) fn new(src: &'a str, max_depth: usize) -> Self {
        Self {
            src: src.as_bytes(),
            pos: 0,
            depth: 0,
            max_depth,
        }
    }

    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.src.len()
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek_non_ws(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn syntax(&self, problem: &'static str) -> JsonError {
        JsonError::Syntax {
            offset: self.pos,
            problem,
        }
    }

    /// Consumes `b` (after whitespace) or fails with `problem`.
    pub(crate) fn expect(&mut self, b: u8, problem: &'static str) -> Result<()> {
        self.skip_ws();
        if self.src.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax(problem))
        }
    }

    /// After a member: `Some(true)` at `,`, `Some(false)` at `close`.
    fn next_member(&mut self, close: u8) -> Result<bool> {
        self.skip_ws();
        match self.src.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if *b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.syntax(if close == b'}' {
                "expected ',' or '}'"
            } else {
                "expected ',' or ']'"
            })),
        }
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(JsonError::TooDeep {
                limit: self.max_depth,
            });
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reads one value and appends its Python encoding to `out`.
    pub(crate) fn value(&mut self, out: &mut String) -> Result<()> {
        self.skip_ws();
        match self.src.get(self.pos) {
            Some(b'{') => self.object(out),
            Some(b'[') => self.array(out),
            Some(b'"') => self.string(out),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(b't') => self.literal("true", out),
            Some(b'f') => self.literal("false", out),
            Some(b'n') => self.literal("null", out),
            Some(b'N' | b'I') => Err(JsonError::NonFinite { offset: self.pos }),
            Some(_) => Err(self.syntax("expected a value")),
            None => Err(self.syntax("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &'static str, out: &mut String) -> Result<()> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            out.push_str(word);
            Ok(())
        } else {
            Err(self.syntax("expected a value"))
        }
    }

    fn array(&mut self, out: &mut String) -> Result<()> {
        self.enter()?;
        self.pos += 1; // '['
        out.push('[');
        if self.peek_non_ws() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.value(out)?;
                if !self.next_member(b']')? {
                    break;
                }
                out.push_str(", ");
            }
        }
        out.push(']');
        self.leave();
        Ok(())
    }

    /// Objects are written as they are read; duplicate keys, which are rare, are resolved
    /// afterwards by rewriting the object's members.
    fn object(&mut self, out: &mut String) -> Result<()> {
        self.enter()?;
        self.pos += 1; // '{'
        let start = out.len();
        out.push('{');
        // (key start, key end, member end) for each member, as offsets into `out`.
        let mut members: Vec<(usize, usize, usize)> = Vec::new();
        if self.peek_non_ws() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek_non_ws() != Some(b'"') {
                    return Err(self.syntax("expected a string key"));
                }
                if !members.is_empty() {
                    out.push_str(", ");
                }
                let key_start = out.len();
                self.string(out)?;
                let key_end = out.len();
                self.expect(b':', "expected ':'")?;
                out.push_str(": ");
                self.value(out)?;
                members.push((key_start, key_end, out.len()));
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        out.push('}');
        dedup_members(out, start, &members);
        self.leave();
        Ok(())
    }

    /// Reads a string and appends its Python encoding, quotes included.
    pub(crate) fn string(&mut self, out: &mut String) -> Result<()> {
        self.pos += 1; // opening quote
        out.push('"');
        loop {
            // Copy the longest run of bytes that Python leaves as they are.
            let run = self.src[self.pos..]
                .iter()
                .position(|b| !matches!(b, 0x20..=0x7E) || *b == b'"' || *b == b'\\')
                .unwrap_or(self.src.len() - self.pos);
            if run > 0 {
                // ASCII printable bytes: valid UTF-8 on their own.
                out.push_str(
                    std::str::from_utf8(&self.src[self.pos..self.pos + run]).unwrap_or(""),
                );
                self.pos += run;
            }
            match self.src.get(self.pos) {
                None => return Err(self.syntax("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    out.push('"');
                    return Ok(());
                }
                Some(b'\\') => self.escape(out)?,
                Some(b) if *b < 0x20 => {
                    return Err(self.syntax("control character in string"));
                }
                Some(_) => {
                    // A non-ASCII character (or DEL): the input is valid UTF-8, so decode one char.
                    let rest = &self.src[self.pos..];
                    let len = utf8_len(rest[0]);
                    let ch = std::str::from_utf8(&rest[..len.min(rest.len())])
                        .ok()
                        .and_then(|s| s.chars().next())
                        .ok_or_else(|| self.syntax("invalid UTF-8"))?;
                    let mut units = [0u16; 2];
                    for unit in ch.encode_utf16(&mut units) {
                        write_unit(*unit, out);
                    }
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(&kind) = self.src.get(self.pos + 1) else {
            return Err(self.syntax("unterminated string"));
        };
        let unit = match kind {
            b'"' => 0x22,
            b'\\' => 0x5C,
            b'/' => 0x2F,
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => 0x0A,
            b'r' => 0x0D,
            b't' => 0x09,
            b'u' => {
                let hex = self
                    .src
                    .get(self.pos + 2..self.pos + 6)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| self.syntax("invalid \\u escape"))?;
                // Four ASCII hex digits always parse.
                let hex = std::str::from_utf8(hex).unwrap_or("0");
                let unit = u16::from_str_radix(hex, 16).unwrap_or(0);
                self.pos += 6;
                write_unit(unit, out);
                return Ok(());
            }
            _ => return Err(self.syntax("invalid escape")),
        };
        self.pos += 2;
        write_unit(unit, out);
        Ok(())
    }

    fn number(&mut self, out: &mut String) -> Result<()> {
        let start = self.pos;
        let src = self.src;
        let mut i = self.pos;
        if src.get(i) == Some(&b'-') {
            i += 1;
            if src.get(i) == Some(&b'I') {
                return Err(JsonError::NonFinite { offset: start });
            }
        }
        let int_start = i;
        match src.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while src.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(self.syntax("expected a digit")),
        }
        let int_digits = i - int_start;
        let mut is_float = false;
        if src.get(i) == Some(&b'.') && src.get(i + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            i += 1;
            while src.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = src.get(i) {
            let mut j = i + 1;
            if let Some(b'+' | b'-') = src.get(j) {
                j += 1;
            }
            if src.get(j).is_some_and(u8::is_ascii_digit) {
                is_float = true;
                i = j;
                while src.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        self.pos = i;
        // The slice is ASCII by construction.
        let text = std::str::from_utf8(&src[start..i]).unwrap_or("0");
        if is_float {
            let x: f64 = text
                .parse()
                .map_err(|_| JsonError::NumberOutOfRange { offset: start })?;
            if !x.is_finite() {
                return Err(JsonError::NumberOutOfRange { offset: start });
            }
            pyfloat::write_repr(x, out);
        } else if int_digits > MAX_INT_DIGITS {
            return Err(JsonError::NumberOutOfRange { offset: start });
        } else if text == "-0" {
            // Python's int has no negative zero.
            out.push('0');
        } else {
            out.push_str(text);
        }
        Ok(())
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Resolves duplicate keys in the object written at `out[start..]` as a Python `dict` does:
/// the key keeps the position of its first occurrence and takes the value of its last.
/// Encoded keys are canonical, so equal strings have equal encodings.
fn dedup_members(out: &mut String, start: usize, members: &[(usize, usize, usize)]) {
    if members.len() < 2 {
        return;
    }
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(members.len());
    for (i, &(ks, ke, _)) in members.iter().enumerate() {
        last.insert(&out[ks..ke], i);
    }
    if last.len() == members.len() {
        return;
    }
    let mut rebuilt = String::with_capacity(out.len() - start);
    rebuilt.push('{');
    let mut written = std::collections::HashSet::with_capacity(last.len());
    for &(ks, ke, _) in members {
        let key = &out[ks..ke];
        if !written.insert(key) {
            continue;
        }
        let winner = last[key];
        let (_, wke, wend) = members[winner];
        if rebuilt.len() > 1 {
            rebuilt.push_str(", ");
        }
        rebuilt.push_str(key);
        rebuilt.push_str(&out[wke..wend]);
    }
    rebuilt.push('}');
    out.truncate(start);
    out.push_str(&rebuilt);
}
