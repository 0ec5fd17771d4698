//! The master-file reader (RFC 1035 §5, RFC 3597 §5) that keeps the position of every field.
//!
//! ```text
//!   zone file ──lines──▶ tokenizer ──entries──▶ directive / record parser ──▶ ZoneRecord (wire RDATA)
//!   ($INCLUDE: a nested file, same pipeline)                              └─▶ Diagnostic (Z1, Z2)
//! ```
//!
//! What it reads:
//! * `$ORIGIN`, `$TTL`, `$INCLUDE file [origin]` (the file is relative to the including file's
//!   directory — BIND resolves it against its working directory instead; nested; a cycle or a
//!   depth over 16 is an error). `$GENERATE` is reported as
//!   unsupported (Z1), never skipped silently.
//! * Parentheses across lines, `;` comments, quoted and unquoted character-strings, `\X` and `\DDD`
//!   escapes (RFC 1035 §5.1), owner inheritance (blank first column), TTL and class in either order,
//!   `@`, relative names, TTL units (`1h30m`, BIND style).
//! * RDATA to uncompressed wire form for every type in [`crate::rdata`]'s table (the RFC 1035
//!   types, DNSSEC with RFC 4034 A.1 mnemonics, SVCB/HTTPS, LOC, APL, TLSA, …; parsing in the
//!   `rdata_text` child module), and the generic `\# len hex` form (RFC 3597 §5) for any type,
//!   including `TYPEnnn` mnemonics; generic data for a known type must be valid RDATA of that type.
//!
//! **Nothing is dropped silently**: a line that does not parse yields a Z1 diagnostic at the
//! offending field and the record is left out. Notable traps it reports: NAPTR ORDER 70000 (out of
//! range, never truncated to 4464), an unterminated quote, a character-string over 255 octets, a
//! `\DDD` escape over 255, unbalanced parentheses.
//!
//! **`""` as NAPTR REPLACEMENT** (docs/decisions.md, A1): the field is a domain name, so `""` is wrong, but it
//! is what RFC 7286 §3.2 and RFC 8686 §3.4 print and what the author meant is clear: the root. The
//! reader keeps the record with REPLACEMENT = root (`.`) and reports a **Z2 error** at the
//! replacement field. A consumer that wants BIND's behaviour (reject) treats any error diagnostic
//! as fatal; the checker reports it as Z2.
//!
//! Positions: [`ZoneRecord::position`] is the owner field (or the first field when the owner is
//! inherited); [`ZoneRecord::rdata_positions`] holds one position per RDATA token in presentation
//! order (for NAPTR exactly ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP, REPLACEMENT; for a quoted
//! string the column of its opening quote). Columns count bytes from 1.
//!
//! Design for large zones: the input is read line by line into one reusable buffer, tokens are
//! byte ranges into it, and records go to a callback ([`stream_zone_file`]) so a caller such as the
//! checker can keep a compact form instead of every [`ZoneRecord`].

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use altodisc_proto::DomainName;

use crate::diag::{Diagnostic, Severity};
use crate::rdata::type_number;
use crate::record::{CLASS_IN, Position, Zone, ZoneRecord, rtype};
use crate::rules::Rule;

mod rdata_text;

pub use crate::rdata::type_name;
use rdata_text::{Fields, parse_rdata};

/// Deepest `$INCLUDE` nesting accepted.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The result of reading one zone file (with its includes).
#[derive(Debug, Clone)]
pub struct ZoneFileOutcome {
    /// The records read, in source order. Records with errors are left out (see `diagnostics`).
    pub zone: Zone,
    /// Z1 (syntax) and Z2 (`""` replacement) findings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ZoneFileOutcome {
    /// Whether any diagnostic is an error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// What streaming a zone returns besides the records it handed to the callback.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    /// The zone's origin: the one given, else the first `$ORIGIN` of the top file, else the owner of
    /// the first SOA record, else the root.
    pub origin: DomainName,
    /// Z1/Z2 findings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many records were handed to the callback.
    pub records: usize,
}

/// The top-level file could not be read at all (an unreadable `$INCLUDE` is a Z1 diagnostic instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneReadError {
    /// Opening or reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl ZoneReadError {
    /// Whether the file does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
        }
    }
}

/// Reads a zone file (and its `$INCLUDE`s) into memory.
///
/// `origin` is the zone apex if known (e.g. from `--origin` or a `<origin>.zone` file name); a
/// `$ORIGIN` in the file overrides it for the names that follow.
///
/// # Errors
/// [`ZoneReadError::Io`] when the file cannot be opened or read; everything else is a diagnostic.
pub fn read_zone_file(
    path: &Path,
    origin: Option<&DomainName>,
) -> Result<ZoneFileOutcome, ZoneReadError> {
    let mut records = Vec::new();
    let summary = stream_zone_file(path, origin, &mut |r| records.push(r))?;
    Ok(ZoneFileOutcome {
        zone: Zone {
            origin: summary.origin,
            records,
        },
        diagnostics: summary.diagnostics,
    })
}

