//! RDATA of every RR type the zone tools handle: the type table (mnemonics, RFC 3597 `TYPEnnn`),
//! the DNSSEC mnemonics of RFC 4034 appendix A.1, a wire-format validator per type
//! ([`validate_wire`]) and the one presentation writer ([`presentation`]) that `render`, `sign` and
//! any record-to-text path use.
//!
//! ```text
//!   zone text ──reader (reader/rdata_text.rs, per-field positions)──▶ wire RDATA
//!   wire RDATA ──validate_wire──▶ Ok / WireError (offset)      (generic `\#` data, checkers)
//!   wire RDATA ──presentation──▶ text that BIND, NSD, Knot and ldns read back to the same octets
//! ```
//!
//! Each type's RDATA is described once, as a list of `Field`s; the text parser, the wire
//! validator and the writer all walk that list, so the three cannot drift apart.
//!
//! Why not hickory-proto's `RData` for this: its text output is what peers misread — `Display`
//! writes label octets in octal (`\377`, which BIND refuses and NSD reads as another name) and TXT
//! without quotes (`apex text` re-reads as two strings), both seen in `altodisc sign` output
//! before it used this writer; its text parser gives no per-field file:line:col; what its decoders
//! accept is hickory's choice, while what a zone file means is what BIND, NSD and Knot read. So
//! the formats here follow the peers' readers (BIND 9 `lib/dns/rdata/`, Knot's zscanner, NSD's
//! `zonec`), each citing the RFC that defines the type, and the tests compare with the peers.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use altodisc_proto::DomainName;

use crate::record::rtype;

/// One field of a type's RDATA, in presentation (and, except where noted, wire) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// 8-bit unsigned decimal.
    U8,
    /// 16-bit unsigned decimal.
    U16,
    /// 32-bit unsigned decimal.
    U32,
    /// 32-bit seconds; the text may use TTL units (`1h`, BIND style; SOA timers, RRSIG TTL).
    Period,
    /// DNSSEC algorithm: number or RFC 4034 A.1 mnemonic (`RSASHA1`, `ECDSAP256SHA256`).
    Alg,
    /// DS digest type: number or mnemonic (`SHA-1`, `SHA-256`, `GOST`, `SHA-384`).
    Digest,
    /// CERT type: number or RFC 4398 §2.1 mnemonic (`PKIX`, `PGP`, …).
    CertType,
    /// A domain name (uncompressed in RDATA).
    Name,
    /// One `<character-string>` (RFC 1035 §3.3).
    Str,
    /// One or more character-strings, to the end.
    Strs,
    /// Zero or one character-string, last (ISDN subaddress).
    OptStr,
    /// IPv4 address (4 octets).
    Ipv4,
    /// IPv6 address (16 octets).
    Ipv6,
    /// Hex to the end, at least one octet; spaces allowed between tokens.
    Hex,
    /// Base64 to the end, at least one octet.
    Base64,
    /// Base64 to the end, possibly empty (KEY with no key, IPSECKEY without a key).
    Base64Opt,
    /// RFC 4034 §4.1.2 type bitmap, to the end.
    Bitmap,
    /// RFC 2535 §5.2 NXT bitmap (types 1-127), to the end.
    NxtBitmap,
    /// A type number written as its mnemonic (RRSIG/SIG TYPE COVERED).
    Covered,
    /// RRSIG time: `YYYYMMDDHHmmSS` or seconds (RFC 4034 §3.2).
    Time,
    /// NSEC3 salt: length octet + octets; text `-` or hex (RFC 5155 §3.3).
    Salt,
    /// NSEC3 next hashed owner: length octet + octets; text base32hex (RFC 5155 §3.3).
    NextHash,
    /// CAA tag: length octet + letters and digits (RFC 8659 §4.1).
    CaaTag,
    /// The rest of the RDATA as one string without a length octet (CAA value, URI target).
    Rest,
    /// EUI-48 `xx-xx-xx-xx-xx-xx` (RFC 7043 §3.2).
    Eui48,
    /// EUI-64 `xx-xx-xx-xx-xx-xx-xx-xx` (RFC 7043 §4.2).
    Eui64,
    /// 64-bit locator / node ID `xxxx:xxxx:xxxx:xxxx` (RFC 6742 §2.1).
    L64,
    /// NSAP address `0x` + hex, dots allowed (RFC 1706 §5).
    Nsap,
    /// APL items to the end (RFC 3123 §4).
    Apl,
    /// SVCB/HTTPS SvcParams to the end (RFC 9460 §2.2).
    SvcParams,
    /// WKS protocol and service bitmap (RFC 1035 §3.4.2).
    Wks,
    /// Whole LOC RDATA (RFC 1876 §3).
    Loc,
    /// IPSECKEY gateway type, algorithm, gateway and key (RFC 4025 §3).
    IpsecKey,
    /// Whole HIP RDATA (RFC 8005 §5).
    Hip,
    /// DOA data: base64, `-` for none (draft-durand-doa-over-dns §3).
    DoaData,
    /// AMTRELAY discovery-optional bit, type and relay (RFC 8777 §4).
    AmtRelay,
    /// ATMA format and address: `+E.164` digits or NSAP hex (ATM Forum af-dans-0152.000).
    Atma,
    /// A6 prefix length, address suffix and prefix name (RFC 2874 §3.1).
    A6,
    /// DSYNC scheme: number or `NOTIFY` (RFC 9859 §2).
    DsyncScheme,
}

use Field as F;

/// A known type: its mnemonic, number, RDATA layout (`None`: no presentation form here, the RFC
/// 3597 generic form only, any octets accepted), and whether the writer uses the mnemonic and the
/// native form (only where BIND, NSD and Knot all read it; otherwise `TYPEnnn \# …`).
struct TypeInfo {
    name: &'static str,
    number: u16,
    fields: Option<&'static [Field]>,
    native_out: bool,
}

const fn t(
    name: &'static str,
    number: u16,
    fields: Option<&'static [Field]>,
    native_out: bool,
) -> TypeInfo {
    TypeInfo {
        name,
        number,
        fields,
        native_out,
    }
}

const NAME: &[Field] = &[F::Name];
const PREF_NAME: &[Field] = &[F::U16, F::Name];
const TWO_NAMES: &[Field] = &[F::Name, F::Name];
const STRS: &[Field] = &[F::Strs];
const DS: &[Field] = &[F::U16, F::Alg, F::Digest, F::Hex];
const DNSKEY: &[Field] = &[F::U16, F::U8, F::Alg, F::Base64];
const KEY: &[Field] = &[F::U16, F::U8, F::Alg, F::Base64Opt];
const RRSIG: &[Field] = &[
    F::Covered,
    F::Alg,
    F::U8,
    F::Period,
    F::Time,
    F::Time,
    F::U16,
    F::Name,
    F::Base64,
];
const SVCB: &[Field] = &[F::U16, F::Name, F::SvcParams];
const L64: &[Field] = &[F::U16, F::L64];

