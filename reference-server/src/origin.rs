//! `--allowed-origin` entries and the `Origin` header, both reduced to the browser's form
//! (scheme, host, port; default ports dropped, case folded) so that `HTTP://A.example:80/`
//! and `http://a.example` are the same origin, and an entry that can never match is refused at
//! startup instead of silently refusing everyone.

use url::Url;

/// An origin in its serialised form, `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

/// Why an `--allowed-origin` entry cannot match any browser's Origin header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("--allowed-origin is empty (an empty entry, e.g. a trailing comma?)")]
    Empty,
    #[error(
        "--allowed-origin {0:?}: a wildcard matches nothing here; leave the flag out to allow every Origin"
    )]
    Wildcard(String),
    #[error("--allowed-origin {0:?}: not an origin ({1}); write scheme://host[:port]")]
    Invalid(String, String),
    #[error("--allowed-origin {0:?}: an origin has no {1}; write scheme://host[:port]")]
    Extra(String, &'static str),
}

impl Origin {
    /// Parses an `--allowed-origin` entry: surrounding spaces and one trailing `/` are
    /// tolerated; a path, query, user, wildcard or a scheme without a host is an error.
    pub fn parse(entry: &str) -> Result<Self, OriginError> {
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            return Err(OriginError::Empty);
        }
        if trimmed.contains('*') {
            return Err(OriginError::Wildcard(trimmed.to_owned()));
        }
        let url = Url::parse(trimmed)
            .map_err(|e| OriginError::Invalid(trimmed.to_owned(), e.to_string()))?;
        let extra = if url.path() != "/" && !url.path().is_empty() {
            Some("path")
        } else if url.query().is_some() {
            Some("query")
        } else if url.fragment().is_some() {
            Some("fragment")
        } else if !url.username().is_empty() || url.password().is_some() {
            Some("user name or password")
        } else {
            None
        };
        if let Some(what) = extra {
            return Err(OriginError::Extra(trimmed.to_owned(), what));
        }
        Self::from_url(&url).ok_or_else(|| {
            OriginError::Invalid(trimmed.to_owned(), "no host (an opaque origin)".into())
        })
    }

    /// Reads an `Origin` header; `None` for `null` or anything that is not an origin.
    pub fn from_header(value: &str) -> Option<Self> {
        let url = Url::parse(value.trim()).ok()?;
        if url.path() != "/" && !url.path().is_empty() {
            return None;
        }
        Self::from_url(&url)
    }

    fn from_url(url: &Url) -> Option<Self> {
        let origin = url.origin();
        origin
            .is_tuple()
            .then(|| Self(origin.ascii_serialization()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_normalised() {
        for (entry, origin) in [
            ("http://a.example", "http://a.example"),
            (" http://b.example", "http://b.example"),
            ("http://a.example/", "http://a.example"),
            ("HTTP://A.Example:80", "http://a.example"),
            ("https://a.example:443/", "https://a.example"),
            ("http://a.example:8000", "http://a.example:8000"),
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ] {
            assert_eq!(
                Origin::parse(entry).map(|o| o.0),
                Ok(origin.to_owned()),
                "{entry}"
            );
        }
    }

    #[test]
    fn entries_that_cannot_match_are_errors() {
        assert_eq!(Origin::parse(" "), Err(OriginError::Empty));
        assert!(matches!(Origin::parse("*"), Err(OriginError::Wildcard(_))));
        assert!(matches!(
            Origin::parse("http://*.example"),
            Err(OriginError::Wildcard(_))
        ));
        assert!(matches!(
            Origin::parse("a.example"),
            Err(OriginError::Invalid(..))
        ));
        assert!(matches!(
            Origin::parse("http://a.example/chat/"),
            Err(OriginError::Extra(_, "path"))
        ));
        assert!(matches!(
            Origin::parse("http://a.example/?x"),
            Err(OriginError::Extra(_, "query"))
        ));
        assert!(matches!(
            Origin::parse("http://u@a.example"),
            Err(OriginError::Extra(..))
        ));
        assert!(Origin::parse("data:text/plain,x").is_err());
    }

    #[test]
    fn headers_compare_in_the_same_form() {
        let allowed = Origin::parse("http://a.example:80/").expect("valid");
        assert_eq!(Origin::from_header("http://A.EXAMPLE"), Some(allowed));
        assert_eq!(Origin::from_header("null"), None);
        assert_eq!(Origin::from_header("http://a.example/path"), None);
    }
}
