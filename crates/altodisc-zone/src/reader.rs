//! The master-file reader (RFC 1035 §5, RFC 3597 §5) that keeps the position of every field.
//!
//! ```text
//!   zone file ──lines──▶ tokenizer ──entries──▶ directive / record parser ──▶ ZoneRecord (wire RDATA)
//!   ($INCLUDE: a nested file, same pipeline; $GENERATE: records expanded in place)  └─▶ Diagnostic (Z1, Z2)
//! ```
//!
//! What it reads:
//! * `$ORIGIN`, `$TTL`, `$INCLUDE file [origin]` and BIND's `$GENERATE` (see below for how they
//!   are scoped, and where BIND, Knot and NSD differ).
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
//! **`""` as NAPTR REPLACEMENT** (docs/decisions.md, A1): the field is a domain name, so `""` is
//! wrong, but it is what RFC 7286 §3.2 and RFC 8686 §3.4 print and what the author meant is clear:
//! the root. The reader keeps the record with REPLACEMENT = root (`.`) and reports a **Z2 error**
//! at the replacement field. A consumer that wants BIND's behaviour (reject) treats any error
//! diagnostic as fatal; the checker reports it as Z2.
//!
//! # Scoping across `$INCLUDE`
//!
//! RFC 1035 §5.1 says the included file starts with the origin given on the `$INCLUDE` line (or
//! the current one), and that "the origin and the current domain revert to the values they had
//! prior to the $INCLUDE once the file has been read". It says nothing of `$TTL` (RFC 2308 §4
//! came later). What the three servers do, tried with named-checkzone 9.18 (`-i local`),
//! kzonecheck 3.2 (`-d off`) and nsd-checkzone 4.6, and what this reader does:
//!
//! | after the include returns          | BIND          | Knot          | NSD        | altodisc  |
//! |------------------------------------|---------------|---------------|------------|-----------|
//! | `$ORIGIN` set inside               | reverts       | reverts       | reverts    | reverts   |
//! | current owner (blank first column) | reverts       | reverts       | **leaks**  | reverts   |
//! | `$TTL` set inside                  | **kept**      | reverts       | **kept**   | kept      |
//! | last explicit TTL (no `$TTL`)      | kept          | unused (3600) | unused (3600) | kept   |
//! | blank owner first in the include   | includer's    | error         | includer's | includer's|
//! | relative path looked up from       | working dir   | includer's folder | working dir | [`IncludeBase`] (default: includer's folder) |
//!
//! Without `$TTL`, RFC 1035 §5.1 gives an omitted TTL "the last explicitly stated" one; BIND
//! does so across includes too, Knot and NSD give such records 3600 instead.
//! So the origin and the owner follow the RFC (NSD is the odd one out), and `$TTL` follows the
//! two servers that keep it (BIND copies `ttl` and `default_ttl` back to the including context
//! in `lib/dns/master.c`): a zone written for BIND loads with the same TTLs here. A zone meant
//! for all three should set `$TTL` again after each `$INCLUDE`.
//!
//! # `$GENERATE`
//!
//! `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs` is BIND's; Knot ("invalid
//! directive") and NSD ("Unknown directive") refuse it. It is read as BIND reads it: values
//! `0 <= start <= stop <= 2^31 - 1`, `step >= 1`; `$` is the value, `$$` and `\$` a literal `$`,
//! `${offset[,width[,base]]}` with base `d`, `o`, `x`, `X`, `n` or `N` (nibbles, for ip6.arpa);
//! `rhs` is one field, and a quoted `rhs` is split into fields after the replacement. The TTL is
//! the `$TTL`, else the last one, as for a record line; the records do not change the current
//! owner. Every generated record's position is on the `$GENERATE` line (the owner at the `lhs`
//! field, the RDATA at the `rhs` field). More than [`ReadOptions::max_generate`] records from one
//! line is refused (BIND allows 2^31, minutes of work and gigabytes of memory).
//!
//! # Bounds
//!
//! Zone files can come from other people (a `$INCLUDE` of a file a customer uploads), so every
//! read is bounded ([`ReadOptions`]): an entry (a line, or the lines of a parenthesized record)
//! of at most 1 MiB, files of at most 4 GiB each and in total, 16 levels of `$INCLUDE`, and only
//! regular files unless [`ReadOptions::allow_non_regular`] is set (then with an idle timeout).
//! Files are opened with `O_NONBLOCK` and their type checked on the open descriptor, so a FIFO
//! cannot block the open. BIND, Knot and NSD all read `$INCLUDE /dev/zero` until they are killed;
//! here it is a [`ZoneReadError::Limit`] naming the file, the line and the bound.
//!
//! Positions: [`ZoneRecord::position`] is the owner field (or the first field when the owner is
//! inherited); [`ZoneRecord::rdata_positions`] holds one position per RDATA token in presentation
//! order (for NAPTR exactly ORDER, PREFERENCE, FLAGS, SERVICES, REGEXP, REPLACEMENT; for a quoted
//! string the column of its opening quote). Columns count bytes from 1.
//!
//! Design for large zones: the input is read line by line into one reusable buffer, tokens are
//! byte ranges into it, and records go to a callback ([`stream_zone_file`]) so a caller such as the
//! checker can keep a compact form instead of every [`ZoneRecord`].

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use altodisc_proto::DomainName;

use crate::diag::{Diagnostic, Severity};
use crate::rdata::type_number;
use crate::record::{CLASS_IN, Position, Zone, ZoneRecord, rtype};
use crate::rules::Rule;

mod rdata_text;

pub use crate::rdata::type_name;
use rdata_text::{Fields, parse_rdata};

/// Deepest `$INCLUDE` nesting accepted by default ([`ReadOptions::max_include_depth`]).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Default [`ReadOptions::max_entry_len`]: 1 MiB. The longest valid entry is one RDATA of 65,535
/// octets written as `\DDD` escapes (262,140 characters) plus its owner, TTL, class and type;
/// 1 MiB keeps four times that, so no valid record is refused, and bounds the line buffer.
pub const DEFAULT_MAX_ENTRY_LEN: usize = 1 << 20;

/// Default [`ReadOptions::max_file_size`] and [`ReadOptions::max_total_size`]: 4 GiB. A
/// complete IPv4 /8 reverse zone (16.7 million PTR records) is about 1 GiB of text; 4 GiB is
/// four times that and still a size the responder can hold in memory on a small server.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;

/// Default [`ReadOptions::max_generate`]: 2^20 records per `$GENERATE`. ISP reverse zones use
/// ranges such as `0-255` or `1-65535`; a million is far above that and well below the 2^31
/// BIND allows, which would take minutes and gigabytes.
pub const DEFAULT_MAX_GENERATE: u64 = 1 << 20;

/// Default [`ReadOptions::non_regular_timeout`]: 5 s without data from a FIFO or device.
pub const DEFAULT_NON_REGULAR_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a relative `$INCLUDE` path is looked up (absolute paths are used as written).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IncludeBase {
    /// The folder of the file that holds the `$INCLUDE` line (Knot's rule; the default, so a
    /// zone and its included files can be moved together). Zone text read from memory has no
    /// folder: its includes are looked up from the working directory.
    #[default]
    IncludingFile,
    /// One folder for every relative include at every depth: BIND's `directory` option and
    /// NSD's working directory (its `zonesdir`). `altodisc check --include-base DIR`, or
    /// `include_base` in the publishing config's `[serve]` table.
    Dir(PathBuf),
}