/// Reads zone text held in memory. `file_label` names it in positions; a relative `$INCLUDE` is
/// resolved against the current directory.
#[must_use]
pub fn read_zone_str(text: &str, file_label: &str, origin: Option<&DomainName>) -> ZoneFileOutcome {
    let mut records = Vec::new();
    let summary = stream_zone_str(text, file_label, origin, &mut |r| records.push(r));
    ZoneFileOutcome {
        zone: Zone {
            origin: summary.origin,
            records,
        },
        diagnostics: summary.diagnostics,
    }
}

/// Streams the records of a zone file to `on_record`, in source order, without keeping them.
///
/// # Errors
/// [`ZoneReadError::Io`] when the top-level file cannot be opened or read.
pub fn stream_zone_file(
    path: &Path,
    origin: Option<&DomainName>,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> Result<StreamSummary, ZoneReadError> {
    let io_err = |source| ZoneReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut reader = Reader::new(origin, on_record);
    if let Ok(canon) = path.canonicalize() {
        reader.include_stack.push(canon);
    }
    let mut state = FileState::new(Arc::from(path.display().to_string()), origin.cloned());
    let dir = path.parent().map(Path::to_path_buf);
    reader
        .read(
            BufReader::with_capacity(1 << 16, file),
            &mut state,
            dir.as_deref(),
            true,
        )
        .map_err(io_err)?;
    Ok(reader.finish())
}

/// Streams the records of zone text held in memory (see [`read_zone_str`]).
pub fn stream_zone_str(
    text: &str,
    file_label: &str,
    origin: Option<&DomainName>,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> StreamSummary {
    let mut reader = Reader::new(origin, on_record);
    let mut state = FileState::new(Arc::from(file_label), origin.cloned());
    // Reading from memory cannot fail.
    let _ = reader.read(text.as_bytes(), &mut state, None, true);
    reader.finish()
}

/// The origin a file name implies: `<origin>.zone` (or `<origin>.db`), e.g.
/// `100.51.198.in-addr.arpa.zone` → `100.51.198.in-addr.arpa.`. `None` for other names.
#[must_use]
pub fn origin_from_file_name(path: &Path) -> Option<DomainName> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".zone")
        .or_else(|| name.strip_suffix(".db"))?;
    if stem.is_empty() || !stem.contains('.') && stem.len() > 63 {
        return None;
    }
    DomainName::parse(stem).ok()
}

// ---------------------------------------------------------------------------------------------
// Reader state

struct Reader<'s> {
    sink: &'s mut dyn FnMut(ZoneRecord),
    diagnostics: Vec<Diagnostic>,
    include_stack: Vec<PathBuf>,
    zone_origin: Option<DomainName>,
    first_soa_owner: Option<DomainName>,
    records: usize,
}

#[derive(Clone)]
struct FileState {
    file: Arc<str>,
    origin: Option<DomainName>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    soa_minimum: Option<u32>,
    last_owner: Option<DomainName>,
    last_class: u16,
}

impl FileState {
    fn new(file: Arc<str>, origin: Option<DomainName>) -> Self {
        Self {
            file,
            origin,
            default_ttl: None,
            last_ttl: None,
            soa_minimum: None,
            last_owner: None,
            last_class: CLASS_IN,
        }
    }

    fn pos(&self, line: u32, column: u32) -> Position {
        Position {
            file: Arc::clone(&self.file),
            line,
            column,
        }
    }
}

/// One token: a byte range of the entry buffer (quotes excluded; escapes not yet decoded).
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    quoted: bool,
    line: u32,
    column: u32,
}

/// A syntax problem at a place.
struct Problem {
    line: u32,
    column: u32,
    message: String,
    hint: Option<String>,
}

