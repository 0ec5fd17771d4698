//! Real DNS peers for tests: NSD, Knot (`knotd`) and BIND (`named`), each started in the
//! foreground on `127.0.0.1` at a free high port, serving the zone files you give it, in its own
//! temporary directory with its own configuration, and stopped by the PID it was started with.
//!
//! Dev-only (`publish = false`). The project's rule for tests is "real peers, not mocks": the
//! resolver and the responder are only correct when NSD, Knot and BIND agree with them.
//! The crate also builds `altodisc-udp-latency`, the fixed-rate load generator with latency
//! percentiles of `bench/responder/run` (`src/bin/`; kept out of the shipped `altodisc` binary).
//!
//! ```text
//!   test ──▶ Peer::start(PeerKind::Nsd, &[Zone::file(origin, path)])
//!              ├─ temp dir  (config, copies of the zone files, pid/db/journal files, peer.log)
//!              ├─ free port (UDP and TCP both bindable on 127.0.0.1)
//!              ├─ spawn the daemon in the foreground (nsd -d / knotd / named -g)
//!              └─ wait until it answers an SOA query for every zone (UDP), or fail with its log
//!   peer.addr()  ─▶ 127.0.0.1:PORT for your resolver / dig / kdig
//!   drop(peer)   ─▶ kill(pid) + wait, temp dir removed (set ALTODISC_KEEP_PEER_DIRS=1 to keep it)
//! ```
//!
//! # Usage
//!
//! ```no_run
//! use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
//!
//! fn against_every_peer() {
//!     for kind in PeerKind::ALL {
//!         // CI=true: panics if the binary is missing. Locally: prints `skipped: ...`, returns false.
//!         if !require_or_skip(kind) {
//!             continue;
//!         }
//!         let zone = Zone::text("example.net.", "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.1\n");
//!         let peer = Peer::start(kind, &[zone]).expect("peer starts");
//!         let _server = peer.addr(); // query it
//!     } // each peer is killed and reaped when it goes out of scope
//! }
//! ```
//!
//! Zone text is written to the peer's directory as-is; relative owner names are relative to the
//! zone origin (each daemon takes the origin from its configuration). Every zone needs an SOA
//! (all three daemons refuse a zone without one) and should have an NS record (BIND requires one).
//!
//! # Configuration traps this crate handles
//!
//! * NSD: response rate limiting is on by default in Debian's build (`rrl-ratelimit: 0` turns it
//!   off, or bursts of test queries get dropped); `username: ""` (do not drop privileges, the temp
//!   dir is not readable by `nsd`); `database: ""`; writable pidfile, xfrd state and zone list;
//!   `-d` keeps it in the foreground.
//! * Knot: `server: listen` and `rundir`, `database: storage`, a template `storage`; it runs in the
//!   foreground by default; `zonefile-sync: -1` so it never rewrites our fixture copies.
//! * Knot as a catalog consumer ([`PeerOptions::catalog`]): it answers REFUSED for the catalog
//!   zone it interprets, so start-up waits for the other zones (or any answer), not for that one.
//! * BIND: `-g` (foreground, log to stderr), `-n 1`, `directory`, `pid-file`, `listen-on port`,
//!   `recursion no`, `controls { }` (no rndc key needed), session key in the temp dir.

use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// HTTPS peer for IRD verification tests.
pub mod nginx;
// DNSSEC peers: Knot with automatic signing, unbound validating.
pub mod dnssec;
// Network-namespace lab for DHCP tests (dnsmasq, Kea, NSD inside test namespaces).
pub mod netns;
// The peer zone corpus and how named-checkzone, kzonecheck and nsd-checkzone judge its files.
pub mod peer_corpus;

/// How long [`Peer::start`] waits for the daemon to answer before giving up.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Which authoritative server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerKind {
    /// NLnet Labs NSD (`nsd`, Debian package `nsd`).
    Nsd,
    /// CZ.NIC Knot DNS (`knotd`, Debian package `knot`).
    Knot,
    /// ISC BIND 9 (`named`, Debian package `bind9`).
    Bind,
}

impl PeerKind {
    /// All kinds, in a fixed order (for "identical results against each" tests).
    pub const ALL: [Self; 3] = [Self::Nsd, Self::Knot, Self::Bind];