/// Limits and lookup rules of the reader. [`ReadOptions::default`] is what [`read_zone_file`]
/// and [`stream_zone_file`] use; change fields on a default value (the struct may grow).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Where relative `$INCLUDE` paths are looked up.
    pub include_base: IncludeBase,
    /// The most bytes one entry may take: a physical line, or all the lines of a parenthesized
    /// record. The reader's line buffer never grows past it.
    pub max_entry_len: usize,
    /// The largest file (the zone file or any included file) read.
    pub max_file_size: u64,
    /// The most bytes read in one call, over the zone file and every include (an included file
    /// counts each time it is included).
    pub max_total_size: u64,
    /// Deepest `$INCLUDE` nesting.
    pub max_include_depth: usize,
    /// The most records one `$GENERATE` line may make.
    pub max_generate: u64,
    /// Whether FIFOs and character or block devices may be read (they are refused by default:
    /// `$INCLUDE /dev/zero` never ends, a FIFO without a writer blocks for ever).
    pub allow_non_regular: bool,
    /// With `allow_non_regular`: the longest wait for data from such a file.
    pub non_regular_timeout: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            include_base: IncludeBase::default(),
            max_entry_len: DEFAULT_MAX_ENTRY_LEN,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_total_size: DEFAULT_MAX_FILE_SIZE,
            max_include_depth: MAX_INCLUDE_DEPTH,
            max_generate: DEFAULT_MAX_GENERATE,
            allow_non_regular: false,
            non_regular_timeout: DEFAULT_NON_REGULAR_TIMEOUT,
        }
    }
}

/// Which bound of [`ReadOptions`] a read ran into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadLimit {
    /// An entry (line, or parenthesized lines) longer than [`ReadOptions::max_entry_len`].
    #[error(
        "an entry is longer than {0} bytes (a line without end, or a missing ')'?); raise the maximum entry length if the record is real"
    )]
    EntryLength(usize),
    /// A file larger than [`ReadOptions::max_file_size`].
    #[error("{path} is larger than {limit} bytes; raise the maximum file size if it is real")]
    FileSize {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// More than [`ReadOptions::max_total_size`] bytes over the file and its includes.
    #[error(
        "more than {0} bytes read over the zone file and its includes (a file included many times?)"
    )]
    TotalSize(u64),
    /// A FIFO, device or other non-regular file, refused (see [`ReadOptions::allow_non_regular`]).
    #[error("{path} is a {kind}, not a regular file; zone files must be regular files")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is: "FIFO", "character device", …
        kind: &'static str,
    },
    /// No data from a non-regular file for [`ReadOptions::non_regular_timeout`].
    #[error("no data from {path} for {timeout:?}")]
    Timeout {
        /// The file.
        path: PathBuf,
        /// The timeout.
        timeout: Duration,
    },
    /// `$INCLUDE` nested deeper than [`ReadOptions::max_include_depth`].
    #[error("$INCLUDE nested deeper than {0} files")]
    IncludeDepth(usize),
}

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

/// The zone could not be read: the top-level file cannot be opened or read, or the reading ran
/// into a bound of [`ReadOptions`] in any file (an `$INCLUDE` that cannot be opened is a Z1
/// diagnostic instead, and reading goes on).
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
    /// A bound of [`ReadOptions`] was reached; the records handed out so far are incomplete.
    #[error("{file}:{line}: {limit}")]
    Limit {
        /// The file being read (for a refused `$INCLUDE`, the including file).
        file: String,
        /// The line (of the `$INCLUDE` for a refused include; 0 before the first line).
        line: u32,
        /// The bound.
        limit: ReadLimit,
    },
}

impl ZoneReadError {
    /// Whether the file does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            Self::Limit { .. } => false,
        }
    }
}

/// Reads a zone file (and its `$INCLUDE`s) into memory, with the default [`ReadOptions`].
///
/// `origin` is the zone apex if known (e.g. from `--origin` or a `<origin>.zone` file name); a
/// `$ORIGIN` in the file overrides it for the names that follow.
///
/// # Errors
/// [`ZoneReadError`] when the file cannot be opened or read or a bound is reached; everything
/// else is a diagnostic.
pub fn read_zone_file(
    path: &Path,
    origin: Option<&DomainName>,
) -> Result<ZoneFileOutcome, ZoneReadError> {
    read_zone_file_with(path, origin, &ReadOptions::default())
}

/// [`read_zone_file`] with explicit [`ReadOptions`].
///
/// # Errors
/// As [`read_zone_file`].
pub fn read_zone_file_with(
    path: &Path,
    origin: Option<&DomainName>,
    options: &ReadOptions,
) -> Result<ZoneFileOutcome, ZoneReadError> {
    let mut records = Vec::new();
    let summary = stream_zone_file_with(path, origin, options, &mut |r| records.push(r))?;
    Ok(ZoneFileOutcome {
        zone: Zone {
            origin: summary.origin,
            records,
        },
        diagnostics: summary.diagnostics,
    })
}

/// Reads zone text held in memory. `file_label` names it in positions; a relative `$INCLUDE` is
/// resolved against the current directory. A bound reached (see [`ReadOptions`]) is a Z1 error
/// diagnostic and ends the reading.
#[must_use]
pub fn read_zone_str(text: &str, file_label: &str, origin: Option<&DomainName>) -> ZoneFileOutcome {
    read_zone_str_with(text, file_label, origin, &ReadOptions::default())
}

/// [`read_zone_str`] with explicit [`ReadOptions`].
#[must_use]
pub fn read_zone_str_with(
    text: &str,
    file_label: &str,
    origin: Option<&DomainName>,
    options: &ReadOptions,
) -> ZoneFileOutcome {
    let mut records = Vec::new();
    let summary = stream_zone_str_with(text, file_label, origin, options, &mut |r| {
        records.push(r);
    });
    ZoneFileOutcome {
        zone: Zone {
            origin: summary.origin,
            records,
        },
        diagnostics: summary.diagnostics,
    }
}

/// Streams the records of a zone file to `on_record`, in source order, without keeping them
/// (default [`ReadOptions`]).
///
/// # Errors
/// [`ZoneReadError::Io`] when the top-level file cannot be opened or read;
/// [`ZoneReadError::Limit`] when a bound is reached in any file.
pub fn stream_zone_file(
    path: &Path,
    origin: Option<&DomainName>,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> Result<StreamSummary, ZoneReadError> {
    stream_zone_file_with(path, origin, &ReadOptions::default(), on_record)
}

/// [`stream_zone_file`] with explicit [`ReadOptions`].
///
/// # Errors
/// As [`stream_zone_file`].
pub fn stream_zone_file_with(
    path: &Path,
    origin: Option<&DomainName>,
    options: &ReadOptions,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> Result<StreamSummary, ZoneReadError> {
    let label = path.display().to_string();
    let input = open_input(path, options).map_err(|e| match e {
        OpenFailure::Io(source) => ZoneReadError::Io {
            path: path.to_path_buf(),
            source,
        },
        OpenFailure::Limit(limit) => ZoneReadError::Limit {
            file: label.clone(),
            line: 0,
            limit,
        },
    })?;
    let mut reader = Reader::new(origin, options, on_record);
    if let Ok(canon) = path.canonicalize() {
        reader.include_stack.push(canon);
    }
    let mut state = FileState::new(Arc::from(label), origin.cloned());
    let dir = path.parent().map(Path::to_path_buf);
    match reader.read(
        BufReader::with_capacity(1 << 16, input),
        &mut state,
        dir.as_deref(),
        true,
    ) {
        Ok(()) => Ok(reader.finish()),
        Err(Stop::Io(source)) => Err(ZoneReadError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(Stop::Limit { file, line, limit }) => Err(ZoneReadError::Limit {
            file: file.to_string(),
            line,
            limit,
        }),
    }
}

/// Streams the records of zone text held in memory (see [`read_zone_str`]).
pub fn stream_zone_str(
    text: &str,
    file_label: &str,
    origin: Option<&DomainName>,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> StreamSummary {
    stream_zone_str_with(text, file_label, origin, &ReadOptions::default(), on_record)
}

/// [`stream_zone_str`] with explicit [`ReadOptions`].
pub fn stream_zone_str_with(
    text: &str,
    file_label: &str,
    origin: Option<&DomainName>,
    options: &ReadOptions,
    on_record: &mut dyn FnMut(ZoneRecord),
) -> StreamSummary {
    let mut reader = Reader::new(origin, options, on_record);
    let mut state = FileState::new(Arc::from(file_label), origin.cloned());
    match reader.read(text.as_bytes(), &mut state, None, true) {
        // Reading from memory cannot fail; an include that fails mid-way is a diagnostic.
        Ok(()) | Err(Stop::Io(_)) => {}
        Err(Stop::Limit { file, line, limit }) => {
            reader.diagnostics.push(
                Diagnostic::new(
                    Rule::Z1,
                    Some(Position {
                        file,
                        line,
                        column: 1,
                    }),
                    limit.to_string(),
                )
                .with_severity(Severity::Error),
            );
        }
    }
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
// Opening files without blocking

/// Why a file was not opened.
enum OpenFailure {
    Io(std::io::Error),
    Limit(ReadLimit),
}

/// An opened zone file. Opened with `O_NONBLOCK` so that opening a FIFO without a writer
/// returns at once; the type is then checked on the open descriptor (no race with a rename).
/// Regular files ignore `O_NONBLOCK`; a permitted FIFO or device is read with an idle timeout.
struct Input {
    file: File,
    path: PathBuf,
    /// `Some(timeout)` for a permitted non-regular file.
    timeout: Option<Duration>,
}

fn open_input(path: &Path, options: &ReadOptions) -> Result<Input, OpenFailure> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(OpenFailure::Io)?;
    let meta = file.metadata().map_err(OpenFailure::Io)?;
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        if meta.len() > options.max_file_size {
            return Err(OpenFailure::Limit(ReadLimit::FileSize {
                path: path.to_path_buf(),
                limit: options.max_file_size,
            }));
        }
        return Ok(Input {
            file,
            path: path.to_path_buf(),
            timeout: None,
        });
    } else if ft.is_dir() {
        // Never readable as a zone, whatever the options say.
        return Err(OpenFailure::Limit(ReadLimit::NotRegular {
            path: path.to_path_buf(),
            kind: "directory",
        }));
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    };
    if !options.allow_non_regular {
        return Err(OpenFailure::Limit(ReadLimit::NotRegular {
            path: path.to_path_buf(),
            kind,
        }));
    }
    Ok(Input {
        file,
        path: path.to_path_buf(),
        timeout: Some(options.non_regular_timeout),
    })
}

/// The marker error of an idle non-regular file (turned into [`ReadLimit::Timeout`]).
#[derive(Debug)]
struct IdleTimeout {
    path: PathBuf,
    timeout: Duration,
}

impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no data from {} for {:?}",
            self.path.display(),
            self.timeout
        )
    }
}

