//! The one REGEXP shape U-NAPTR allows for a terminal `U` record (RFC 4848 §2.2, §4.6).
//!
//! The field must be the literal `!.*!`, then a URI, then a closing `!`: no other delimiter, no
//! backreferences, no flags. The `.*` matches the whole application-unique string, so the result
//! is the constant URI, and no regular-expression engine is ever needed (or used: RFC 3403 §10).
//!
//! Two decisions the RFCs leave open (docs/decisions.md, A3):
//! * [`RegexpMode::Strict`] (the default) accepts only that literal shape; a raw or escaped `!`
//!   inside the URI is an error.
//! * [`RegexpMode::Lenient`] also accepts the anchored `!^.*$!URI!` variant other ecosystems publish
//!   (valid RFC 3402, not RFC 4848) and unescapes `\!` inside the URI (RFC 3402 §3.2 escapeddelim).

/// How strictly [`extract_unaptr_uri`] reads the REGEXP field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegexpMode {
    /// Exactly `!.*!URI!` (RFC 4848 §2.2). The default.
    #[default]
    Strict,
    /// Also `!^.*$!URI!`, and `\!` inside the URI stands for `!`.
    Lenient,
}

/// Why a REGEXP field is not the U-NAPTR terminal form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnaptrRegexpError {
    /// The field is empty, but a `U` record needs a REGEXP (RFC 4848 §2.1).
    #[error("empty REGEXP; a \"U\" record needs \"!.*!<URI>!\" (RFC 4848 §2.1)")]
    Empty,
    /// The field is not UTF-8 (RFC 3403 §3: regexps are UTF-8).
    #[error("REGEXP is not UTF-8 at offset {offset} (RFC 3403 §3)")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A delimiter other than `!` (RFC 4848 §2.2).
    #[error("REGEXP uses delimiter {found:?}; U-NAPTR allows only '!' (RFC 4848 §2.2)")]
    WrongDelimiter {
        /// The delimiter found.
        found: char,
    },
    /// The anchored `!^.*$!` variant, refused in strict mode.
    #[error(
        "REGEXP is the anchored form \"!^.*$!\"; RFC 4848 §2.2 requires exactly \"!.*!\" (lenient mode accepts it)"
    )]
    AnchoredForm,
    /// The replacement uses a backreference such as `\1` (RFC 4848 §2.2 allows none).
    #[error(
        "REGEXP uses a backreference at offset {offset}; RFC 4848 §2.2 allows only the literal URI"
    )]
    Backreference {
        /// Offset of the backslash.
        offset: usize,
    },
    /// The ERE part is something other than `.*`.
    #[error("REGEXP matches {ere:?}; RFC 4848 §2.2 requires \".*\"")]
    NotMatchAll {
        /// The ERE found between the first two delimiters.
        ere: String,
    },
    /// The closing `!` is missing.
    #[error("REGEXP has no closing '!' (RFC 4848 §2.2)")]
    MissingFinalDelimiter,
    /// Flags after the closing delimiter (RFC 4848 §2.2 allows none).
    #[error("REGEXP has flags {flags:?} after the closing '!'; RFC 4848 §2.2 allows none")]
    FlagsNotAllowed {
        /// The flags found.
        flags: String,
    },
    /// Nothing between the delimiters: `!.*!!`.
    #[error("REGEXP yields an empty URI (\"!.*!!\")")]
    EmptyUri,
    /// An unescaped `!` inside the URI, which makes four delimiters (docs/decisions.md, A3).
    #[error(
        "raw '!' at offset {offset} inside the URI; RFC 4848 has no escaping for it (docs/decisions.md, A3)"
    )]
    RawDelimiter {
        /// Offset of the extra `!`.
        offset: usize,
    },
    /// An escaped `\!` inside the URI, refused in strict mode (docs/decisions.md, A3).
    #[error(
        "escaped '\\!' at offset {offset} inside the URI; only lenient mode unescapes it (docs/decisions.md, A3)"
    )]
    EscapedDelimiter {
        /// Offset of the backslash.
        offset: usize,
    },
}

const STRICT_PREFIX: &str = "!.*!";
const ANCHORED_PREFIX: &str = "!^.*$!";

