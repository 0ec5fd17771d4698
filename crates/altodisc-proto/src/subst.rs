//! A validator for RFC 3402 substitution expressions (the general NAPTR REGEXP field).
//!
//! ```text
//! subst-expr   = delim-char ere delim-char repl delim-char *flags     (RFC 3402 §3.2)
//! delim-char   = any character except POS-DIGIT or a flag
//! repl         = *(string / backref)
//! string       = *(anychar / escapeddelim)       escapeddelim = "\" delim-char
//! backref      = "\" POS-DIGIT                   POS-DIGIT = 1-9
//! flags        = "i"
//! ```
//!
//! This is what the zone checker uses on records that are *not* in the U-NAPTR terminal form, and
//! what tells an operator exactly where an expression breaks. It checks structure only: the same
//! delimiter throughout and exactly three unescaped occurrences, the delimiter not a digit (BIND also
//! rejects `0`) nor the flag `i`, only the flag `i` (lowercase, as BIND enforces),
//! backreferences `\1`–`\9` that name an existing capture group (`\0` does not exist), and a
//! well-formed POSIX extended regular expression (balanced groups, closed bracket expressions,
//! known character classes, repetition with an operand, valid intervals).
//!
//! It never compiles the expression with a host regex engine (RFC 3403 §10): it only reads it.

use std::ops::Range;

/// Largest repetition count in an interval (POSIX `RE_DUP_MAX`).
pub const RE_DUP_MAX: u32 = 255;

/// A structurally valid substitution expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstitutionExpr {
    /// The delimiter character.
    pub delimiter: char,
    /// Byte range of the ERE inside the expression.
    pub ere: Range<usize>,
    /// Byte range of the replacement inside the expression.
    pub replacement: Range<usize>,
    /// Whether the `i` flag is present.
    pub case_insensitive: bool,
    /// Number of capture groups in the ERE.
    pub capture_groups: usize,
    /// Highest backreference number used in the replacement (0 if none).
    pub max_backreference: usize,
}

/// What is wrong with a substitution expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubstErrorKind {
    /// The expression is empty.
    #[error("empty expression")]
    Empty,
    /// Not UTF-8 (RFC 3403 §3).
    #[error("not UTF-8")]
    NotUtf8,
    /// The delimiter is a digit (RFC 3402 §3.2 forbids 1–9; BIND also rejects 0).
    #[error("the delimiter {0:?} is a digit (RFC 3402 §3.2)")]
    DigitDelimiter(char),
    /// The delimiter is the flag character `i` (RFC 3402 §3.2).
    #[error("the delimiter {0:?} is a flag character (RFC 3402 §3.2)")]
    FlagDelimiter(char),
    /// The delimiter is a backslash, the escape character.
    #[error("the delimiter is a backslash, the escape character")]
    BackslashDelimiter,
    /// Fewer than three unescaped delimiters.
    #[error("missing delimiter: {found} of 3 unescaped delimiters found (RFC 3402 §3.2)")]
    MissingDelimiter {
        /// How many were found.
        found: usize,
    },
    /// A fourth unescaped delimiter (in what would be the flags).
    #[error(
        "a fourth unescaped delimiter; escape it as \\<delim> in the replacement (RFC 3402 §3.2)"
    )]
    TooManyDelimiters,
    /// A flag other than `i`.
    #[error("unknown flag {0:?}; the only flag is \"i\" (RFC 3402 §3.2)")]
    UnknownFlag(char),
    /// Uppercase `I`: the ABNF is case-insensitive, but BIND rejects it, so we flag it too.
    #[error("uppercase flag \"I\"; write \"i\" (BIND rejects \"I\")")]
    UppercaseFlag,
    /// The ERE is empty (`!!x!`).
    #[error("empty regular expression")]
    EmptyEre,
    /// `\0` in the replacement: backreferences start at 1 (RFC 3402 §3.2 POS-DIGIT).
    #[error("backreference \\0 does not exist; they start at \\1 (RFC 3402 §3.2)")]
    BackrefZero,
    /// A backreference to a group that does not exist.
    #[error("backreference \\{number} but the expression has {groups} capture group(s)")]
    BackrefOutOfRange {
        /// The number used.
        number: usize,
        /// Groups available.
        groups: usize,
    },
    /// `)` without a matching `(`.
    #[error("unmatched ')'")]
    UnmatchedCloseParen,
    /// `(` never closed.
    #[error("unclosed '('")]
    UnclosedGroup,
    /// `[` never closed.
    #[error("unterminated bracket expression '['")]
    UnterminatedBracket,
    /// `[:name:]` with a name POSIX does not define.
    #[error("unknown character class [:{0}:]")]
    UnknownCharacterClass(String),
    /// `*`, `+`, `?` or an interval with nothing to repeat.
    #[error("repetition operator with nothing to repeat")]
    RepetitionWithoutOperand,
    /// An interval `{m,n}` that is malformed, has m > n, or exceeds 255.
    #[error("invalid interval (want {{m}}, {{m,}} or {{m,n}} with m <= n <= 255)")]
    InvalidInterval,
    /// A backslash at the very end of the ERE or replacement.
    #[error("trailing backslash")]
    TrailingBackslash,
}