    /// The daemon's executable name.
    #[must_use]
    pub fn binary(self) -> &'static str {
        match self {
            Self::Nsd => "nsd",
            Self::Knot => "knotd",
            Self::Bind => "named",
        }
    }

    /// The Debian package that provides [`Self::binary`] (for `scripts/test`'s `APT_PACKAGES`).
    #[must_use]
    pub fn debian_package(self) -> &'static str {
        match self {
            Self::Nsd => "nsd",
            Self::Knot => "knot",
            Self::Bind => "bind9",
        }
    }

    /// A short lowercase name: `nsd`, `knot`, `bind`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Nsd => "nsd",
            Self::Knot => "knot",
            Self::Bind => "bind",
        }
    }
}

impl fmt::Display for PeerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PeerKind {
    type Err = PeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nsd" => Ok(Self::Nsd),
            "knot" | "knotd" => Ok(Self::Knot),
            "bind" | "named" | "bind9" => Ok(Self::Bind),
            _ => Err(PeerError::UnknownKind(s.to_owned())),
        }
    }
}

/// Errors from starting a peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// Not `nsd`, `knot` or `bind`.
    #[error("unknown peer kind {0:?} (expected nsd, knot or bind)")]
    UnknownKind(String),
    /// The executable is not installed.
    #[error("{binary} not found in PATH, /usr/sbin or /usr/local/sbin (Debian package {package})")]
    Missing {
        /// The executable.
        binary: &'static str,
        /// The package to install.
        package: &'static str,
    },
    /// A zone origin that is not a fully qualified name.
    #[error("zone origin {0:?} must be fully qualified (end with a dot)")]
    BadOrigin(String),
    /// A configuration the peer or this crate cannot do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// File-system or process error.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The daemon exited during start-up.
    #[error("{kind} exited during start-up ({status}); log:\n{log}")]
    Exited {
        /// Which daemon.
        kind: PeerKind,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log: String,
    },
    /// The daemon did not answer in time.
    #[error("{kind} did not answer an SOA query for {origin} within {timeout:?}; log:\n{log}")]
    NotAnswering {
        /// Which daemon.
        kind: PeerKind,
        /// The zone that was probed.
        origin: String,
        /// How long we waited.
        timeout: Duration,
        /// The end of its log.
        log: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> PeerError {
    let what = what.into();
    move |source| PeerError::Io { what, source }
}

/// Starts `cmd` (built for `binary`) in the foreground in `dir`, stdin closed, stdout and
/// stderr both to `dir/peer.log` (what [`Peer::log_tail`] and friends read back).
fn spawn_logged(mut cmd: Command, dir: &Path, binary: &Path) -> Result<Child, PeerError> {
    let log = fs::File::create(dir.join("peer.log")).map_err(io_err("create peer.log"))?;
    let log2 = log.try_clone().map_err(io_err("clone peer.log"))?;
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .map_err(io_err(format!("spawn {}", binary.display())))
}

/// The last 4000 bytes of a log (cut at a character boundary), for assertion messages.
fn log_tail_of(s: &str) -> String {
    let start = s.len().saturating_sub(4000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[start..].to_owned()
}

/// Removes a peer's private directory, unless `ALTODISC_KEEP_PEER_DIRS` asks to keep it.
fn remove_peer_dir(dir: &Path) {
    if std::env::var_os("ALTODISC_KEEP_PEER_DIRS").is_none() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Stops exactly the process we started, by its PID (never by name), reaps it, and removes its
/// directory ([`remove_peer_dir`]): every peer's `Drop`.
fn stop_peer(child: &mut Child, dir: &Path) {
    let _ = child.kill();
    let _ = child.wait();
    remove_peer_dir(dir);
}

/// Where a zone's master-file text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ZoneSource {
    File(PathBuf),
    Text(String),
}

/// One zone to serve: its origin and its master-file text (from a file or a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    origin: String,
    source: ZoneSource,
}

impl Zone {
    /// A zone read from `path` (copied into the peer's directory at start).
    #[must_use]
    pub fn file(origin: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            origin: origin.into(),
            source: ZoneSource::File(path.into()),
        }
    }

    /// A zone given as master-file text.
    #[must_use]
    pub fn text(origin: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            source: ZoneSource::Text(text.into()),
        }
    }

    /// The origin, e.g. `example.net.`.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn contents(&self) -> Result<String, PeerError> {
        match &self.source {
            ZoneSource::Text(t) => Ok(t.clone()),
            ZoneSource::File(p) => {
                fs::read_to_string(p).map_err(io_err(format!("read zone file {}", p.display())))
            }
        }
    }
}

