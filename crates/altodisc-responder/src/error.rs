//! Errors of the responder crate.

use std::path::PathBuf;

use altodisc_zone::record::Position;

fn pos(p: Option<&Position>) -> String {
    crate::index::position_prefix(p)
}

/// Why zone data cannot be indexed. Positions say where the record came from (file:line), when it
/// came from a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A name hickory cannot represent.
    #[error("bad name {name}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A record whose owner is not at or below the zone origin (RFC 1035 §5.2).
    #[error("{}owner {owner} is outside the zone {origin}", pos(.at.as_ref()))]
    OutOfZone {
        /// The owner.
        owner: String,
        /// The origin.
        origin: String,
        /// Where.
        at: Option<Position>,
    },
    /// Only class IN is served.
    #[error("{}class {class} is not served (only IN)", pos(.at.as_ref()))]
    Class {
        /// The class number.
        class: u16,
        /// Where.
        at: Option<Position>,
    },
    /// An SOA below the apex.
    #[error("{}SOA at {owner}, which is not the zone apex", pos(.at.as_ref()))]
    SoaNotAtApex {
        /// The owner.
        owner: String,
        /// Where.
        at: Option<Position>,
    },
    /// A second SOA record (RFC 1035 §5.2: exactly one).
    #[error("{}second SOA record in the zone", pos(.at.as_ref()))]
    DuplicateSoa {
        /// Where.
        at: Option<Position>,
    },
    /// No SOA at the apex: negative answers would carry no negative TTL (RFC 2308 §3).
    #[error("zone {origin} has no SOA record at its apex")]
    NoSoa {
        /// The origin.
        origin: String,
    },
    /// CNAME beside other data at one owner (RFC 1034 §3.6.2, RFC 2181 §10.1).
    #[error("{}{owner} has a CNAME and other data", pos(.at.as_ref()))]
    CnameAndOtherData {
        /// The owner.
        owner: String,
        /// Where the CNAME is.
        at: Option<Position>,
    },
    /// RDATA over 65535 octets.
    #[error("{}RDATA of {len} octets is too long", pos(.at.as_ref()))]
    RdataTooLong {
        /// Its length.
        len: usize,
        /// Where.
        at: Option<Position>,
    },
    /// RDATA that does not decode as its type.
    #[error("{}RDATA of type {rtype} does not decode: {reason}", pos(.at.as_ref()))]
    Rdata {
        /// The type number.
        rtype: u16,
        /// Why.
        reason: String,
        /// Where.
        at: Option<Position>,
    },
    /// A zone whose names or RDATA exceed the index's 32-bit offsets (over 4 GiB).
    #[error("{}zone {origin} is too large to index", pos(.at.as_ref()))]
    TooLarge {
        /// The origin.
        origin: String,
        /// Where.
        at: Option<Position>,
    },
    /// Two zones with the same origin.
    #[error("zone {origin} is loaded twice")]
    DuplicateZone {
        /// The origin.
        origin: String,
    },
}

/// Why the responder cannot load its zones or start serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResponderError {
    /// Zone data that cannot be indexed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A zone file that does not parse (the reader's message carries file:line).
    #[error("{0}")]
    ZoneFile(String),
    /// The publishing config is invalid.
    #[error("{0}")]
    Config(String),
    /// Reading a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Binding a listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Nothing to serve.
    #[error("no zones to serve: {0}")]
    NoZones(String),
    /// The zones load, but the altodisc-zone checker reports errors (rules Z1–Z24).
    #[error("the zone checker found {} error(s), first: {}", .errors.len(), .errors.first().map_or("", String::as_str))]
    Check {
        /// Every error diagnostic, formatted with its position.
        errors: Vec<String>,
    },
}

impl ResponderError {
    /// Whether the error is in the zone data or configuration (as opposed to the system).
    #[must_use]
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            Self::Index(_)
                | Self::ZoneFile(_)
                | Self::Config(_)
                | Self::NoZones(_)
                | Self::Check { .. }
        )
    }
}