/// A substitution-expression error with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct SubstExprError {
    /// Byte offset of the problem in the expression.
    pub offset: usize,
    /// What is wrong.
    pub kind: SubstErrorKind,
}

fn err(offset: usize, kind: SubstErrorKind) -> SubstExprError {
    SubstExprError { offset, kind }
}

/// Validates an RFC 3402 substitution expression (the NAPTR REGEXP field as it is on the wire).
///
/// # Errors
/// A [`SubstExprError`] with the first problem and its byte offset.
pub fn validate_substitution(expr: &[u8]) -> Result<SubstitutionExpr, SubstExprError> {
    let text =
        std::str::from_utf8(expr).map_err(|e| err(e.valid_up_to(), SubstErrorKind::NotUtf8))?;
    let Some(delimiter) = text.chars().next() else {
        return Err(err(0, SubstErrorKind::Empty));
    };
    if delimiter.is_ascii_digit() {
        return Err(err(0, SubstErrorKind::DigitDelimiter(delimiter)));
    }
    if delimiter == 'i' || delimiter == 'I' {
        return Err(err(0, SubstErrorKind::FlagDelimiter(delimiter)));
    }
    if delimiter == '\\' {
        return Err(err(0, SubstErrorKind::BackslashDelimiter));
    }
    let dlen = delimiter.len_utf8();

    // Find the unescaped delimiters after the first. `\` escapes the next character everywhere.
    // The first delimiter opens the ERE; we need two more (three in all).
    let mut delims: Vec<usize> = Vec::with_capacity(2);
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if chars.next().is_none() {
                return Err(err(i, SubstErrorKind::TrailingBackslash));
            }
        } else if c == delimiter {
            delims.push(i);
            if delims.len() == 2 {
                // The closing delimiter: everything after it is flags.
                break;
            }
        }
    }
    let [d2, d3] = delims[..] else {
        return Err(err(
            text.len(),
            SubstErrorKind::MissingDelimiter {
                found: delims.len() + 1,
            },
        ));
    };
    let ere = dlen..d2;
    let replacement = d2 + dlen..d3;

    let mut case_insensitive = false;
    for (i, c) in text[d3 + dlen..].char_indices() {
        let at = d3 + dlen + i;
        match c {
            'i' => case_insensitive = true,
            'I' => return Err(err(at, SubstErrorKind::UppercaseFlag)),
            c if c == delimiter => return Err(err(at, SubstErrorKind::TooManyDelimiters)),
            c => return Err(err(at, SubstErrorKind::UnknownFlag(c))),
        }
    }

    if ere.is_empty() {
        return Err(err(ere.start, SubstErrorKind::EmptyEre));
    }
    let capture_groups = check_ere(text, ere.clone())?;
    let max_backreference = check_replacement(text, replacement.clone(), capture_groups)?;
    Ok(SubstitutionExpr {
        delimiter,
        ere,
        replacement,
        case_insensitive,
        capture_groups,
        max_backreference,
    })
}