/// IANA RR TYPEs the tools know by name (RFC 3597 §5 `TYPEnnn` covers the rest).
const TYPES: &[TypeInfo] = &[
    t("A", rtype::A, Some(&[F::Ipv4]), true),
    t("NS", rtype::NS, Some(NAME), true),
    t("MD", 3, Some(NAME), false),
    t("MF", 4, Some(NAME), false),
    t("CNAME", rtype::CNAME, Some(NAME), true),
    t(
        "SOA",
        rtype::SOA,
        Some(&[
            F::Name,
            F::Name,
            F::U32,
            F::Period,
            F::Period,
            F::Period,
            F::Period,
        ]),
        true,
    ),
    t("MB", 7, Some(NAME), false),
    t("MG", 8, Some(NAME), false),
    t("MR", 9, Some(NAME), false),
    t("NULL", 10, None, false),
    t("WKS", 11, Some(&[F::Ipv4, F::Wks]), false),
    t("PTR", rtype::PTR, Some(NAME), true),
    t("HINFO", 13, Some(&[F::Str, F::Str]), true),
    t("MINFO", 14, Some(TWO_NAMES), true),
    t("MX", rtype::MX, Some(PREF_NAME), true),
    t("TXT", rtype::TXT, Some(STRS), true),
    t("RP", 17, Some(TWO_NAMES), true),
    t("AFSDB", 18, Some(PREF_NAME), true),
    t("X25", 19, Some(&[F::Str]), false),
    t("ISDN", 20, Some(&[F::Str, F::OptStr]), false),
    t("RT", 21, Some(PREF_NAME), true),
    t("NSAP", 22, Some(&[F::Nsap]), false),
    t("NSAP-PTR", 23, Some(NAME), false),
    t("SIG", 24, Some(RRSIG), false),
    t("KEY", 25, Some(KEY), true),
    t("PX", 26, Some(&[F::U16, F::Name, F::Name]), false),
    t("GPOS", 27, Some(&[F::Str, F::Str, F::Str]), false),
    t("AAAA", rtype::AAAA, Some(&[F::Ipv6]), true),
    t("LOC", 29, Some(&[F::Loc]), true),
    t("NXT", 30, Some(&[F::Name, F::NxtBitmap]), false),
    t("EID", 31, Some(&[F::Hex]), false),
    t("NIMLOC", 32, Some(&[F::Hex]), false),
    t(
        "SRV",
        rtype::SRV,
        Some(&[F::U16, F::U16, F::U16, F::Name]),
        true,
    ),
    t(
        "NAPTR",
        rtype::NAPTR,
        Some(&[F::U16, F::U16, F::Str, F::Str, F::Str, F::Name]),
        true,
    ),
    t("ATMA", 34, Some(&[F::Atma]), false),
    t("KX", 36, Some(PREF_NAME), true),
    t(
        "CERT",
        37,
        Some(&[F::CertType, F::U16, F::Alg, F::Base64]),
        true,
    ),
    t("A6", 38, Some(&[F::A6]), false),
    t("DNAME", rtype::DNAME, Some(NAME), true),
    // SINK: BIND reads `meaning coding subcoding data`, NSD `coding subcoding data`; with no
    // common text form it is read in the generic form only.
    t("SINK", 40, None, false),
    t("APL", 42, Some(&[F::Apl]), true),
    t("DS", rtype::DS, Some(DS), true),
    t("SSHFP", 44, Some(&[F::U8, F::U8, F::Hex]), true),
    t("IPSECKEY", 45, Some(&[F::U8, F::IpsecKey]), true),
    t("RRSIG", rtype::RRSIG, Some(RRSIG), true),
    t("NSEC", rtype::NSEC, Some(&[F::Name, F::Bitmap]), true),
    t("DNSKEY", rtype::DNSKEY, Some(DNSKEY), true),
    t("DHCID", 49, Some(&[F::Base64]), true),
    t(
        "NSEC3",
        rtype::NSEC3,
        Some(&[F::U8, F::U8, F::U16, F::Salt, F::NextHash, F::Bitmap]),
        true,
    ),
    t(
        "NSEC3PARAM",
        rtype::NSEC3PARAM,
        Some(&[F::U8, F::U8, F::U16, F::Salt]),
        true,
    ),
    t("TLSA", 52, Some(&[F::U8, F::U8, F::U8, F::Hex]), true),
    t("SMIMEA", 53, Some(&[F::U8, F::U8, F::U8, F::Hex]), true),
    t("HIP", 55, Some(&[F::Hip]), false),
    t("NINFO", 56, Some(STRS), false),
    t("RKEY", 57, Some(DNSKEY), false),
    t("TALINK", 58, Some(TWO_NAMES), false),
    t("CDS", rtype::CDS, Some(DS), true),
    t("CDNSKEY", rtype::CDNSKEY, Some(DNSKEY), true),
    t("OPENPGPKEY", 61, Some(&[F::Base64]), true),
    t("CSYNC", 62, Some(&[F::U32, F::U16, F::Bitmap]), true),
    t("ZONEMD", 63, Some(&[F::U32, F::U8, F::U8, F::Hex]), true),
    t("SVCB", rtype::SVCB, Some(SVCB), true),
    t("HTTPS", rtype::HTTPS, Some(SVCB), true),
    t(
        "DSYNC",
        66,
        Some(&[F::Covered, F::DsyncScheme, F::U16, F::Name]),
        false,
    ),
    t("HHIT", 67, Some(&[F::Base64]), false),
    t("BRID", 68, Some(&[F::Base64]), false),
    t("SPF", 99, Some(STRS), true),
    t("UINFO", 100, Some(&[F::Str]), false),
    t("UID", 101, Some(&[F::U32]), false),
    t("GID", 102, Some(&[F::U32]), false),
    t("UNSPEC", 103, None, false),
    t("NID", 104, Some(L64), true),
    t("L32", 105, Some(&[F::U16, F::Ipv4]), true),
    t("L64", 106, Some(L64), true),
    t("LP", 107, Some(PREF_NAME), true),
    t("EUI48", 108, Some(&[F::Eui48]), true),
    t("EUI64", 109, Some(&[F::Eui64]), true),
    t("URI", 256, Some(&[F::U16, F::U16, F::Rest]), true),
    t("CAA", rtype::CAA, Some(&[F::U8, F::CaaTag, F::Rest]), true),
    t("AVC", 258, Some(STRS), false),
    t(
        "DOA",
        259,
        Some(&[F::U32, F::U32, F::U8, F::Str, F::DoaData]),
        false,
    ),
    t("AMTRELAY", 260, Some(&[F::U8, F::AmtRelay]), false),
    t("RESINFO", 261, Some(STRS), false),
    t("WALLET", 262, Some(STRS), false),
    t("TA", 32768, Some(DS), false),
    t("DLV", 32769, Some(DS), false),
];

