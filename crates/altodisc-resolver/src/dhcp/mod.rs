//! RFC 7286 step 1 (§3.1.2): learn the access-network domain of an interface from DHCP.
//!
//! * [`v4`]: a DHCPINFORM client (RFC 2131 §3.4, §4.4.3) asking for option 213
//!   (`OPTION_V4_ACCESS_DOMAIN`, RFC 5986 §3.2) and, as RFC 7286 §3.1.2's IPv4 fallback, option 15.
//! * [`v6`]: a DHCPv6 Information-request client (RFC 8415 §18.2.6) asking for option 57
//!   (`OPTION_V6_ACCESS_DOMAIN`, RFC 5986 §3.3). IPv6 has **no** fallback (RFC 7286 §3.1.2).
//! * [`lease`]: the same answers read back from the OS DHCP client's lease files (ISC dhclient text
//!   leases, dhcpcd binary leases), which needs no privileges.
//! * [`iface`]: the interfaces and addresses the clients need.
//!
//! Messages are built with dhcproto 0.15 where its encoding matches the wire we must send; the
//! access-domain payloads are always decoded by `altodisc_proto::access_domain`, so the network
//! path and the lease-file path share one decoder (ARCHITECTURE.md principle 2).

pub mod discover;
mod exchange;
pub mod iface;
pub mod lease;
mod retransmit;
pub mod v4;
pub mod v6;

use std::fmt;
use std::time::{Duration, Instant};

pub use altodisc_proto::ladder::AddressFamily;
use altodisc_proto::name::DomainName;

/// Default overall deadline for one DHCP exchange (`--dhcp-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the access-network domain of an (interface, family) pair came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DomainSource {
    /// Local configuration (RFC 7286 §3.1.1).
    Config,
    /// DHCPv4 option 213 (RFC 5986 §3.2).
    Dhcpv4,
    /// DHCPv4 option 15, used because 213 was absent (RFC 7286 §3.1.2, RFC 5986 §3.4).
    Dhcpv4Option15,
    /// DHCPv6 option 57 (RFC 5986 §3.3).
    Dhcpv6,
    /// A lease file of the OS DHCP client.
    Lease,
}

impl DomainSource {
    /// The stable identifier used in JSON output (`config`, `dhcpv4`, `dhcpv4-option15`, `dhcpv6`,
    /// `lease`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Dhcpv4 => "dhcpv4",
            Self::Dhcpv4Option15 => "dhcpv4-option15",
            Self::Dhcpv6 => "dhcpv6",
            Self::Lease => "lease",
        }
    }
}

impl fmt::Display for DomainSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain learned from DHCP or a lease file, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedDomain {
    /// The access-network domain (a validated, non-root FQDN).
    pub domain: DomainName,
    /// Which source supplied it.
    pub source: DomainSource,
    /// Human-readable detail: the server that answered, or the lease file and option read.
    pub detail: String,
}

/// Settings shared by the DHCPv4 and DHCPv6 clients.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Overall deadline for the exchange, retransmissions included (RFC 2131 §4.1 and RFC 8415
    /// §15 leave the total open for INFORM / Information-request; a CLI needs a bound).
    pub timeout: Duration,
    /// Send to this server instead of broadcasting (DHCPv4) or multicasting to
    /// All_DHCP_Relay_Agents_and_Servers (DHCPv6).
    pub server: Option<std::net::IpAddr>,
    /// Local UDP port: 68 for DHCPv4 and 546 for DHCPv6 unless overridden (RFC 2131 §4.1,
    /// RFC 8415 §7.2). An override (e.g. 0 for an ephemeral port) only works with servers that
    /// answer the source port, such as dnsmasq for INFORM (DHCP-LAB-NOTES §2.1).
    pub client_port: Option<u16>,
    /// Server UDP port: 67 / 547 unless overridden.
    pub server_port: Option<u16>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            server: None,
            client_port: None,
            server_port: None,
        }
    }
}

/// One line of the DHCP trace (`--trace`): what happened, when, relative to the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// Time since the exchange started.
    pub at: Duration,
    /// What happened.
    pub what: String,
}

/// A DHCP exchange's trace.
#[derive(Debug, Clone)]
pub struct Trace {
    start: Instant,
    events: Vec<TraceEvent>,
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

impl Trace {
    /// Starts an empty trace now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Records an event.
    pub fn push(&mut self, what: impl Into<String>) {
        let what = what.into();
        tracing::debug!(target: "altodisc::dhcp", "{what}");
        self.events.push(TraceEvent {
            at: self.start.elapsed(),
            what,
        });
    }

    /// The events so far.
    #[must_use]
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }
}

/// Why no domain was obtained over DHCP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// The client port could not be bound for lack of privilege.
    #[error(
        "cannot bind UDP port {port} on {interface}: {source}; a DHCP client port below 1024 needs \
         CAP_NET_BIND_SERVICE (run as root or `setcap cap_net_bind_service=ep` on the binary), or \
         read the OS DHCP client's lease instead with --from-lease auto|FILE"
    )]
    Privilege {
        /// The port.
        port: u16,
        /// The interface.
        interface: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another socket error.
    #[error("{context} on {interface}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The interface.
        interface: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The interface is unknown, down, or lacks the address the exchange needs.
    #[error("{0}")]
    Interface(String),
    /// No acceptable reply before the deadline. `ignored` lists replies that were discarded.
    #[error("no DHCP reply within {timeout:?} ({sent} transmission(s){})", ignored_suffix(.ignored))]
    Timeout {
        /// The deadline.
        timeout: Duration,
        /// Transmissions sent.
        sent: u32,
        /// Why each discarded reply was discarded.
        ignored: Vec<String>,
    },
    /// A reply was accepted but carried no usable domain (e.g. option 57 absent: RFC 7286 §3.1.2
    /// then says discovery fails for the interface).
    #[error("{0}")]
    NoDomain(String),
    /// A reply was accepted but its access-domain option is invalid (RFC 5986 §3.1).
    #[error("{0}")]
    InvalidOption(String),
    /// A message could not be encoded.
    #[error("cannot encode the DHCP message: {0}")]
    Encode(String),
}

fn ignored_suffix(ignored: &[String]) -> String {
    if ignored.is_empty() {
        String::new()
    } else {
        format!("; ignored: {}", ignored.join("; "))
    }
}

impl DhcpError {
    /// True when a retry later may help (no answer yet), as opposed to an answer that lacks the
    /// option or a local problem.
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

/// Hex dump for traces and diagnostics.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex text (whitespace ignored) to octets: packet captures in the v4/v6 unit tests.
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