impl Problem {
    fn at(tok: &Token, message: impl Into<String>) -> Self {
        Self {
            line: tok.line,
            column: tok.column,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl<'s> Reader<'s> {
    fn new(origin: Option<&DomainName>, sink: &'s mut dyn FnMut(ZoneRecord)) -> Self {
        Self {
            sink,
            diagnostics: Vec::new(),
            include_stack: Vec::new(),
            zone_origin: origin.cloned(),
            first_soa_owner: None,
            records: 0,
        }
    }

    fn finish(self) -> StreamSummary {
        StreamSummary {
            origin: self
                .zone_origin
                .or(self.first_soa_owner)
                .unwrap_or_else(DomainName::root),
            diagnostics: self.diagnostics,
            records: self.records,
        }
    }

    fn problem(&mut self, st: &FileState, p: Problem) {
        self.report(st, Rule::Z1, Severity::Error, p);
    }

    fn report(&mut self, st: &FileState, rule: Rule, severity: Severity, p: Problem) {
        let mut d = Diagnostic::new(rule, Some(st.pos(p.line, p.column)), p.message)
            .with_severity(severity);
        d.hint = p.hint;
        self.diagnostics.push(d);
    }

    /// Reads every entry of one input. `top` marks the file given by the caller (its first
    /// `$ORIGIN` names the zone when no origin was given).
    fn read<R: BufRead>(
        &mut self,
        mut input: R,
        st: &mut FileState,
        dir: Option<&Path>,
        top: bool,
    ) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        let mut toks: Vec<Token> = Vec::with_capacity(16);
        let mut line_no: u32 = 0;
        loop {
            buf.clear();
            toks.clear();
            let mut depth = 0usize;
            let mut open_paren: Option<(u32, u32)> = None;
            let mut failed = false;
            let mut first_line = 0u32;
            loop {
                let line_start = buf.len();
                let n = input.read_until(b'\n', &mut buf)?;
                if n == 0 {
                    break;
                }
                line_no = line_no.saturating_add(1);
                if line_start == 0 {
                    first_line = line_no;
                }
                if !failed
                    && let Err(p) = tokenize_line(
                        &buf,
                        line_start,
                        line_no,
                        &mut toks,
                        &mut depth,
                        &mut open_paren,
                    )
                {
                    self.problem(st, p);
                    failed = true;
                    // Keep consuming until the parentheses close, so one error does not cascade.
                    if depth == 0 {
                        break;
                    }
                }
                if depth == 0 {
                    break;
                }
                if failed {
                    // Still inside parentheses: track them roughly to find the end of the entry.
                    let line = &buf[line_start..];
                    if line.contains(&b')') {
                        break;
                    }
                }
            }
            if buf.is_empty() {
                return Ok(());
            }
            if depth > 0 && !failed {
                let (line, column) = open_paren.unwrap_or((first_line, 1));
                self.problem(
                    st,
                    Problem {
                        line,
                        column,
                        message: "unbalanced parenthesis: '(' is never closed".into(),
                        hint: Some(
                            "close the parenthesis; RFC 4848 §3's sample has this mistake".into(),
                        ),
                    },
                );
                failed = true;
            }
            if failed || toks.is_empty() {
                continue;
            }
            let blank_owner = matches!(buf.first(), Some(b' ' | b'\t'));
            self.entry(&buf, &toks, blank_owner, st, dir, top);
        }
    }

    fn entry(
        &mut self,
        buf: &[u8],
        toks: &[Token],
        blank_owner: bool,
        st: &mut FileState,
        dir: Option<&Path>,
        top: bool,
    ) {
        let first = toks[0];
        let text = |t: &Token| &buf[t.start..t.end];
        if !blank_owner && !first.quoted && text(&first).first() == Some(&b'$') {
            self.directive(buf, toks, st, dir, top);
            return;
        }
        if let Err(p) = self.record(buf, toks, blank_owner, st) {
            self.problem(st, p);
        }
    }

    fn directive(
        &mut self,
        buf: &[u8],
        toks: &[Token],
        st: &mut FileState,
        dir: Option<&Path>,
        top: bool,
    ) {
        let first = toks[0];
        let name = &buf[first.start..first.end];
        let args = &toks[1..];
        let result: Result<(), Problem> = if name.eq_ignore_ascii_case(b"$ORIGIN") {
            match args {
                [t] => parse_name(buf, t, st.origin.as_ref()).map(|n| {
                    if top && self.zone_origin.is_none() {
                        self.zone_origin = Some(n.clone());
                    }
                    st.origin = Some(n);
                }),
                [] => Err(Problem::at(&first, "$ORIGIN needs a domain name")),
                [_, extra, ..] => Err(Problem::at(extra, "unexpected field after $ORIGIN name")),
            }
        } else if name.eq_ignore_ascii_case(b"$TTL") {
            match args {
                [t] => parse_ttl(buf, t).map(|v| {
                    st.default_ttl = Some(v);
                }),
                [] => Err(Problem::at(&first, "$TTL needs a value")),
                [_, extra, ..] => Err(Problem::at(extra, "unexpected field after $TTL value")),
            }
        } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
            match args {
                [] => Err(Problem::at(&first, "$INCLUDE needs a file name")),
                [file] => self.include(buf, file, None, st, dir),
                [file, origin] => self.include(buf, file, Some(origin), st, dir),
                [_, _, extra, ..] => {
                    Err(Problem::at(extra, "unexpected field after $INCLUDE origin"))
                }
            }
        } else if name.eq_ignore_ascii_case(b"$GENERATE") {
            Err(Problem::at(
                &first,
                "$GENERATE is not supported by this reader; its records are not read",
            )
            .hint("expand the range into explicit records"))
        } else {
            Err(Problem::at(
                &first,
                format!("unknown directive {}", String::from_utf8_lossy(name)),
            )
            .hint("RFC 1035 §5.1 defines $ORIGIN and $INCLUDE; $TTL comes from RFC 2308 §4"))
        };
        if let Err(p) = result {
            self.problem(st, p);
        }
    }

    fn include(
        &mut self,
        buf: &[u8],
        file_tok: &Token,
        origin_tok: Option<&Token>,
        st: &FileState,
        dir: Option<&Path>,
    ) -> Result<(), Problem> {
        let raw = decode_string(buf, file_tok, usize::MAX)?;
        let rel = PathBuf::from(String::from_utf8_lossy(&raw).into_owned());
        let path = match dir {
            Some(d) if rel.is_relative() => d.join(&rel),
            _ => rel,
        };
        let origin = match origin_tok {
            Some(t) => Some(parse_name(buf, t, st.origin.as_ref())?),
            None => st.origin.clone(),
        };
        if self.include_stack.len() > MAX_INCLUDE_DEPTH {
            return Err(Problem::at(
                file_tok,
                format!("$INCLUDE nested deeper than {MAX_INCLUDE_DEPTH}"),
            ));
        }
        let canon = path.canonicalize().map_err(|e| {
            Problem::at(
                file_tok,
                format!("cannot read included file {}: {e}", path.display()),
            )
        })?;
        if self.include_stack.contains(&canon) {
            return Err(Problem::at(
                file_tok,
                format!("$INCLUDE cycle: {} is already being read", path.display()),
            )
            .hint("remove the $INCLUDE that leads back to an including file"));
        }
        let file = File::open(&path).map_err(|e| {
            Problem::at(
                file_tok,
                format!("cannot read included file {}: {e}", path.display()),
            )
        })?;
        // RFC 1035 §5.1: the included file starts with the given origin (or the current one); its
        // $ORIGIN and $TTL changes do not leak back into the including file.
        let mut inner = st.clone();
        inner.file = Arc::from(path.display().to_string());
        inner.origin = origin;
        self.include_stack.push(canon);
        let inner_dir = path.parent().map(Path::to_path_buf);
        let result = self.read(
            BufReader::with_capacity(1 << 16, file),
            &mut inner,
            inner_dir.as_deref(),
            false,
        );
        self.include_stack.pop();
        result.map_err(|e| {
            Problem::at(
                file_tok,
                format!("error reading included file {}: {e}", path.display()),
            )
        })
    }

    fn record(
        &mut self,
        buf: &[u8],
        toks: &[Token],
        blank_owner: bool,
        st: &mut FileState,
    ) -> Result<(), Problem> {
        let mut i = 0usize;
        let owner = if blank_owner {
            st.last_owner.clone().ok_or_else(|| {
                Problem::at(
                    &toks[0],
                    "record has no owner (blank first column) and no previous owner",
                )
            })?
        } else {
            i = 1;
            match &st.last_owner {
                // Fast path for runs of records at one owner written out in full.
                Some(prev) if same_text_as(buf, &toks[0], prev, st.origin.as_ref()) => prev.clone(),
                _ => parse_name(buf, &toks[0], st.origin.as_ref())?,
            }
        };
        let start_tok = toks[0];
        let mut ttl: Option<u32> = None;
        let mut class: Option<u16> = None;
        // RFC 1035 §5.1: [<TTL>] [<class>] <type> or [<class>] [<TTL>] <type>.
        for _ in 0..2 {
            let Some(t) = toks.get(i) else { break };
            if t.quoted {
                break;
            }
            let word = &buf[t.start..t.end];
            if ttl.is_none() && word.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(parse_ttl(buf, t)?);
                i += 1;
            } else if class.is_none()
                && let Some(c) = class_number(word)
            {
                class = Some(c);
                i += 1;
            } else {
                break;
            }
        }
        let type_tok = *toks
            .get(i)
            .ok_or_else(|| Problem::at(toks.last().unwrap_or(&start_tok), "record has no type"))?;
        i += 1;
        let type_word = &buf[type_tok.start..type_tok.end];
        let rrtype = type_number(type_word).ok_or_else(|| {
            Problem::at(
                &type_tok,
                format!(
                    "unknown class or type {}",
                    String::from_utf8_lossy(type_word)
                ),
            )
            .hint("use a known mnemonic or TYPEnnn with the RFC 3597 \\# form")
        })?;
        let class = class.unwrap_or(st.last_class);
        let rdata_toks = &toks[i..];
        let mut fields = Fields {
            buf,
            toks: rdata_toks,
            next: 0,
            after: type_tok,
            origin: st.origin.as_ref(),
        };
        let mut notes = Vec::new();
        let rdata = parse_rdata(rrtype, class, &mut fields, &mut notes)?;
        fields.end()?;
        if rdata.len() > usize::from(u16::MAX) {
            return Err(Problem::at(
                &type_tok,
                format!("RDATA of {} octets exceeds 65535", rdata.len()),
            ));
        }
        let ttl = match ttl {
            Some(t) => {
                st.last_ttl = Some(t);
                t
            }
            None => match st.default_ttl.or(st.last_ttl) {
                Some(t) => t,
                None => {
                    let soa_min = if rrtype == rtype::SOA {
                        soa_minimum(&rdata)
                    } else {
                        st.soa_minimum
                    };
                    let msg = "no TTL given and no $TTL before it";
                    match soa_min {
                        Some(m) => {
                            self.report(
                                st,
                                Rule::Z1,
                                Severity::Warning,
                                Problem::at(
                                    &start_tok,
                                    format!("{msg}; using the SOA MINIMUM {m}"),
                                )
                                .hint("add a $TTL line at the top of the file (RFC 2308 §4)"),
                            );
                            st.last_ttl = Some(m);
                            m
                        }
                        None => {
                            return Err(Problem::at(&start_tok, msg)
                                .hint("add a $TTL line at the top of the file (RFC 2308 §4)"));
                        }
                    }
                }
            },
        };
        if rrtype == rtype::SOA {
            st.soa_minimum = soa_minimum(&rdata);
            if self.first_soa_owner.is_none() {
                self.first_soa_owner = Some(owner.clone());
            }
        }
        for (tok_index, note) in notes {
            if let Some(t) = rdata_toks.get(tok_index) {
                let p = Problem::at(t, note.message()).hint(note.hint());
                self.report(st, note.rule(), note.severity(), p);
            }
        }
        if let Some(apex) = &self.zone_origin
            && !crate::check::is_below(&owner, apex)
            && st.last_owner.as_ref() != Some(&owner)
        {
            self.report(
                st,
                Rule::Z1,
                Severity::Warning,
                Problem::at(&start_tok, format!("{owner} is outside the zone {apex}"))
                    .hint("BIND ignores out-of-zone data; move the record to the zone that holds the name"),
            );
        }
        st.last_class = class;
        st.last_owner = Some(owner.clone());
        let rdata_positions = rdata_toks
            .iter()
            .map(|t| st.pos(t.line, t.column))
            .collect();
        self.records += 1;
        (self.sink)(ZoneRecord {
            owner,
            ttl,
            class,
            rtype: rrtype,
            rdata,
            position: Some(st.pos(start_tok.line, start_tok.column)),
            rdata_positions,
        });
        Ok(())
    }
}

