//! DNSSEC peers: Knot with automatic signing, and unbound as a validating recursive
//! resolver.
//!
//! ```text
//!   SignedKnot::start(&[Zone], &[unsigned Zone])  knotd, `dnssec-signing: on` for the first list
//!     (policy: ECDSA P-256 / alg 13, NSEC, keys made at first load in the peer's KASP db)
//!     .ds(origin) / .dnskey(origin)               `keymgr -c knot.conf ORIGIN ds|dnskey`:
//!                                                 the KSK's DS / DNSKEY for a trust anchor file
//!   Unbound::start(stubs: &[(zone, addr)], anchors: &str, insecure: &[zone])
//!     unbound -d -c conf, `do-daemonize: no`, interface 127.0.0.1@PORT, a stub-zone per zone
//!     (stub-first: no), trust-anchor-file, domain-insecure for unsigned ones, val-log-level: 2;
//!     `local-zone: "." refuse` so nothing outside the stub zones is ever resolved from the
//!     Internet: tests talk to loopback only.
//! ```
//!
//! Both stop by PID on drop (kill + wait), like [`crate::Peer`].

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{
    Peer, PeerError, PeerKind, Zone, dns_query, find_binary, free_port, io_err, log_tail_of,
    make_temp_dir, spawn_logged, stop_peer,
};

/// The signing policy Knot uses: ECDSA P-256 (RFC 8624 "MUST"), NSEC, keys that never roll
/// during a test, signatures valid for a day.
pub const KNOT_POLICY: &str = "policy:\n  - id: altodisc-test\n    algorithm: ecdsap256sha256\n    \
    ksk-lifetime: 0\n    zsk-lifetime: 0\n    nsec3: off\n    rrsig-lifetime: 1d\n    \
    rrsig-refresh: 12h\n    dnskey-ttl: 300\n    zone-max-ttl: 3600\n    propagation-delay: 0\n\n";

/// Knot serving some zones signed (automatic signing) and some unsigned.
#[derive(Debug)]
pub struct SignedKnot {
    peer: Peer,
    conf: PathBuf,
}