/// Extracts the URI from a `U` record's REGEXP field (RFC 4848 §2.2).
///
/// The URI itself is not validated here; see [`crate::uri::check_uri`].
///
/// # Errors
/// An [`UnaptrRegexpError`] saying which part of the shape is wrong.
pub fn extract_unaptr_uri(regexp: &[u8], mode: RegexpMode) -> Result<String, UnaptrRegexpError> {
    if regexp.is_empty() {
        return Err(UnaptrRegexpError::Empty);
    }
    let text = std::str::from_utf8(regexp).map_err(|e| UnaptrRegexpError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let delim = text.chars().next().unwrap_or('!');
    if delim != '!' {
        return Err(UnaptrRegexpError::WrongDelimiter { found: delim });
    }

    let body_start = if text.starts_with(STRICT_PREFIX) {
        STRICT_PREFIX.len()
    } else if text.starts_with(ANCHORED_PREFIX) {
        if mode == RegexpMode::Strict {
            return Err(UnaptrRegexpError::AnchoredForm);
        }
        ANCHORED_PREFIX.len()
    } else {
        return Err(match find_backreference(text) {
            Some(offset) => UnaptrRegexpError::Backreference { offset },
            None => UnaptrRegexpError::NotMatchAll {
                ere: text[1..].split('!').next().unwrap_or_default().to_owned(),
            },
        });
    };

    // Scan the replacement: find the closing delimiter, refusing or unescaping `\!`.
    let bytes = text.as_bytes();
    let mut uri = String::with_capacity(bytes.len());
    let mut i = body_start;
    let mut close: Option<usize> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'!') => {
                if mode == RegexpMode::Strict {
                    return Err(UnaptrRegexpError::EscapedDelimiter { offset: i });
                }
                uri.push('!');
                i += 2;
            }
            b'\\' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                return Err(UnaptrRegexpError::Backreference { offset: i });
            }
            b'!' => {
                close = Some(i);
                break;
            }
            _ => {
                // Copy the run up to the next `\` or `!` whole (both ASCII, so the run ends on
                // a character boundary).
                let run = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\\' || b == b'!')
                    .map_or(bytes.len(), |k| i + k);
                let run = run.max(i + 1);
                let ch_end = if text.is_char_boundary(run) {
                    run
                } else {
                    i + text[i..].chars().next().map_or(1, char::len_utf8)
                };
                uri.push_str(&text[i..ch_end]);
                i = ch_end;
            }
        }
    }
    let Some(close) = close else {
        return Err(UnaptrRegexpError::MissingFinalDelimiter);
    };
    let rest = &text[close + 1..];
    if !rest.is_empty() {
        // `!.*!https://a!b!`: the "flags" contain a delimiter, so the URI held a raw `!`.
        if rest.contains('!') {
            return Err(UnaptrRegexpError::RawDelimiter { offset: close });
        }
        return Err(UnaptrRegexpError::FlagsNotAllowed {
            flags: rest.to_owned(),
        });
    }
    if uri.is_empty() {
        return Err(UnaptrRegexpError::EmptyUri);
    }
    Ok(uri)
}

/// Offset of the first `\<digit>` after the first delimiter, if any.
fn find_backreference(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(1)).find(|&i| b[i] == b'\\' && b[i + 1].is_ascii_digit())
}

/// Builds the REGEXP field for a terminal record: `!.*!` + `uri` + `!` (RFC 4848 §2.2).
/// The caller must have checked the URI (it must not contain `!`).
#[must_use]
pub fn unaptr_regexp_for(uri: &str) -> String {
    format!("{STRICT_PREFIX}{uri}!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_non_ascii_and_other_backslashes_unchanged() {
        for mode in [RegexpMode::Strict, RegexpMode::Lenient] {
            assert_eq!(
                extract_unaptr_uri("!.*!https://a/é\\x/ü!".as_bytes(), mode).unwrap(),
                "https://a/é\\x/ü"
            );
        }
    }

    #[test]
    fn lenient_unescapes_and_accepts_anchored() {
        assert_eq!(
            extract_unaptr_uri(br"!.*!https://x.example/a\!b!", RegexpMode::Lenient).unwrap(),
            "https://x.example/a!b"
        );
        assert_eq!(
            extract_unaptr_uri(br"!.*!https://x.example/a\!b!", RegexpMode::Strict),
            Err(UnaptrRegexpError::EscapedDelimiter { offset: 23 })
        );
        assert_eq!(
            extract_unaptr_uri(b"!^.*$!https://a/!", RegexpMode::Lenient).unwrap(),
            "https://a/"
        );
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            extract_unaptr_uri(b"", RegexpMode::Strict),
            Err(UnaptrRegexpError::Empty)
        );
        assert_eq!(
            extract_unaptr_uri(b"!.*!https://a", RegexpMode::Strict),
            Err(UnaptrRegexpError::MissingFinalDelimiter)
        );
        assert_eq!(
            extract_unaptr_uri(b"!a.*!https://a/!", RegexpMode::Strict),
            Err(UnaptrRegexpError::NotMatchAll { ere: "a.*".into() })
        );
        assert_eq!(
            extract_unaptr_uri(b"!.*!x\xff!", RegexpMode::Strict),
            Err(UnaptrRegexpError::NotUtf8 { offset: 5 })
        );
        assert_eq!(unaptr_regexp_for("https://a/"), "!.*!https://a/!");
    }
}