/// Finds `binary` in `PATH`, then in the sbin directories (which a non-root `PATH` often lacks).
#[must_use]
pub fn find_binary(binary: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/sbin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter()
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// Whether the daemon for `kind` is installed.
#[must_use]
pub fn available(kind: PeerKind) -> bool {
    find_binary(kind.binary()).is_some()
}

/// Whether the test runs under CI (`CI=true`), where a missing prerequisite is a failure.
#[must_use]
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The CI rule for a missing peer: returns `true` when `kind` is installed. Otherwise, under
/// `CI=true`, panics naming the missing binary and package; locally prints
/// `skipped: <binary> not installed ...` to stderr and returns `false` (the caller returns).
///
/// # Panics
/// Under `CI=true` when the binary is missing.
#[must_use]
pub fn require_or_skip(kind: PeerKind) -> bool {
    require_tool_or_skip(kind.binary(), kind.debian_package())
}

/// [`require_or_skip`] for any executable (e.g. `dig`, `kdig`, `unbound`, `ip`, `tc`).
///
/// # Panics
/// Under `CI=true` when the binary is missing.
#[must_use]
pub fn require_tool_or_skip(binary: &str, package: &str) -> bool {
    if find_binary(binary).is_some() {
        return true;
    }
    assert!(
        !is_ci(),
        "CI=true and {binary} is missing: install the Debian package {package} (scripts/test APT_PACKAGES)"
    );
    eprintln!("skipped: {binary} not installed (Debian package {package})");
    false
}

/// A free port on 127.0.0.1 where both UDP and TCP can bind right now. Another process may take
/// it before the daemon binds; [`Peer::start`] retries with a new port when that happens.
///
/// # Errors
/// When no such port is found after a few tries.
pub fn free_port() -> io::Result<u16> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_tcp) => return Ok(port),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

static DIR_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new, unique path `altodisc-peer-<name>-<pid>-<n>-<nanos>` in the temp dir for one peer's
/// private directory (not created yet).
fn peer_dir_path(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "altodisc-peer-{name}-{}-{n}-{nanos}",
        std::process::id()
    ))
}

fn make_temp_dir(kind: PeerKind) -> Result<PathBuf, PeerError> {
    let dir = peer_dir_path(kind.name());
    fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    Ok(dir)
}

/// Extra configuration for [`Peer::start_with_options`].
///
/// `server_options` lines go into the daemon's global section (NSD `server:`, Knot `server:`,
/// BIND `options { }`), one statement per line, in that daemon's syntax; `extra_config` is
/// appended to the end of the configuration file (e.g. a BIND `zone "x" { type forward; ... };`).
/// For BIND, `recursion no;` is the default unless `server_options` mentions `recursion`.
/// **Never** configure recursion towards the Internet: tests talk to loopback only (use
/// `forward only;` with loopback forwarders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerOptions {
    /// How long to wait for the first authoritative answer.
    pub startup_timeout: Duration,
    /// Statements for the global section.
    pub server_options: String,
    /// Text appended to the configuration file.
    pub extra_config: String,
    /// A secondary's TSIG key (RFC 8945) for its transfers and its primary's NOTIFY.
    pub tsig: Option<TsigSpec>,
    /// For a secondary: the one of its origins that is a catalog zone (RFC 9432) to consume.
    /// Its member zones are then provisioned from the same primary, with the same TSIG key,
    /// without being listed: Knot `catalog-role: interpret` with a `catalog-template` for the
    /// members, BIND `catalog-zones { zone ... default-primaries ... }` with
    /// `allow-new-zones yes`. NSD is not supported (its consumer came after the packaged 4.6).
    pub catalog: Option<String>,
}

/// A TSIG key as the peers' configs write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigSpec {
    /// Key name (`xfr-key`).
    pub name: String,
    /// `hmac-sha256` etc.
    pub algorithm: String,
    /// Base64 secret.
    pub secret: String,
}

impl Default for PeerOptions {
    fn default() -> Self {
        Self {
            startup_timeout: STARTUP_TIMEOUT,
            server_options: String::new(),
            extra_config: String::new(),
            tsig: None,
            catalog: None,
        }
    }
}

/// A running daemon. Dropping it kills the process by its PID, reaps it, and removes its directory.
#[derive(Debug)]
pub struct Peer {
    kind: PeerKind,
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    origins: Vec<String>,
}

