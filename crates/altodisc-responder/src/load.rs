//! Loading zone data: zone files from a directory (through the altodisc-zone master-file reader)
//! and the publishing config. Two ways:
//! * zone by zone ([`Sources::load_index_isolated`], what `serve` does by default, as NSD and
//!   Knot do): a zone that does not read, index or sign, or fails the checker gate, is reported
//!   in [`LoadedIndex::failed`] and the others load; on a reload the failed zone keeps its served
//!   version (from [`Served`]). Whatever error a zone's reader returns stays with that zone.
//! * all or nothing ([`Sources::load_index_checked`], `serve --strict`): the first error stops
//!   the load, nothing is served half-loaded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use altodisc_proto::DomainName;
use altodisc_zone::Severity;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::publish_config::{PublishConfig, SerialState};
use altodisc_zone::reader::{
    IncludeBase, ReadOptions, StreamSummary, origin_from_file_name, read_zone_file_with,
    stream_zone_file_with,
};
use altodisc_zone::record::{Zone, ZoneRecord};
use serde::Deserialize;

use crate::error::{IndexError, ResponderError};
use crate::index::{ZoneBuilder, ZoneData, ZoneIndex};
use crate::rrl::RateLimitConfig;
use crate::server::ServeOptions;
use crate::xfr::TransferAcl;
use crate::zone_signing::{DnssecMode, DnssecSettings};

/// Zone data ready to index, with what the operator should read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The zones.
    pub zones: Vec<Zone>,
    /// Warnings (reader diagnostics below error level, publishing notes).
    pub warnings: Vec<String>,
    /// Automatic SOA serials of generated zones (pass to the next reload).
    pub serials: SerialState,
}

/// Reads every `DIR/<origin>.zone` file (other files are ignored), sorted by name.
///
/// # Errors
/// [`ResponderError::Io`] if the directory cannot be read; [`ResponderError::ZoneFile`] with
/// `file:line:col` for the first error diagnostic of any file.
pub fn load_zone_dir(dir: &Path) -> Result<Loaded, ResponderError> {
    load_zone_dir_with(dir, &ReadOptions::default())
}

/// [`load_zone_dir`] with explicit reader options (`[serve] include_base`, see
/// [`ServeSection::read_options`]).
///
/// # Errors
/// As [`load_zone_dir`].
pub fn load_zone_dir_with(dir: &Path, read: &ReadOptions) -> Result<Loaded, ResponderError> {
    load_zone_files(&zone_files(dir)?, read)
}