/// A finding about an accepted record (the record is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Note {
    /// NAPTR REPLACEMENT written as `""` (read as the root).
    EmptyQuotedReplacement,
    /// NAPTR REGEXP with a `\X` escape of an ordinary character: the backslash vanishes.
    VanishingBackslash,
}

/// Whether presentation text holds `\X` with X an ordinary character (not `\`, `"`, a digit):
/// RFC 1035 §5.1 turns it into plain X, which in a regexp is usually a doubling mistake
/// (RFC 3403 §7).
fn lone_backslash(raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            match raw.get(i + 1) {
                Some(b'\\' | b'"') => i += 2,
                Some(d) if d.is_ascii_digit() => i += 4,
                Some(_) => return true,
                None => return false,
            }
        } else {
            i += 1;
        }
    }
    false
}

impl Note {
    fn rule(self) -> Rule {
        match self {
            Self::EmptyQuotedReplacement => Rule::Z2,
            Self::VanishingBackslash => Rule::Z23,
        }
    }

    fn severity(self) -> Severity {
        self.rule().default_severity()
    }

    fn message(self) -> &'static str {
        match self {
            Self::EmptyQuotedReplacement => {
                "NAPTR REPLACEMENT is \"\"; the empty replacement is the root, written '.'"
            }
            Self::VanishingBackslash => {
                "REGEXP has a single backslash before an ordinary character; it disappears when the zone is read"
            }
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Self::EmptyQuotedReplacement => {
                "write '.' (RFC 3403 §4.1); \"\" is how RFC 7286/8686 print it, BIND rejects it and ldns turns it into a relative name (docs/decisions.md, A1)"
            }
            Self::VanishingBackslash => {
                "write \\\\ for a backslash that must reach the wire (RFC 3403 §7), or drop it"
            }
        }
    }
}