impl Peer {
    /// Starts `kind` serving `zones` on 127.0.0.1 at a free high port and waits (up to
    /// [`STARTUP_TIMEOUT`]) until it answers an authoritative SOA query for every zone.
    ///
    /// # Errors
    /// [`PeerError`] with the daemon's log when it is missing, exits, or does not answer.
    pub fn start(kind: PeerKind, zones: &[Zone]) -> Result<Self, PeerError> {
        Self::start_with_timeout(kind, zones, STARTUP_TIMEOUT)
    }

    /// [`Peer::start`] with another start-up timeout (e.g. short, for a zone expected to fail).
    ///
    /// # Errors
    /// As [`Peer::start`].
    pub fn start_with_timeout(
        kind: PeerKind,
        zones: &[Zone],
        timeout: Duration,
    ) -> Result<Self, PeerError> {
        Self::start_with_options(
            kind,
            zones,
            &PeerOptions {
                startup_timeout: timeout,
                ..PeerOptions::default()
            },
        )
    }

    /// [`Peer::start`] with extra configuration (see [`PeerOptions`]).
    ///
    /// # Errors
    /// As [`Peer::start`].
    pub fn start_with_options(
        kind: PeerKind,
        zones: &[Zone],
        options: &PeerOptions,
    ) -> Result<Self, PeerError> {
        let binary = find_binary(kind.binary()).ok_or(PeerError::Missing {
            binary: kind.binary(),
            package: kind.debian_package(),
        })?;
        for z in zones {
            if !z.origin.ends_with('.') {
                return Err(PeerError::BadOrigin(z.origin.clone()));
            }
        }
        // A port found free can be taken before the daemon binds it: retry a few times.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(kind, &binary, zones, options, None) {
                Ok(peer) => return Ok(peer),
                Err(e @ PeerError::Exited { .. }) if attempt < 3 => {
                    eprintln!("{kind} did not start (attempt {attempt}), retrying: {e}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts `kind` as a SECONDARY of `primary` for `origins`: it accepts NOTIFY from the
    /// primary's address and transfers the zones from it (NSD: `request-xfr: AXFR`, Knot:
    /// `master` + notify ACL, BIND: `type secondary`). Returns once it answers an authoritative
    /// SOA for every origin, i.e. after the first transfer. Knot refuses queries for a catalog
    /// zone it interprets ([`PeerOptions::catalog`]): that one is not awaited, so wait for its
    /// member zones.
    ///
    /// # Errors
    /// As [`Peer::start`].
    pub fn start_secondary(
        kind: PeerKind,
        primary: SocketAddr,
        origins: &[&str],
        timeout: Duration,
    ) -> Result<Self, PeerError> {
        let options = PeerOptions {
            startup_timeout: timeout,
            ..PeerOptions::default()
        };
        Self::start_secondary_with(kind, primary, origins, &options)
    }

    /// [`Peer::start_secondary`] with options (e.g. a TSIG key, [`PeerOptions::tsig`]).
    ///
    /// # Errors
    /// As [`Peer::start_secondary`].
    pub fn start_secondary_with(
        kind: PeerKind,
        primary: SocketAddr,
        origins: &[&str],
        options: &PeerOptions,
    ) -> Result<Self, PeerError> {
        let binary = find_binary(kind.binary()).ok_or(PeerError::Missing {
            binary: kind.binary(),
            package: kind.debian_package(),
        })?;
        if let Some(catalog) = &options.catalog {
            if kind == PeerKind::Nsd {
                return Err(PeerError::Unsupported(format!(
                    "nsd as a catalog zone consumer ({catalog}): NSD consumes catalogs from 4.9 on"
                )));
            }
            if !origins.contains(&catalog.as_str()) {
                return Err(PeerError::Unsupported(format!(
                    "catalog {catalog} is not among the secondary's zones {origins:?}"
                )));
            }
        }
        let zones: Vec<Zone> = origins.iter().map(|o| Zone::text(*o, "")).collect();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(kind, &binary, &zones, options, Some(primary)) {
                Ok(peer) => return Ok(peer),
                Err(e @ PeerError::Exited { .. }) if attempt < 3 => {
                    eprintln!("{kind} did not start (attempt {attempt}), retrying: {e}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn start_once(
        kind: PeerKind,
        binary: &Path,
        zones: &[Zone],
        options: &PeerOptions,
        secondary_of: Option<SocketAddr>,
    ) -> Result<Self, PeerError> {
        let dir = make_temp_dir(kind)?;
        let port = free_port().map_err(io_err("find a free port"))?;
        let mut files = Vec::new();
        for (i, z) in zones.iter().enumerate() {
            let path = dir.join(format!("zone{i}.zone"));
            if secondary_of.is_none() {
                fs::write(&path, z.contents()?)
                    .map_err(io_err(format!("write {}", path.display())))?;
            }
            files.push((z.origin.clone(), path));
        }
        let conf = dir.join(format!("{}.conf", kind.name()));
        let text = match (kind, secondary_of) {
            (PeerKind::Nsd, None) => nsd_conf(&dir, port, &files, options),
            (PeerKind::Knot, None) => knot_conf(&dir, port, &files, options),
            (PeerKind::Bind, None) => bind_conf(&dir, port, &files, options),
            (PeerKind::Nsd, Some(p)) => {
                nsd_conf(&dir, port, &[], options) + &nsd_secondary(p, &files, options)
            }
            (PeerKind::Knot, Some(p)) => knot_secondary_conf(&dir, port, p, &files, options),
            (PeerKind::Bind, Some(p)) => {
                let mut with_catalog = options.clone();
                with_catalog
                    .server_options
                    .push_str(&bind_catalog_options(p, options));
                bind_conf(&dir, port, &[], &with_catalog) + &bind_secondary(p, &files, options)
            }
        };
        let text = format!("{text}\n{}\n", options.extra_config);
        fs::write(&conf, text).map_err(io_err(format!("write {}", conf.display())))?;
        let mut cmd = Command::new(binary);
        match kind {
            PeerKind::Nsd => cmd.arg("-d").arg("-c").arg(&conf),
            PeerKind::Knot => cmd.arg("-c").arg(&conf),
            PeerKind::Bind => cmd.arg("-g").arg("-n").arg("1").arg("-c").arg(&conf),
        };
        let child = spawn_logged(cmd, &dir, binary)?;
        let mut peer = Self {
            kind,
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
            origins: files.into_iter().map(|(o, _)| o).collect(),
        };
        // Knot answers REFUSED for a catalog zone it interprets (it is configuration, not data),
        // so its start is awaited by the other zones, or by any answer at all.
        let probes: Vec<String> = peer
            .origins
            .iter()
            .filter(|o| kind != PeerKind::Knot || options.catalog.as_ref() != Some(*o))
            .cloned()
            .collect();
        peer.wait_ready_for(&probes, options.startup_timeout)?;
        Ok(peer)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), PeerError> {
        let origins = self.origins.clone();
        self.wait_ready_for(&origins, timeout)
    }

    /// Waits for an authoritative SOA answer for each of `origins` (any answer to `.` when
    /// there are none).
    fn wait_ready_for(&mut self, origins: &[String], timeout: Duration) -> Result<(), PeerError> {
        let deadline = Instant::now() + timeout;
        let sock =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind probe socket"))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(io_err("probe timeout"))?;
        let probes: Vec<String> = if origins.is_empty() {
            vec![".".to_owned()]
        } else {
            origins.to_vec()
        };
        let mut id: u16 = 0x4100;
        for origin in &probes {
            loop {
                if let Some(status) = self.child.try_wait().map_err(io_err("poll daemon"))? {
                    return Err(PeerError::Exited {
                        kind: self.kind,
                        status: status.to_string(),
                        log: self.log_tail(),
                    });
                }
                if Instant::now() > deadline {
                    return Err(PeerError::NotAnswering {
                        kind: self.kind,
                        origin: origin.clone(),
                        timeout,
                        log: self.log_tail(),
                    });
                }
                id = id.wrapping_add(1);
                if probe_soa(&sock, self.addr, origin, id, origins.is_empty()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// The server address (`127.0.0.1:PORT`), UDP and TCP.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The daemon's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Which daemon this is.
    #[must_use]
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The peer's private directory (config, zone copies, `peer.log`).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last part of the daemon's log (stdout and stderr), for assertion messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(self.dir.join("peer.log")) {
            let _ = f.read_to_string(&mut s);
        }
        log_tail_of(&s)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        stop_peer(&mut self.child, &self.dir);
    }
}

/// Reads responses from `from` on the probe socket `sock` (its read timeout bounds each read)
/// until one whose ID is in `first_id..=last_id` (wrapping) satisfies `accept`, or `wait` passes.
///
/// A peer that is slow to answer (a cold resolver, a loaded machine) answers an earlier probe
/// after the prober has sent the next one. Reading one datagram per probe would then always read
/// the previous probe's answer, a step behind forever; reading until the wanted one drains them,
/// and an answer to any probe of this socket counts, since it shows the same thing.
pub(crate) fn probe_answer(
    sock: &UdpSocket,
    from: SocketAddr,
    (first_id, last_id): (u16, u16),
    wait: Duration,
    accept: impl Fn(&[u8]) -> bool,
) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            return false;
        };
        let Some(message) = buf.get(..n) else {
            continue;
        };
        let Some(id) = message
            .get(..2)
            .map(|id| u16::from_be_bytes([id[0], id[1]]))
        else {
            continue;
        };
        if peer == from
            && n >= 12
            && id.wrapping_sub(first_id) <= last_id.wrapping_sub(first_id)
            && accept(message)
        {
            return true;
        }
    }
    false
}

/// Sends one SOA query and reports whether an authoritative NOERROR answer came back (or, when
/// `any_answer`, whether any response came back).
fn probe_soa(sock: &UdpSocket, to: SocketAddr, origin: &str, id: u16, any_answer: bool) -> bool {
    let Some(query) = soa_query(origin, id) else {
        return false;
    };
    if sock.send_to(&query, to).is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return false;
        };
        if from != to || n < 12 || buf[0..2] != id.to_be_bytes() {
            continue;
        }
        if any_answer {
            return true;
        }
        let aa = buf[2] & 0x04 != 0;
        let rcode = buf[3] & 0x0f;
        let ancount = u16::from_be_bytes([buf[6], buf[7]]);
        return aa && rcode == 0 && ancount >= 1;
    }
    false
}

/// A minimal DNS query (RFC 1035 §4.1) for `name` IN `qtype`, RD=0; `None` for a label longer
/// than 63 octets.
fn dns_query(name: &str, qtype: u16, id: u16) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let len = u8::try_from(label.len()).ok().filter(|&l| l <= 63)?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    Some(q)
}

/// A minimal DNS query for `origin` IN SOA, RD=0.
fn soa_query(origin: &str, id: u16) -> Option<Vec<u8>> {
    dns_query(origin, 6, id)
}

fn indent_block(text: &str, indent: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{indent}{}\n", l.trim()))
        .collect()
}

fn quoted(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

fn nsd_conf(dir: &Path, port: u16, zones: &[(String, PathBuf)], o: &PeerOptions) -> String {
    let d = |f: &str| quoted(&dir.join(f));
    let mut s = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: {dir}\n  pidfile: {pid}\n  xfrdfile: {xfrd}\n  zonelistfile: {zl}\n  xfrdir: {dir}\n  \
         database: \"\"\n  server-count: 1\n  verbosity: 1\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  \
         hide-version: yes\n{opts}\nremote-control:\n  control-enable: no\n\n",
        opts = indent_block(&o.server_options, "  "),
        dir = quoted(dir),
        pid = d("nsd.pid"),
        xfrd = d("xfrd.state"),
        zl = d("zone.list"),
    );
    for (origin, path) in zones {
        s.push_str(&format!(
            "zone:\n  name: \"{origin}\"\n  zonefile: {}\n\n",
            quoted(path)
        ));
    }
    s
}

fn knot_conf(dir: &Path, port: u16, zones: &[(String, PathBuf)], o: &PeerOptions) -> String {
    let mut s = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {dir}\n{opts}\ndatabase:\n    storage: {dir}\n\n\
         log:\n  - target: stderr\n    any: info\n\ntemplate:\n  - id: default\n    storage: {dir}\n    \
         zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n    semantic-checks: off\n\nzone:\n",
        opts = indent_block(&o.server_options, "    "),
        dir = quoted(dir)
    );
    for (origin, path) in zones {
        s.push_str(&format!(
            "  - domain: \"{origin}\"\n    file: {}\n",
            quoted(path)
        ));
    }
    s
}

/// NSD zones transferred from `primary` (RFC 5936) and refreshed on its NOTIFY (RFC 1996).
fn nsd_secondary(primary: SocketAddr, zones: &[(String, PathBuf)], o: &PeerOptions) -> String {
    let (ip, port) = (primary.ip(), primary.port());
    let (keydef, key) = match &o.tsig {
        Some(t) => (
            format!(
                "key:\n  name: \"{}\"\n  algorithm: {}\n  secret: \"{}\"\n\n",
                t.name, t.algorithm, t.secret
            ),
            t.name.clone(),
        ),
        None => (String::new(), "NOKEY".to_owned()),
    };
    let zones: String = zones
        .iter()
        .map(|(origin, path)| {
            format!(
                "zone:\n  name: \"{origin}\"\n  zonefile: {}\n  request-xfr: AXFR {ip}@{port} {key}\n  \
                 allow-notify: {ip} {key}\n\n",
                quoted(path)
            )
        })
        .collect();
    keydef + &zones
}

/// Knot: the remote and the ACL must be defined before the zones and templates that use them.
///
/// A catalog zone ([`PeerOptions::catalog`]) gets `catalog-role: interpret` and
/// `catalog-template: catalog-member`, a template with the same primary, NOTIFY ACL and key as
/// the listed zones. Knot 3.2 (knot.conf(5) of 3.2): `catalog-template` must be set if and only
/// if `catalog-role` is `interpret`; the member template may not use any `catalog-*` option; the
/// remote is `master:` (3.3 renamed it `primary:` and kept `master:` as an alias); the catalog
/// database lives under `storage` unless `database: catalog-db` says otherwise.
fn knot_secondary_conf(
    dir: &Path,
    port: u16,
    primary: SocketAddr,
    zones: &[(String, PathBuf)],
    o: &PeerOptions,
) -> String {
    let member_template = if o.catalog.is_some() {
        format!(
            "  - id: catalog-member\n    storage: {dir}\n    master: primary\n    \
             acl: notify_from_primary\n    zonefile-sync: -1\n    zonefile-load: none\n    \
             journal-content: none\n    semantic-checks: off\n",
            dir = quoted(dir)
        )
    } else {
        String::new()
    };
    let mut s = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {dir}\n{opts}\ndatabase:\n    storage: {dir}\n\n\
         log:\n  - target: stderr\n    any: info\n\n{keydef}remote:\n  - id: primary\n    address: {ip}@{pport}\n{keyref}\n\
         acl:\n  - id: notify_from_primary\n    address: {ip}\n    action: notify\n{keyref}\n\
         template:\n  - id: default\n    storage: {dir}\n    zonefile-sync: -1\n    zonefile-load: none\n    \
         journal-content: none\n    semantic-checks: off\n{member_template}\nzone:\n",
        opts = indent_block(&o.server_options, "    "),
        dir = quoted(dir),
        ip = primary.ip(),
        pport = primary.port(),
        keydef = o.tsig.as_ref().map_or(String::new(), |t| format!(
            "key:\n  - id: {}\n    algorithm: {}\n    secret: {}\n\n",
            t.name, t.algorithm, t.secret
        )),
        keyref = o
            .tsig
            .as_ref()
            .map_or(String::new(), |t| format!("    key: {}\n", t.name)),
    );
    for (origin, _) in zones {
        s.push_str(&format!(
            "  - domain: \"{origin}\"\n    master: primary\n    acl: notify_from_primary\n"
        ));
        if o.catalog.as_deref() == Some(origin.as_str()) {
            s.push_str("    catalog-role: interpret\n    catalog-template: catalog-member\n");
        }
    }
    s
}

/// BIND 9.18 consumes a catalog zone ([`PeerOptions::catalog`]) with `catalog-zones` in
/// `options`, whose members it adds as new zones (`allow-new-zones yes`), transferred from
/// `default-primaries`; `in-memory yes` keeps their copies out of the peer's directory.
fn bind_catalog_options(primary: SocketAddr, o: &PeerOptions) -> String {
    let Some(catalog) = &o.catalog else {
        return String::new();
    };
    let key = o
        .tsig
        .as_ref()
        .map_or(String::new(), |t| format!(" key \"{}\"", t.name));
    format!(
        "allow-new-zones yes;\ncatalog-zones {{ zone \"{catalog}\" default-primaries {{ {} port {}{key}; }} in-memory yes; }};\n",
        primary.ip(),
        primary.port()
    )
}

/// BIND secondary zones (`type secondary`, `primaries`).
fn bind_secondary(primary: SocketAddr, zones: &[(String, PathBuf)], o: &PeerOptions) -> String {
    let (ip, port) = (primary.ip(), primary.port());
    let (keydef, key, notify_from) = match &o.tsig {
        Some(t) => (
            format!(
                "key \"{}\" {{ algorithm {}; secret \"{}\"; }};\n",
                t.name, t.algorithm, t.secret
            ),
            format!(" key \"{}\"", t.name),
            format!("key \"{}\";", t.name),
        ),
        None => (String::new(), String::new(), format!("{ip};")),
    };
    let zones: String = zones
        .iter()
        .map(|(origin, path)| {
            format!(
                "zone \"{origin}\" {{\n  type secondary;\n  file {};\n  primaries {{ {ip} port {port}{key}; }};\n  \
                 allow-notify {{ {notify_from} }};\n}};\n",
                quoted(path)
            )
        })
        .collect();
    keydef + &zones
}

fn bind_conf(dir: &Path, port: u16, zones: &[(String, PathBuf)], o: &PeerOptions) -> String {
    let d = |f: &str| quoted(&dir.join(f));
    let mut s = format!(
        "options {{\n  directory {dir};\n  pid-file {pid};\n  session-keyfile {sk};\n  \
         managed-keys-directory {dir};\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
         {recursion}  dnssec-validation no;\n  notify no;\n  allow-transfer {{ any; }};\n{opts}}};\n\
         controls {{ }};\n\n",
        recursion = if o.server_options.contains("recursion") {
            ""
        } else {
            "recursion no;\n"
        },
        opts = indent_block(&o.server_options, "  "),
        dir = quoted(dir),
        pid = d("named.pid"),
        sk = d("session.key"),
    );
    for (origin, path) in zones {
        s.push_str(&format!(
            "zone \"{origin}\" {{\n  type primary;\n  file {};\n}};\n",
            quoted(path)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soa_query_encodes_name() {
        let q = soa_query("example.net.", 7).unwrap();
        assert_eq!(&q[0..2], &[0, 7]);
        assert_eq!(&q[12..], b"\x07example\x03net\x00\x00\x06\x00\x01");
        assert!(soa_query(&format!("{}.", "a".repeat(64)), 1).is_none());
    }

    /// A peer that answers each probe only after the next one was sent: the prober still
    /// sees it answer (an answer to an earlier probe counts), and answers it must not accept
    /// are read past, not taken one per probe.
    #[test]
    fn a_late_answer_to_an_earlier_probe_counts_and_stale_ones_are_drained() {
        let peer = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let prober = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        prober
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let (peer_addr, prober_addr) = (peer.local_addr().unwrap(), prober.local_addr().unwrap());
        let answer = |id: u16, ancount: u8| {
            let mut m = soa_query("example.net.", id).unwrap();
            m[2] |= 0x80;
            m[7] = ancount;
            peer.send_to(&m, prober_addr).unwrap();
        };
        // Probes 0x10 and 0x11 were sent; only 0x10's answer (late) arrives: it counts.
        answer(0x10, 1);
        assert!(probe_answer(
            &prober,
            peer_addr,
            (0x10, 0x11),
            Duration::from_secs(2),
            |_| true
        ));
        // Three "not yet" answers to earlier probes queue ahead of the wanted one: all are
        // read in one call, which then accepts the last.
        for id in [0x10, 0x11, 0x12] {
            answer(id, 0);
        }
        answer(0x13, 1);
        let has_answer = |m: &[u8]| m.get(6..8).is_some_and(|an| an != [0, 0]);
        assert!(probe_answer(
            &prober,
            peer_addr,
            (0x10, 0x13),
            Duration::from_secs(2),
            has_answer
        ));
        // Not ours (an ID outside the range), from elsewhere, or too short: never accepted.
        answer(0x20, 1);
        let other = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut m = soa_query("example.net.", 0x10).unwrap();
        m[7] = 1;
        other.send_to(&m, prober_addr).unwrap();
        peer.send_to(&[0, 0x10, 0x80], prober_addr).unwrap();
        assert!(!probe_answer(
            &prober,
            peer_addr,
            (0x10, 0x13),
            Duration::from_millis(500),
            |_| true
        ));
        // The ID range wraps.
        answer(0x0001, 1);
        assert!(probe_answer(
            &prober,
            peer_addr,
            (0xfff0, 0x0002),
            Duration::from_secs(2),
            |_| true
        ));
    }

    #[test]
    fn kind_parses() {
        assert_eq!("NSD".parse::<PeerKind>().unwrap(), PeerKind::Nsd);
        assert_eq!("named".parse::<PeerKind>().unwrap(), PeerKind::Bind);
        assert!("pdns".parse::<PeerKind>().is_err());
    }

    #[test]
    fn free_port_is_high() {
        assert!(free_port().unwrap() >= 1024);
    }
}