/// Reads the given zone files, each as the zone of its origin, all or nothing.
fn load_zone_files(
    files: &[(PathBuf, DomainName)],
    read: &ReadOptions,
) -> Result<Loaded, ResponderError> {
    let mut loaded = Loaded::default();
    for (path, origin) in files {
        let outcome =
            read_zone_file_with(path, Some(origin), read).map_err(|e| ResponderError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if let Some(first) = outcome
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
        {
            return Err(ResponderError::ZoneFile(first.to_string()));
        }
        loaded
            .warnings
            .extend(outcome.diagnostics.iter().map(ToString::to_string));
        let mut zone = outcome.zone;
        // The file name (or the `[serve.zone_files]` key) is the zone; a `$ORIGIN` inside only
        // changes relative names.
        zone.origin = origin.clone();
        loaded.zones.push(zone);
    }
    Ok(loaded)
}

/// The `<origin>.zone` files of `dir`, sorted by name.
fn zone_files(dir: &Path) -> Result<Vec<(PathBuf, DomainName)>, ResponderError> {
    let io = |source| ResponderError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<(PathBuf, DomainName)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "zone")
            && path.is_file()
            && let Some(origin) = origin_from_file_name(&path)
        {
            files.push((path, origin));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Streams one zone file into the index builder: records go straight from the reader into the
/// compact store, so a 1,000,000-record zone is never held as a `Vec<ZoneRecord>`.
///
/// # Errors
/// The first error diagnostic of the reader, else the first [`IndexError`] (both with file:line).
pub fn stream_zone_file_into_index(
    path: &Path,
    origin: &DomainName,
    warnings: &mut Vec<String>,
) -> Result<ZoneData, ResponderError> {
    stream_zone_file_tapped(
        path,
        origin,
        &ReadOptions::default(),
        warnings,
        &mut |_| {},
        &mut |_| {},
    )
}

/// [`stream_zone_file_into_index`] that also hands every record to `tap` after indexing it, and
/// the reader's summary to `done`: the checker gate reads the records the loader parsed instead
/// of parsing every zone file a second time.
fn stream_zone_file_tapped(
    path: &Path,
    origin: &DomainName,
    read: &ReadOptions,
    warnings: &mut Vec<String>,
    tap: &mut dyn FnMut(&ZoneRecord),
    done: &mut dyn FnMut(&StreamSummary),
) -> Result<ZoneData, ResponderError> {
    let mut builder = ZoneBuilder::new(origin)?;
    let mut first_error: Option<IndexError> = None;
    let summary = stream_zone_file_with(path, Some(origin), read, &mut |rec| {
        if first_error.is_none()
            && let Err(e) = builder.add(&rec)
        {
            first_error = Some(e);
        }
        tap(&rec);
    })
    .map_err(|e| ResponderError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    done(&summary);
    if let Some(d) = summary
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
    {
        return Err(ResponderError::ZoneFile(d.to_string()));
    }
    if let Some(e) = first_error {
        return Err(e.into());
    }
    warnings.extend(summary.diagnostics.iter().map(ToString::to_string));
    Ok(builder.finish()?)
}

/// Builds the zones of a publishing config.
///
/// # Errors
/// [`ResponderError::Config`] for an invalid entry.
pub fn load_publish_config(
    config: &PublishConfig,
    previous: Option<&SerialState>,
) -> Result<Loaded, ResponderError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let published = config
        .build(previous, now)
        .map_err(|e| ResponderError::Config(e.to_string()))?;
    Ok(Loaded {
        zones: published.zones,
        warnings: published.warnings,
        serials: published.serials,
    })
}

/// The `[serve]` table of the publishing config (unknown keys rejected).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// Addresses to listen on.
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// Directory of `<origin>.zone` files, relative to the config file.
    pub zones_dir: Option<PathBuf>,
    /// Zone files by origin, `[serve.zone_files]`: `"example.net." = "db/example.net"`, for
    /// files not named `<origin>.zone` (a 252-octet origin makes a 256-octet file name, over
    /// the 255-octet limit of Linux file systems). Relative paths are taken from the config
    /// file's folder, like `zones_dir`; merged with the files of the zone directories (an origin
    /// given twice is a config error). See [`ServeSection::mapped_files`].
    #[serde(default)]
    pub zone_files: std::collections::BTreeMap<String, PathBuf>,
    /// Folder in which relative `$INCLUDE` paths of zone files are looked up, at every depth
    /// (BIND's `directory`, NSD's working directory); relative to the config file's folder.
    /// Absent: the folder of the file that holds the `$INCLUDE` (Knot's rule). The same as
    /// `altodisc check --include-base`; see [`Self::read_options`].
    pub include_base: Option<PathBuf>,
    /// TCP idle timeout in seconds.
    pub tcp_idle_timeout: Option<u64>,
    /// Most concurrent TCP connections.
    pub max_tcp_connections: Option<usize>,
    /// File keeping the automatic SOA serials across restarts (relative to the config file).
    /// Without it a restart takes the serial from the clock, which still increases it.
    pub serial_file: Option<PathBuf>,
    /// Clients allowed to transfer zones (AXFR/IXFR over TCP): addresses or prefixes such as
    /// `192.0.2.53`, `198.51.100.0/24`, `2001:db8::/48`, each optionally followed by `key NAME`
    /// (a `tsig_keys` entry its clients must sign with). Empty: transfers are refused.
    #[serde(default)]
    pub allow_transfer: Vec<String>,
    /// Secondaries to NOTIFY (RFC 1996) after every accepted change of a zone's serial.
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// Address of the HTTP endpoint with `/metrics` (Prometheus) and `/healthz`.
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds between checks of the zone files and this config for changes (modification time
    /// and size); a change triggers the same gated reload as SIGHUP. 0 turns polling off.
    /// Default [`DEFAULT_WATCH_INTERVAL`].
    pub watch_interval: Option<u64>,
    /// Response rate limiting on UDP (off unless this table is present).
    pub rate_limit: Option<RateLimitConfig>,
    /// Longest busy poll of an empty UDP socket in microseconds, used while queries arrive at
    /// least ten times per that interval and do not queue (0 turns polling off, at most
    /// [`crate::MAX_UDP_BUSY_POLL_US`]; default [`crate::DEFAULT_UDP_BUSY_POLL`]). See
    /// [`ServeOptions::udp_busy_poll`].
    pub udp_busy_poll_us: Option<u64>,
    /// UDP workers per listen address, 1 to [`crate::MAX_WORKERS`] (default: the number of
    /// CPUs). See [`ServeOptions::udp_workers`].
    pub workers: Option<usize>,
    /// Run the zone checker as the gate of every load (default true). Turning it off saves the
    /// second pass over very large zone files; a zone that does not load fails either way.
    pub check: Option<bool>,
    /// DNSSEC for every served zone: `"off"` (default), `"sign"` (signed at every load with keys
    /// from `key_dir`) or `"presigned"` (zone files already signed, served unchanged). See
    /// [`crate::zone_signing`].
    pub dnssec: Option<DnssecMode>,
    /// Directory of the zone keys for `dnssec = "sign"`, relative to the config file (default
    /// [`crate::zone_signing::DEFAULT_KEY_DIR`]); keys are created there on first start.
    pub key_dir: Option<PathBuf>,
    /// Days a signature is valid from signing (default 14).
    pub signature_validity_days: Option<u64>,
    /// Re-sign this many days before signatures expire (default 7; less than the validity).
    pub refresh_before_days: Option<u64>,
    /// `signature_validity_days` to the second: a number with a unit, `s`, `m`, `h`, `d` or `w`
    /// (`"14d"`, `"90s"`); give one of the two keys.
    pub signature_validity: Option<String>,
    /// `refresh_before_days` with a unit, like `signature_validity` (`"7d"`, `"15s"`).
    pub refresh_before: Option<String>,
    /// All or nothing (`serve --strict`): the start fails and a reload is rejected as a whole
    /// when any zone fails, and the checker sees all zones together. Default false: each zone
    /// loads on its own ([`Sources::load_index_isolated`]).
    pub strict: Option<bool>,
    /// `dnssec` for single zones, overriding the global one: `"<origin>" = "sign"`.
    #[serde(default)]
    pub dnssec_zones: std::collections::BTreeMap<String, DnssecMode>,
    /// TSIG keys (RFC 8945), `[[serve.tsig_keys]]` tables; see [`crate::tsig::TsigKeyConfig`].
    #[serde(default)]
    pub tsig_keys: Vec<crate::tsig::TsigKeyConfig>,
    /// Allowed clock difference of TSIG signatures in seconds (default 300).
    pub tsig_fudge: Option<u16>,
    /// TSIG key per NOTIFY target: `"192.0.2.53:53" = "xfr-key"` (the address as in `notify`).
    #[serde(default)]
    pub notify_keys: std::collections::BTreeMap<String, String>,
    /// Most differences kept per zone for IXFR (RFC 1995; default 32, 0 turns IXFR from the
    /// journal off: every IXFR gets the whole zone).
    pub ixfr_journal_diffs: Option<usize>,
    /// Most changed records kept per zone over all its differences (default 100000).
    pub ixfr_journal_records: Option<usize>,
    /// Directory keeping the IXFR journal across restarts, relative to the config file (absent:
    /// in memory only). See [`crate::journal`].
    pub ixfr_journal_dir: Option<PathBuf>,
    /// Name of a catalog zone (RFC 9432 version 2) listing every served zone, e.g.
    /// `"catalog.altodisc.invalid."`; see [`crate::catalog`]. Off when absent.
    pub catalog_zone: Option<String>,
    /// Directory of the config file (relative `secret_file`s are read from there).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Denial of existence of signed zones: `"nsec"` (default) or `"nsec3"` (RFC 5155), and
    /// its parameters (RFC 9276 §3.1 defaults: 0 iterations, no salt, no opt-out). See
    /// [`crate::zone_signing`].
    pub denial: Option<crate::zone_signing::DenialMethod>,
    /// NSEC3 extra iterations (default 0).
    pub nsec3_iterations: Option<u16>,
    /// NSEC3 salt in hex, `"-"` for none (default).
    pub nsec3_salt: Option<String>,
    /// NSEC3 opt-out (default false).
    pub nsec3_opt_out: Option<bool>,
    /// Automatic ZSK rollover by pre-publication (RFC 6781 §4.1.1.1): the ZSK lifetime with a
    /// unit (`"90d"`; absent: no rollover). See [`crate::zone_signing`].
    pub zsk_lifetime: Option<String>,
    /// Time for a change to reach every secondary, added to the TTL-based waits of a rollover
    /// (default `"1h"`).
    pub propagation_delay: Option<String>,
    /// Automatic KSK rollover by double-DS with CDS/CDNSKEY (RFC 6781 §4.1.2, RFC 7344): the KSK
    /// lifetime with a unit (`"1y"`; absent: no KSK rollover).
    pub ksk_lifetime: Option<String>,
    /// TTL of the zone's DS RRset at the parent (default `"1d"`), waited for after
    /// `altodisc keys ds-seen`.
    pub parent_ds_ttl: Option<String>,
    /// The parent zone's authoritative servers (`"192.0.2.53:53"`, port 53 when left out),
    /// asked for the DS of a waiting new KSK; see [`crate::zone_signing`].
    #[serde(default)]
    pub parent_ds_check: Vec<String>,
    /// `parent_ds_check` for single zones: `"<origin>" = ["192.0.2.53"]`.
    #[serde(default)]
    pub parent_ds_check_zones: std::collections::BTreeMap<String, Vec<String>>,
    /// How often the parent's servers are asked (default `"1h"`).
    pub parent_ds_poll: Option<String>,
    /// `denial` for single zones: `"<origin>" = "nsec3"`.
    #[serde(default)]
    pub denial_zones: std::collections::BTreeMap<String, crate::zone_signing::DenialMethod>,
}

/// Default seconds between two polls for changed zone files or config.
pub const DEFAULT_WATCH_INTERVAL: u64 = 2;

impl ServeSection {
    /// Reads the `[serve]` table of `config` (an empty section if absent).
    ///
    /// # Errors
    /// [`ResponderError::Config`] for unknown keys or bad values.
    pub fn from_config(config: &PublishConfig, file: &str) -> Result<Self, ResponderError> {
        match &config.serve {
            None => Ok(Self::default()),
            Some(table) => table
                .clone()
                .try_into()
                .map(|s: Self| Self {
                    base_dir: Path::new(file)
                        .parent()
                        .unwrap_or(Path::new("."))
                        .to_owned(),
                    ..s
                })
                .map_err(|e| ResponderError::Config(format!("{file}: [serve]: {e}"))),
        }
    }

    /// The reader options of the zone files: `include_base` resolved from the config file's
    /// folder.
    ///
    /// # Errors
    /// [`ResponderError::Config`] naming the key and the resolved path when `include_base` is
    /// not an existing directory (every relative `$INCLUDE` would fail otherwise, one zone at a
    /// time, with a less direct message).
    pub fn read_options(&self) -> Result<ReadOptions, ResponderError> {
        let mut read = ReadOptions::default();
        if let Some(dir) = &self.include_base {
            let resolved = self.base_dir.join(dir);
            if !resolved.is_dir() {
                let why = if resolved.exists() {
                    "is not a directory"
                } else {
                    "does not exist"
                };
                return Err(ResponderError::Config(format!(
                    "[serve] include_base = {:?}: {} {why} (a relative include_base is read from \
                     the config file's folder); create it or fix the path",
                    dir.display().to_string(),
                    resolved.display()
                )));
            }
            read.include_base = IncludeBase::Dir(resolved);
        }
        Ok(read)
    }

    /// The `[serve.zone_files]` entries, origins parsed and paths resolved from `base` (the
    /// config file's folder), sorted by origin key.
    ///
    /// # Errors
    /// [`ResponderError::Config`] naming the key when it is not a domain name, and naming both
    /// paths when two keys are the same origin (`"a.example."` and `"A.example"`).
    pub fn mapped_files(&self, base: &Path) -> Result<Vec<MappedFile>, ResponderError> {
        let mut out: Vec<MappedFile> = Vec::with_capacity(self.zone_files.len());
        for (key, path) in &self.zone_files {
            let origin = DomainName::parse(key).map_err(|e| {
                ResponderError::Config(format!(
                    "[serve.zone_files] {key:?}: not a domain name: {e}; the key is the zone's \
                     origin, e.g. \"example.net.\" = \"db/example.net\""
                ))
            })?;
            let resolved = base.join(path);
            if let Some(first) = out
                .iter()
                .find(|m| origin_key(&m.origin) == origin_key(&origin))
            {
                return Err(ResponderError::Config(format!(
                    "[serve.zone_files]: zone {} is given twice, as {:?} = {} and as {key:?} = {}; \
                     keep one",
                    origin.to_lowercase_string(),
                    first.key,
                    first.path.display(),
                    resolved.display()
                )));
            }
            out.push(MappedFile {
                key: key.clone(),
                given: path.clone(),
                path: resolved,
                origin,
            });
        }
        Ok(out)
    }

    /// Applies the transport settings to `options` (listen addresses are added).
    ///
    /// # Errors
    /// [`ResponderError::Config`] for a bad `allow_transfer` entry or a `udp_busy_poll_us` over
    /// [`crate::MAX_UDP_BUSY_POLL_US`].
    pub fn apply(&self, options: &mut ServeOptions) -> Result<(), ResponderError> {
        options.transfer_acl = TransferAcl::parse(&self.allow_transfer)
            .map_err(|e| ResponderError::Config(format!("[serve] allow_transfer: {e}")))?;
        options.tsig = crate::xfr::tsig_options(self, &options.transfer_acl)?;
        options.journal = crate::journal::JournalLimits {
            diffs: self.ixfr_journal_diffs.unwrap_or(options.journal.diffs),
            records: self.ixfr_journal_records.unwrap_or(options.journal.records),
            dir: self
                .ixfr_journal_dir
                .as_ref()
                .map(|d| self.base_dir.join(d))
                .or_else(|| options.journal.dir.clone()),
        };
        if self.rate_limit.is_some() {
            options.rate_limit.clone_from(&self.rate_limit);
        }
        if self.metrics_listen.is_some() {
            options.metrics_listen = self.metrics_listen;
        }
        options.listen.extend(self.listen.iter().copied());
        if let Some(t) = self.tcp_idle_timeout {
            options.tcp_idle_timeout = Duration::from_secs(t);
        }
        if let Some(m) = self.max_tcp_connections {
            options.max_tcp_connections = m;
        }
        if let Some(us) = self.udp_busy_poll_us {
            if us > crate::MAX_UDP_BUSY_POLL_US {
                return Err(ResponderError::Config(format!(
                    "[serve] udp_busy_poll_us = {us}: at most {} (one second); 1000 is the \
                     default, 0 turns busy polling off",
                    crate::MAX_UDP_BUSY_POLL_US
                )));
            }
            options.udp_busy_poll = Duration::from_micros(us);
        }
        if let Some(n) = self.workers {
            options.udp_workers = check_workers(n)
                .map_err(|e| ResponderError::Config(format!("[serve] workers = {n}: {e}")))?;
        }
        Ok(())
    }
}

/// `n` if it is a valid worker count (see [`ServeOptions::udp_workers`]), else what to do
/// instead; shared by `[serve] workers` and `--workers`.
///
/// # Errors
/// The reason, with the bound, for 0 or more than [`crate::MAX_WORKERS`].
pub fn check_workers(n: usize) -> Result<usize, String> {
    if (1..=crate::MAX_WORKERS).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "workers must be 1 to {} (one per CPU is the default; more than the CPUs only \
             wait on the same socket)",
            crate::MAX_WORKERS
        ))
    }
}

/// One `[serve.zone_files]` entry (see [`ServeSection::mapped_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappedFile {
    /// The key as written.
    pub key: String,
    /// The path as written.
    pub given: PathBuf,
    /// The path resolved from the config file's folder.
    pub path: PathBuf,
    /// The zone's origin (the key, parsed).
    pub origin: DomainName,
}

impl MappedFile {
    /// Why the file cannot be read as a zone file, if it is missing or not a file: the key, the
    /// path as written and resolved, and what to do.
    fn missing(&self) -> Option<String> {
        if self.path.is_file() {
            return None;
        }
        let why = if self.path.exists() {
            "is not a file"
        } else {
            "does not exist"
        };
        Some(format!(
            "[serve.zone_files] {:?} = {:?}: {} {why} (a relative path is read from the config \
             file's folder); create it or fix the path",
            self.key,
            self.given.display().to_string(),
            self.path.display()
        ))
    }
}