fn info(rrtype: u16) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|i| i.number == rrtype)
}

/// The RDATA layout of a type, `None` when it has no presentation form here.
pub(crate) fn fields_of(rrtype: u16) -> Option<&'static [Field]> {
    info(rrtype).and_then(|i| i.fields)
}

/// Whether the type has a name in the table.
pub(crate) fn is_known(rrtype: u16) -> bool {
    info(rrtype).is_some()
}

fn parse_u16_digits(d: &[u8]) -> Option<u16> {
    if d.is_empty() || d.len() > 5 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = d.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    u16::try_from(v).ok()
}

/// The number of a type mnemonic or `TYPEnnn` (case-insensitive), `None` if unknown.
#[must_use]
pub fn type_number(word: &[u8]) -> Option<u16> {
    // This runs once per record of a zone file: the common types are found without scanning
    // the table (`common_types_agree_with_the_table` keeps the two in step).
    if let Some(n) = common_type_number(word) {
        return Some(n);
    }
    table_type_number(word)
}

/// The most frequent mnemonics of zone files, uppercased on the stack.
fn common_type_number(word: &[u8]) -> Option<u16> {
    let mut up = [0u8; 6];
    let w = up.get_mut(..word.len())?;
    for (u, b) in w.iter_mut().zip(word) {
        *u = b.to_ascii_uppercase();
    }
    Some(match &*w {
        b"A" => rtype::A,
        b"NS" => rtype::NS,
        b"CNAME" => rtype::CNAME,
        b"SOA" => rtype::SOA,
        b"PTR" => rtype::PTR,
        b"MX" => rtype::MX,
        b"TXT" => rtype::TXT,
        b"AAAA" => rtype::AAAA,
        b"SRV" => rtype::SRV,
        b"NAPTR" => rtype::NAPTR,
        b"DS" => rtype::DS,
        b"RRSIG" => rtype::RRSIG,
        b"NSEC" => rtype::NSEC,
        b"DNSKEY" => rtype::DNSKEY,
        b"NSEC3" => rtype::NSEC3,
        _ => return None,
    })
}

fn table_type_number(word: &[u8]) -> Option<u16> {
    if let Some(i) = TYPES
        .iter()
        .find(|i| word.eq_ignore_ascii_case(i.name.as_bytes()))
    {
        return Some(i.number);
    }
    if word.len() > 4 && word[..4].eq_ignore_ascii_case(b"TYPE") {
        return parse_u16_digits(&word[4..]);
    }
    None
}

/// The mnemonic of a type number, or `TYPEnnn` (RFC 3597 §5).
#[must_use]
pub fn type_name(rrtype: u16) -> String {
    info(rrtype).map_or_else(|| format!("TYPE{rrtype}"), |i| i.name.to_owned())
}

/// The type as the writer names it: the mnemonic where all peers know it, else `TYPEnnn`.
fn written_type_name(rrtype: u16) -> String {
    match info(rrtype) {
        Some(i) if i.native_out => i.name.to_owned(),
        _ => format!("TYPE{rrtype}"),
    }
}

/// DNSSEC algorithm mnemonics (RFC 4034 A.1, RFC 5155 §2, RFC 5702, RFC 6605, RFC 8080).
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// DS digest type mnemonics (RFC 4034 A.2, RFC 4509, RFC 5933, RFC 6605), as BIND spells them.
const DIGESTS: &[(&str, u8)] = &[
    ("SHA-1", 1),
    ("SHA1", 1),
    ("SHA-256", 2),
    ("SHA256", 2),
    ("GOST", 3),
    ("SHA-384", 4),
    ("SHA384", 4),
];

/// CERT types (RFC 4398 §2.1).
const CERT_TYPES: &[(&str, u16)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// An algorithm number from a decimal or a mnemonic.
pub(crate) fn algorithm_number(word: &[u8]) -> Option<u8> {
    ALGORITHMS
        .iter()
        .find(|(m, _)| word.eq_ignore_ascii_case(m.as_bytes()))
        .map(|(_, n)| *n)
}

/// A digest type number from a mnemonic.
pub(crate) fn digest_number(word: &[u8]) -> Option<u8> {
    DIGESTS
        .iter()
        .find(|(m, _)| word.eq_ignore_ascii_case(m.as_bytes()))
        .map(|(_, n)| *n)
}

/// A CERT type number from a mnemonic.
pub(crate) fn cert_type_number(word: &[u8]) -> Option<u16> {
    CERT_TYPES
        .iter()
        .find(|(m, _)| word.eq_ignore_ascii_case(m.as_bytes()))
        .map(|(_, n)| *n)
}

/// SVCB SvcParamKey names (RFC 9460 §14.3.2, RFC 9461 §5, RFC 9540 §4).
const SVC_KEYS: &[(&str, u16)] = &[
    ("mandatory", 0),
    ("alpn", 1),
    ("no-default-alpn", 2),
    ("port", 3),
    ("ipv4hint", 4),
    ("ech", 5),
    ("ipv6hint", 6),
    ("dohpath", 7),
    ("ohttp", 8),
];

/// An SvcParamKey from its name or `keyNNNN` (RFC 9460 §2.1); 65535 is reserved.
pub(crate) fn svc_key_number(word: &[u8]) -> Option<u16> {
    if let Some((_, n)) = SVC_KEYS
        .iter()
        .find(|(m, _)| word.eq_ignore_ascii_case(m.as_bytes()))
    {
        return Some(*n);
    }
    if word.len() > 3 && word[..3].eq_ignore_ascii_case(b"key") {
        return parse_u16_digits(&word[3..]).filter(|&k| k != u16::MAX);
    }
    None
}

pub(crate) fn svc_key_name(key: u16) -> String {
    SVC_KEYS
        .iter()
        .find(|(_, n)| *n == key)
        .map_or_else(|| format!("key{key}"), |(m, _)| (*m).to_owned())
}

// ---------------------------------------------------------------------------------------------
// Wire validation and presentation

/// Wire RDATA that does not match its type's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("at RDATA octet {offset}: {message}")]
pub struct WireError {
    /// Octet offset in the RDATA where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

type WResult<T> = Result<T, WireError>;

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
    /// Cleared when the data is valid but its text form would read back to other octets (a LOC
    /// precision `0e1` reads back as `0e0`, a WKS bitmap with trailing zero octets loses them):
    /// the writer then uses the generic form.
    exact: bool,
}

impl<'a> Cursor<'a> {
    fn err<T>(&self, message: impl Into<String>) -> WResult<T> {
        Err(WireError {
            offset: self.at,
            message: message.into(),
        })
    }

    fn left(&self) -> usize {
        self.data.len().saturating_sub(self.at)
    }

    fn take(&mut self, n: usize, what: &str) -> WResult<&'a [u8]> {
        match self
            .at
            .checked_add(n)
            .and_then(|e| self.data.get(self.at..e))
        {
            Some(s) => {
                self.at += n;
                Ok(s)
            }
            None => self.err(format!("{what} is cut short ({n} octets needed)")),
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = self.data.get(self.at..).unwrap_or(&[]);
        self.at = self.data.len();
        s
    }

    fn u8(&mut self, what: &str) -> WResult<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> WResult<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> WResult<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> WResult<DomainName> {
        let rest = self.data.get(self.at..).unwrap_or(&[]);
        match DomainName::from_wire(rest) {
            Ok((n, used)) => {
                self.at += used;
                Ok(n)
            }
            Err(e) => self.err(format!("invalid domain name: {e}")),
        }
    }

    fn string(&mut self) -> WResult<&'a [u8]> {
        let len = self.u8("character-string length")?;
        self.take(usize::from(len), "character-string")
    }
}