impl std::error::Error for IdleTimeout {}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let Some(timeout) = self.timeout else {
            return self.file.read(out);
        };
        // The descriptor is non-blocking: poll it with short sleeps until data, end of file or
        // the idle timeout (a FIFO whose writer never writes must not hang the loader).
        const STEP: Duration = Duration::from_millis(5);
        let mut waited = Duration::ZERO;
        loop {
            match self.file.read(out) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if waited >= timeout {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            IdleTimeout {
                                path: self.path.clone(),
                                timeout,
                            },
                        ));
                    }
                    std::thread::sleep(STEP);
                    waited = waited.saturating_add(STEP);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// How reading one input ended early.
enum Stop {
    /// The input could not be read.
    Io(std::io::Error),
    /// A bound was reached: the whole read ends.
    Limit {
        file: Arc<str>,
        line: u32,
        limit: ReadLimit,
    },
}

/// Appends one physical line (through `\n`, or to the end of input) to `buf`, never letting it
/// grow past `max`. Returns the bytes read (0 at the end), or `None` when the line does not fit.
fn read_line_capped<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<usize>> {
    let mut n = 0usize;
    loop {
        let avail = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(Some(n));
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if buf.len().saturating_add(take) > max {
            return Ok(None);
        }
        buf.extend_from_slice(&avail[..take]);
        input.consume(take);
        n = n.saturating_add(take);
        if done {
            return Ok(Some(n));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reader state

struct Reader<'s> {
    sink: &'s mut dyn FnMut(ZoneRecord),
    options: &'s ReadOptions,
    diagnostics: Vec<Diagnostic>,
    include_stack: Vec<PathBuf>,
    zone_origin: Option<DomainName>,
    first_soa_owner: Option<DomainName>,
    records: usize,
    /// Bytes read so far over all files ([`ReadOptions::max_total_size`]).
    total_bytes: u64,
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

/// The other place a relative `$INCLUDE` could mean, for the "not found" message.
struct IncludeCandidate {
    path: PathBuf,
    used_rule: &'static str,
    other_rule: &'static str,
    how: &'static str,
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
    fn new(
        origin: Option<&DomainName>,
        options: &'s ReadOptions,
        sink: &'s mut dyn FnMut(ZoneRecord),
    ) -> Self {
        Self {
            sink,
            options,
            diagnostics: Vec::new(),
            include_stack: Vec::new(),
            zone_origin: origin.cloned(),
            first_soa_owner: None,
            records: 0,
            total_bytes: 0,
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
    ) -> Result<(), Stop> {
        let max_entry = self.options.max_entry_len;
        let mut buf: Vec<u8> = Vec::with_capacity(512.min(max_entry));
        let mut toks: Vec<Token> = Vec::with_capacity(16);
        let mut line_no: u32 = 0;
        let mut file_bytes: u64 = 0;
        loop {
            buf.clear();
            toks.clear();
            let mut depth = 0usize;
            let mut open_paren: Option<(u32, u32)> = None;
            let mut failed = false;
            let mut first_line = 0u32;
            loop {
                let line_start = buf.len();
                let limit_at = |line: u32, limit: ReadLimit| Stop::Limit {
                    file: Arc::clone(&st.file),
                    line,
                    limit,
                };
                let n = match read_line_capped(&mut input, &mut buf, max_entry) {
                    Ok(Some(n)) => n,
                    Ok(None) => {
                        return Err(limit_at(
                            line_no.saturating_add(1),
                            ReadLimit::EntryLength(max_entry),
                        ));
                    }
                    Err(e) => {
                        if let Some(idle) =
                            e.get_ref().and_then(|i| i.downcast_ref::<IdleTimeout>())
                        {
                            return Err(limit_at(
                                line_no.saturating_add(1),
                                ReadLimit::Timeout {
                                    path: idle.path.clone(),
                                    timeout: idle.timeout,
                                },
                            ));
                        }
                        return Err(Stop::Io(e));
                    }
                };
                if n == 0 {
                    break;
                }
                // usize fits in u64 on every supported target.
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                file_bytes = file_bytes.saturating_add(n);
                self.total_bytes = self.total_bytes.saturating_add(n);
                line_no = line_no.saturating_add(1);
                if file_bytes > self.options.max_file_size {
                    return Err(limit_at(
                        line_no,
                        ReadLimit::FileSize {
                            path: PathBuf::from(&*st.file),
                            limit: self.options.max_file_size,
                        },
                    ));
                }
                if self.total_bytes > self.options.max_total_size {
                    return Err(limit_at(
                        line_no,
                        ReadLimit::TotalSize(self.options.max_total_size),
                    ));
                }
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
            self.entry(&buf, &toks, blank_owner, st, dir, top)?;
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
    ) -> Result<(), Stop> {
        let first = toks[0];
        let text = |t: &Token| &buf[t.start..t.end];
        if !blank_owner && !first.quoted && text(&first).first() == Some(&b'$') {
            return self.directive(buf, toks, st, dir, top);
        }
        if let Err(p) = self.record(buf, toks, blank_owner, st) {
            self.problem(st, p);
        }
        Ok(())
    }

    fn directive(
        &mut self,
        buf: &[u8],
        toks: &[Token],
        st: &mut FileState,
        dir: Option<&Path>,
        top: bool,
    ) -> Result<(), Stop> {
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
                [file] => self.include(buf, file, None, st, dir)?,
                [file, origin] => self.include(buf, file, Some(origin), st, dir)?,
                [_, _, extra, ..] => {
                    Err(Problem::at(extra, "unexpected field after $INCLUDE origin"))
                }
            }
        } else if name.eq_ignore_ascii_case(b"$GENERATE") {
            self.generate(buf, &first, args, st)
        } else {
            Err(Problem::at(
                &first,
                format!("unknown directive {}", String::from_utf8_lossy(name)),
            )
            .hint("RFC 1035 §5.1 defines $ORIGIN and $INCLUDE; $TTL comes from RFC 2308 §4; $GENERATE is BIND's"))
        };
        if let Err(p) = result {
            self.problem(st, p);
        }
        Ok(())
    }

    /// Where a relative include is looked up: the path used, and the other candidate with a
    /// description of both rules (for the "not found" message).
    fn include_paths(&self, rel: &Path, dir: Option<&Path>) -> (PathBuf, Option<IncludeCandidate>) {
        if rel.is_absolute() {
            return (rel.to_path_buf(), None);
        }
        let from_file = dir.map_or_else(|| rel.to_path_buf(), |d| d.join(rel));
        match &self.options.include_base {
            IncludeBase::IncludingFile => {
                let other = (dir.is_some()).then(|| IncludeCandidate {
                    path: rel.to_path_buf(),
                    used_rule: "the including file's folder",
                    other_rule: "the working directory (BIND, NSD)",
                    how: "give the include base (`altodisc check --include-base DIR`, or `include_base` in \
                          the config's [serve] table)",
                });
                (from_file, other)
            }
            IncludeBase::Dir(base) => {
                let other = IncludeCandidate {
                    path: from_file,
                    used_rule: "the include base",
                    other_rule: "the including file's folder (Knot)",
                    how: "drop the include base to look next to the including file",
                };
                (base.join(rel), Some(other))
            }
        }
    }

    fn include(
        &mut self,
        buf: &[u8],
        file_tok: &Token,
        origin_tok: Option<&Token>,
        st: &mut FileState,
        dir: Option<&Path>,
    ) -> Result<Result<(), Problem>, Stop> {
        let raw = match decode_string(buf, file_tok, usize::MAX) {
            Ok(r) => r,
            Err(p) => return Ok(Err(p)),
        };
        let rel = PathBuf::from(String::from_utf8_lossy(&raw).into_owned());
        let (path, other) = self.include_paths(&rel, dir);
        let origin = match origin_tok {
            Some(t) => match parse_name(buf, t, st.origin.as_ref()) {
                Ok(n) => Some(n),
                Err(p) => return Ok(Err(p)),
            },
            None => st.origin.clone(),
        };
        let limit = |limit: ReadLimit| Stop::Limit {
            file: Arc::clone(&st.file),
            line: file_tok.line,
            limit,
        };
        if self.include_stack.len() > self.options.max_include_depth {
            return Err(limit(ReadLimit::IncludeDepth(
                self.options.max_include_depth,
            )));
        }
        let canon = match path.canonicalize() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut msg = format!(
                    "included file {} not found (relative to {})",
                    path.display(),
                    other
                        .as_ref()
                        .map_or("the working directory", |o| o.used_rule)
                );
                let mut p = Problem::at(file_tok, String::new());
                if let Some(o) = other {
                    let exists = o.path.exists();
                    msg.push_str(&format!(
                        "; relative to {} it would be {}, which {}",
                        o.other_rule,
                        o.path.display(),
                        if exists {
                            "exists"
                        } else {
                            "does not exist either"
                        }
                    ));
                    if exists {
                        p = p.hint(o.how);
                    }
                }
                p.message = msg;
                return Ok(Err(p));
            }
            Err(e) => {
                return Ok(Err(Problem::at(
                    file_tok,
                    format!("cannot read included file {}: {e}", path.display()),
                )));
            }
        };
        if self.include_stack.contains(&canon) {
            return Ok(Err(Problem::at(
                file_tok,
                format!("$INCLUDE cycle: {} is already being read", path.display()),
            )
            .hint("remove the $INCLUDE that leads back to an including file")));
        }
        let input = match open_input(&path, self.options) {
            Ok(i) => i,
            // Refused before a byte is read (a directory, a device, a FIFO, a file over the
            // size bound): an error at the `$INCLUDE` line, as BIND, Knot and NSD report an
            // include they cannot read; the rest of the zone is still read and checked.
            Err(OpenFailure::Limit(l)) => {
                return Ok(Err(Problem::at(file_tok, format!("$INCLUDE refused: {l}"))));
            }
            Err(OpenFailure::Io(e)) => {
                return Ok(Err(Problem::at(
                    file_tok,
                    format!("cannot read included file {}: {e}", path.display()),
                )));
            }
        };
        // RFC 1035 §5.1: the included file starts with the given origin (or the current one),
        // and "the origin and the current domain revert to the values they had prior to the
        // $INCLUDE once the file has been read". $TTL (RFC 2308 §4) and the last explicit TTL
        // carry over both ways, as in BIND (it copies them back when the include ends) and NSD;
        // Knot drops them. See the module documentation.
        let mut inner = st.clone();
        inner.file = Arc::from(path.display().to_string());
        inner.origin = origin;
        self.include_stack.push(canon);
        let inner_dir = path.parent().map(Path::to_path_buf);
        let result = self.read(
            BufReader::with_capacity(1 << 16, input),
            &mut inner,
            inner_dir.as_deref(),
            false,
        );
        self.include_stack.pop();
        st.default_ttl = inner.default_ttl;
        st.last_ttl = inner.last_ttl;
        st.soa_minimum = inner.soa_minimum;
        match result {
            Ok(()) => Ok(Ok(())),
            Err(Stop::Io(e)) => Ok(Err(Problem::at(
                file_tok,
                format!("error reading included file {}: {e}", path.display()),
            ))),
            Err(stop @ Stop::Limit { .. }) => Err(stop),
        }
    }

    /// `$GENERATE range lhs [ttl] [class] type rhs` (BIND's extension, ARM "BIND Primary File
    /// Extension: the $GENERATE Directive"): one record per value of the range, `$` in `lhs`
    /// and `rhs` replaced by it. `rhs` is one field; quoted, its content is split into fields
    /// after the replacement (`"10 mail$"` for MX). Every record's position is on this line.
    /// Like a record line, the records do not change the current owner of the file.
    fn generate(
        &mut self,
        buf: &[u8],
        first: &Token,
        args: &[Token],
        st: &mut FileState,
    ) -> Result<(), Problem> {
        const USAGE: &str = "write $GENERATE start-stop[/step] owner [ttl] [class] type rdata, e.g. $GENERATE 1-254 host-$ A 192.0.2.$";
        let (range_tok, lhs, mid, rhs) = match args {
            [range, lhs, mid @ .., rhs] if !mid.is_empty() => (range, lhs, mid, rhs),
            _ => {
                return Err(Problem::at(
                    args.last().unwrap_or(first),
                    "$GENERATE needs a range, an owner, a type and the RDATA",
                )
                .hint(USAGE));
            }
        };
        let text = |t: &Token| &buf[t.start..t.end];
        let (start, stop, step) = parse_generate_range(text(range_tok)).ok_or_else(|| {
            Problem::at(
                range_tok,
                format!(
                    "invalid $GENERATE range '{}'",
                    String::from_utf8_lossy(text(range_tok))
                ),
            )
            .hint("write start-stop or start-stop/step with 0 <= start <= stop <= 2147483647 and step >= 1")
        })?;
        let count = (stop - start) / step + 1;
        if count > self.options.max_generate {
            return Err(Problem::at(
                range_tok,
                format!(
                    "$GENERATE range {} makes {count} records, more than the limit of {}",
                    String::from_utf8_lossy(text(range_tok)),
                    self.options.max_generate
                ),
            )
            .hint(
                "split the range, or raise the reader's maximum $GENERATE count if it is meant",
            ));
        }
        // [ttl] [class] type: at most three fields, the type last.
        if mid.len() > 3 {
            return Err(Problem::at(&mid[3], "unexpected field in $GENERATE").hint(
                "the RDATA is one field: quote it when it has several, e.g. \"10 mail$\" for MX",
            ));
        }
        for (k, t) in mid[..mid.len() - 1].iter().enumerate() {
            let word = text(t);
            let ok = !t.quoted
                && (word.first().is_some_and(u8::is_ascii_digit) || class_number(word).is_some());
            if !ok {
                // `MX 10 mail$`: the type came early and the RDATA was split into fields.
                let (at, msg) = if type_number(word).is_some() {
                    (&mid[k + 1], "unexpected field after the $GENERATE type")
                } else {
                    (t, "expected a TTL or class in $GENERATE")
                };
                return Err(Problem::at(at, msg).hint(
                    "the RDATA is one field: quote it when it has several, e.g. \"10 mail$\" for MX",
                ));
            }
        }
        let saved_owner = st.last_owner.clone();
        let saved_class = st.last_class;
        let mut line: Vec<u8> = Vec::with_capacity(64);
        let mut toks: Vec<Token> = Vec::with_capacity(8);
        let mut result = Ok(());
        for k in 0..count {
            // start + k * step <= stop <= 2^31 - 1: no overflow, and it fits in u32.
            let it = u32::try_from(start + k * step).unwrap_or(u32::MAX);
            line.clear();
            toks.clear();
            if let Err(msg) = expand_generate(text(lhs), it, &mut line) {
                result = Err(Problem::at(lhs, msg).hint(GENERATE_MODIFIER_HINT));
                break;
            }
            toks.push(Token {
                start: 0,
                end: line.len(),
                quoted: false,
                line: lhs.line,
                column: lhs.column,
            });
            for t in mid {
                line.push(b' ');
                let s = line.len();
                line.extend_from_slice(text(t));
                toks.push(Token {
                    start: s,
                    end: line.len(),
                    ..*t
                });
            }
            line.push(b' ');
            let rhs_start = line.len();
            if let Err(msg) = expand_generate(text(rhs), it, &mut line) {
                result = Err(Problem::at(rhs, msg).hint(GENERATE_MODIFIER_HINT));
                break;
            }
            if line[rhs_start..].contains(&b'\n') {
                result = Err(Problem::at(rhs, "$GENERATE RDATA holds a line break"));
                break;
            }
            line.push(b'\n');
            let before = toks.len();
            let mut depth = 0usize;
            let mut open = None;
            let split = tokenize_line(&line, rhs_start, rhs.line, &mut toks, &mut depth, &mut open);
            // The RDATA fields all sit at the rhs field of the $GENERATE line.
            for t in &mut toks[before..] {
                t.line = rhs.line;
                t.column = rhs.column;
            }
            if let Err(p) = split {
                result = Err(Problem::at(rhs, p.message));
                break;
            }
            if depth != 0 {
                result = Err(Problem::at(
                    rhs,
                    "unbalanced parenthesis in $GENERATE RDATA",
                ));
                break;
            }
            if let Err(mut p) = self.record(&line, &toks, false, st) {
                // Which of the generated records failed, for a template that is only wrong
                // for some values (192.0.2.$ past 255).
                p.message = format!("$GENERATE value {it}: {}", p.message);
                result = Err(p);
                break;
            }
        }
        st.last_owner = saved_owner;
        st.last_class = saved_class;
        result
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
    // Most fields hold no backslash at all.
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return false;
    };
    let mut i = first;
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
// $GENERATE (BIND)

const GENERATE_MODIFIER_HINT: &str = "write ${offset}, ${offset,width} or ${offset,width,base} with base d, o, x, X, n or N; \\$ or $$ for a literal $";

/// `start-stop[/step]`: decimal numbers, `start <= stop <= 2^31 - 1`, `step >= 1` (BIND's
/// bounds: the values are C `int`s there). Returns `None` for anything else.
fn parse_generate_range(range: &[u8]) -> Option<(u64, u64, u64)> {
    fn num(d: &[u8]) -> Option<u64> {
        if d.is_empty() || d.len() > 10 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = d.iter().fold(0u64, |a, &b| a * 10 + u64::from(b - b'0'));
        (v <= i32::MAX as u64).then_some(v)
    }
    let text = std::str::from_utf8(range).ok()?;
    let (bounds, step) = match text.split_once('/') {
        Some((b, s)) => (b, num(s.as_bytes())?),
        None => (text, 1),
    };
    let (a, b) = bounds.split_once('-')?;
    let (start, stop) = (num(a.as_bytes())?, num(b.as_bytes())?);
    (start <= stop && step >= 1).then_some((start, stop, step))
}

/// Appends `tpl` with its iterator references replaced (BIND's `genname`): `$` is the value,
/// `$$` a literal `$`, `\X` is kept as written (the name or RDATA parser decodes it), and
/// `${offset[,width[,base]]}` prints value + offset zero-padded to `width` in base `d`
/// (decimal), `o` (octal), `x`/`X` (hex) or `n`/`N` (nibbles: reversed hex digits separated by
/// dots, the form of ip6.arpa labels). A negative value prints with a sign in `d` and as its
/// 32-bit two's complement in the other bases, as C's printf does in BIND.
fn expand_generate(tpl: &[u8], it: u32, out: &mut Vec<u8>) -> Result<(), String> {
    // Longest output of one reference; BIND prints into a 128-byte buffer.
    const MAX_WIDTH: usize = 127;
    let mut i = 0;
    while i < tpl.len() {
        match tpl[i] {
            b'$' if tpl.get(i + 1) == Some(&b'$') => {
                out.push(b'$');
                i += 2;
            }
            b'$' => {
                i += 1;
                let (mut offset, mut width, mut base) = (0i64, 0usize, b'd');
                if tpl.get(i) == Some(&b'{') {
                    let close = tpl[i..]
                        .iter()
                        .position(|&b| b == b'}')
                        .ok_or("'${' without a closing '}'")?;
                    let inner = std::str::from_utf8(&tpl[i + 1..i + close])
                        .map_err(|_| "non-ASCII in a ${...} modifier")?;
                    let parts: Vec<&str> = inner.split(',').collect();
                    if parts.len() > 3 {
                        return Err(format!("bad modifier ${{{inner}}}: too many fields"));
                    }
                    let digits = parts[0].strip_prefix(['+', '-']).unwrap_or(parts[0]);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!("bad modifier ${{{inner}}}: offset is not a number"));
                    }
                    offset = parts[0]
                        .parse::<i32>()
                        .map(i64::from)
                        .map_err(|_| format!("bad modifier ${{{inner}}}: offset out of range"))?;
                    if let Some(w) = parts.get(1) {
                        width = w
                            .parse::<usize>()
                            .ok()
                            .filter(|w| *w <= MAX_WIDTH)
                            .ok_or_else(|| {
                                format!("bad modifier ${{{inner}}}: width is not 0..={MAX_WIDTH}")
                            })?;
                    }
                    if let Some(b) = parts.get(2) {
                        base = match b.as_bytes() {
                            [c @ (b'd' | b'o' | b'x' | b'X' | b'n' | b'N')] => *c,
                            _ => {
                                return Err(format!(
                                    "bad modifier ${{{inner}}}: base is not one of d o x X n N"
                                ));
                            }
                        };
                    }
                    i += close + 1;
                }
                let value = i64::from(it) + offset;
                if value > i64::from(i32::MAX) {
                    return Err(format!(
                        "$GENERATE value {it} plus offset {offset} is out of range (over 2147483647)"
                    ));
                }
                // As a C int converted to unsigned: the 32-bit two's complement.
                let bits =
                    u32::from_ne_bytes(i32::try_from(value).unwrap_or(i32::MIN).to_ne_bytes());
                let w = width;
                let formatted = match base {
                    b'o' => format!("{bits:0w$o}"),
                    b'x' => format!("{bits:0w$x}"),
                    b'X' => format!("{bits:0w$X}"),
                    b'n' | b'N' => nibbles(bits, width, base == b'N'),
                    _ => format!("{value:0w$}"),
                };
                out.extend_from_slice(formatted.as_bytes());
            }
            b'\\' => {
                out.push(b'\\');
                i += 1;
                if let Some(&c) = tpl.get(i) {
                    out.push(c);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

/// BIND's nibble form: hex digits from the least significant, dot-separated, padded with
/// `0.` labels until the text is `width` characters long (dots count).
fn nibbles(mut value: u32, mut width: usize, upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut s = String::new();
    loop {
        s.push(char::from(digits[(value & 0xf) as usize]));
        value >>= 4;
        width = width.saturating_sub(1);
        if width > 0 || value != 0 {
            s.push('.');
            width = width.saturating_sub(1);
        }
        if value == 0 && width == 0 {
            return s;
        }
    }
}

#[cfg(test)]
mod directive_tests {
    //! Tables for the scoping rules across `$INCLUDE`, every `$GENERATE` form, and the bounds of
    //! [`ReadOptions`].

    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// (what, main file, included file "inc", expected (owner, ttl) in order)
    type ScopeRow = (
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, u32)],
    );
    /// (what, $GENERATE line, expected (owner, ttl, rdata))
    type GenRow = (
        &'static str,
        &'static str,
        &'static [(&'static str, u32, &'static str)],
    );

    fn apex() -> DomainName {
        DomainName::parse("example.net.").unwrap()
    }

    /// A fresh folder under the system temp dir holding `files` (name, text).
    fn folder(files: &[(&str, &str)]) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "altodisc-reader-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn owners_ttls(o: &ZoneFileOutcome) -> Vec<(String, u32)> {
        o.zone
            .records
            .iter()
            .map(|r| (r.owner.to_string(), r.ttl))
            .collect()
    }

    #[test]
    fn scoping_across_include_table() {
        // (what, main file, included file "inc", expected (owner, ttl) in order)
        let rows: &[ScopeRow] = &[
            (
                "$TTL set inside an include stays after it (BIND, NSD)",
                "$TTL 100\na A 192.0.2.1\n$INCLUDE inc\nc A 192.0.2.3\n",
                "$TTL 300\nb A 192.0.2.2\n",
                &[
                    ("a.example.net.", 100),
                    ("b.example.net.", 300),
                    ("c.example.net.", 300),
                ],
            ),
            (
                "$TTL before the include applies inside it",
                "$TTL 100\n$INCLUDE inc\n",
                "b A 192.0.2.2\n",
                &[("b.example.net.", 100)],
            ),
            (
                "without $TTL the last explicit TTL carries back (BIND)",
                "a 200 A 192.0.2.1\n$INCLUDE inc\nc A 192.0.2.3\n",
                "b 50 A 192.0.2.2\n",
                &[
                    ("a.example.net.", 200),
                    ("b.example.net.", 50),
                    ("c.example.net.", 50),
                ],
            ),
            (
                "$ORIGIN inside an include reverts after it (RFC 1035 §5.1)",
                "$TTL 1\n$INCLUDE inc\nc A 192.0.2.3\n",
                "$ORIGIN sub.example.net.\nb A 192.0.2.2\n",
                &[("b.sub.example.net.", 1), ("c.example.net.", 1)],
            ),
            (
                "the origin field of $INCLUDE holds inside only",
                "$TTL 1\n$INCLUDE inc sub\nc A 192.0.2.3\n",
                "b A 192.0.2.2\n@ TXT x\n",
                &[
                    ("b.sub.example.net.", 1),
                    ("sub.example.net.", 1),
                    ("c.example.net.", 1),
                ],
            ),
            (
                "the current owner reverts after the include (RFC 1035 §5.1, BIND, Knot)",
                "$TTL 1\nx A 192.0.2.1\n$INCLUDE inc\n TXT after\n",
                "b A 192.0.2.2\n",
                &[
                    ("x.example.net.", 1),
                    ("b.example.net.", 1),
                    ("x.example.net.", 1),
                ],
            ),
            (
                "a blank owner first in an include is the includer's owner (BIND, NSD)",
                "$TTL 1\nx A 192.0.2.1\n$INCLUDE inc\n",
                " TXT inside\n",
                &[("x.example.net.", 1), ("x.example.net.", 1)],
            ),
            (
                "$ORIGIN in the includer before the include is the include's origin",
                "$TTL 1\n$ORIGIN o.example.net.\n$INCLUDE inc\n",
                "b A 192.0.2.2\n",
                &[("b.o.example.net.", 1)],
            ),
        ];
        for (what, main, inc, want) in rows {
            let dir = folder(&[("main.zone", main), ("inc", inc)]);
            let o = read_zone_file(&dir.join("main.zone"), Some(&apex())).unwrap();
            assert!(!o.has_errors(), "{what}: {:?}", o.diagnostics);
            let got = owners_ttls(&o);
            let want: Vec<(String, u32)> =
                want.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect();
            assert_eq!(got, want, "{what}");
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn include_base_and_not_found_message() {
        let dir = folder(&[
            ("zones/main.zone", "$TTL 1\n$INCLUDE part.inc\n"),
            ("zones/part.inc", "near A 192.0.2.1\n"),
            ("part.inc", "far A 192.0.2.2\n"),
        ]);
        let main = dir.join("zones/main.zone");
        // Default: next to the including file (Knot).
        let o = read_zone_file(&main, Some(&apex())).unwrap();
        assert_eq!(owners_ttls(&o), [("near.example.net.".to_owned(), 1)]);
        // An include base (BIND's directory, NSD's working directory).
        let opts = ReadOptions {
            include_base: IncludeBase::Dir(dir.clone()),
            ..ReadOptions::default()
        };
        let o = read_zone_file_with(&main, Some(&apex()), &opts).unwrap();
        assert_eq!(owners_ttls(&o), [("far.example.net.".to_owned(), 1)]);
        // Not found under the base: the message names both candidates.
        std::fs::remove_file(dir.join("part.inc")).unwrap();
        let o = read_zone_file_with(&main, Some(&apex()), &opts).unwrap();
        let d = &o.diagnostics[0];
        assert_eq!((d.rule, d.severity), (Rule::Z1, Severity::Error));
        assert_eq!(d.position.as_ref().unwrap().line, 2);
        let base_path = dir.join("part.inc").display().to_string();
        let near_path = dir.join("zones/part.inc").display().to_string();
        assert!(d.message.contains(&base_path), "{}", d.message);
        assert!(d.message.contains(&near_path), "{}", d.message);
        assert!(d.message.contains("which exists"), "{}", d.message);
        assert!(d.hint.is_some());
        // Not found anywhere.
        std::fs::remove_file(dir.join("zones/part.inc")).unwrap();
        let o = read_zone_file(&main, Some(&apex())).unwrap();
        let m = &o.diagnostics[0].message;
        assert!(m.contains("does not exist either"), "{m}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn gen_read(text: &str) -> ZoneFileOutcome {
        read_zone_str(&format!("$TTL 300\n{text}"), "g.zone", Some(&apex()))
    }

    /// (owner, rdata as text for TXT/A/AAAA/name types: decoded by the test)
    fn rendered(o: &ZoneFileOutcome) -> Vec<(String, u32, String)> {
        o.zone
            .records
            .iter()
            .map(|r| {
                let data = match r.rtype {
                    rtype::A => {
                        Ipv4Addr::from(<[u8; 4]>::try_from(&r.rdata[..]).unwrap()).to_string()
                    }
                    28 => Ipv6Addr::from(<[u8; 16]>::try_from(&r.rdata[..]).unwrap()).to_string(),
                    16 => String::from_utf8_lossy(&r.rdata[1..]).into_owned(),
                    15 => format!(
                        "{} {}",
                        u16::from_be_bytes([r.rdata[0], r.rdata[1]]),
                        DomainName::from_wire(&r.rdata[2..]).unwrap().0
                    ),
                    _ => DomainName::from_wire(&r.rdata).unwrap().0.to_string(),
                };
                (r.owner.to_string(), r.ttl, data)
            })
            .collect()
    }

    #[test]
    fn generate_forms_table() {
        // (what, $GENERATE line, expected (owner, ttl, rdata))
        let rows: &[GenRow] = &[
            (
                "plain $ in owner and rdata",
                "$GENERATE 1-3 host$ A 192.0.2.$",
                &[
                    ("host1.example.net.", 300, "192.0.2.1"),
                    ("host2.example.net.", 300, "192.0.2.2"),
                    ("host3.example.net.", 300, "192.0.2.3"),
                ],
            ),
            (
                "step",
                "$GENERATE 0-10/5 h$ A 10.0.0.$",
                &[
                    ("h0.example.net.", 300, "10.0.0.0"),
                    ("h5.example.net.", 300, "10.0.0.5"),
                    ("h10.example.net.", 300, "10.0.0.10"),
                ],
            ),
            (
                "step past the end stops at the last value <= stop",
                "$GENERATE 19-28/2147483645 $ CNAME x",
                &[("19.example.net.", 300, "x.example.net.")],
            ),
            (
                "offset, width (decimal), negative offset",
                "$GENERATE 7-7 a${1} TXT ${0,3}/${-10}/${-10,4,d}",
                &[("a8.example.net.", 300, "007/-3/-003")],
            ),
            (
                "octal and hex bases",
                "$GENERATE 255-255 b$ TXT ${0,4,o}.${0,4,x}.${0,1,X}",
                &[("b255.example.net.", 300, "0377.00ff.FF")],
            ),
            (
                "nibbles, lower and upper case, with and without width",
                "$GENERATE 1024-1024 ${0,3,n} TXT ${0,0,N}|${171,7,N}",
                &[("0.0.4.example.net.", 300, "0.0.4|B.A.4.0")],
            ),
            (
                "negative value in nibbles is the 32-bit two's complement (BIND)",
                "$GENERATE 1024-1024 ${-2000,0,n} AAAA 2001:db8::${0,4,x}",
                &[("0.3.c.f.f.f.f.f.example.net.", 300, "2001:db8::400")],
            ),
            (
                "$$ and \\$ are a literal $",
                "$GENERATE 1-1 m$ TXT \"a\\$b$$c$\"",
                &[("m1.example.net.", 300, "a$b$c1")],
            ),
            (
                "TTL and class, either order",
                "$GENERATE 1-1 t$ 60 IN TXT x\n$GENERATE 2-2 t$ IN 1h TXT x",
                &[("t1.example.net.", 60, "x"), ("t2.example.net.", 3600, "x")],
            ),
            (
                "quoted RDATA is split into fields after the replacement",
                "$GENERATE 1-2 m$ MX \"1$ mail$\"",
                &[
                    ("m1.example.net.", 300, "11 mail1.example.net."),
                    ("m2.example.net.", 300, "12 mail2.example.net."),
                ],
            ),
            (
                "@ owner, absolute rdata",
                "$GENERATE 1-1 @ PTR SERVER$.EXAMPLE.",
                &[("example.net.", 300, "SERVER1.EXAMPLE.")],
            ),
            (
                "relative to the current $ORIGIN",
                "$ORIGIN 2.0.192.in-addr.arpa.\n$GENERATE 1-2 $ PTR host-$.example.net.",
                &[
                    ("1.2.0.192.in-addr.arpa.", 300, "host-1.example.net."),
                    ("2.2.0.192.in-addr.arpa.", 300, "host-2.example.net."),
                ],
            ),
        ];
        for (what, line, want) in rows {
            let o = gen_read(&format!("{line}\n"));
            let errors: Vec<_> = o
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{what}: {errors:?}");
            let want: Vec<(String, u32, String)> = want
                .iter()
                .map(|(n, t, d)| ((*n).to_owned(), *t, (*d).to_owned()))
                .collect();
            assert_eq!(rendered(&o), want, "{what}");
        }
    }

    #[test]
    fn generate_positions_and_current_owner() {
        let o = gen_read("x A 192.0.2.9\n$GENERATE 1-2 h$ A 192.0.2.$\n TXT after\n");
        let r = &o.zone.records;
        assert_eq!(r.len(), 4, "{:?}", o.diagnostics);
        for g in &r[1..3] {
            let p = g.position.as_ref().unwrap();
            assert_eq!((p.line, p.column), (3, 15));
            let rp: Vec<_> = g
                .rdata_positions
                .iter()
                .map(|p| (p.line, p.column))
                .collect();
            assert_eq!(rp, [(3, 20)]);
        }
        // A $GENERATE does not change the owner a blank first column refers to (BIND).
        assert_eq!(r[3].owner.to_string(), "x.example.net.");
        // A template wrong for some values: the records before are kept, the error names the
        // value and points at the rdata field, and no record after it is made.
        let o = gen_read("$GENERATE 250-260 m$ A 192.0.2.$\n");
        assert_eq!(o.zone.records.len(), 6);
        assert_eq!(o.diagnostics.len(), 1, "{:?}", o.diagnostics);
        let d = &o.diagnostics[0];
        assert!(
            d.message.starts_with("$GENERATE value 256: "),
            "{}",
            d.message
        );
        let p = d.position.as_ref().unwrap();
        assert_eq!((p.line, p.column), (2, 24));
    }

    #[test]
    fn generate_errors_table() {
        // (line, column of the error, a word of the message)
        let rows: &[(&str, u32, &str)] = &[
            (
                "$GENERATE 9--10 h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE 1-3/ h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE 1-3/0 h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE 5-1 h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE 0-2147483648 h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE x-2 h$ A 192.0.2.$",
                11,
                "invalid $GENERATE range",
            ),
            (
                "$GENERATE 0-2147483647 h$ A 192.0.2.1",
                11,
                "more than the limit",
            ),
            ("$GENERATE 0-7 h$ A 1.2.3.${1000", 20, "closing"),
            ("$GENERATE 0-7 h$ A 1.2.3.${1,0,dgarbage}", 20, "base"),
            ("$GENERATE 0-7 h$ A 1.2.3.${1,}", 20, "width"),
            ("$GENERATE 0-7 h$ A 1.2.3.${,2}", 20, "offset"),
            ("$GENERATE 1-1 h$ TXT foo${2147483647}", 22, "out of range"),
            ("$GENERATE 1-2 m$ MX 10 mail$", 21, "unexpected field after"),
            (
                "$GENERATE 1-2 m$ foo A 1.2.3.4",
                18,
                "expected a TTL or class",
            ),
            ("$GENERATE 1-2 m$ 1 IN MX 10 mail$", 26, "unexpected field"),
            ("$GENERATE 1-2 m$ A", 18, "needs a range"),
            ("$GENERATE 0-7 tkey$ TKEY x", 21, "unknown class or type"),
            ("$GENERATE 1-2 m$ A 192.0.2.300", 20, "IPv4"),
        ];
        for (line, column, word) in rows {
            let o = gen_read(&format!("{line}\n"));
            assert!(o.zone.records.is_empty(), "{line}: {:?}", o.zone.records);
            assert_eq!(o.diagnostics.len(), 1, "{line}: {:?}", o.diagnostics);
            let d = &o.diagnostics[0];
            assert_eq!((d.rule, d.severity), (Rule::Z1, Severity::Error), "{line}");
            let p = d.position.as_ref().unwrap();
            assert_eq!((p.line, p.column), (2, *column), "{line}: {}", d.message);
            assert!(d.message.contains(word), "{line}: {}", d.message);
        }
    }

    #[test]
    fn dev_zero_include_is_refused_promptly_or_bounded() {
        let dir = folder(&[(
            "main.zone",
            "$TTL 1\na A 192.0.2.1\n$INCLUDE /dev/zero\nb A 192.0.2.2\n",
        )]);
        let main = dir.join("main.zone");
        // Refused at the `$INCLUDE` line, as the peers report an include they cannot read; the
        // rest of the file is still read.
        let o = read_zone_file(&main, Some(&apex())).unwrap();
        assert_eq!(o.zone.records.len(), 2, "{:?}", o.zone.records);
        assert_eq!(o.diagnostics.len(), 1, "{:?}", o.diagnostics);
        let d = &o.diagnostics[0];
        assert_eq!((d.rule, d.severity), (Rule::Z1, Severity::Error));
        assert_eq!(d.position.as_ref().map(|p| p.line), Some(3));
        assert!(
            d.message
                .contains("/dev/zero is a character device, not a regular file"),
            "{}",
            d.message
        );
        // Allowed: the 1 MiB entry bound stops it (no newline in /dev/zero).
        let opts = ReadOptions {
            allow_non_regular: true,
            ..ReadOptions::default()
        };
        let err = read_zone_file_with(&main, Some(&apex()), &opts).unwrap_err();
        let ZoneReadError::Limit { file, line, limit } = &err else {
            panic!("{err}")
        };
        assert_eq!((file.as_str(), *line), ("/dev/zero", 1));
        assert_eq!(*limit, ReadLimit::EntryLength(DEFAULT_MAX_ENTRY_LEN));
        // The top-level file gets the same check.
        let err = read_zone_file(Path::new("/dev/zero"), Some(&apex())).unwrap_err();
        assert!(
            matches!(
                err,
                ZoneReadError::Limit {
                    line: 0,
                    limit: ReadLimit::NotRegular { .. },
                    ..
                }
            ),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn fifo_include_returns_promptly() {
        let dir = folder(&[("main.zone", "$TTL 1\n$INCLUDE pipe\n")]);
        let pipe = dir.join("pipe");
        nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let main = dir.join("main.zone");
        let t = Instant::now();
        let o = read_zone_file(&main, Some(&apex())).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(o.diagnostics.len(), 1, "{:?}", o.diagnostics);
        let d = &o.diagnostics[0];
        assert_eq!((d.rule, d.severity), (Rule::Z1, Severity::Error));
        assert_eq!(d.position.as_ref().map(|p| p.line), Some(2));
        assert!(
            d.message.contains("is a FIFO, not a regular file"),
            "{}",
            d.message
        );
        let err = read_zone_file(&pipe, Some(&apex())).unwrap_err();
        assert!(matches!(err, ZoneReadError::Limit { .. }), "{err}");
        // Allowed, with a writer that never writes (this test holds the FIFO open read-write):
        // the idle timeout ends it.
        let _writer = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pipe)
            .unwrap();
        let opts = ReadOptions {
            allow_non_regular: true,
            non_regular_timeout: Duration::from_millis(200),
            ..ReadOptions::default()
        };
        let t = Instant::now();
        let err = read_zone_file_with(&main, Some(&apex()), &opts).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let ZoneReadError::Limit { line, limit, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*line, 1);
        assert!(matches!(limit, ReadLimit::Timeout { .. }), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The process's peak resident set (VmHWM), KiB.
    fn peak_rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn hundred_megabyte_line_stops_at_the_entry_bound() {
        let dir = folder(&[("main.zone", "$TTL 1\na A 192.0.2.1\n$INCLUDE long.inc\n")]);
        let long = dir.join("long.inc");
        {
            use std::io::Write;
            let mut f = std::io::BufWriter::new(File::create(&long).unwrap());
            f.write_all(b"b TXT ").unwrap();
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..100 {
                f.write_all(&chunk).unwrap();
            }
            f.write_all(b"\n").unwrap();
        }
        let main = dir.join("main.zone");
        let mut seen = 0usize;
        let peak_before = peak_rss_kib();
        let err = stream_zone_file(&main, Some(&apex()), &mut |_| seen += 1).unwrap_err();
        // Bounded memory: the reader never held the 100 MB line (the process's peak grew by far
        // less; buffering the line, as `read_until` did, raises it by over 100 MB).
        let grown = peak_rss_kib().saturating_sub(peak_before);
        assert!(grown < 32 * 1024, "peak RSS grew by {grown} KiB");
        assert_eq!(seen, 1);
        let ZoneReadError::Limit { file, line, limit } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (file.as_str(), *line),
            (long.display().to_string().as_str(), 1)
        );
        assert_eq!(*limit, ReadLimit::EntryLength(DEFAULT_MAX_ENTRY_LEN));
        assert!(err.to_string().contains("1048576"), "{err}");
        // As the top-level file too.
        let err = read_zone_file(&long, Some(&apex())).unwrap_err();
        assert!(
            matches!(
                err,
                ZoneReadError::Limit {
                    line: 1,
                    limit: ReadLimit::EntryLength(_),
                    ..
                }
            ),
            "{err}"
        );
        // A smaller bound from the options; a multi-line entry counts all its lines.
        let opts = ReadOptions {
            max_entry_len: 40,
            ..ReadOptions::default()
        };
        let o = read_zone_str_with(
            "$TTL 1\na TXT ( \"0123456789\"\n \"0123456789\"\n \"0123456789\" )\n",
            "m.zone",
            Some(&apex()),
            &opts,
        );
        let d = &o.diagnostics[0];
        assert_eq!(d.position.as_ref().unwrap().line, 4);
        assert!(d.message.contains("longer than 40 bytes"), "{}", d.message);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn file_and_total_size_bounds() {
        let dir = folder(&[
            ("main.zone", "$TTL 1\n$INCLUDE big.inc\n$INCLUDE big.inc\n"),
            ("big.inc", &"x A 192.0.2.1\n".repeat(100)),
        ]);
        let main = dir.join("main.zone");
        let opts = ReadOptions {
            max_file_size: 1000,
            ..ReadOptions::default()
        };
        // An include over the bound is refused before it is read: a Z1 error at each
        // `$INCLUDE` line, and nothing of it is read.
        let o = read_zone_file_with(&main, Some(&apex()), &opts).unwrap();
        assert!(o.zone.records.is_empty(), "{:?}", o.zone.records);
        let lines: Vec<_> = o
            .diagnostics
            .iter()
            .map(|d| (d.rule, d.severity, d.position.as_ref().map(|p| p.line)))
            .collect();
        assert_eq!(
            lines,
            [
                (Rule::Z1, Severity::Error, Some(2)),
                (Rule::Z1, Severity::Error, Some(3))
            ]
        );
        assert!(
            o.diagnostics[0]
                .message
                .contains("is larger than 1000 bytes"),
            "{}",
            o.diagnostics[0].message
        );
        // Each file is small enough, but the same include twice passes the total.
        let opts = ReadOptions {
            max_total_size: 2000,
            ..ReadOptions::default()
        };
        let err = read_zone_file_with(&main, Some(&apex()), &opts).unwrap_err();
        assert!(
            matches!(
                err,
                ZoneReadError::Limit {
                    limit: ReadLimit::TotalSize(2000),
                    ..
                }
            ),
            "{err}"
        );
        assert!(read_zone_file(&main, Some(&apex())).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn too_deep_include_is_a_limit_error() {
        let mut files: Vec<(String, String)> = (0..20)
            .map(|i| (format!("f{i}.inc"), format!("$INCLUDE f{}.inc\n", i + 1)))
            .collect();
        files.push(("f20.inc".into(), "x 1 A 192.0.2.1\n".into()));
        files.push(("main.zone".into(), "$INCLUDE f0.inc\n".into()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let dir = folder(&refs);
        let err = read_zone_file(&dir.join("main.zone"), Some(&apex())).unwrap_err();
        let ZoneReadError::Limit { file, line, limit } = &err else {
            panic!("{err}")
        };
        assert_eq!(*limit, ReadLimit::IncludeDepth(MAX_INCLUDE_DEPTH));
        assert_eq!(*line, 1);
        assert!(file.ends_with("f15.inc"), "{err}");
        // Within the bound it reads.
        let opts = ReadOptions {
            max_include_depth: 25,
            ..ReadOptions::default()
        };
        let o = read_zone_file_with(&dir.join("main.zone"), Some(&apex()), &opts).unwrap();
        assert_eq!(o.zone.records.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
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
    let mut out = Vec::with_capacity(t.end - t.start);
    decode_string_into(buf, t, max, &mut out)?;
    Ok(out)
}

/// [`decode_string`] appended to `out` (the NAPTR fields go straight into the RDATA: three
/// allocations per record fewer on a million-record zone). `out` keeps what it held before.
fn decode_string_into(buf: &[u8], t: &Token, max: usize, out: &mut Vec<u8>) -> Result<(), Problem> {
    let raw = &buf[t.start..t.end];
    let before = out.len();
    let mut i = 0;
    // Runs without escapes are copied whole.
    while let Some(at) = memchr::memchr(b'\\', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + at]);
        i += at;
        let (o, used) = decode_escape(raw, i).map_err(|m| Problem::at(t, m))?;
        out.push(o);
        i += used;
    }
    out.extend_from_slice(&raw[i..]);
    let len = out.len() - before;
    if len > max {
        return Err(Problem::at(
            t,
            format!("character-string of {len} octets; the limit is {max} (RFC 1035 §3.3)"),
        )
        .hint("split the text into several strings where the type allows it"));
    }
    Ok(())
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
