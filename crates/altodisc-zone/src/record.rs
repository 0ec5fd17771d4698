//! Zone data as the rest of the workspace sees it: records with owner, TTL, type and
//! uncompressed wire RDATA (RFC 3597 §5 generic form), and where each record came from.
//!
//! Both producers of zone data build these: the master-file reader (zone files, RFC 1035 §5) and the
//! publishing config (operator intent turned into records). The checker and the responder consume
//! them, so one type carries positions for diagnostics and bytes for serving.

use std::sync::Arc;

use altodisc_proto::DomainName;

/// RR type numbers used across the workspace (IANA "Resource Record (RR) TYPEs").
pub mod rtype {
    /// IPv4 address (RFC 1035).
    pub const A: u16 = 1;
    /// Authoritative name server (RFC 1035).
    pub const NS: u16 = 2;
    /// Canonical name (RFC 1035).
    pub const CNAME: u16 = 5;
    /// Start of authority (RFC 1035).
    pub const SOA: u16 = 6;
    /// Domain name pointer (RFC 1035).
    pub const PTR: u16 = 12;
    /// Mail exchange (RFC 1035).
    pub const MX: u16 = 15;
    /// Text strings (RFC 1035).
    pub const TXT: u16 = 16;
    /// IPv6 address (RFC 3596).
    pub const AAAA: u16 = 28;
    /// Service location (RFC 2782).
    pub const SRV: u16 = 33;
    /// Naming authority pointer (RFC 3403).
    pub const NAPTR: u16 = 35;
    /// Delegation name (RFC 6672).
    pub const DNAME: u16 = 39;
    /// Delegation signer (RFC 4034).
    pub const DS: u16 = 43;
    /// DNSSEC signature (RFC 4034).
    pub const RRSIG: u16 = 46;
    /// Next secure (RFC 4034).
    pub const NSEC: u16 = 47;
    /// DNS public key (RFC 4034).
    pub const DNSKEY: u16 = 48;
    /// Hashed next secure (RFC 5155).
    pub const NSEC3: u16 = 50;
    /// NSEC3 parameters (RFC 5155).
    pub const NSEC3PARAM: u16 = 51;
    /// Child DS (RFC 7344).
    pub const CDS: u16 = 59;
    /// Child DNSKEY (RFC 7344).
    pub const CDNSKEY: u16 = 60;
    /// Service binding (RFC 9460).
    pub const SVCB: u16 = 64;
    /// HTTPS service binding (RFC 9460).
    pub const HTTPS: u16 = 65;
    /// Certification authority authorization (RFC 8659).
    pub const CAA: u16 = 257;
}

/// The Internet class (RFC 1035 §3.2.4).
pub const CLASS_IN: u16 = 1;

/// A place in a source file (1-based line and column; column counts bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// The file as given to the reader (shared between all records of the file).
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// Owner name, absolute.
    pub owner: DomainName,
    /// TTL in seconds.
    pub ttl: u32,
    /// Class, normally [`CLASS_IN`].
    pub class: u16,
    /// RR type number (see [`rtype`]).
    pub rtype: u16,
    /// RDATA in uncompressed wire form.
    pub rdata: Vec<u8>,
    /// Where the record starts (its owner field, or the first field if the owner was inherited);
    /// `None` for generated records.
    pub position: Option<Position>,
    /// Position of each RDATA field in presentation order (for NAPTR: ORDER, PREFERENCE, FLAGS,
    /// SERVICES, REGEXP, REPLACEMENT); empty for generated records.
    pub rdata_positions: Vec<Position>,
}

/// One zone: its origin (apex) and its records, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The apex name.
    pub origin: DomainName,
    /// The records.
    pub records: Vec<ZoneRecord>,
}