/// Checks that `rdata` is well-formed wire RDATA of `rrtype` (RFC 3597 §5: generic data for a
/// known type must be that type's RDATA). Types without a layout here accept any octets.
///
/// # Errors
/// [`WireError`] with the offset of the first octet that does not fit.
pub fn validate_wire(rrtype: u16, rdata: &[u8]) -> Result<(), WireError> {
    match fields_of(rrtype) {
        Some(fields) => decode(rrtype, fields, rdata).map(drop),
        None => Ok(()),
    }
}

/// The RDATA as presentation text in `rrtype`'s native form, or `None` when the type has no
/// native form or the data does not decode (callers then write the generic form).
#[must_use]
pub fn native_text(rrtype: u16, rdata: &[u8]) -> Option<String> {
    decode(rrtype, fields_of(rrtype)?, rdata)
        .ok()
        .and_then(|(text, exact)| exact.then_some(text))
}

/// `(type as written, RDATA text)` for one record: the mnemonic and native form where the type
/// has one that BIND, NSD and Knot all read and the data decodes; otherwise `TYPEnnn` and the RFC
/// 3597 §5 generic form `\# <len> <hex>`, which all of them accept for any type.
#[must_use]
pub fn presentation(rrtype: u16, rdata: &[u8]) -> (String, String) {
    // A KEY without key material (flags, protocol, algorithm only): BIND reads the text form
    // but NSD and Knot refuse it, while all three read the generic form.
    let keyless_key = rrtype == 25 && rdata.len() == 4;
    if info(rrtype).is_some_and(|i| i.native_out)
        && !keyless_key
        && let Some(text) = native_text(rrtype, rdata)
    {
        return (written_type_name(rrtype), text);
    }
    (format!("TYPE{rrtype}"), generic_text(rdata))
}

/// RFC 3597 §5: `\# <length> <hex>`.
#[must_use]
pub fn generic_text(rdata: &[u8]) -> String {
    let mut s = format!("\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        s.push_str(&encode_hex(rdata));
    }
    s
}

/// Walks `fields` over `rdata`, checking each and writing the presentation text.
/// Returns the text and whether it reads back to exactly `rdata`.
fn decode(rrtype: u16, fields: &[Field], rdata: &[u8]) -> WResult<(String, bool)> {
    let mut c = Cursor {
        data: rdata,
        at: 0,
        exact: true,
    };
    let mut parts: Vec<String> = Vec::with_capacity(fields.len());
    for &f in fields {
        let part = decode_field(f, &mut c)?;
        if !part.is_empty() {
            parts.push(part);
        }
    }
    if c.left() > 0 {
        return c.err(format!("{} octets left over after the RDATA", c.left()));
    }
    check_semantics(rrtype, rdata).map_err(|(offset, message)| WireError { offset, message })?;
    Ok((parts.join(" "), c.exact))
}