/// Zone files with the origin of each.
type ZoneFileList = Vec<(PathBuf, DomainName)>;

/// Mapped files that cannot be read: index into the [`ZoneFileList`], and why.
type MissingFiles = Vec<(usize, String)>;

/// The zone files of `dirs` and of `[serve.zone_files]`, with the reason each missing mapped
/// file cannot be read (by index into the list).
///
/// # Errors
/// [`ResponderError::Io`] when a directory cannot be read; [`ResponderError::Config`] naming
/// both paths when a mapped origin is also a file of a zone directory.
fn all_zone_files(
    dirs: &[PathBuf],
    mapped: &[MappedFile],
) -> Result<(ZoneFileList, MissingFiles), ResponderError> {
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(zone_files(dir)?);
    }
    let mut missing = Vec::new();
    for m in mapped {
        let key = origin_key(&m.origin);
        if let Some((path, _)) = files.iter().find(|(_, o)| origin_key(o) == key) {
            return Err(ResponderError::Config(format!(
                "[serve.zone_files] {:?} = {}: zone {} is also the zone file {} of a zone \
                 directory; remove the entry or the file",
                m.key,
                m.path.display(),
                m.origin.to_lowercase_string(),
                path.display()
            )));
        }
        if let Some(why) = m.missing() {
            missing.push((files.len(), why));
        }
        files.push((m.path.clone(), m.origin.clone()));
    }
    Ok((files, missing))
}

/// [`all_zone_files`] for all-or-nothing loads: a missing mapped file is an error.
fn all_zone_files_strict(
    dirs: &[PathBuf],
    mapped: &[MappedFile],
) -> Result<Vec<(PathBuf, DomainName)>, ResponderError> {
    let (files, missing) = all_zone_files(dirs, mapped)?;
    match missing.into_iter().next() {
        Some((_, why)) => Err(ResponderError::Config(why)),
        None => Ok(files),
    }
}

/// Where zone data comes from, for loading and reloading.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A publishing config file.
    pub config: Option<PathBuf>,
    /// A zone directory (`--zones`), in addition to the config's `zones_dir`.
    pub zones_dir: Option<PathBuf>,
}

/// Everything [`Sources`] describe, loaded.
#[derive(Debug, Default)]
pub struct LoadedSources {
    /// The zone data.
    pub loaded: Loaded,
    /// The `[serve]` settings of the config (empty without one).
    pub serve: ServeSection,
}

/// A loaded, indexed zone set: what `serve` starts with and what a reload swaps in.
#[derive(Debug)]
pub struct LoadedIndex {
    /// The index.
    pub index: ZoneIndex,
    /// Number of zones.
    pub zone_count: usize,
    /// Warnings to log.
    pub warnings: Vec<String>,
    /// Automatic SOA serials of generated zones (pass to the next reload).
    pub serials: SerialState,
    /// The `[serve]` settings of the config.
    pub serve: ServeSection,
    /// With `dnssec = "sign"`: when to reload so signatures are refreshed before they expire.
    pub resign_at: Option<SystemTime>,
    /// Zones that failed ([`Sources::load_index_isolated`]; empty for all-or-nothing loads).
    pub failed: Vec<ZoneFailure>,
    /// The signed zones of this load (pass on in [`Served`]).
    pub signed: std::collections::BTreeMap<String, SignedVersion>,
    /// Earliest RRSIG expiration (Unix seconds) of each signed or presigned zone, by lowercase
    /// origin (isolated loads only).
    pub signature_expiry: std::collections::BTreeMap<String, u64>,
}

impl Sources {
    /// Reads the config (if any): its `[serve]` table, its generated zones and the zone
    /// directories to read.
    fn plan(&self, previous: Option<&SerialState>) -> Result<Plan, ResponderError> {
        let mut dirs: Vec<PathBuf> = self.zones_dir.iter().cloned().collect();
        let mut serve = ServeSection::default();
        let mut read = ReadOptions::default();
        let mut generated = Loaded::default();
        let mut serial_file = None;
        let mut mapped = Vec::new();
        // Without a config there is no serial file: the running server's state is all there is.
        let mut history = previous.cloned();
        if let Some(path) = &self.config {
            let file = path.display().to_string();
            let config =
                PublishConfig::load(path).map_err(|e| ResponderError::Config(e.to_string()))?;
            serve = ServeSection::from_config(&config, &file)?;
            read = serve.read_options()?;
            let base = path.parent().unwrap_or_else(|| Path::new("."));
            serial_file = serve.serial_file.as_ref().map(|f| base.join(f));
            mapped = serve.mapped_files(base)?;
            if let Some(dir) = &serve.zones_dir {
                let dir = base.join(dir);
                // The same directory given twice (`--zones zones` and `zones_dir = "."` in
                // zones/publish.toml) is loaded once.
                let same = |d: &PathBuf| match (d.canonicalize(), dir.canonicalize()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => *d == dir,
                };
                if !dirs.iter().any(same) {
                    dirs.push(dir);
                }
            }
            // A running server passes the state of its last load; at start it comes from the
            // serial file, if any (a missing or unreadable file just means "no history").
            let persisted = match (previous, &serial_file) {
                (None, Some(f)) => std::fs::read_to_string(f)
                    .ok()
                    .map(|t| SerialState::parse(&t)),
                _ => None,
            };
            generated = load_publish_config(&config, previous.or(persisted.as_ref()))?;
            history = previous.cloned().or(persisted);
        }
        Ok(Plan {
            serve,
            read,
            generated,
            dirs,
            mapped,
            serial_file,
            history,
        })
    }

    /// Loads all sources into memory as [`Zone`]s, all or nothing (for tools and tests; the
    /// server uses [`Self::load_index`]).
    ///
    /// # Errors
    /// The first [`ResponderError`]; [`ResponderError::NoZones`] when there is nothing to serve.
    pub fn load(&self, previous: Option<&SerialState>) -> Result<LoadedSources, ResponderError> {
        let Plan {
            serve,
            read,
            generated: mut loaded,
            dirs,
            mapped,
            ..
        } = self.plan(previous)?;
        let files = load_zone_files(&all_zone_files_strict(&dirs, &mapped)?, &read)?;
        loaded.zones.extend(files.zones);
        loaded.warnings.extend(files.warnings);
        if loaded.zones.is_empty() {
            return Err(no_zones());
        }
        Ok(LoadedSources { loaded, serve })
    }

    /// Loads and indexes all sources, all or nothing; zone files are streamed into the index.
    ///
    /// # Errors
    /// The first [`ResponderError`]; [`ResponderError::NoZones`] when there is nothing to serve.
    pub fn load_index(
        &self,
        previous: Option<&SerialState>,
    ) -> Result<LoadedIndex, ResponderError> {
        self.load_index_gated(previous, false)
    }

    /// [`Self::load_index`], then the altodisc-zone checker (rules Z1–Z24, as `altodisc check`
    /// runs them) over the same zones: any error diagnostic rejects the whole set. This is the
    /// gate of `serve`'s start and reloads. The zone files are read a second time for the
    /// checker (streaming, so memory stays bounded by the index plus the checker's compact form).
    ///
    /// # Errors
    /// As [`Self::load_index`], and [`ResponderError::Check`] with every error diagnostic.
    pub fn load_index_checked(
        &self,
        previous: Option<&SerialState>,
    ) -> Result<LoadedIndex, ResponderError> {
        self.load_index_gated(previous, true)
    }

    fn load_index_gated(
        &self,
        previous: Option<&SerialState>,
        check: bool,
    ) -> Result<LoadedIndex, ResponderError> {
        let Plan {
            serve,
            read,
            mut generated,
            dirs,
            mapped,
            serial_file,
            history,
        } = self.plan(previous)?;
        let mut warnings = generated.warnings;
        let files = all_zone_files_strict(&dirs, &mapped)?;
        let generated_zones = &generated.zones;
        let run_check = check && serve.check.unwrap_or(true);
        let dnssec = DnssecSettings::from_serve(
            &serve,
            self.config
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or_else(|| Path::new(".")),
        )?;
        let signed_at = SystemTime::now();
        // Serials published for signed zones by this load (merged into the state below).
        let mut signed_serials = SerialState::default();
        // Unsigned zones: each record is parsed once and goes to the index and then to the
        // checker on this thread (`build_and_check_zones`). Signed zones are built from prepared
        // records, so the checker reads the sources itself on a second thread meanwhile.
        let (built, checked) = if run_check && !dnssec.active() {
            let (built, checked) =
                build_and_check_zones(generated_zones, &files, &read, &mut warnings);
            (built, Some(checked))
        } else {
            std::thread::scope(|scope| {
                let checker = run_check
                    .then(|| scope.spawn(|| check_sources(generated_zones, &files, &read)));
                let built = if !dnssec.active() {
                    build_zones(generated_zones, &files, &read, &mut warnings)
                } else {
                    build_prepared_zones(
                        generated_zones,
                        (&files, &read),
                        &mut warnings,
                        &dnssec,
                        signed_at,
                        (history.as_ref(), &mut signed_serials),
                    )
                };
                let checked = checker.map(|h| match h.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                });
                (built, checked)
            })
        };
        // A zone that does not load while the checker has errors is refused with the checker's
        // errors, as `altodisc check` reports them (the isolated load does the same per zone).
        if built.is_err()
            && let Some(Err(ResponderError::Check { errors })) = &checked
        {
            return Err(ResponderError::Check {
                errors: errors.clone(),
            });
        }
        let mut zones = built?;
        if let Some(catalog) = &serve.catalog_zone {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            crate::catalog::add_catalog(
                catalog,
                &mut zones,
                previous,
                &mut generated.serials,
                now,
            )?;
        }
        if let Some(checked) = checked {
            checked?;
        }
        if zones.is_empty() {
            return Err(no_zones());
        }
        let zone_count = zones.len();
        let index = ZoneIndex::from_zones(zones)?;
        generated.serials.zones.extend(signed_serials.zones);
        // Only a complete (and, if asked, checked) load records its serials.
        if let Some(f) = &serial_file
            && let Err(e) = std::fs::write(f, generated.serials.to_text())
        {
            warnings.push(format!("cannot write the serial file {}: {e}", f.display()));
        }
        Ok(LoadedIndex {
            index,
            zone_count,
            warnings,
            serials: generated.serials,
            serve,
            resign_at: dnssec.resign_at(signed_at),
            failed: Vec::new(),
            signed: std::collections::BTreeMap::new(),
            signature_expiry: std::collections::BTreeMap::new(),
        })
    }
}

