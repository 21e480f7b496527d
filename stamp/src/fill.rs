//! What pads a message's text after its stamp: `x`, the built-in words of chat, or the words
//! of a list the user gives (a file: `--text words:FILE`, `text = "words:FILE"`).

use std::fmt;
use std::sync::Arc;

/// The most words a list may hold (each message picks among them; a list is held once per
/// process, so this bounds its memory to a few tens of MB).
pub const MAX_WORDS: usize = 1_000_000;

/// The longest word of a list, in bytes (a longer one is cut like any last word).
pub const MAX_WORD: usize = 256;

/// What pads a message's text after its stamp, up to its size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fill {
    /// `x` repeated: the least work for a server, and nothing for compression to find.
    #[default]
    X,
    /// Common words of chat separated by spaces, chosen per message (from its room, sender
    /// and sequence number, so a rerun sends the same text): text as people type it.
    Words,
    /// As `Words`, from a list the user gave.
    List(WordList),
}

impl Fill {
    /// Whether the text is words (the built-in ones or a list).
    pub fn is_words(&self) -> bool {
        !matches!(self, Self::X)
    }
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::X => f.write_str("x"),
            Self::Words => f.write_str("words"),
            Self::List(list) => write!(f, "words:{}", list.source()),
        }
    }
}

/// A list of words to pad messages with, shared by every sender of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordList {
    source: String,
    words: Arc<[Box<str>]>,
}

/// Why a list of words cannot pad messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordListError {
    #[error("{file}: no words (write words separated by spaces or newlines)")]
    Empty { file: String },
    #[error(
        "{file}, line {line}: {word:?} is not printable ASCII without '\"' and '\\' (the \
         stamp's text must reach every backend byte for byte: a JSON encoder escapes those, \
         Django's json.dumps every non-ASCII character)"
    )]
    NotPlain {
        file: String,
        line: usize,
        word: String,
    },
    #[error("{file}: more than {MAX_WORDS} words")]
    TooMany { file: String },
    #[error("{file}, line {line}: a word of {len} bytes (at most {MAX_WORD})")]
    TooLong {
        file: String,
        line: usize,
        len: usize,
    },
}

impl WordList {
    /// The words of `text` (separated by any white space), from `source` (a file's name, for
    /// messages and for the result).
    pub fn new(source: impl Into<String>, text: &str) -> Result<Self, WordListError> {
        let source = source.into();
        let mut words = Vec::new();
        for (i, line) in text.lines().enumerate() {
            for word in line.split_whitespace() {
                if !word
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
                {
                    return Err(WordListError::NotPlain {
                        file: source,
                        line: i + 1,
                        word: word.into(),
                    });
                }
                if word.len() > MAX_WORD {
                    return Err(WordListError::TooLong {
                        file: source,
                        line: i + 1,
                        len: word.len(),
                    });
                }
                if words.len() == MAX_WORDS {
                    return Err(WordListError::TooMany { file: source });
                }
                words.push(Box::from(word));
            }
        }
        if words.is_empty() {
            return Err(WordListError::Empty { file: source });
        }
        Ok(Self {
            source,
            words: words.into(),
        })
    }

    /// Where the words came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn words(&self) -> &[Box<str>] {
        &self.words
    }

    /// A hash of the words (FNV-1a, 64 bits): two lists with the same words pad alike.
    pub fn digest(&self) -> u64 {
        fnv1a(self.words.iter().flat_map(|w| w.bytes().chain([b'\n'])))
    }
}

/// FNV-1a, 64 bits: a stable hash of bytes (the same on every machine and build).
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Exactly `left` bytes of words and spaces (the last word cut to fit), chosen from `words`
/// by a generator seeded with `state`.
pub(crate) fn words_into<W: AsRef<str>>(
    out: &mut String,
    mut left: usize,
    mut state: u64,
    words: &[W],
) {
    while left > 0 {
        // splitmix64: a few operations a word, the same sequence on every machine.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let word = words[(z % words.len() as u64) as usize].as_ref();
        if word.len() < left {
            out.push_str(word);
            out.push(' ');
            left -= word.len() + 1;
        } else {
            // ASCII: any byte is a character boundary.
            out.push_str(&word[..left]);
            left = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_takes_words_on_lines_and_between_spaces() {
        let list = WordList::new("chat.txt", "hello world\n\n  gg  wp\r\nbrb\n").expect("valid");
        let words: Vec<&str> = list.words().iter().map(AsRef::as_ref).collect();
        assert_eq!(words, ["hello", "world", "gg", "wp", "brb"]);
        assert_eq!(Fill::List(list.clone()).to_string(), "words:chat.txt");
        let other = WordList::new("elsewhere.txt", "hello world gg wp brb").expect("valid");
        assert_eq!(list.digest(), other.digest(), "the same words");
        let third = WordList::new("x", "hello world gg wp").expect("valid");
        assert_ne!(list.digest(), third.digest());
    }

    #[test]
    fn a_list_refuses_what_a_backend_would_not_send_back_byte_for_byte() {
        assert_eq!(
            WordList::new("a", " \n\t\n"),
            Err(WordListError::Empty { file: "a".into() })
        );
        for (text, line, word) in [
            ("ok\nsay \"hi\"", 2, "\"hi\""),
            ("back\\slash", 1, "back\\slash"),
            ("ok\nok\ncafé", 3, "café"),
        ] {
            assert_eq!(
                WordList::new("a", text),
                Err(WordListError::NotPlain {
                    file: "a".into(),
                    line,
                    word: word.into()
                }),
                "{text}"
            );
        }
        let long = "y".repeat(MAX_WORD + 1);
        assert!(matches!(
            WordList::new("a", &long),
            Err(WordListError::TooLong { line: 1, .. })
        ));
    }
}