fn decode_field(f: Field, c: &mut Cursor<'_>) -> WResult<String> {
    Ok(match f {
        F::U8 | F::Alg | F::Digest | F::DsyncScheme => c.u8("8-bit field")?.to_string(),
        F::U16 | F::CertType => c.u16("16-bit field")?.to_string(),
        F::U32 | F::Period => c.u32("32-bit field")?.to_string(),
        F::Covered => written_type_name(c.u16("type covered")?),
        F::Time => sig_time_text(c.u32("signature time")?),
        F::Name => c.name()?.to_string(),
        F::Str => quote(c.string()?),
        F::Strs => {
            if c.left() == 0 {
                return c.err("at least one character-string is needed");
            }
            let mut v = Vec::new();
            while c.left() > 0 {
                v.push(quote(c.string()?));
            }
            v.join(" ")
        }
        F::OptStr => {
            if c.left() > 0 {
                quote(c.string()?)
            } else {
                String::new()
            }
        }
        F::Ipv4 => {
            let b = c.take(4, "IPv4 address")?;
            Ipv4Addr::from([b[0], b[1], b[2], b[3]]).to_string()
        }
        F::Ipv6 => {
            let b: [u8; 16] = c
                .take(16, "IPv6 address")?
                .try_into()
                .map_err(|_| WireError {
                    offset: c.at,
                    message: "IPv6 address".into(),
                })?;
            Ipv6Addr::from(b).to_string()
        }
        F::Hex => {
            let b = c.rest();
            if b.is_empty() {
                return c.err("hex data is empty");
            }
            encode_hex(b)
        }
        F::Base64 | F::Base64Opt => {
            let b = c.rest();
            if b.is_empty() && f == F::Base64 {
                return c.err("base64 data is empty");
            }
            encode_base64(b)
        }
        F::Bitmap => {
            let start = c.at;
            let types = decode_type_bitmap(c.rest()).map_err(|(o, m)| WireError {
                offset: start + o,
                message: m,
            })?;
            types
                .into_iter()
                .map(written_type_name)
                .collect::<Vec<_>>()
                .join(" ")
        }
        F::NxtBitmap => {
            let b = c.rest();
            if b.len() > 16 || b.last().is_some_and(|&x| x == 0) {
                return c.err("NXT bitmap over 16 octets or with a trailing zero octet");
            }
            if b.first().is_some_and(|&x| x & 0x80 != 0) {
                return c.err("NXT bitmap has bit 0 set (RFC 2535 §5.2)");
            }
            let mut v = Vec::new();
            for (i, &byte) in b.iter().enumerate() {
                for bit in 0..8u16 {
                    if byte & (0x80 >> bit) != 0 {
                        // i < 16, so the type is below 128.
                        let ty = u16::try_from(i).unwrap_or(0) * 8 + bit;
                        v.push(written_type_name(ty));
                    }
                }
            }
            v.join(" ")
        }
        F::Salt => {
            let s = c.string()?;
            if s.is_empty() {
                "-".to_owned()
            } else {
                encode_hex(s)
            }
        }
        F::NextHash => {
            let s = c.string()?;
            if s.is_empty() {
                return c.err("NSEC3 next hashed owner is empty");
            }
            encode_base32hex(s)
        }
        F::CaaTag => {
            let s = c.string()?;
            if s.is_empty() || !s.iter().all(u8::is_ascii_alphanumeric) {
                return c.err("CAA tag must be 1-255 letters and digits (RFC 8659 §4.1)");
            }
            String::from_utf8_lossy(s).into_owned()
        }
        F::Rest => quote(c.rest()),
        F::Eui48 => dashed_hex(c.take(6, "EUI-48")?),
        F::Eui64 => dashed_hex(c.take(8, "EUI-64")?),
        F::L64 => {
            let b = c.take(8, "64-bit locator")?;
            b.chunks_exact(2)
                .map(|p| format!("{:02x}{:02x}", p[0], p[1]))
                .collect::<Vec<_>>()
                .join(":")
        }
        F::Nsap => {
            let b = c.rest();
            if b.is_empty() {
                return c.err("NSAP address is empty");
            }
            format!("0x{}", encode_hex(b))
        }
        F::Apl => decode_apl(c)?,
        F::SvcParams => decode_svc_params(c)?,
        F::Wks => {
            let proto = c.u8("WKS protocol")?;
            let bits = c.rest();
            if bits.last() == Some(&0) {
                c.exact = false;
            }
            let mut v = vec![proto.to_string()];
            for (i, &byte) in bits.iter().enumerate() {
                for bit in 0..8usize {
                    if byte & (0x80 >> bit) != 0 {
                        v.push((i * 8 + bit).to_string());
                    }
                }
            }
            if bits.len() > 8192 {
                return c.err("WKS bitmap over 8192 octets");
            }
            v.join(" ")
        }
        F::Loc => decode_loc(c)?,
        F::IpsecKey => {
            let gw_type = c.u8("IPSECKEY gateway type")?;
            let alg = c.u8("IPSECKEY algorithm")?;
            let gw = match gw_type {
                0 => ".".to_owned(),
                1 => decode_field(F::Ipv4, c)?,
                2 => decode_field(F::Ipv6, c)?,
                3 => c.name()?.to_string(),
                _ => {
                    return c.err(format!(
                        "IPSECKEY gateway type {gw_type} is not 0-3 (RFC 4025 §2.3)"
                    ));
                }
            };
            let key = c.rest();
            let mut s = format!("{gw_type} {alg} {gw}");
            if !key.is_empty() {
                s.push(' ');
                s.push_str(&encode_base64(key));
            }
            s
        }
        F::DoaData => {
            let b = c.rest();
            if b.is_empty() {
                "-".to_owned()
            } else {
                encode_base64(b)
            }
        }
        F::AmtRelay => {
            let dt = c.u8("AMTRELAY type")?;
            let (d, ty) = (dt >> 7, dt & 0x7F);
            let relay = match ty {
                0 => ".".to_owned(),
                1 => decode_field(F::Ipv4, c)?,
                2 => decode_field(F::Ipv6, c)?,
                3 => c.name()?.to_string(),
                _ => return c.err(format!("AMTRELAY type {ty} is not 0-3 (RFC 8777 §4.2.3)")),
            };
            format!("{d} {ty} {relay}")
        }
        F::Atma => {
            let format = c.u8("ATMA format")?;
            let addr = c.rest();
            match format {
                0 if !addr.is_empty() => encode_hex(addr),
                1 if !addr.is_empty() && addr.iter().all(u8::is_ascii_digit) => {
                    format!("+{}", String::from_utf8_lossy(addr))
                }
                _ => {
                    return c.err("ATMA address is not NSAP (format 0) or E.164 digits (format 1)");
                }
            }
        }
        F::A6 => {
            let plen = c.u8("A6 prefix length")?;
            if plen > 128 {
                return c.err("A6 prefix length over 128 (RFC 2874 §3.1)");
            }
            let n = 16 - usize::from(plen) / 8;
            let suffix = c.take(n, "A6 address suffix")?;
            let mut full = [0u8; 16];
            full[16 - n..].copy_from_slice(suffix);
            let mut s = format!("{plen} {}", Ipv6Addr::from(full));
            if plen > 0 {
                s.push(' ');
                s.push_str(&c.name()?.to_string());
            }
            s
        }
        F::Hip => {
            let hit_len = c.u8("HIP HIT length")?;
            let alg = c.u8("HIP PK algorithm")?;
            let pk_len = c.u16("HIP PK length")?;
            if hit_len == 0 || pk_len == 0 {
                return c.err("HIP HIT and public key must not be empty (RFC 8005 §5)");
            }
            let hit = c.take(usize::from(hit_len), "HIP HIT")?;
            let pk = c.take(usize::from(pk_len), "HIP public key")?;
            let mut s = format!("{alg} {} {}", encode_hex(hit), encode_base64(pk));
            while c.left() > 0 {
                s.push(' ');
                s.push_str(&c.name()?.to_string());
            }
            s
        }
    })
}