/// A zone that did not load or failed the checker gate (per-zone isolation, see
/// [`Sources::load_index_isolated`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZoneFailure {
    /// The zone's origin, lowercase with the trailing dot.
    pub zone: String,
    /// Where it comes from: the zone file, or the publishing config for generated zones.
    pub source: String,
    /// Why: a read, index or signing error, or the checker's error diagnostics (one each).
    pub errors: Vec<String>,
    /// Whether the failure is a checker finding (else the zone did not read, index or sign).
    pub check: bool,
    /// The SOA serial of the previous version, still served (reloads only); `None`: the zone is
    /// not served and its names get REFUSED like any name outside the served zones.
    pub kept_serial: Option<u32>,
}

impl ZoneFailure {
    /// One line: zone, source, first reason, and what is served instead.
    #[must_use]
    pub fn summary(&self) -> String {
        let first = self.errors.first().map_or("", String::as_str);
        let reason = if self.check {
            format!(
                "the zone checker found {} error(s), first: {first}",
                self.errors.len()
            )
        } else {
            first.to_owned()
        };
        let served = match self.kept_serial {
            Some(serial) => format!("still serving the previous version (serial {serial})"),
            None => "not served".to_owned(),
        };
        format!("zone {} ({}): {reason}; {served}", self.zone, self.source)
    }
}

/// How the served version of a signed zone was made: a reload keeps it while its source and
/// keys are unchanged and its signatures are not due for refresh, so the SOA serial stays and no
/// secondary is NOTIFYed for nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedVersion {
    /// Hash of the unsigned records as loaded and of the zone's DNSKEYs.
    pub content: u64,
    /// When it was signed.
    pub signed_at: SystemTime,
}

/// What the server serves now: a reload keeps from it the zones whose new version fails, and the
/// signed zones that did not change.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// The index served now.
    pub index: std::sync::Arc<ZoneIndex>,
    /// The serial state of the last load.
    pub serials: SerialState,
    /// The signed zones of the last load, by lowercase origin.
    pub signed: std::collections::BTreeMap<String, SignedVersion>,
}

impl Served {
    /// The state of a server that serves `loaded` (its index, its serials, its signed zones).
    #[must_use]
    pub fn from_loaded(loaded: LoadedIndex) -> Self {
        Self {
            index: std::sync::Arc::new(loaded.index),
            serials: loaded.serials,
            signed: loaded.signed,
        }
    }
}

/// One source of one zone.
enum Unit<'a> {
    Generated(&'a Zone),
    File(&'a Path, &'a DomainName),
}

impl Unit<'_> {
    fn origin(&self) -> &DomainName {
        match self {
            Self::Generated(z) => &z.origin,
            Self::File(_, o) => o,
        }
    }
}

/// A unit's outcome: the zone to serve, or its failure (`check`: a checker finding).
/// A zone ready to index: newly built, or the served one kept as it is.
type UnitResult = Result<std::sync::Arc<ZoneData>, (Vec<String>, bool)>;

/// The lowercase wire form of `origin`: the index key of its zone (length octets are below 64,
/// so ASCII lowercasing only touches label characters).
fn origin_key(origin: &DomainName) -> Vec<u8> {
    origin.as_wire().to_ascii_lowercase()
}

/// Earliest RRSIG expiration of `zone` in Unix seconds (RRSIG times are RFC 1982 serial numbers,
/// RFC 4034 §3.1.5: taken as the instant nearest `now`).
fn earliest_expiry(zone: &Zone, now: SystemTime) -> Option<u64> {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now32 = u32::try_from(now & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    zone.records
        .iter()
        .filter(|r| r.rtype == altodisc_zone::record::rtype::RRSIG)
        .filter_map(|r| {
            let exp = u32::from_be_bytes(r.rdata.get(8..12)?.try_into().ok()?);
            // Signed distance from now in serial arithmetic.
            let delta = exp.wrapping_sub(now32);
            Some(if delta < (1 << 31) {
                now.saturating_add(u64::from(delta))
            } else {
                now.saturating_sub(u64::from(now32.wrapping_sub(exp)))
            })
        })
        .min()
}

/// Hash of a zone's records as loaded (before signing) and of extra key material.
fn content_hash(zone: &Zone, keys: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    zone.origin.as_wire().hash(&mut h);
    for r in &zone.records {
        r.owner.as_wire().hash(&mut h);
        (r.ttl, r.class, r.rtype).hash(&mut h);
        r.rdata.hash(&mut h);
    }
    keys.hash(&mut h);
    h.finish()
}

/// The per-zone checker gate: a checker of its own for each zone, so every finding names the
/// zone that fails. Error diagnostics as the gate's verdict.
fn check_one(feed: impl FnOnce(&mut Checker)) -> Result<(), Vec<String>> {
    let mut checker = Checker::new(CheckOptions::default());
    feed(&mut checker);
    let errors = checker_errors(&mut checker);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What loading one unit needs besides the unit.
struct UnitCtx<'a> {
    check: bool,
    read: &'a ReadOptions,
    dnssec: &'a DnssecSettings,
    now: SystemTime,
    history: Option<&'a SerialState>,
    served: Option<&'a Served>,
}

/// Loaded state of the signed zones of one load.
#[derive(Default)]
struct SignedOut {
    serials: SerialState,
    versions: std::collections::BTreeMap<String, SignedVersion>,
    expiry: std::collections::BTreeMap<String, u64>,
}

impl UnitCtx<'_> {
    /// Loads, checks and (if asked) signs one zone; every error stays with this zone.
    fn load(&self, unit: &Unit<'_>, warnings: &mut Vec<String>, out: &mut SignedOut) -> UnitResult {
        let load_err = |e: ResponderError| (vec![e.to_string()], false);
        let origin = unit.origin().clone();
        let mode = self.dnssec.mode_for(&origin);
        if mode == DnssecMode::Off {
            return match unit {
                Unit::Generated(zone) => {
                    if self.check {
                        check_one(|c| c.load_zone(zone)).map_err(|e| (e, true))?;
                    }
                    ZoneData::build(zone)
                        .map(std::sync::Arc::new)
                        .map_err(|e| load_err(e.into()))
                }
                Unit::File(path, origin) => {
                    let mut checker = self.check.then(|| Checker::new(CheckOptions::default()));
                    let mut read_through = false;
                    let built = match checker.as_mut() {
                        None => stream_zone_file_tapped(
                            path,
                            origin,
                            self.read,
                            warnings,
                            &mut |_| {},
                            &mut |_| {},
                        ),
                        Some(checker) => {
                            let hint = std::fs::metadata(path)
                                .map_or(0, |m| usize::try_from(m.len() / 64).unwrap_or(usize::MAX));
                            let mut feed = checker.feed_zone(hint);
                            // The file name gives the origin, as `altodisc check --origin` does:
                            // the SOA must sit at it (Z28), records outside it are Z30.
                            feed.given_origin(origin);
                            let mut end = None;
                            let zone = stream_zone_file_tapped(
                                path,
                                origin,
                                self.read,
                                warnings,
                                &mut |rec| feed.add_ref(rec),
                                &mut |s| end = Some((s.origin.clone(), s.diagnostics.clone())),
                            );
                            if let Some((origin, diagnostics)) = end {
                                read_through = true;
                                feed.finish(origin, diagnostics);
                            }
                            zone
                        }
                    };
                    // With the gate on, a file the reader read to its end is judged as
                    // `altodisc check` judges it: the checker has the reader's diagnostics and
                    // every record, so its errors, in check's order, are the zone's reasons even
                    // when the indexer refused a record as well (a CNAME beside other data is
                    // both Z15 and an index error; a syntax error after a Z29 record comes second
                    // in check's report). The loader's own message stands when the checker finds
                    // nothing, or when the reader stopped (unreadable file, a bound reached:
                    // check's exit 2 with that same message).
                    if let Some(mut checker) = checker
                        && read_through
                    {
                        let errors = checker_errors(&mut checker);
                        if !errors.is_empty() {
                            return Err((errors, built.is_ok()));
                        }
                    }
                    let built = built.map_err(load_err)?;
                    Ok(std::sync::Arc::new(built))
                }
            };
        }
        // Signed or presigned: the zone is held in memory once.
        let zone = match unit {
            Unit::Generated(zone) => (*zone).clone(),
            Unit::File(path, origin) => {
                let outcome = read_zone_file_with(path, Some(origin), self.read).map_err(|e| {
                    load_err(ResponderError::Io {
                        path: path.to_path_buf(),
                        source: std::io::Error::other(e.to_string()),
                    })
                })?;
                if let Some(first) = outcome
                    .diagnostics
                    .iter()
                    .find(|d| d.severity == Severity::Error)
                {
                    return Err((vec![first.to_string()], false));
                }
                warnings.extend(outcome.diagnostics.iter().map(ToString::to_string));
                let mut zone = outcome.zone;
                zone.origin = (*origin).clone();
                zone
            }
        };
        if self.check {
            check_one(|c| c.load_zone(&zone)).map_err(|e| (e, true))?;
        }
        let lower = origin.to_lowercase_string();
        if mode == DnssecMode::Sign {
            let keys = self.dnssec.key_material(&origin).map_err(load_err)?;
            let content = content_hash(&zone, &keys);
            let key = crate::zone_signing::signed_serial_key(&origin);
            // Unchanged source and keys, signatures not yet due: serve the signed version as it
            // is, same serial and same signatures (a no-op reload NOTIFYs nobody).
            if let Some(served) = self.served
                && let Some(previous) = served.signed.get(&lower)
                && previous.content == content
                && self.now < self.dnssec.refresh_due(previous.signed_at)
                && let Some(kept) = served.index.zone_shared(&origin_key(&origin))
            {
                if let Some(entry) = self.history.and_then(|h| h.zones.get(&key)) {
                    out.serials.zones.insert(key, *entry);
                }
                out.versions.insert(lower.clone(), *previous);
                let expires = previous.signed_at + self.dnssec.policy.validity;
                out.expiry.insert(
                    lower,
                    expires
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                );
                return Ok(kept);
            }
            let signed = self
                .dnssec
                .prepare(zone, self.now, self.history, &mut out.serials)
                .map_err(load_err)?;
            out.versions.insert(
                lower.clone(),
                SignedVersion {
                    content,
                    signed_at: self.now,
                },
            );
            if let Some(exp) = earliest_expiry(&signed, self.now) {
                out.expiry.insert(lower, exp);
            }
            return ZoneData::build(&signed)
                .map(std::sync::Arc::new)
                .map_err(|e| load_err(e.into()));
        }
        let prepared = self
            .dnssec
            .prepare(zone, self.now, self.history, &mut out.serials)
            .map_err(load_err)?;
        if let Some(exp) = earliest_expiry(&prepared, self.now) {
            out.expiry.insert(lower, exp);
        }
        ZoneData::build(&prepared)
            .map(std::sync::Arc::new)
            .map_err(|e| load_err(e.into()))
    }
}