fn soa_minimum(rdata: &[u8]) -> Option<u32> {
    let tail = rdata.get(rdata.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]))
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

/// Splits one physical line (`buf[line_start..]`) into tokens, tracking parentheses.
fn tokenize_line(
    buf: &[u8],
    line_start: usize,
    line_no: u32,
    toks: &mut Vec<Token>,
    depth: &mut usize,
    open_paren: &mut Option<(u32, u32)>,
) -> Result<(), Problem> {
    let col = |i: usize| u32::try_from(i - line_start + 1).unwrap_or(u32::MAX);
    let mut i = line_start;
    let end = buf.len();
    while i < end {
        let b = buf[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b';' => break,
            b'(' => {
                if *depth == 0 {
                    *open_paren = Some((line_no, col(i)));
                }
                *depth += 1;
                i += 1;
            }
            b')' => {
                if *depth == 0 {
                    return Err(Problem {
                        line: line_no,
                        column: col(i),
                        message: "unbalanced parenthesis: ')' without '('".into(),
                        hint: None,
                    });
                }
                *depth -= 1;
                i += 1;
            }
            b'"' => {
                let open = i;
                i += 1;
                let start = i;
                loop {
                    match buf.get(i) {
                        None | Some(b'\n') => {
                            return Err(Problem {
                                line: line_no,
                                column: col(open),
                                message: "unterminated quoted string".into(),
                                hint: Some("close the string with '\"' on the same line; write a literal quote as \\\"".into()),
                            });
                        }
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(_) => i += 1,
                    }
                }
                toks.push(Token {
                    start,
                    end: i,
                    quoted: true,
                    line: line_no,
                    column: col(open),
                });
                i += 1;
            }
            _ => {
                let start = i;
                while i < end {
                    match buf[i] {
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                        b'\\' => i = (i + 2).min(end),
                        _ => i += 1,
                    }
                }
                // A trailing backslash before the newline is kept; decoding reports it.
                let tok_end = if i > start && buf[i - 1] == b'\n' {
                    i - 1
                } else {
                    i
                };
                toks.push(Token {
                    start,
                    end: tok_end,
                    quoted: false,
                    line: line_no,
                    column: col(start),
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Field decoding

/// Decodes one `\X` / `\DDD` escape at `raw[i]` (a backslash); returns the octet and the bytes used.
fn decode_escape(raw: &[u8], i: usize) -> Result<(u8, usize), String> {
    match raw.get(i + 1) {
        None => Err("backslash at the end of a field".into()),
        Some(d) if d.is_ascii_digit() => {
            let digits = raw
                .get(i + 1..i + 4)
                .filter(|s| s.iter().all(u8::is_ascii_digit));
            let Some(digits) = digits else {
                return Err(
                    "\\DDD escape needs exactly three decimal digits (RFC 1035 §5.1)".into(),
                );
            };
            let v = digits
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
            u8::try_from(v)
                .map(|o| (o, 4))
                .map_err(|_| format!("\\{} escape is over 255 (RFC 1035 §5.1)", v))
        }
        Some(&x) => Ok((x, 2)),
    }
}

/// Decodes a character-string token (quoted or not), enforcing `max` octets.
fn decode_string(buf: &[u8], t: &Token, max: usize) -> Result<Vec<u8>, Problem> {
    let raw = &buf[t.start..t.end];
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let (o, used) = decode_escape(raw, i).map_err(|m| Problem::at(t, m))?;
            out.push(o);
            i += used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    if out.len() > max {
        return Err(Problem::at(
            t,
            format!(
                "character-string of {} octets; the limit is {max} (RFC 1035 §3.3)",
                out.len()
            ),
        )
        .hint("split the text into several strings where the type allows it"));
    }
    Ok(out)
}

/// Whether the token spells `prev` (fast owner reuse); conservative: plain ASCII names only.
fn same_text_as(buf: &[u8], t: &Token, prev: &DomainName, origin: Option<&DomainName>) -> bool {
    let raw = &buf[t.start..t.end];
    if t.quoted || raw.contains(&b'\\') || raw == b"@" {
        return false;
    }
    let mut wire = prev.as_wire();
    let mut rest = raw;
    // Compare label by label, case-sensitively on purpose (keep the written case).
    loop {
        let Some(&len) = wire.first() else {
            return false;
        };
        if len == 0 {
            return rest.is_empty();
        }
        let len = usize::from(len);
        let Some(label) = wire.get(1..=len) else {
            return false;
        };
        match rest.iter().position(|&b| b == b'.') {
            Some(dot) => {
                if &rest[..dot] != label {
                    return false;
                }
                rest = &rest[dot + 1..];
                wire = &wire[len + 1..];
                if rest.is_empty() {
                    return wire == [0];
                }
            }
            None => {
                if rest != label {
                    return false;
                }
                wire = &wire[len + 1..];
                return origin.is_some_and(|o| o.as_wire() == wire);
            }
        }
    }
}

/// Parses a domain-name field: `@`, absolute (trailing dot) or relative to `origin`.
fn parse_name(buf: &[u8], t: &Token, origin: Option<&DomainName>) -> Result<DomainName, Problem> {
    let raw = &buf[t.start..t.end];
    if raw == b"@" && !t.quoted {
        return origin.cloned().ok_or_else(|| {
            Problem::at(t, "'@' used but no origin is known").hint("add $ORIGIN or pass --origin")
        });
    }
    if raw.is_empty() {
        return Err(Problem::at(t, "empty domain name").hint("write the root as '.'"));
    }
    if raw == b"." {
        return Ok(DomainName::root());
    }
    let mut wire: Vec<u8> =
        Vec::with_capacity(raw.len() + 2 + origin.map_or(0, |o| o.as_wire().len()));
    let mut label_at = 0usize;
    wire.push(0);
    let mut i = 0;
    let mut absolute = false;
    while i < raw.len() {
        let b = raw[i];
        if b == b'.' {
            let len = wire.len() - label_at - 1;
            if len == 0 {
                return Err(Problem::at(
                    t,
                    "empty label in domain name (two dots in a row?)",
                ));
            }
            finish_label(&mut wire, label_at, t)?;
            i += 1;
            if i == raw.len() {
                absolute = true;
            } else {
                label_at = wire.len();
                wire.push(0);
            }
            continue;
        }
        if b == b'\\' {
            let (o, used) = decode_escape(raw, i).map_err(|m| Problem::at(t, m))?;
            wire.push(o);
            i += used;
        } else {
            wire.push(b);
            i += 1;
        }
    }
    if !absolute {
        finish_label(&mut wire, label_at, t)?;
        match origin {
            Some(o) => wire.extend_from_slice(o.as_wire()),
            None => {
                return Err(Problem::at(
                    t,
                    format!("relative name {} but no origin is known", String::from_utf8_lossy(raw)),
                )
                .hint("add $ORIGIN, name the file <origin>.zone, pass --origin, or end the name with '.'"));
            }
        }
    } else {
        wire.push(0);
    }
    if wire.len() > altodisc_proto::name::MAX_NAME_LEN {
        return Err(Problem::at(
            t,
            format!(
                "name of {} octets; the limit is 255 (RFC 1035 §2.3.4)",
                wire.len()
            ),
        ));
    }
    DomainName::from_wire_owned(wire)
        .map_err(|e| Problem::at(t, format!("invalid domain name: {e}")))
}

fn finish_label(wire: &mut [u8], label_at: usize, t: &Token) -> Result<(), Problem> {
    let len = wire.len() - label_at - 1;
    if len > altodisc_proto::name::MAX_LABEL_LEN {
        return Err(Problem::at(
            t,
            format!("label of {len} octets; the limit is 63 (RFC 1035 §2.3.4)"),
        ));
    }
    // Checked above: len ≤ 63.
    wire[label_at] = u8::try_from(len).unwrap_or(0);
    Ok(())
}

/// TTL: decimal seconds, or BIND units (`1w2d3h4m5s`, case-insensitive).
fn parse_ttl(buf: &[u8], t: &Token) -> Result<u32, Problem> {
    let raw = &buf[t.start..t.end];
    let bad = || {
        Problem::at(t, format!("invalid TTL {}", String::from_utf8_lossy(raw)))
            .hint("a TTL is 0-4294967295 seconds, optionally with units like 1h30m")
    };
    if raw.is_empty() || t.quoted {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut cur: u64 = 0;
    let mut have_digit = false;
    let mut used_unit = false;
    for &b in raw {
        if b.is_ascii_digit() {
            cur = cur * 10 + u64::from(b - b'0');
            have_digit = true;
            if cur > u64::from(u32::MAX) {
                return Err(bad());
            }
        } else {
            let mult: u64 = match b.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86_400,
                b'w' => 604_800,
                _ => return Err(bad()),
            };
            if !have_digit {
                return Err(bad());
            }
            total += cur * mult;
            cur = 0;
            have_digit = false;
            used_unit = true;
        }
    }
    if have_digit {
        total += cur;
    } else if !used_unit {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

fn class_number(word: &[u8]) -> Option<u16> {
    if word.eq_ignore_ascii_case(b"IN") {
        Some(CLASS_IN)
    } else if word.eq_ignore_ascii_case(b"CS") {
        Some(2)
    } else if word.eq_ignore_ascii_case(b"CH") {
        Some(3)
    } else if word.eq_ignore_ascii_case(b"HS") {
        Some(4)
    } else if word.len() > 5 && word[..5].eq_ignore_ascii_case(b"CLASS") {
        parse_u16_digits(&word[5..])
    } else {
        None
    }
}

fn parse_u16_digits(d: &[u8]) -> Option<u16> {
    if d.is_empty() || d.len() > 5 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = d.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    u16::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use altodisc_proto::NaptrRecord;

    fn read(text: &str) -> ZoneFileOutcome {
        read_zone_str(
            text,
            "t.zone",
            Some(&DomainName::parse("example.net.").unwrap()),
        )
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    #[test]
    fn naptr_wire_matches_tv_w() {
        let o = read(
            "@ 3600 IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto-isp.example.net/ird!\" .\n",
        );
        assert!(o.diagnostics.is_empty(), "{:?}", o.diagnostics);
        let r = &o.zone.records[0];
        assert_eq!(
            hex(&r.rdata),
            "0064000A01750A414C544F3A687474707325212E2A2168747470733A2F2F616C746F2D6973702E6578616D706C652E6E65742F6972642100"
        );
        let cols: Vec<u32> = r.rdata_positions.iter().map(|p| p.column).collect();
        assert_eq!(cols, vec![17, 21, 24, 28, 41, 81]);
        assert_eq!(r.position.as_ref().unwrap().column, 1);
        // Non-terminal vector, relative replacement.
        let o = read("x 60 NAPTR 50 10 \"\" \"ALTO:https\" \"\" alto-deleg.example.org.\n");
        assert_eq!(
            hex(&o.zone.records[0].rdata),
            "0032000A000A414C544F3A6874747073000A616C746F2D64656C6567076578616D706C65036F726700"
        );
    }

    #[test]
    fn order_out_of_range_is_an_error_not_truncated() {
        let o = read("@ 60 NAPTR 70000 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n");
        assert!(o.zone.records.is_empty());
        let d = &o.diagnostics[0];
        assert_eq!((d.rule, d.severity), (Rule::Z1, Severity::Error));
        assert_eq!(d.position.as_ref().unwrap().column, 12);
        assert!(d.message.contains("70000"), "{}", d.message);
    }

    #[test]
    fn unterminated_quote_and_parens() {
        let o = read("@ 60 TXT \"abc\n@ 60 TXT ( \"a\"\n \"b\" )\n@ 60 TXT ( x\n");
        assert_eq!(o.zone.records.len(), 1);
        assert_eq!(o.diagnostics.len(), 2);
        assert_eq!(o.diagnostics[0].position.as_ref().unwrap().line, 1);
        assert!(o.diagnostics[0].message.contains("unterminated"));
        assert!(o.diagnostics[1].message.contains("never closed"));
        assert_eq!(o.zone.records[0].rdata, b"\x01a\x01b");
    }

    #[test]
    fn empty_quoted_replacement_is_z2_and_root() {
        let o = read("@ 60 NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" \"\"\n");
        assert_eq!(o.zone.records.len(), 1);
        assert_eq!(o.diagnostics[0].rule, Rule::Z2);
        assert_eq!(o.diagnostics[0].position.as_ref().unwrap().column, 62);
        let n = NaptrRecord::from_rdata(&o.zone.records[0].rdata).unwrap();
        assert!(n.replacement.is_root());
    }

    #[test]
    fn escapes_ttl_class_order_inheritance() {
        let o = read(
            "$TTL 1h\n$ORIGIN sub.example.net.\na IN 30 TXT \"x\\\\y\\\"z\" \\065b\n  NAPTR 1 2 u ALTO:https !.*!https://a.example/! .\nb.example.com. NAPTR 1 2 \"\" \"ALTO:https\" \"!^urn:cid:.+@([^\\\\.]+\\\\.)(.*)$!\\\\2!i\" .\n",
        );
        // The only finding: b.example.com. is outside the zone (a warning; the record is kept).
        assert_eq!(o.diagnostics.len(), 1, "{:?}", o.diagnostics);
        assert_eq!(o.diagnostics[0].severity, Severity::Warning);
        assert!(o.diagnostics[0].message.contains("outside the zone"));
        let r = &o.zone.records;
        assert_eq!(r[0].owner.to_string(), "a.sub.example.net.");
        assert_eq!(r[0].ttl, 30);
        assert_eq!(r[0].rdata, b"\x05x\\y\"z\x02Ab");
        assert_eq!(r[1].owner.to_string(), "a.sub.example.net.");
        assert_eq!(r[1].ttl, 3600);
        let n = NaptrRecord::from_rdata(&r[2].rdata).unwrap();
        assert_eq!(n.regexp, b"!^urn:cid:.+@([^\\.]+\\.)(.*)$!\\2!i");
    }

    #[test]
    fn generic_form_and_errors() {
        let o = read(
            "@ 60 TYPE65280 \\# 3 000A00\n@ 60 A \\# 4 c0000201\n@ 60 A \\# 5 c0000201\n@ 60 FOO 1\n@ 60 NAPTR 1 2 \"u\"\n",
        );
        assert_eq!(o.zone.records.len(), 2);
        assert_eq!(o.zone.records[0].rtype, 65280);
        assert_eq!(o.zone.records[1].rdata, [192, 0, 2, 1]);
        assert_eq!(o.diagnostics.len(), 3, "{:?}", o.diagnostics);
        let o = read("@ 60 TXT \\300\n@ 60 TXT \"x\" y\n@ 60 A 1.2.3.4 extra\n");
        assert!(
            o.zone.records.len() == 1 && o.diagnostics.len() == 2,
            "{:?}",
            o
        );
    }

    #[test]
    fn long_string_and_no_origin() {
        let long = "a".repeat(256);
        let o = read(&format!("@ 60 TXT {long}\n"));
        assert_eq!(o.diagnostics.len(), 1);
        let o = read_zone_str("a 60 A 1.2.3.4\n", "t", None);
        assert!(o.diagnostics[0].message.contains("no origin"));
    }

    #[test]
    fn dnssec_types_parse() {
        let o = read(
            "@ 60 DNSKEY 257 3 13 AQID\n@ 60 DS 1 13 2 0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B0a0B\n@ 60 RRSIG NAPTR 13 3 60 20300101000000 20200101000000 1234 example.net. AQID\n@ 60 NSEC a.example.net. A NAPTR RRSIG\n@ 60 NSEC3 1 0 0 - 0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM A RRSIG\n@ 60 NSEC3PARAM 1 0 0 ab\n@ 60 CAA 0 issue \"ca.example\"\n@ 60 SOA ns hostmaster 1 1h 15m 1w 5m\n@ 60 SRV 1 2 3 t\n@ 60 MX 10 m\n",
        );
        assert!(o.diagnostics.is_empty(), "{:?}", o.diagnostics);
        assert_eq!(o.zone.records.len(), 10);
        assert_eq!(o.zone.records[0].rdata, [1, 1, 3, 13, 1, 2, 3]);
        // NSEC bitmap: A(1) NAPTR(35) RRSIG(46) in window 0.
        assert_eq!(
            &o.zone.records[3].rdata[15..],
            [0, 6, 0x40, 0, 0, 0, 0x10, 0x02]
        );
        assert_eq!(
            rdata_text::parse_sig_time(b"20300101000000"),
            Some(1_893_456_000)
        );
    }
}