/// Type-specific rules beyond the layout, shared by the text parser and the wire validator (what
/// BIND checks too): DS digest lengths, SSHFP fingerprint lengths, ZONEMD digest lengths.
/// Returns `(offset, message)`.
pub(crate) fn check_semantics(rrtype: u16, rdata: &[u8]) -> Result<(), (usize, String)> {
    let is_ds = matches!(rrtype, rtype::DS | rtype::CDS | 32768 | 32769);
    let expected = if is_ds {
        // RFC 4034 §5.1.4, RFC 4509 §2.2, RFC 5933 §2, RFC 6605 §2.
        rdata.get(3).and_then(|d| match d {
            1 => Some((20, 4)),
            2 | 3 => Some((32, 4)),
            4 => Some((48, 4)),
            _ => None,
        })
    } else if rrtype == 44 {
        // RFC 4255 §3.1.2, RFC 6594 §2.
        rdata.get(1).and_then(|d| match d {
            1 => Some((20, 2)),
            2 => Some((32, 2)),
            _ => None,
        })
    } else if rrtype == 63 {
        // RFC 8976 §2.2.4: SHA-384 48 octets, SHA-512 64; any digest at least 12.
        match rdata.get(5) {
            Some(1) => Some((48, 6)),
            Some(2) => Some((64, 6)),
            Some(_) if rdata.len() < 6 + 12 => {
                return Err((
                    6,
                    "ZONEMD digest shorter than 12 octets (RFC 8976 §2.2.4)".into(),
                ));
            }
            _ => None,
        }
    } else {
        None
    };
    if let Some((len, at)) = expected {
        let got = rdata.len().saturating_sub(at);
        if got != len {
            return Err((
                at,
                format!("digest of {got} octets; its digest type needs {len}"),
            ));
        }
    }
    Ok(())
}

/// A character-string in quotes: `"` and `\` escaped, octets outside printable ASCII as decimal
/// `\DDD` (RFC 1035 §5.1), so every peer reads back the same octets.
#[must_use]
pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

fn dashed_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Lower-case hex.
#[must_use]
pub fn encode_hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Standard base64 with padding (RFC 4648 §4).
#[must_use]
pub fn encode_base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Base32hex without padding, upper case (RFC 4648 §7, as RFC 5155 §3.3 prints it).
#[must_use]
pub fn encode_base32hex(b: &[u8]) -> String {
    const A: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let mut s = String::new();
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &x in b {
        acc = (acc << 8) | u64::from(x);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            s.push(char::from(A[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        s.push(char::from(A[((acc << (5 - bits)) & 31) as usize]));
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex digit.
pub(crate) fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    text.chunks_exact(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

/// Decodes standard base64 (RFC 4648 §4) with optional padding to a multiple of 4.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let trimmed_len = text.iter().rposition(|&c| c != b'=').map_or(0, |p| p + 1);
    let (data, pad) = text.split_at(trimmed_len);
    if pad.len() > 2 || (data.len() + pad.len()) % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in data {
        acc = ((acc << 6) | val(c)?) & 0xFFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap_or(0));
        }
    }
    Some(out)
}

/// Decodes base32hex (RFC 4648 §7), either case, no padding.
pub(crate) fn decode_base32hex(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in text {
        let v = match c.to_ascii_uppercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'A'..=b'V' => c - b'A' + 10,
            _ => return None,
        };
        acc = ((acc << 5) | u32::from(v)) & 0xFFFF;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap_or(0));
        }
    }
    Some(out)
}

/// RFC 4034 §4.1.2 type bitmap from type numbers.
pub(crate) fn encode_type_bitmap(mut types: Vec<u16>) -> Vec<u8> {
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = types[i] >> 8;
        let mut bitmap = [0u8; 32];
        let mut max = 0usize;
        while i < types.len() && types[i] >> 8 == window {
            let low = usize::from(types[i] & 0xFF);
            bitmap[low / 8] |= 0x80 >> (low % 8);
            max = max.max(low / 8);
            i += 1;
        }
        out.push(u8::try_from(window).unwrap_or(u8::MAX));
        out.push(u8::try_from(max + 1).unwrap_or(32));
        out.extend_from_slice(&bitmap[..=max]);
    }
    out
}

/// The types in an RFC 4034 §4.1.2 bitmap; windows must ascend, each 1-32 octets without a
/// trailing zero octet (what BIND's and Knot's decoders enforce).
fn decode_type_bitmap(b: &[u8]) -> Result<Vec<u16>, (usize, String)> {
    let mut types = Vec::new();
    let mut i = 0usize;
    let mut last_window: Option<u8> = None;
    while i < b.len() {
        let window = b[i];
        let Some(&len) = b.get(i + 1) else {
            return Err((i, "type bitmap window without a length".into()));
        };
        if last_window.is_some_and(|w| window <= w) {
            return Err((
                i,
                "type bitmap windows out of order (RFC 4034 §4.1.2)".into(),
            ));
        }
        if len == 0 || len > 32 {
            return Err((
                i + 1,
                format!("type bitmap window length {len} is not 1-32"),
            ));
        }
        let Some(bits) = b.get(i + 2..i + 2 + usize::from(len)) else {
            return Err((i + 1, "type bitmap window is cut short".into()));
        };
        if bits.last().is_some_and(|&x| x == 0) {
            return Err((i + 1, "type bitmap window ends in a zero octet".into()));
        }
        for (j, &byte) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    // j < 32, so the low part is below 256.
                    let low = u16::try_from(j).unwrap_or(0) * 8 + bit;
                    types.push((u16::from(window) << 8) | low);
                }
            }
        }
        last_window = Some(window);
        i += 2 + usize::from(len);
    }
    Ok(types)
}

/// RRSIG time as `YYYYMMDDHHmmSS` (RFC 4034 §3.2; NSD refuses the integer form on output).
fn sig_time_text(t: u32) -> String {
    let secs = i64::from(t);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm). The inputs are
/// bounded by the caller (a four-digit year), so nothing here overflows.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn decode_apl(c: &mut Cursor<'_>) -> WResult<String> {
    let mut items = Vec::new();
    while c.left() > 0 {
        let afi = c.u16("APL address family")?;
        let prefix = c.u8("APL prefix")?;
        let nl = c.u8("APL length")?;
        let (neg, len) = (nl & 0x80 != 0, usize::from(nl & 0x7F));
        let max = match afi {
            1 => 4,
            2 => 16,
            _ => {
                return c.err(format!(
                    "APL address family {afi} is not 1 or 2 (RFC 3123 §4)"
                ));
            }
        };
        if len > max || usize::from(prefix) > max * 8 {
            return c.err("APL prefix or address longer than the family allows");
        }
        let part = c.take(len, "APL address")?;
        if part.last().is_some_and(|&x| x == 0) {
            return c.err("APL address ends in a zero octet (RFC 3123 §4.1)");
        }
        let mut full = [0u8; 16];
        full[..len].copy_from_slice(part);
        let addr = if afi == 1 {
            Ipv4Addr::from([full[0], full[1], full[2], full[3]]).to_string()
        } else {
            Ipv6Addr::from(full).to_string()
        };
        items.push(format!(
            "{}{afi}:{addr}/{prefix}",
            if neg { "!" } else { "" }
        ));
    }
    Ok(items.join(" "))
}