impl Sources {
    /// Loads every zone on its own (per-zone isolation, as NSD and Knot do): a zone that does
    /// not read, index or sign, or that fails the checker gate (`check`, rules Z1–Z24 run over
    /// each zone alone), is reported in [`LoadedIndex::failed`] and the other zones load. On a
    /// reload (`served` given), a failed zone keeps its served version; at start it is not
    /// served, so its names get REFUSED. Signed zones whose source and keys did not change keep
    /// their served version (same serial, same signatures) until their signatures are due.
    ///
    /// Checked zone by zone, a chain from one zone into another (Z12, Z13, Z16) is not
    /// followed: targets outside the zone are infos. `serve --strict` runs
    /// [`Self::load_index_checked`], whose checker sees all zones together.
    ///
    /// # Errors
    /// What cannot be pinned on one zone: the config does not load, a zone directory cannot be
    /// read, the DNSSEC settings are invalid; and [`ResponderError::NoZones`] when not one zone
    /// loads (its message names the failed ones).
    pub fn load_index_isolated(
        &self,
        served: Option<&Served>,
        check: bool,
    ) -> Result<LoadedIndex, ResponderError> {
        let previous = served.map(|s| &s.serials);
        let Plan {
            serve,
            read,
            mut generated,
            dirs,
            mapped,
            serial_file,
            history,
        } = self.plan(previous)?;
        let mut warnings = std::mem::take(&mut generated.warnings);
        // A missing mapped file fails its zone alone, as an unreadable file of a zone directory.
        let (files, missing) = all_zone_files(&dirs, &mapped)?;
        let base = self
            .config
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new("."));
        let dnssec = DnssecSettings::from_serve(&serve, base)?;
        let now = SystemTime::now();
        let ctx = UnitCtx {
            check: check && serve.check.unwrap_or(true),
            read: &read,
            dnssec: &dnssec,
            now,
            history: history.as_ref(),
            served,
        };
        let config_name = self
            .config
            .as_ref()
            .map_or_else(|| "config".to_owned(), |p| p.display().to_string());
        let units = generated
            .zones
            .iter()
            .map(|z| (Unit::Generated(z), config_name.clone(), None))
            .chain(files.iter().enumerate().map(|(i, (p, o))| {
                let why = missing.iter().find(|(j, _)| *j == i).map(|(_, w)| w);
                (Unit::File(p, o), p.display().to_string(), why)
            }));
        let mut out = SignedOut::default();
        let mut zones: Vec<std::sync::Arc<ZoneData>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut failed = Vec::new();
        for (unit, source, missing) in units {
            let key = origin_key(unit.origin());
            let zone = unit.origin().to_lowercase_string();
            if !seen.insert(key.clone()) {
                // The first source of the origin is served; this one is reported.
                failed.push(ZoneFailure {
                    zone: zone.clone(),
                    source,
                    errors: vec![format!(
                        "zone {zone} is loaded twice; the first source is served"
                    )],
                    check: false,
                    kept_serial: None,
                });
                continue;
            }
            let result = match missing {
                Some(why) => Err((vec![why.clone()], false)),
                None => ctx.load(&unit, &mut warnings, &mut out),
            };
            match result {
                Ok(built) => zones.push(built),
                Err((errors, check)) => {
                    let kept = served.and_then(|s| s.index.zone_shared(&key));
                    let kept_serial = kept.as_ref().map(|z| z.serial());
                    if let Some(kept) = kept {
                        // The kept zone's serial history and signing state stay as they were.
                        let signed_key = crate::zone_signing::signed_serial_key(unit.origin());
                        if let Some(entry) = history.as_ref().and_then(|h| h.zones.get(&signed_key))
                        {
                            out.serials.zones.insert(signed_key, *entry);
                        }
                        if let Some(v) = served.and_then(|s| s.signed.get(&zone)) {
                            out.versions.insert(zone.clone(), *v);
                        }
                        zones.push(kept);
                    }
                    failed.push(ZoneFailure {
                        zone,
                        source,
                        errors,
                        check,
                        kept_serial,
                    });
                }
            }
        }
        if zones.is_empty() {
            if failed.is_empty() {
                return Err(no_zones());
            }
            let names: Vec<String> = failed.iter().map(ZoneFailure::summary).collect();
            return Err(ResponderError::NoZones(format!(
                "every zone failed: {}",
                names.join("; ")
            )));
        }
        if let Some(catalog) = &serve.catalog_zone {
            // The catalog lists what is served: loaded zones and failed ones kept from before.
            let members: Vec<_> = zones.iter().map(|z| z.origin().clone()).collect();
            let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            zones.push(std::sync::Arc::new(crate::catalog::catalog_zone(
                catalog,
                &members,
                previous,
                &mut generated.serials,
                now,
            )?));
        }
        let zone_count = zones.len();
        let index = ZoneIndex::from_zones(zones)?;
        generated.serials.zones.extend(out.serials.zones);
        if let Some(f) = &serial_file
            && let Err(e) = std::fs::write(f, generated.serials.to_text())
        {
            warnings.push(format!("cannot write the serial file {}: {e}", f.display()));
        }
        let resign_at = out
            .versions
            .values()
            .map(|v| dnssec.refresh_due(v.signed_at))
            .min();
        Ok(LoadedIndex {
            index,
            zone_count,
            warnings,
            serials: generated.serials,
            serve,
            resign_at,
            failed,
            signed: out.versions,
            signature_expiry: out.expiry,
        })
    }
}

impl Sources {
    /// `serve.strict` of the config, if the config sets it and reads (a config that does not
    /// read fails the load itself, with its error).
    #[must_use]
    pub fn strict(&self) -> Option<bool> {
        let path = self.config.as_ref()?;
        let config = PublishConfig::load(path).ok()?;
        ServeSection::from_config(&config, "").ok()?.strict
    }

    /// A cheap summary of everything a reload reads: the config file, every `<origin>.zone`
    /// file of the zone directories and every `[serve.zone_files]` file (path, size, modification time, inode). Polling it every few
    /// seconds detects changes without a file-notification dependency; an editor's
    /// write-then-rename changes the inode, an in-place rewrite the time and usually the size.
    /// Files that cannot be read contribute their error kind, so their appearance is a change.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        let mut dirs: Vec<PathBuf> = self.zones_dir.iter().cloned().collect();
        if let Some(path) = &self.config {
            hash_file(path, &mut h);
            if let Ok(config) = PublishConfig::load(path)
                && let Ok(serve) = ServeSection::from_config(&config, "")
            {
                let base = path.parent().unwrap_or_else(|| Path::new("."));
                if let Some(dir) = &serve.zones_dir {
                    dirs.push(base.join(dir));
                }
                // A bad key fails the load with its own error; the config file's own hash
                // already covers a change of the table.
                for file in serve.zone_files.values() {
                    hash_file(&base.join(file), &mut h);
                }
            }
        }
        for dir in &dirs {
            match zone_files(dir) {
                Ok(files) => {
                    for (path, _) in files {
                        hash_file(&path, &mut h);
                    }
                }
                Err(e) => e.to_string().hash(&mut h),
            }
        }
        h.finish()
    }
}

fn hash_file(path: &Path, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    path.hash(h);
    match std::fs::metadata(path) {
        Ok(m) => {
            m.len().hash(h);
            m.modified().ok().hash(h);
            #[cfg(unix)]
            std::os::unix::fs::MetadataExt::ino(&m).hash(h);
        }
        Err(e) => e.kind().hash(h),
    }
}