const POSIX_CLASSES: [&str; 12] = [
    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
    "upper", "xdigit",
];

/// Checks POSIX ERE well-formedness and returns the number of capture groups.
fn check_ere(text: &str, range: Range<usize>) -> Result<usize, SubstExprError> {
    let b = text.as_bytes();
    let end = range.end;
    let mut i = range.start;
    let mut open: Vec<usize> = Vec::new();
    let mut groups = 0usize;
    // Whether the previous token can be repeated.
    let mut have_operand = false;
    while i < end {
        match b[i] {
            b'\\' => {
                if i + 1 >= end {
                    return Err(err(i, SubstErrorKind::TrailingBackslash));
                }
                i += 1 + utf8_len(b[i + 1]);
                have_operand = true;
            }
            b'[' => {
                i = bracket_end(text, i, end)?;
                have_operand = true;
            }
            b'(' => {
                open.push(i);
                groups += 1;
                i += 1;
                have_operand = false;
            }
            b')' => {
                if open.pop().is_none() {
                    return Err(err(i, SubstErrorKind::UnmatchedCloseParen));
                }
                i += 1;
                have_operand = true;
            }
            b'|' | b'^' => {
                i += 1;
                have_operand = false;
            }
            b'*' | b'+' | b'?' => {
                if !have_operand {
                    return Err(err(i, SubstErrorKind::RepetitionWithoutOperand));
                }
                i += 1;
            }
            b'{' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                if !have_operand {
                    return Err(err(i, SubstErrorKind::RepetitionWithoutOperand));
                }
                i = interval_end(b, i, end)?;
            }
            other => {
                i += utf8_len(other);
                have_operand = true;
            }
        }
    }
    if let Some(&at) = open.last() {
        return Err(err(at, SubstErrorKind::UnclosedGroup));
    }
    Ok(groups)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Returns the index just past the bracket expression starting at `start` (`b[start] == b'['`).
fn bracket_end(text: &str, start: usize, end: usize) -> Result<usize, SubstExprError> {
    let b = text.as_bytes();
    let mut i = start + 1;
    if b.get(i) == Some(&b'^') && i < end {
        i += 1;
    }
    // A `]` first in the list is literal (POSIX 9.3.5).
    if b.get(i) == Some(&b']') && i < end {
        i += 1;
    }
    while i < end {
        match b[i] {
            b']' => return Ok(i + 1),
            b'[' if matches!(b.get(i + 1), Some(b':' | b'=' | b'.')) && i + 1 < end => {
                let kind = b[i + 1];
                let body = i + 2;
                let close = (body..end.saturating_sub(1))
                    .find(|&j| b[j] == kind && b[j + 1] == b']')
                    .ok_or_else(|| err(start, SubstErrorKind::UnterminatedBracket))?;
                if kind == b':' {
                    let name = &text[body..close];
                    if !POSIX_CLASSES.contains(&name) {
                        return Err(err(
                            i,
                            SubstErrorKind::UnknownCharacterClass(name.to_owned()),
                        ));
                    }
                }
                i = close + 2;
            }
            other => i += utf8_len(other),
        }
    }
    Err(err(start, SubstErrorKind::UnterminatedBracket))
}