/// Splits an SVCB value list on commas; `\,` and `\\` escape (RFC 9460 appendix A.1).
pub(crate) fn split_value_list(v: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() => {
                if let Some(last) = items.last_mut() {
                    last.push(v[i + 1]);
                }
                i += 2;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            b => {
                if let Some(last) = items.last_mut() {
                    last.push(b);
                }
                i += 1;
            }
        }
    }
    items
}

/// Checks one SvcParam value against its key (RFC 9460 §7, RFC 9461 §5, RFC 9540 §4).
pub(crate) fn check_svc_value(key: u16, v: &[u8]) -> Result<(), String> {
    let ok = match key {
        0 => {
            if v.is_empty() || !v.len().is_multiple_of(2) {
                false
            } else {
                let keys: Vec<u16> = v
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect();
                keys.windows(2).all(|w| w[0] < w[1]) && !keys.contains(&0)
            }
        }
        1 => {
            let mut i = 0usize;
            let mut good = !v.is_empty();
            while good && i < v.len() {
                let l = usize::from(v[i]);
                good = l > 0 && i + 1 + l <= v.len();
                i += 1 + l;
            }
            good
        }
        2 | 8 => v.is_empty(),
        3 => v.len() == 2,
        4 => !v.is_empty() && v.len().is_multiple_of(4),
        6 => !v.is_empty() && v.len().is_multiple_of(16),
        // ech: an ECHConfigList, never empty (RFC 9460 §14.3.2 / RFC 9848).
        5 => !v.is_empty(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "SvcParam {} has an invalid value (RFC 9460 §7)",
            svc_key_name(key)
        ))
    }
}

/// Quotes one SVCB list item: `,` and `\` get a value-level backslash, then character-string
/// quoting doubles it (RFC 9460 appendix A.1).
fn list_item(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        if b == b',' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// RFC 9460 §8: every key listed in `mandatory` must be present.
pub(crate) fn check_mandatory_present(mandatory: &[u8], keys: &[u16]) -> Result<(), String> {
    for p in mandatory.chunks_exact(2) {
        let k = u16::from_be_bytes([p[0], p[1]]);
        if !keys.contains(&k) {
            return Err(format!(
                "mandatory lists {} but the record has no such SvcParam (RFC 9460 §8)",
                svc_key_name(k)
            ));
        }
    }
    Ok(())
}

fn decode_svc_params(c: &mut Cursor<'_>) -> WResult<String> {
    let start = c.at;
    let mut parts = Vec::new();
    let mut keys = Vec::new();
    let mut mandatory: &[u8] = &[];
    let mut last: Option<u16> = None;
    while c.left() > 0 {
        let key = c.u16("SvcParamKey")?;
        if last.is_some_and(|l| key <= l) {
            return c.err("SvcParamKeys not in strictly increasing order (RFC 9460 §2.2)");
        }
        if key == u16::MAX {
            return c.err("SvcParamKey 65535 is reserved (RFC 9460 §14.3.2)");
        }
        last = Some(key);
        let len = c.u16("SvcParamValue length")?;
        let at = c.at;
        let v = c.take(usize::from(len), "SvcParamValue")?;
        check_svc_value(key, v).map_err(|m| WireError {
            offset: at,
            message: m,
        })?;
        keys.push(key);
        if key == 0 {
            mandatory = v;
        }
        let name = svc_key_name(key);
        let text = match key {
            0 => v
                .chunks_exact(2)
                .map(|p| svc_key_name(u16::from_be_bytes([p[0], p[1]])))
                .collect::<Vec<_>>()
                .join(","),
            1 => {
                let mut items = Vec::new();
                let mut i = 0usize;
                while i < v.len() {
                    let l = usize::from(v[i]);
                    items.push(list_item(&v[i + 1..i + 1 + l]));
                    i += 1 + l;
                }
                quote(&items.join(&b","[..]))
            }
            2 | 8 => String::new(),
            3 => u16::from_be_bytes([v[0], v[1]]).to_string(),
            4 => v
                .chunks_exact(4)
                .map(|p| Ipv4Addr::from([p[0], p[1], p[2], p[3]]).to_string())
                .collect::<Vec<_>>()
                .join(","),
            6 => v
                .chunks_exact(16)
                .map(|p| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(p);
                    Ipv6Addr::from(a).to_string()
                })
                .collect::<Vec<_>>()
                .join(","),
            5 => encode_base64(v),
            _ => {
                if v.is_empty() {
                    String::new()
                } else {
                    quote(v)
                }
            }
        };
        if text.is_empty() && !matches!(key, 2 | 8) && !v.is_empty() {
            return c.err("SvcParam value cannot be written");
        }
        if text.is_empty() {
            parts.push(name);
        } else {
            parts.push(format!("{name}={text}"));
        }
    }
    check_mandatory_present(mandatory, &keys).map_err(|m| WireError {
        offset: start,
        message: m,
    })?;
    Ok(parts.join(" "))
}

// LOC (RFC 1876): sizes and precisions as mantissa/exponent of centimetres, coordinates as
// thousandths of an arc-second offset by 2^31, altitude in centimetres above -100 000 m.

/// LOC latitude/longitude of the equator / prime meridian (2^31).
pub(crate) const LOC_EQUATOR: i64 = 1 << 31;
/// LOC altitude 0 m (centimetres above -100 000 m).
pub(crate) const LOC_ALT_BASE: i64 = 10_000_000;

fn loc_prec_cm(b: u8) -> Option<u64> {
    let (m, e) = (u64::from(b >> 4), u32::from(b & 0x0F));
    (m <= 9 && e <= 9).then(|| m * 10u64.pow(e))
}

fn loc_size_text(b: u8) -> String {
    let cm = loc_prec_cm(b).unwrap_or(0);
    if cm.is_multiple_of(100) {
        format!("{}m", cm / 100)
    } else {
        format!("{}.{:02}m", cm / 100, cm % 100)
    }
}