/// Indexes generated zones and zone files, all or nothing.
fn build_zones(
    generated: &[Zone],
    files: &[(PathBuf, DomainName)],
    read: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<ZoneData>, ResponderError> {
    let mut zones = generated
        .iter()
        .map(ZoneData::build)
        .collect::<Result<Vec<_>, _>>()?;
    for (path, origin) in files {
        zones.push(stream_zone_file_tapped(
            path,
            origin,
            read,
            warnings,
            &mut |_| {},
            &mut |_| {},
        )?);
    }
    Ok(zones)
}

/// [`build_zones`] for `dnssec = "sign"` or `"presigned"`: every zone is held in memory once to
/// be signed (or checked for signatures) before it is indexed.
fn build_prepared_zones(
    generated: &[Zone],
    (files, read): (&[(PathBuf, DomainName)], &ReadOptions),
    warnings: &mut Vec<String>,
    dnssec: &DnssecSettings,
    now: SystemTime,
    (history, serials): (Option<&SerialState>, &mut SerialState),
) -> Result<Vec<ZoneData>, ResponderError> {
    let mut zones = Vec::with_capacity(generated.len() + files.len());
    for zone in generated {
        zones.push(ZoneData::build(&dnssec.prepare(
            zone.clone(),
            now,
            history,
            serials,
        )?)?);
    }
    for (path, origin) in files {
        let outcome =
            read_zone_file_with(path, Some(origin), read).map_err(|e| ResponderError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if let Some(first) = outcome
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
        {
            return Err(ResponderError::ZoneFile(first.to_string()));
        }
        warnings.extend(outcome.diagnostics.iter().map(ToString::to_string));
        let mut zone = outcome.zone;
        zone.origin = origin.clone();
        zones.push(ZoneData::build(
            &dnssec.prepare(zone, now, history, serials)?,
        )?);
    }
    Ok(zones)
}

/// Indexes the zones and runs the checker gate over the same records, parsing each zone file
/// once: every record goes to the index, then by reference to the checker (which copies what it
/// keeps into its arenas and runs the per-record rules), and is freed right here. Handing records
/// to a checker thread instead cost more than the checker itself: each record was then freed by
/// another thread than the one that allocated it. The findings are those of [`check_sources`]
/// (`Checker::feed_zone` is tested to agree with `Checker::load_file`).
fn build_and_check_zones(
    generated: &[Zone],
    files: &[(PathBuf, DomainName)],
    read: &ReadOptions,
    warnings: &mut Vec<String>,
) -> (
    Result<Vec<ZoneData>, ResponderError>,
    Result<(), ResponderError>,
) {
    let mut checker = Checker::new(CheckOptions::default());
    for zone in generated {
        checker.load_zone(zone);
    }
    let built = (|| {
        let mut zones = generated
            .iter()
            .map(ZoneData::build)
            .collect::<Result<Vec<_>, _>>()?;
        for (path, origin) in files {
            // About one record per 64 octets of zone file (NAPTR lines are ~80).
            let hint = std::fs::metadata(path)
                .map_or(0, |m| usize::try_from(m.len() / 64).unwrap_or(usize::MAX));
            let mut feed = checker.feed_zone(hint);
            // The origin is given by the file name (Z28, Z30), as in `UnitCtx::load`.
            feed.given_origin(origin);
            let mut end = None;
            let zone = stream_zone_file_tapped(
                path,
                origin,
                read,
                warnings,
                &mut |rec| feed.add_ref(rec),
                &mut |summary| end = Some((summary.origin.clone(), summary.diagnostics.clone())),
            );
            // Without a summary the loader stopped on an error, which it reports itself.
            if let Some((origin, diagnostics)) = end {
                feed.finish(origin, diagnostics);
            }
            zones.push(zone?);
        }
        Ok(zones)
    })();
    let verdict = checker_verdict(&mut checker);
    // The checker's few large arenas are freed off the path to serving all the same.
    let _ = std::thread::Builder::new()
        .name("checker-drop".into())
        .spawn(move || drop(checker));
    (built, verdict)
}

/// Runs the altodisc-zone checker (rules Z1–Z24) over the same sources.
///
/// # Errors
/// [`ResponderError::Check`] with every error diagnostic; [`ResponderError::Io`] for an
/// unreadable file.
fn check_sources(
    generated: &[Zone],
    files: &[(PathBuf, DomainName)],
    read: &ReadOptions,
) -> Result<(), ResponderError> {
    let mut checker = Checker::new(CheckOptions::default());
    for zone in generated {
        checker.load_zone(zone);
    }
    for (path, origin) in files {
        checker
            .load_file_with(path, Some(origin), read)
            .map_err(|e| ResponderError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
    }
    checker_verdict(&mut checker)
}

/// The error diagnostics of a loaded checker, one line each: what the load gate (and `render`,
/// which writes nothing from a config the checker rejects) refuses on. Warnings do not count.
pub fn checker_errors(checker: &mut Checker) -> Vec<String> {
    checker
        .finish()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

/// The error diagnostics of a loaded checker as the gate's verdict.
fn checker_verdict(checker: &mut Checker) -> Result<(), ResponderError> {
    let errors = checker_errors(checker);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ResponderError::Check { errors })
    }
}

/// What the config asks for, before zone files are read.
struct Plan {
    serve: ServeSection,
    /// The zone files' reader options (`[serve] include_base`).
    read: ReadOptions,
    generated: Loaded,
    dirs: Vec<PathBuf>,
    /// `[serve.zone_files]`.
    mapped: Vec<MappedFile>,
    serial_file: Option<PathBuf>,
    /// The serial state of the last load (the running server's, or the serial file's at start):
    /// signed zones continue from it (crate::zone_signing).
    history: Option<SerialState>,
}

fn no_zones() -> ResponderError {
    ResponderError::NoZones(
        "no <origin>.zone files, no [serve.zone_files] and no [[zone]] in the config".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ZoneIndex;

    fn zones_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones")
    }

    #[test]
    fn bundled_zones_and_config_load_and_index() {
        let sources = Sources {
            config: Some(zones_dir().join("publish.toml")),
            zones_dir: None,
        };
        let loaded = sources.load(None).unwrap();
        assert_eq!(loaded.serve.listen.len(), 1);
        assert_eq!(loaded.loaded.zones.len(), 2 + 4);
        let index = ZoneIndex::build(&loaded.loaded.zones).unwrap();
        assert!(index.record_count() > 30);
    }

    #[test]
    fn a_broken_zone_file_stops_the_load_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("altodisc-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("example.com.zone"),
            "@ 60 IN SOA a. b. 1 2 3 4 5\n@ 60 IN NS a.\n@ 60 IN NAPTR 70000 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let err = load_zone_dir(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = err.to_string();
        assert!(text.contains("example.com.zone:3:"), "{text}");
    }

    #[test]
    fn streamed_index_equals_in_memory_index() {
        let sources = Sources {
            config: Some(zones_dir().join("publish.toml")),
            zones_dir: Some(zones_dir()),
        };
        let streamed = sources.load_index(None).unwrap();
        let in_memory = sources.load(None).unwrap();
        let index = ZoneIndex::build(&in_memory.loaded.zones).unwrap();
        assert_eq!(streamed.zone_count, in_memory.loaded.zones.len());
        assert_eq!(streamed.zone_count, 6, "zones/ given twice is loaded once");
        assert_eq!(streamed.index.record_count(), index.record_count());
        let mut a: Vec<usize> = streamed.index.zones().map(ZoneData::name_count).collect();
        let mut b: Vec<usize> = index.zones().map(ZoneData::name_count).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }

    #[test]
    fn streaming_reports_index_errors_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("altodisc-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("example.com.zone");
        std::fs::write(
            &path,
            "$TTL 60\n@ SOA a. b. 1 2 3 4 5\n@ NS a.\nx SOA a. b. 1 2 3 4 5\n",
        )
        .unwrap();
        let mut warnings = Vec::new();
        let origin = DomainName::parse("example.com.").unwrap();
        let err = stream_zone_file_into_index(&path, &origin, &mut warnings).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.to_string()
                .contains("example.com.zone:4: SOA at x.example.com."),
            "{err}"
        );
    }

    #[test]
    fn serial_file_keeps_serials_across_restarts() {
        let dir = std::env::temp_dir().join(format!("altodisc-serial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("p.toml");
        let text = "[serve]\nserial_file = \"serials\"\n[defaults]\nns = [\"ns.example.\"]\n\
                    [[zone]]\norigin = \"example.\"\nrecords = [\"ns A 192.0.2.53\"]\n[[access_domain]]\ndomain = \"example.\"\n\
                    records = [{ order = 1, preference = 1, uri = \"https://a.example/\" }]\n";
        std::fs::write(&config, text).unwrap();
        let sources = Sources {
            config: Some(config.clone()),
            zones_dir: None,
        };
        let first = sources.load_index(None).unwrap().serials;
        let state = std::fs::read_to_string(dir.join("serials")).unwrap();
        assert_eq!(SerialState::parse(&state), first);
        // Pretend the last run was ahead of the clock: a restart with changed content continues
        // from the file (previous + 1), not from the clock.
        let (hash, serial) = first.zones["example."];
        let ahead = format!("example. {:016x} {}\n", hash ^ 1, serial + 100_000);
        std::fs::write(dir.join("serials"), ahead).unwrap();
        let second = sources.load_index(None).unwrap().serials;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(second.zones["example."].1, serial + 100_001);
    }

    #[test]
    fn the_checker_gates_loads_and_check_false_turns_it_off() {
        let dir = std::env::temp_dir().join(format!("altodisc-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Loads and indexes fine, but Z10: an http:// URI under ALTO:https.
        std::fs::write(
            dir.join("example.com.zone"),
            "@ 60 IN SOA a. b. 1 2 3 4 5\n@ 60 IN NS a.\n\
             @ 60 IN NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!http://a.example/!\" .\n",
        )
        .unwrap();
        let config = dir.join("p.toml");
        std::fs::write(&config, "[serve]\nzones_dir = \".\"\n").unwrap();
        let sources = Sources {
            config: Some(config.clone()),
            zones_dir: None,
        };
        assert!(sources.load_index(None).is_ok());
        let err = sources.load_index_checked(None).unwrap_err();
        assert!(
            matches!(&err, ResponderError::Check { errors } if errors.len() == 1 && errors[0].contains("Z10")),
            "{err}"
        );
        std::fs::write(&config, "[serve]\nzones_dir = \".\"\ncheck = false\n").unwrap();
        let fp = sources.fingerprint();
        assert!(sources.load_index_checked(None).is_ok());
        assert_eq!(sources.fingerprint(), fp, "nothing changed");
        std::fs::write(dir.join("other.example.zone"), "").unwrap();
        assert_ne!(sources.fingerprint(), fp, "a new zone file is a change");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn workers_are_set_and_zero_or_absurd_counts_are_refused_with_the_bound() {
        let mut options = ServeOptions::default();
        assert!(options.udp_workers >= 1);
        let cfg: PublishConfig = "[serve]\nworkers = 2\n".parse().unwrap();
        let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
        serve.apply(&mut options).unwrap();
        assert_eq!(options.udp_workers, 2);
        for bad in [0, 1025, 1_000_000] {
            let cfg: PublishConfig = format!("[serve]\nworkers = {bad}\n").parse().unwrap();
            let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
            let err = serve.apply(&mut options).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "[serve] workers = {bad}: workers must be 1 to 1024"
                )),
                "{err}"
            );
            assert_eq!(options.udp_workers, 2, "a refused value changes nothing");
        }
        assert_eq!(check_workers(1024), Ok(1024));
    }

    #[test]
    fn udp_busy_poll_is_set_in_microseconds_and_zero_turns_it_off() {
        let mut options = ServeOptions::default();
        assert_eq!(options.udp_busy_poll, crate::DEFAULT_UDP_BUSY_POLL);
        let cfg: PublishConfig = "[serve]\nudp_busy_poll_us = 250\n".parse().unwrap();
        let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
        serve.apply(&mut options).unwrap();
        assert_eq!(options.udp_busy_poll, Duration::from_micros(250));
        let cfg: PublishConfig = "[serve]\nudp_busy_poll_us = 0\n".parse().unwrap();
        let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
        serve.apply(&mut options).unwrap();
        assert!(options.udp_busy_poll.is_zero());
        // Absent: the default stays.
        let mut options = ServeOptions::default();
        let cfg: PublishConfig = "[serve]\nlisten = []\n".parse().unwrap();
        let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
        serve.apply(&mut options).unwrap();
        assert_eq!(options.udp_busy_poll, crate::DEFAULT_UDP_BUSY_POLL);
        // Over a second: refused, saying the bound.
        let cfg: PublishConfig = "[serve]\nudp_busy_poll_us = 1000001\n".parse().unwrap();
        let serve = ServeSection::from_config(&cfg, "f.toml").unwrap();
        let err = serve.apply(&mut options).unwrap_err().to_string();
        assert!(
            err.contains("udp_busy_poll_us = 1000001: at most 1000000"),
            "{err}"
        );
        assert_eq!(options.udp_busy_poll, crate::DEFAULT_UDP_BUSY_POLL);
    }

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let p =
                std::env::temp_dir().join(format!("altodisc-load-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.0.join(name), text).unwrap();
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn zone_text(serial: u32, naptr_uri: &str) -> String {
        format!(
            "$TTL 60\n@ SOA ns.example. h.example. {serial} 2 3 4 5\n@ NS ns.example.\n\
             @ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!{naptr_uri}!\" .\n"
        )
    }

    fn serials(index: &ZoneIndex) -> BTreeMap<String, u32> {
        index
            .zones()
            .map(|z| (z.origin().to_string(), z.serial()))
            .collect()
    }

    use std::collections::BTreeMap;

    #[test]
    fn one_failed_zone_does_not_stop_the_others_and_keeps_its_previous_version() {
        let dir = Scratch::new("isolate");
        dir.write("a.example.zone", &zone_text(1, "https://a.example/"));
        dir.write("b.example.zone", &zone_text(1, "https://b.example/"));
        // Fails the checker gate (Z10: http:// under ALTO:https).
        dir.write("c.example.zone", &zone_text(1, "http://c.example/"));
        let sources = Sources {
            config: None,
            zones_dir: Some(dir.0.clone()),
        };
        // All or nothing refuses the set.
        assert!(matches!(
            sources.load_index_checked(None),
            Err(ResponderError::Check { .. })
        ));
        let first = sources.load_index_isolated(None, true).unwrap();
        assert_eq!(first.zone_count, 2);
        assert_eq!(
            serials(&first.index),
            BTreeMap::from([("a.example.".into(), 1), ("b.example.".into(), 1)])
        );
        let [failed] = first.failed.as_slice() else {
            panic!("{:?}", first.failed)
        };
        assert_eq!(failed.zone, "c.example.");
        assert!(failed.check && failed.kept_serial.is_none());
        assert!(failed.errors[0].contains("Z10"), "{:?}", failed.errors);
        assert!(
            failed.summary().contains("not served"),
            "{}",
            failed.summary()
        );
        // Without the gate the zone loads.
        assert_eq!(
            sources.load_index_isolated(None, false).unwrap().zone_count,
            3
        );

        // Reload: every kind of failure we can produce keeps the served version of its zone,
        // while the zone that was fixed and the healthy one load anew.
        let served = Served::from_loaded(first);
        dir.write(
            "a.example.zone",
            "$TTL 60\n@ SOA ns.example. h.example. 2 2 3 4 5\n@ A 300.1.1.1\n",
        );
        dir.write("b.example.zone", &zone_text(2, "https://b.example/"));
        dir.write("c.example.zone", &zone_text(2, "https://c.example/"));
        let second = sources.load_index_isolated(Some(&served), true).unwrap();
        assert_eq!(
            serials(&second.index),
            BTreeMap::from([
                ("a.example.".into(), 1),
                ("b.example.".into(), 2),
                ("c.example.".into(), 2)
            ])
        );
        let [failed] = second.failed.as_slice() else {
            panic!("{:?}", second.failed)
        };
        assert_eq!(
            (failed.zone.as_str(), failed.check, failed.kept_serial),
            ("a.example.", false, Some(1))
        );
        assert!(
            failed.errors[0].contains("a.example.zone:3:"),
            "{:?}",
            failed.errors
        );
        // A missing $INCLUDE and an unreadable file (a directory named like a zone file: it
        // opens but cannot be read) fail only their zones.
        let served = Served::from_loaded(second);
        dir.write("b.example.zone", "$INCLUDE missing.inc\n");
        std::fs::create_dir(dir.0.join("d.example.zone")).unwrap();
        dir.write("e.example.zone", &zone_text(5, "https://e.example/"));
        let third = sources.load_index_isolated(Some(&served), true).unwrap();
        // A directory is not a zone file (zone_files skips it): only b fails, e is new.
        let failed: Vec<_> = third
            .failed
            .iter()
            .map(|f| (f.zone.as_str(), f.kept_serial))
            .collect();
        assert_eq!(
            failed,
            [("a.example.", Some(1)), ("b.example.", Some(2))],
            "{:?}",
            third.failed
        );
        assert_eq!(
            serials(&third.index),
            BTreeMap::from([
                ("a.example.".into(), 1),
                ("b.example.".into(), 2),
                ("c.example.".into(), 2),
                ("e.example.".into(), 5)
            ])
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_zone_file_fails_alone_and_no_zone_at_all_is_an_error() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = Scratch::new("unreadable");
        dir.write("a.example.zone", &zone_text(1, "https://a.example/"));
        dir.write("b.example.zone", &zone_text(1, "https://b.example/"));
        let path = dir.0.join("b.example.zone");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let sources = Sources {
            config: None,
            zones_dir: Some(dir.0.clone()),
        };
        // Root reads any file: then the permission cannot make it unreadable.
        if std::fs::read(&path).is_err() {
            let loaded = sources.load_index_isolated(None, true).unwrap();
            assert_eq!(loaded.zone_count, 1);
            assert_eq!(loaded.failed[0].zone, "b.example.");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Every zone broken: the start fails and names them.
        dir.write("a.example.zone", "@ SOA broken\n");
        dir.write("b.example.zone", &zone_text(1, "http://b.example/"));
        let err = sources.load_index_isolated(None, true).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ResponderError::NoZones(_)), "{text}");
        assert!(
            text.contains("zone a.example.") && text.contains("zone b.example."),
            "{text}"
        );
    }

    #[test]
    fn a_no_op_reload_keeps_signed_zones_their_serial_and_signatures() {
        let dir = Scratch::new("resign");
        dir.write("a.example.zone", &zone_text(1, "https://a.example/"));
        dir.write("b.example.zone", &zone_text(1, "https://b.example/"));
        dir.write("p.toml", "[serve]\nzones_dir = \".\"\ndnssec = \"sign\"\n");
        let sources = Sources {
            config: Some(dir.0.join("p.toml")),
            zones_dir: None,
        };
        let first = sources.load_index_isolated(None, true).unwrap();
        assert!(first.failed.is_empty(), "{:?}", first.failed);
        assert_eq!(first.signed.len(), 2);
        assert_eq!(first.signature_expiry.len(), 2);
        let before = serials(&first.index);
        let index = std::sync::Arc::new(first.index);
        let served = Served {
            index: index.clone(),
            serials: first.serials.clone(),
            signed: first.signed.clone(),
        };
        // Nothing changed: the very same signed zones are served again.
        let second = sources.load_index_isolated(Some(&served), true).unwrap();
        assert_eq!(serials(&second.index), before);
        for z in index.zones() {
            let again = second.index.zone_shared(z.origin_key()).unwrap();
            assert!(
                std::ptr::eq(z, again.as_ref()),
                "{} was signed again",
                z.origin()
            );
        }
        assert_eq!(second.resign_at, first.resign_at);
        assert_eq!(second.serials, first.serials);
        // One zone changed: only it gets a new (higher) serial.
        let served = Served::from_loaded(second);
        dir.write("b.example.zone", &zone_text(1, "https://b2.example/"));
        let third = sources.load_index_isolated(Some(&served), true).unwrap();
        let after = serials(&third.index);
        assert_eq!(after["a.example."], before["a.example."]);
        assert!(
            after["b.example."] > before["b.example."],
            "{after:?} {before:?}"
        );
        // A refresh that is due re-signs even unchanged zones (new serial).
        let mut due = Served::from_loaded(third);
        for v in due.signed.values_mut() {
            v.signed_at -= Duration::from_secs(8 * 86_400);
        }
        let fourth = sources.load_index_isolated(Some(&due), true).unwrap();
        assert!(serials(&fourth.index)["a.example."] > after["a.example."]);
    }

    #[test]
    fn strict_is_read_from_the_config() {
        let dir = Scratch::new("strict");
        let sources = Sources {
            config: Some(dir.0.join("p.toml")),
            zones_dir: None,
        };
        assert_eq!(sources.strict(), None, "no config file");
        dir.write("p.toml", "[serve]\nstrict = true\n");
        assert_eq!(sources.strict(), Some(true));
        dir.write("p.toml", "[serve]\nstrict = false\n");
        assert_eq!(sources.strict(), Some(false));
        dir.write("p.toml", "[serve]\nlisten = []\n");
        assert_eq!(sources.strict(), None);
        let without = Sources {
            config: None,
            zones_dir: Some(dir.0.clone()),
        };
        assert_eq!(without.strict(), None);
    }

    #[test]
    fn include_base_resolves_relative_includes_at_every_depth_from_the_config_folder() {
        let dir = Scratch::new("incbase");
        std::fs::create_dir_all(dir.0.join("zones")).unwrap();
        std::fs::create_dir_all(dir.0.join("inc/sub")).unwrap();
        dir.write(
            "zones/example.com.zone",
            "$TTL 60\n@ SOA ns.example. h.example. 7 2 3 4 5\n$INCLUDE sub/ns.inc\n",
        );
        // Nested: `sub/more.inc` is found from the include base, not from inc/sub/ (where
        // Knot's rule, the default, would look).
        dir.write(
            "inc/sub/ns.inc",
            "@ NS ns.example.\n$INCLUDE sub/more.inc\n",
        );
        dir.write(
            "inc/sub/more.inc",
            "@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example/!\" .\n",
        );
        dir.write(
            "p.toml",
            "[serve]\nzones_dir = \"zones\"\ninclude_base = \"inc\"\n",
        );
        let sources = Sources {
            config: Some(dir.0.join("p.toml")),
            zones_dir: None,
        };
        let apex = hickory_proto::rr::Name::from_ascii("example.com.").unwrap();
        let naptr = |index: &ZoneIndex| {
            index
                .lookup(&apex, hickory_proto::rr::RecordType::NAPTR)
                .answers
                .len()
        };
        // Every load path reads the includes from the base: zone by zone with the gate, all or
        // nothing with and without it, and the in-memory load of check-config.
        let isolated = sources.load_index_isolated(None, true).unwrap();
        assert!(isolated.failed.is_empty(), "{:?}", isolated.failed);
        assert_eq!(naptr(&isolated.index), 1);
        assert_eq!(naptr(&sources.load_index_checked(None).unwrap().index), 1);
        assert_eq!(naptr(&sources.load_index(None).unwrap().index), 1);
        assert_eq!(sources.load(None).unwrap().loaded.zones[0].records.len(), 3);

        // Without the key the default rule looks beside the zone file, and the failure names
        // both candidate paths.
        dir.write("p.toml", "[serve]\nzones_dir = \"zones\"\n");
        let err = sources
            .load_index_isolated(None, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("zones/sub/ns.inc") && err.contains("sub/ns.inc"),
            "{err}"
        );

        // A base that does not exist, or is a file: the load stops with the key and the path.
        for (value, why) in [("nope", "does not exist"), ("p.toml", "is not a directory")] {
            dir.write(
                "p.toml",
                &format!("[serve]\nzones_dir = \"zones\"\ninclude_base = \"{value}\"\n"),
            );
            let err = sources.load_index_isolated(None, true).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, ResponderError::Config(_)), "{text}");
            let path = dir.0.join(value).display().to_string();
            assert!(
                text.contains(&format!("[serve] include_base = \"{value}\": {path} {why}")),
                "{text}"
            );
            assert!(sources.load(None).is_err());
        }
    }

    #[test]
    fn the_gate_reports_what_altodisc_check_reports_first() {
        let dir = Scratch::new("gatefirst");
        let soa = "$TTL 60\n@ SOA ns.example. h.example. 1 2 3 4 5\n@ NS ns.example.\n";
        // The indexer refuses the CNAME too; the reason given is the checker's Z15.
        dir.write(
            "a.example.zone",
            &format!("{soa}x CNAME y.example.\nx A 192.0.2.1\n"),
        );
        // Outside the zone named by the file: Z30, which needs the origin given to the checker.
        dir.write("b.example.zone", &format!("{soa}other.test. A 192.0.2.1\n"));
        // Private-use type 65305 (hickory's ANAME) with empty RDATA loads like its neighbours.
        dir.write(
            "c.example.zone",
            &format!("{soa}t TYPE65305 \\# 0\nt TYPE65304 \\# 0\n"),
        );
        let sources = Sources {
            config: None,
            zones_dir: Some(dir.0.clone()),
        };
        let loaded = sources.load_index_isolated(None, true).unwrap();
        let first = |zone: &str| {
            let f = loaded.failed.iter().find(|f| f.zone == zone).unwrap();
            (f.errors[0].clone(), f.check)
        };
        let (a, a_check) = first("a.example.");
        assert!(a.contains("a.example.zone:4:1: error[Z15]"), "{a}");
        assert!(
            !a_check,
            "the zone did not load: not a checker-only failure"
        );
        let (b, _) = first("b.example.");
        assert!(b.contains("b.example.zone:4:1: error[Z30]"), "{b}");
        assert_eq!(loaded.failed.len(), 2, "{:?}", loaded.failed);
        let t = hickory_proto::rr::Name::from_ascii("t.c.example.").unwrap();
        let answer = loaded
            .index
            .lookup(&t, hickory_proto::rr::RecordType::Unknown(65305));
        assert_eq!(answer.answers.len(), 1, "{answer:?}");
        assert_eq!(u16::from(answer.answers[0].record_type()), 65305);
        // All or nothing: the set is refused with the checker's first error too.
        let err = sources.load_index_checked(None).unwrap_err();
        assert!(
            matches!(&err, ResponderError::Check { errors }
                if errors[0].contains("a.example.zone:4:1: error[Z15]")),
            "{err}"
        );
    }

    /// A 252-octet origin: 63 + 63 + 63 + 59 octets of labels, 4 length octets and the root.
    fn superlong_origin() -> String {
        format!(
            "{}.{}.{}.{}.",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(59)
        )
    }

    #[test]
    fn zone_files_map_loads_files_of_any_name_relative_to_the_config_folder() {
        let dir = Scratch::new("zmap");
        let origin = superlong_origin();
        assert_eq!(DomainName::parse(&origin).unwrap().as_wire().len(), 253);
        std::fs::create_dir_all(dir.0.join("conf/db")).unwrap();
        std::fs::create_dir_all(dir.0.join("conf/zones")).unwrap();
        std::fs::write(
            dir.0.join("conf/db/long"),
            zone_text(7, "https://long.example/"),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("conf/db/m.example.zone.txt"),
            zone_text(3, "https://m.example/"),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("conf/zones/a.example.zone"),
            zone_text(1, "https://a.example/"),
        )
        .unwrap();
        std::fs::write(
            dir.0.join("conf/p.toml"),
            format!(
                "[serve]\nzones_dir = \"zones\"\n[serve.zone_files]\n\"{origin}\" = \"db/long\"\n\
                 \"M.example\" = \"db/m.example.zone.txt\"\n"
            ),
        )
        .unwrap();
        // The server's working directory is not the config folder: paths come from the config.
        let sources = Sources {
            config: Some(dir.0.join("conf/p.toml")),
            zones_dir: None,
        };
        let want = BTreeMap::from([
            ("a.example.".to_owned(), 1),
            ("M.example.".to_owned(), 3),
            (origin.clone(), 7),
        ]);
        let isolated = sources.load_index_isolated(None, true).unwrap();
        assert!(isolated.failed.is_empty(), "{:?}", isolated.failed);
        assert_eq!(serials(&isolated.index), want);
        assert_eq!(
            serials(&sources.load_index_checked(None).unwrap().index),
            want
        );
        let all = sources.load(None).unwrap();
        let mut origins: Vec<String> = all
            .loaded
            .zones
            .iter()
            .map(|z| z.origin.to_lowercase_string())
            .collect();
        origins.sort();
        assert_eq!(origins, ["a.example.", origin.as_str(), "m.example."]);
    }

    #[test]
    fn an_origin_given_twice_is_a_config_error_naming_both_paths() {
        let dir = Scratch::new("zmapdup");
        std::fs::create_dir(dir.0.join("z")).unwrap();
        dir.write("z/a.example.zone", &zone_text(1, "https://a.example/"));
        dir.write("other", &zone_text(2, "https://a.example/"));
        dir.write("third", &zone_text(3, "https://a.example/"));
        let run = |table: &str| {
            dir.write(
                "p.toml",
                &format!("[serve]\nzones_dir = \"z\"\n[serve.zone_files]\n{table}"),
            );
            let sources = Sources {
                config: Some(dir.0.join("p.toml")),
                zones_dir: None,
            };
            let isolated = sources.load_index_isolated(None, true).unwrap_err();
            let strict = sources.load_index_checked(None).unwrap_err().to_string();
            assert_eq!(isolated.to_string(), strict);
            assert!(matches!(isolated, ResponderError::Config(_)), "{isolated}");
            strict
        };
        // The map and a zone directory.
        let err = run("\"a.example.\" = \"other\"\n");
        let (other, file) = (dir.0.join("other"), dir.0.join("z/a.example.zone"));
        assert!(err.contains(&other.display().to_string()), "{err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(
            err.contains("zone a.example. is also the zone file"),
            "{err}"
        );
        // Twice in the map (keys differ in case and the trailing dot).
        let err = run("\"B.example\" = \"other\"\n\"b.example.\" = \"third\"\n");
        assert!(err.contains("zone b.example. is given twice"), "{err}");
        assert!(err.contains(&other.display().to_string()), "{err}");
        assert!(
            err.contains(&dir.0.join("third").display().to_string()),
            "{err}"
        );
        // Not a domain name.
        let err = run("\"a..b\" = \"other\"\n");
        assert!(
            err.contains("[serve.zone_files] \"a..b\": not a domain name"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_mapped_file_is_named_with_its_key_and_fails_alone_on_reload() {
        let dir = Scratch::new("zmapmiss");
        dir.write("a.example.zone", &zone_text(1, "https://a.example/"));
        dir.write("m-file", &zone_text(4, "https://m.example/"));
        dir.write(
            "p.toml",
            "[serve]\nzones_dir = \".\"\n[serve.zone_files]\n\"m.example.\" = \"m-file\"\n",
        );
        let sources = Sources {
            config: Some(dir.0.join("p.toml")),
            zones_dir: None,
        };
        let first = sources.load_index_isolated(None, true).unwrap();
        assert_eq!(first.zone_count, 2);
        let served = Served::from_loaded(first);
        std::fs::remove_file(dir.0.join("m-file")).unwrap();
        let want = format!(
            "[serve.zone_files] \"m.example.\" = \"m-file\": {} does not exist",
            dir.0.join("m-file").display()
        );
        // All or nothing: the load fails with the key and the path.
        let err = sources.load_index_checked(None).unwrap_err().to_string();
        assert!(err.contains(&want), "{err}");
        let err = sources.load(None).unwrap_err().to_string();
        assert!(err.contains(&want), "{err}");
        // Zone by zone: that zone fails alone and keeps its served version.
        let second = sources.load_index_isolated(Some(&served), true).unwrap();
        assert_eq!(
            serials(&second.index),
            BTreeMap::from([("a.example.".into(), 1), ("m.example.".into(), 4)])
        );
        let [failed] = second.failed.as_slice() else {
            panic!("{:?}", second.failed)
        };
        assert_eq!(
            (failed.zone.as_str(), failed.kept_serial, failed.check),
            ("m.example.", Some(4), false)
        );
        assert!(failed.errors[0].contains(&want), "{:?}", failed.errors);
        // At start there is nothing to keep: the others are served.
        let fresh = sources.load_index_isolated(None, true).unwrap();
        assert_eq!(
            serials(&fresh.index),
            BTreeMap::from([("a.example.".into(), 1)])
        );
        assert_eq!(fresh.failed.len(), 1);
    }

    #[test]
    fn editing_a_mapped_file_changes_the_fingerprint() {
        let dir = Scratch::new("zmapfp");
        std::fs::create_dir_all(dir.0.join("db")).unwrap();
        dir.write("db/m", &zone_text(1, "https://m.example/"));
        dir.write("p.toml", "[serve.zone_files]\n\"m.example.\" = \"db/m\"\n");
        let sources = Sources {
            config: Some(dir.0.join("p.toml")),
            zones_dir: None,
        };
        let before = sources.fingerprint();
        assert_eq!(before, sources.fingerprint(), "unchanged files, same print");
        dir.write("db/m", &zone_text(22, "https://m.example/"));
        let edited = sources.fingerprint();
        assert_ne!(before, edited, "a longer file");
        std::fs::remove_file(dir.0.join("db/m")).unwrap();
        assert_ne!(edited, sources.fingerprint(), "a removed file");
        // An unlisted file of the same folder is not read, so it changes nothing.
        dir.write("db/m", &zone_text(22, "https://m.example/"));
        let back = sources.fingerprint();
        dir.write("db/unrelated", "x");
        assert_eq!(back, sources.fingerprint());
    }

    #[test]
    fn unknown_serve_keys_are_rejected() {
        let cfg: PublishConfig = "[serve]\nlisten = []\nlisten_on = 1\n".parse().unwrap();
        let err = ServeSection::from_config(&cfg, "f.toml").unwrap_err();
        assert!(err.to_string().contains("listen_on"), "{err}");
    }
}