/// Returns the index just past the interval starting at `start` (`b[start] == b'{'`).
fn interval_end(b: &[u8], start: usize, end: usize) -> Result<usize, SubstExprError> {
    let bad = || err(start, SubstErrorKind::InvalidInterval);
    let read_num = |mut i: usize| -> Option<(u32, usize)> {
        let from = i;
        let mut v: u32 = 0;
        while i < end && b[i].is_ascii_digit() {
            v = v.saturating_mul(10).saturating_add(u32::from(b[i] - b'0'));
            i += 1;
        }
        (i > from).then_some((v, i))
    };
    let (min, mut i) = read_num(start + 1).ok_or_else(bad)?;
    let mut max = Some(min);
    if i < end && b[i] == b',' {
        i += 1;
        match read_num(i) {
            Some((v, j)) => {
                max = Some(v);
                i = j;
            }
            None => max = None,
        }
    }
    if i >= end || b[i] != b'}' {
        return Err(bad());
    }
    if min > RE_DUP_MAX || max.is_some_and(|m| m > RE_DUP_MAX || m < min) {
        return Err(bad());
    }
    Ok(i + 1)
}

/// Checks backreferences in the replacement; returns the highest number used.
fn check_replacement(
    text: &str,
    range: Range<usize>,
    groups: usize,
) -> Result<usize, SubstExprError> {
    let b = text.as_bytes();
    let mut max = 0usize;
    let mut i = range.start;
    while i < range.end {
        if b[i] == b'\\' {
            let Some(&next) = b.get(i + 1).filter(|_| i + 1 < range.end) else {
                return Err(err(i, SubstErrorKind::TrailingBackslash));
            };
            match next {
                b'0' => return Err(err(i, SubstErrorKind::BackrefZero)),
                b'1'..=b'9' => {
                    let number = usize::from(next - b'0');
                    if number > groups {
                        return Err(err(i, SubstErrorKind::BackrefOutOfRange { number, groups }));
                    }
                    max = max.max(number);
                }
                _ => {}
            }
            // `\\`, `\<delim>` and `\<other>` all consume two characters (BIND reads `\\` as one
            // literal backslash; RFC 3402 §3.2 leaves it open).
            i += 1 + utf8_len(next);
        } else {
            i += utf8_len(b[i]);
        }
    }
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(expr: &str) -> SubstErrorKind {
        validate_substitution(expr.as_bytes()).unwrap_err().kind
    }

    #[test]
    fn counts_groups_and_backrefs() {
        let s = validate_substitution(br"!^urn:cid:.+@([^\.]+\.)(.*)$!\2!i").unwrap();
        assert_eq!(s.capture_groups, 2);
        assert_eq!(s.max_backreference, 2);
        assert!(s.case_insensitive);
        assert_eq!(s.delimiter, '!');
    }

    #[test]
    fn ere_structure() {
        assert_eq!(kind("!(a!x!"), SubstErrorKind::UnclosedGroup);
        assert_eq!(kind("!a)!x!"), SubstErrorKind::UnmatchedCloseParen);
        assert_eq!(kind("![a-z!x!"), SubstErrorKind::UnterminatedBracket);
        assert_eq!(kind("#[a-z#x#"), SubstErrorKind::UnterminatedBracket);
        assert_eq!(
            kind("![[:nope:]]!x!"),
            SubstErrorKind::UnknownCharacterClass("nope".into())
        );
        assert_eq!(kind("!*a!x!"), SubstErrorKind::RepetitionWithoutOperand);
        assert_eq!(kind("!(+a)!x!"), SubstErrorKind::RepetitionWithoutOperand);
        assert_eq!(kind("!a{3,1}!x!"), SubstErrorKind::InvalidInterval);
        assert_eq!(kind("!a{999}!x!"), SubstErrorKind::InvalidInterval);
        assert!(validate_substitution(b"![]a]{2,}!x!").is_ok());
        assert!(validate_substitution(b"![[:alpha:]]+(x|y)?!x!").is_ok());
    }

    #[test]
    fn replacement_escapes() {
        assert!(validate_substitution(br"!.*!a\!b!").is_ok());
        assert_eq!(kind(r"!.*!\0!"), SubstErrorKind::BackrefZero);
        assert_eq!(kind("!.*!x!i!"), SubstErrorKind::TooManyDelimiters);
        assert_eq!(
            validate_substitution(b"!.*!x").unwrap_err(),
            SubstExprError {
                offset: 5,
                kind: SubstErrorKind::MissingDelimiter { found: 2 }
            }
        );
    }
}