fn loc_coord_text(v: u32, pos: char, neg: char) -> String {
    let off = i64::from(v) - LOC_EQUATOR;
    let hemi = if off < 0 { neg } else { pos };
    let abs = off.unsigned_abs();
    let (deg, rest) = (abs / 3_600_000, abs % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    format!("{deg} {min} {}.{:03} {hemi}", rest / 1000, rest % 1000)
}

fn decode_loc(c: &mut Cursor<'_>) -> WResult<String> {
    let version = c.u8("LOC version")?;
    if version != 0 {
        return c.err(format!(
            "LOC version {version}; only 0 is defined (RFC 1876 §2)"
        ));
    }
    let size = c.u8("LOC size")?;
    let hp = c.u8("LOC horizontal precision")?;
    let vp = c.u8("LOC vertical precision")?;
    for b in [size, hp, vp] {
        if loc_prec_cm(b).is_none() {
            return c.err("LOC size/precision digit over 9 (RFC 1876 §2)");
        }
        if loc_prec_cm(b).and_then(loc_encode_prec) != Some(b) {
            c.exact = false;
        }
    }
    let lat = c.u32("LOC latitude")?;
    let lon = c.u32("LOC longitude")?;
    let alt = c.u32("LOC altitude")?;
    if (i64::from(lat) - LOC_EQUATOR).abs() > 90 * 3_600_000 {
        return c.err("LOC latitude beyond 90°");
    }
    if (i64::from(lon) - LOC_EQUATOR).abs() > 180 * 3_600_000 {
        return c.err("LOC longitude beyond 180°");
    }
    let alt_cm = i64::from(alt) - LOC_ALT_BASE;
    let alt_text = format!(
        "{}{}.{:02}m",
        if alt_cm < 0 { "-" } else { "" },
        alt_cm.unsigned_abs() / 100,
        alt_cm.unsigned_abs() % 100
    );
    Ok(format!(
        "{} {} {alt_text} {} {} {}",
        loc_coord_text(lat, 'N', 'S'),
        loc_coord_text(lon, 'E', 'W'),
        loc_size_text(size),
        loc_size_text(hp),
        loc_size_text(vp)
    ))
}

/// Encodes centimetres as RFC 1876 mantissa/exponent, `None` above 9e9 cm.
pub(crate) fn loc_encode_prec(cm: u64) -> Option<u8> {
    let mut e = 0u8;
    let mut m = cm;
    while m > 9 {
        m /= 10;
        e += 1;
    }
    // m ≤ 9 here.
    (e <= 9).then(|| (u8::try_from(m).unwrap_or(9) << 4) | e)
}

#[cfg(test)]
mod tests {

    #[test]
    fn common_types_agree_with_the_table() {
        for word in [
            "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "NAPTR", "DS", "RRSIG",
            "NSEC", "DNSKEY", "NSEC3", "naptr", "Naptr", "aaaa", "dnskey",
        ] {
            assert_eq!(
                common_type_number(word.as_bytes()),
                table_type_number(word.as_bytes()),
                "{word}"
            );
            assert!(common_type_number(word.as_bytes()).is_some(), "{word}");
        }
        for word in [
            "",
            "NAPTRX",
            "TYPE35",
            "HTTPS",
            "CAA",
            "SVCB",
            "NSEC3PARAM",
            "A6",
        ] {
            assert_eq!(common_type_number(word.as_bytes()), None, "{word}");
            assert_eq!(
                type_number(word.as_bytes()),
                table_type_number(word.as_bytes())
            );
        }
    }

    use super::*;

    #[test]
    fn codecs_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"\xff\x00\x80"] {
            assert_eq!(decode_base64(encode_base64(data).as_bytes()).unwrap(), data);
            assert_eq!(decode_hex(encode_hex(data).as_bytes()).unwrap(), data);
            assert_eq!(
                decode_base32hex(encode_base32hex(data).as_bytes()).unwrap(),
                data
            );
        }
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base32hex(b"foobar"), "CPNMUOJ1E8");
    }

    #[test]
    fn sig_time_text_is_rfc4034_form() {
        assert_eq!(sig_time_text(1_893_456_000), "20300101000000");
        assert_eq!(sig_time_text(0), "19700101000000");
        assert_eq!(days_from_civil(2030, 1, 1), 21_915);
        assert_eq!(civil_from_days(21_915), (2030, 1, 1));
    }

    #[test]
    fn wire_validation_finds_the_offset() {
        assert!(validate_wire(rtype::A, &[1, 2, 3, 4]).is_ok());
        assert_eq!(validate_wire(rtype::A, &[1, 2, 3]).unwrap_err().offset, 0);
        assert_eq!(
            validate_wire(rtype::A, &[1, 2, 3, 4, 5])
                .unwrap_err()
                .offset,
            4
        );
        // MX: preference then a name whose label runs past the end.
        assert!(validate_wire(rtype::MX, &[0, 10, 5, b'a', 0]).is_err());
        // TXT needs at least one string.
        assert!(validate_wire(rtype::TXT, &[]).is_err());
        assert!(validate_wire(rtype::TXT, &[0]).is_ok());
        // DS with SHA-256 and a 3-octet digest.
        assert!(validate_wire(rtype::DS, &[0, 1, 13, 2, 1, 2, 3]).is_err());
        // NULL takes anything.
        assert!(validate_wire(10, &[1, 2, 3]).is_ok());
        // Unknown type: anything.
        assert!(validate_wire(65_000, &[9]).is_ok());
        // Bitmap window with a trailing zero octet.
        assert!(validate_wire(rtype::NSEC, &[0, 0, 1, 0x40, 0]).is_err());
        assert!(validate_wire(rtype::NSEC, &[0, 0, 1, 0x40]).is_ok());
    }

    #[test]
    fn writer_quotes_and_escapes_in_decimal() {
        let (ty, text) = presentation(rtype::TXT, b"\x09apex text\x03\xff\"\\");
        assert_eq!(ty, "TXT");
        assert_eq!(text, "\"apex text\" \"\\255\\\"\\\\\"");
        let (ty, text) = presentation(rtype::NS, &[1, 0xFF, 0]);
        assert_eq!((ty.as_str(), text.as_str()), ("NS", "\\255."));
        // Not decodable as A: generic, with TYPEnnn.
        let (ty, text) = presentation(rtype::A, &[1, 2]);
        assert_eq!((ty.as_str(), text.as_str()), ("TYPE1", "\\# 2 0102"));
        // A type Knot does not read natively: generic.
        let (ty, _) = presentation(11, &[192, 0, 2, 1, 6, 0x40]);
        assert_eq!(ty, "TYPE11");
        // Valid data whose text would read back differently: generic.
        let loc = [
            0, 0x01, 0x16, 0x13, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0x98, 0x96, 0x80,
        ];
        assert_eq!(validate_wire(29, &loc), Ok(()));
        assert_eq!(presentation(29, &loc).0, "TYPE29");
        let wks = [192, 0, 2, 1, 6, 0x40, 0];
        assert_eq!(validate_wire(11, &wks), Ok(()));
        assert_eq!(native_text(11, &wks), None);
        // KEY without key material: generic (NSD and Knot refuse the short text form).
        let (ty, text) = presentation(25, &[0xC0, 0, 3, 5]);
        assert_eq!((ty.as_str(), text.as_str()), ("TYPE25", "\\# 4 c0000305"));
        assert_eq!(presentation(25, &[1, 0, 3, 5, 1]).0, "KEY");
    }
}