impl SignedKnot {
    /// Starts knotd with `signed` zones signed on load and `unsigned` zones served as they are.
    /// Returns once every zone answers an authoritative SOA and every signed zone serves its
    /// DNSKEY RRset.
    ///
    /// # Errors
    /// [`PeerError`] with the daemon's log.
    pub fn start(signed: &[Zone], unsigned: &[Zone]) -> Result<Self, PeerError> {
        let binary = find_binary("knotd").ok_or(PeerError::Missing {
            binary: "knotd",
            package: "knot",
        })?;
        let dir = make_temp_dir(PeerKind::Knot)?;
        let port = free_port().map_err(io_err("find a free port"))?;
        let q = |p: &Path| format!("\"{}\"", p.display());
        let mut text = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {dir}\n\ndatabase:\n    storage: {dir}\n\n\
             log:\n  - target: stderr\n    any: info\n\n{KNOT_POLICY}template:\n  - id: default\n    \
             storage: {dir}\n    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n    \
             semantic-checks: off\n\nzone:\n",
            dir = q(&dir)
        );
        let mut origins = Vec::new();
        for (i, (z, sign)) in signed
            .iter()
            .map(|z| (z, true))
            .chain(unsigned.iter().map(|z| (z, false)))
            .enumerate()
        {
            if !z.origin().ends_with('.') {
                return Err(PeerError::BadOrigin(z.origin().to_owned()));
            }
            let path = dir.join(format!("zone{i}.zone"));
            fs::write(&path, z.contents()?).map_err(io_err(format!("write {}", path.display())))?;
            text.push_str(&format!(
                "  - domain: \"{}\"\n    file: {}\n",
                z.origin(),
                q(&path)
            ));
            if sign {
                text.push_str("    dnssec-signing: on\n    dnssec-policy: altodisc-test\n");
            }
            origins.push(z.origin().to_owned());
        }
        let conf = dir.join("knot.conf");
        fs::write(&conf, text).map_err(io_err(format!("write {}", conf.display())))?;
        let mut cmd = Command::new(&binary);
        cmd.arg("-c").arg(&conf);
        let child = spawn_logged(cmd, &dir, &binary)?;
        let mut peer = Peer {
            kind: PeerKind::Knot,
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
            origins,
        };
        peer.wait_ready(crate::STARTUP_TIMEOUT)?;
        let knot = Self { peer, conf };
        for z in signed {
            knot.wait_dnskey(z.origin())?;
        }
        Ok(knot)
    }

    /// The server address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.peer.addr()
    }

    /// The underlying peer (directory, log).
    #[must_use]
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The KSK's DS records for `origin` (`keymgr ORIGIN ds`), in zone-file format.
    ///
    /// # Errors
    /// When keymgr fails.
    pub fn ds(&self, origin: &str) -> Result<String, PeerError> {
        self.keymgr(origin, "ds")
    }

    /// The KSK's DNSKEY record for `origin` (`keymgr ORIGIN dnskey`), in zone-file format.
    ///
    /// # Errors
    /// When keymgr fails.
    pub fn dnskey(&self, origin: &str) -> Result<String, PeerError> {
        self.keymgr(origin, "dnskey")
    }

    fn keymgr(&self, origin: &str, what: &str) -> Result<String, PeerError> {
        let keymgr = find_binary("keymgr").ok_or(PeerError::Missing {
            binary: "keymgr",
            package: "knot",
        })?;
        let out = Command::new(keymgr)
            .arg("-c")
            .arg(&self.conf)
            .arg(origin)
            .arg(what)
            .output()
            .map_err(io_err("run keymgr"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || text.trim().is_empty() {
            return Err(PeerError::Io {
                what: format!("keymgr {origin} {what}"),
                source: std::io::Error::other(format!(
                    "{}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )),
            });
        }
        Ok(text)
    }

    /// Waits until `origin` serves a DNSKEY RRset (signing finished).
    fn wait_dnskey(&self, origin: &str) -> Result<(), PeerError> {
        let deadline = Instant::now() + crate::STARTUP_TIMEOUT;
        let sock =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind probe socket"))?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(io_err("probe timeout"))?;
        let first_id: u16 = 0x5100;
        let mut id = first_id;
        while Instant::now() < deadline {
            id = id.wrapping_add(1);
            if let Some(q) = dns_query(origin, 48, id)
                && sock.send_to(&q, self.addr()).is_ok()
                && crate::probe_answer(
                    &sock,
                    self.addr(),
                    (first_id, id),
                    Duration::from_millis(300),
                    |answer| answer.get(6..8).is_some_and(|an| an != [0, 0]),
                )
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(PeerError::NotAnswering {
            kind: PeerKind::Knot,
            origin: format!("{origin} DNSKEY"),
            timeout: crate::STARTUP_TIMEOUT,
            log: self.peer.log_tail(),
        })
    }
}

/// unbound as a validating recursive resolver on 127.0.0.1 at a free port, reaching only the
/// stub zones it is given.
#[derive(Debug)]
pub struct Unbound {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Unbound {
    /// Starts unbound with a `stub-zone` per `(zone, server)` in `stubs`, the trust anchors in
    /// `anchors` (zone-file DS/DNSKEY text, written to a `trust-anchor-file`), and
    /// `domain-insecure` for each of `insecure`. Waits until it answers (any response to an SOA
    /// query for the first stub zone).
    ///
    /// # Errors
    /// [`PeerError`] with its log.
    pub fn start(
        stubs: &[(&str, SocketAddr)],
        anchors: &str,
        insecure: &[&str],
    ) -> Result<Self, PeerError> {
        let binary = find_binary("unbound").ok_or(PeerError::Missing {
            binary: "unbound",
            package: "unbound",
        })?;
        // A private directory (named like a Knot peer's; only the prefix is shared).
        let dir = make_temp_dir(PeerKind::Knot)?;
        let port = free_port().map_err(io_err("find a free port"))?;
        let ta = dir.join("anchors.txt");
        fs::write(&ta, anchors).map_err(io_err("write anchors"))?;
        let mut conf = format!(
            "server:\n  do-daemonize: no\n  interface: 127.0.0.1@{port}\n  port: {port}\n  \
             do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             logfile: \"\"\n  use-syslog: no\n  verbosity: 1\n  val-log-level: 2\n  \
             access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  \
             trust-anchor-file: \"{ta}\"\n  module-config: \"validator iterator\"\n  \
             qname-minimisation: no\n  harden-dnssec-stripped: yes\n  aggressive-nsec: no\n  \
             num-threads: 1\n  so-reuseport: no\n",
            d = dir.display(),
            ta = ta.display(),
        );
        for z in insecure {
            conf.push_str(&format!("  domain-insecure: \"{z}\"\n"));
        }
        // Loopback only: everything outside the stub zones is refused rather than resolved from
        // the root servers; `transparent` on each stub zone also overrides unbound's built-in
        // empty zones (RFC 6303, e.g. 2.0.192.in-addr.arpa. for TEST-NET-1).
        conf.push_str("  local-zone: \".\" refuse\n");
        for (zone, _) in stubs {
            conf.push_str(&format!("  local-zone: \"{zone}\" transparent\n"));
        }
        conf.push_str("remote-control:\n  control-enable: no\n");
        for (zone, addr) in stubs {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{zone}\"\n  stub-addr: {}@{}\n  stub-first: no\n",
                addr.ip(),
                addr.port()
            ));
        }
        let conf_path = dir.join("unbound.conf");
        fs::write(&conf_path, conf).map_err(io_err("write unbound.conf"))?;
        let mut cmd = Command::new(&binary);
        cmd.arg("-d").arg("-c").arg(&conf_path);
        let child = spawn_logged(cmd, &dir, &binary)?;
        let mut u = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        u.wait_ready(stubs.first().map_or(".", |s| s.0))?;
        Ok(u)
    }

    fn wait_ready(&mut self, zone: &str) -> Result<(), PeerError> {
        let deadline = Instant::now() + crate::STARTUP_TIMEOUT;
        let sock =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind probe socket"))?;
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .map_err(io_err("probe timeout"))?;
        let first_id: u16 = 0x6100;
        let mut id = first_id;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(io_err("poll unbound"))? {
                return Err(PeerError::Io {
                    what: "unbound exited during start-up".to_owned(),
                    source: std::io::Error::other(format!("{status}; log:\n{}", self.log_tail())),
                });
            }
            id = id.wrapping_add(1);
            if let Some(mut q) = dns_query(zone, 6, id) {
                q[2] = 0x01; // RD
                // Any answer (SERVFAIL too) to any probe shows that unbound serves.
                if sock.send_to(&q, self.addr).is_ok()
                    && crate::probe_answer(
                        &sock,
                        self.addr,
                        (first_id, id),
                        Duration::from_millis(300),
                        |_| true,
                    )
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(PeerError::Io {
            what: "unbound did not answer".to_owned(),
            source: std::io::Error::other(self.log_tail()),
        })
    }

    /// The resolver's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of unbound's log.
    #[must_use]
    pub fn log_tail(&self) -> String {
        log_tail_of(&fs::read_to_string(self.dir.join("peer.log")).unwrap_or_default())
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        stop_peer(&mut self.child, &self.dir);
    }
}
