//! DNSSEC validation settings for the resolver (RFC 8686 §6.1, RFC 7286 §6.1; docs/decisions.md, resolver step 2).
//!
//! Validation itself is hickory-resolver's (`DnssecDnsHandle`: DO bit, DNSKEY/DS chain from a
//! trust anchor, RRSIG checks, NSEC/NSEC3 denial). This module adds what hickory 0.26.3 lacks:
//!
//! * the mode ([`DnssecMode`]): `off`, `report` (validate, label every candidate, never use bogus
//!   data) or `require` (additionally refuse data that is not `secure`);
//! * trust anchors from a file ([`TrustAnchorFile`]): DS or DNSKEY records in zone-file format as
//!   `dig` prints them, **in addition to** the root KSKs. hickory's own
//!   `ResolverOpts::trust_anchor` path is not loaded in 0.26.3 and its file parser knows only
//!   DNSKEY (HICKORY-NOTES A.2.6), so the file is read here. A DS anchor is turned into the
//!   DNSKEY it covers by fetching the DNSKEY RRset once at start-up
//!   ([`crate::dns::DnsSource::with_dnssec`]); the digest match (RFC 4034 §5.1.4) is what makes
//!   that key trusted.
//!
//! How `secure` is derived when `--server` is a validating recursive resolver (unbound, BIND):
//! altodisc validates **itself** with the same anchors, from the RRSIGs the recursive resolver
//! passes on (it sets DO), and never trusts the AD bit: RFC 4035 §4.9.3 allows trusting AD only
//! from a resolver reached over a secure channel, which a plain `--server` is not.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_resolver::proto::dnssec::{
    Algorithm, DigestType, Proof, PublicKeyBuf, TrustAnchors, Verifier,
};
use hickory_resolver::proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::unaptr::DnssecState;

/// What to do about DNSSEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DnssecMode {
    /// No validation; candidates say `unchecked`.
    Off,
    /// Validate; every candidate says `secure`, `insecure`, `bogus` or `indeterminate`; bogus data
    /// is never a candidate (it counts as a temporary failure, docs/decisions.md, resolver step 2).
    #[default]
    Report,
    /// As `Report`, and data that is not `secure` is refused too.
    Require,
}

impl DnssecMode {
    /// `off`, `report` or `require`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Report => "report",
            Self::Require => "require",
        }
    }

    /// Whether answers are validated.
    #[must_use]
    pub fn validates(self) -> bool {
        !matches!(self, Self::Off)
    }
}

impl fmt::Display for DnssecMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DnssecMode {
    type Err = DnssecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "report" => Ok(Self::Report),
            "require" => Ok(Self::Require),
            _ => Err(DnssecError::BadMode(s.to_owned())),
        }
    }
}

/// Errors reading DNSSEC settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnssecError {
    /// Not `off`, `report` or `require`.
    #[error("invalid DNSSEC mode {0:?}: expected off, report or require")]
    BadMode(String),
    /// The trust anchor file could not be read.
    #[error("cannot read trust anchor file {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The trust anchor file is not zone-file text with DS/DNSKEY records.
    #[error("trust anchor file {path}: {message}")]
    Parse {
        /// The file (or `-` for text).
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A DS anchor matched no DNSKEY served for its name.
    #[error(
        "trust anchor DS for {name} (key tag {key_tag}) matches no DNSKEY served at {name}: {message}"
    )]
    DsUnmatched {
        /// The owner of the DS.
        name: String,
        /// The DS key tag.
        key_tag: u16,
        /// What the DNSKEY query gave.
        message: String,
    },
}

/// The DS and DNSKEY records of a trust anchor file.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchorFile {
    /// DNSKEY anchors (owner, key). Zone keys only (RFC 4034 §2.1.1 bit 7).
    pub dnskeys: Vec<(Name, DNSKEY)>,
    /// DS anchors (owner, DS), resolved to DNSKEYs at start-up.
    pub ds: Vec<(Name, DS)>,
}

impl TrustAnchorFile {
    /// Reads `path` ([`TrustAnchorFile::parse`]).
    ///
    /// # Errors
    /// [`DnssecError::Read`] or [`DnssecError::Parse`].
    pub fn load(path: &Path) -> Result<Self, DnssecError> {
        // A trust-anchor file is a few DS/DNSKEY lines; 1 MiB bounds a wrong path to a device.
        let bytes =
            crate::dhcp::lease::read_bounded(path, 1 << 20).map_err(|e| DnssecError::Read {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let text = String::from_utf8(bytes).map_err(|e| DnssecError::Read {
            path: path.to_owned(),
            message: format!("not UTF-8 text (at octet {})", e.utf8_error().valid_up_to()),
        })?;
        Self::parse(&text).map_err(|message| DnssecError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses zone-file text: `owner [TTL] [IN] DS|DNSKEY rdata`, `;` comments, `( )` groups
    /// (dig's `+multi`), relative to the root. Records of other types are ignored (a pasted
    /// `dig DNSKEY` answer may include its RRSIG). At least one anchor is required.
    ///
    /// # Errors
    /// The parser's message, or "no DS or DNSKEY record".
    pub fn parse(text: &str) -> Result<Self, String> {
        // hickory's zone-file parser refuses DNSKEY and DS ("should be dynamically generated")
        // and its trust-anchor parser knows no DS, so this is a small reader of its own:
        // comments stripped, `( )` groups joined, then `owner [TTL] [class] TYPE RDATA`.
        let mut out = Self::default();
        for (line_no, record) in logical_lines(text)? {
            let mut tokens = record.split_whitespace();
            let Some(owner) = tokens.next() else { continue };
            let mut rest: Vec<&str> = tokens.collect();
            // Optional TTL and class, in either order (RFC 1035 §5.1).
            while let Some(first) = rest.first() {
                let upper = first.to_ascii_uppercase();
                if first.bytes().all(|b| b.is_ascii_digit())
                    || ["IN", "CH", "HS"].contains(&upper.as_str())
                {
                    rest.remove(0);
                } else {
                    break;
                }
            }
            let Some((rtype, rdata)) = rest.split_first() else {
                return Err(format!("line {line_no}: no record type"));
            };
            let name = Name::from_ascii(owner)
                .map_err(|e| format!("line {line_no}: owner {owner:?}: {e}"))?;
            if !name.is_fqdn() {
                return Err(format!(
                    "line {line_no}: owner {owner:?} must be fully qualified (end with a dot)"
                ));
            }
            let num = |i: usize, what: &str| -> Result<u64, String> {
                rdata
                    .get(i)
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| {
                        format!("line {line_no}: {rtype} {what} missing or not a number")
                    })
            };
            match rtype.to_ascii_uppercase().as_str() {
                "DNSKEY" => {
                    let flags = u16::try_from(num(0, "flags")?)
                        .map_err(|_| format!("line {line_no}: DNSKEY flags out of range"))?;
                    if num(1, "protocol")? != 3 {
                        return Err(format!("line {line_no}: DNSKEY protocol must be 3"));
                    }
                    let alg = u8::try_from(num(2, "algorithm")?)
                        .map_err(|_| format!("line {line_no}: DNSKEY algorithm out of range"))?;
                    let key = base64_decode(&rdata.get(3..).unwrap_or_default().concat())
                        .ok_or_else(|| format!("line {line_no}: DNSKEY key is not base64"))?;
                    if key.is_empty() {
                        return Err(format!("line {line_no}: DNSKEY without a key"));
                    }
                    let k =
                        DNSKEY::with_flags(flags, PublicKeyBuf::new(key, Algorithm::from_u8(alg)));
                    if !k.zone_key() || k.revoke() {
                        return Err(format!(
                            "line {line_no}: DNSKEY for {name} is not a usable zone key (flags {flags})"
                        ));
                    }
                    out.dnskeys.push((name, k));
                }
                "DS" => {
                    let tag = u16::try_from(num(0, "key tag")?)
                        .map_err(|_| format!("line {line_no}: DS key tag out of range"))?;
                    let alg = u8::try_from(num(1, "algorithm")?)
                        .map_err(|_| format!("line {line_no}: DS algorithm out of range"))?;
                    let dt = u8::try_from(num(2, "digest type")?)
                        .map_err(|_| format!("line {line_no}: DS digest type out of range"))?;
                    let digest = hex_decode(&rdata.get(3..).unwrap_or_default().concat())
                        .filter(|d| !d.is_empty())
                        .ok_or_else(|| format!("line {line_no}: DS digest is not hex"))?;
                    out.ds.push((
                        name,
                        DS::new(tag, Algorithm::from_u8(alg), DigestType::from(dt), digest),
                    ));
                }
                // A pasted `dig` answer may carry RRSIGs and other records: not anchors.
                _ => {}
            }
        }
        if out.dnskeys.is_empty() && out.ds.is_empty() {
            return Err("no DS or DNSKEY record".to_owned());
        }
        Ok(out)
    }

    /// Every anchor name (DNSKEY and DS anchors), once each: the DNSKEY RRsets to fetch.
    #[must_use]
    pub fn names(&self) -> Vec<Name> {
        let mut v: Vec<Name> = self
            .ds
            .iter()
            .map(|(n, _)| n.clone())
            .chain(self.dnskeys.iter().map(|(n, _)| n.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The root KSKs, plus for each anchor name: the file's DNSKEYs, the served DNSKEYs a DS of
    /// the file covers (RFC 4034 §5.1.4 digest match), and every other zone key of the served
    /// DNSKEY RRset that one of those anchor keys signed (a valid RRSIG over the RRset, inside
    /// its validity period; RFC 4035 §5.2).
    ///
    /// The last step is needed because hickory 0.26 trusts a DNSKEY RRset only when *every* key
    /// in it is an anchor, and otherwise asks the parent zone for a DS, which a private test
    /// zone, an authoritative server queried directly, or a zone anchored below an unsigned
    /// parent cannot provide. Validating the RRset once at start-up with the anchor is what a
    /// validator does at the anchor anyway (RFC 4035 §5).
    ///
    /// `fetched` holds, per anchor name, the records of a DNSKEY query with DO set (DNSKEYs and
    /// their RRSIGs); `now` is the current time in seconds since the epoch.
    ///
    /// # Errors
    /// [`DnssecError::DsUnmatched`] when a DS covers no served key: the anchor would otherwise
    /// silently trust nothing and every answer below it would come out bogus.
    pub fn trust_anchors(
        &self,
        fetched: &[(Name, Vec<Record>)],
        now: u32,
    ) -> Result<TrustAnchors, DnssecError> {
        let mut anchors = TrustAnchors::default();
        for name in self.names() {
            let records: &[Record] = fetched
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[], |(_, r)| r.as_slice());
            let served: Vec<&DNSKEY> = records
                .iter()
                .filter(|r| r.name == name)
                .filter_map(|r| match &r.data {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k),
                    _ => None,
                })
                .collect();
            let mut keys: Vec<DNSKEY> = self
                .dnskeys
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, k)| k.clone())
                .collect();
            for (_, ds) in self.ds.iter().filter(|(n, _)| *n == name) {
                let before = keys.len();
                keys.extend(
                    served
                        .iter()
                        .filter(|k| ds.covers(&name, k).unwrap_or(false))
                        .map(|k| (*k).clone()),
                );
                if keys.len() == before {
                    return Err(DnssecError::DsUnmatched {
                        name: name.to_string(),
                        key_tag: ds.key_tag(),
                        message: format!(
                            "{} DNSKEY(s) served, none with a matching digest",
                            served.len()
                        ),
                    });
                }
            }
            let rrset: Vec<&Record> = records
                .iter()
                .filter(|r| {
                    r.name == name && matches!(r.data, RData::DNSSEC(DNSSECRData::DNSKEY(_)))
                })
                .collect();
            let vouched = records.iter().any(|r| {
                let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &r.data else {
                    return false;
                };
                let input = sig.input();
                input.type_covered == RecordType::DNSKEY
                    && input.sig_inception.get() <= now
                    && now <= input.sig_expiration.get()
                    && keys.iter().any(|k| {
                        k.calculate_key_tag().ok() == Some(input.key_tag)
                            && k.verify_rrsig(&name, DNSClass::IN, sig, rrset.iter().copied())
                                .is_ok()
                    })
            });
            if vouched {
                keys.extend(served.iter().filter(|k| k.zone_key()).map(|k| (*k).clone()));
            }
            for k in &keys {
                anchors.insert_with_name(k.public_key(), (&name).into());
            }
        }
        Ok(anchors)
    }
}

/// Zone-file text as logical records with their first line number: `;` comments removed,
/// `$` directives and blank lines skipped, parenthesised groups joined (RFC 1035 §5.1).
fn logical_lines(text: &str) -> Result<Vec<(usize, String)>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or_default();
        if depth == 0 {
            if line.trim().is_empty() || line.trim_start().starts_with('$') {
                continue;
            }
            start = i + 1;
            current.clear();
        }
        for c in line.chars() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("line {}: unbalanced ')'", i + 1))?;
                }
                _ => current.push(c),
            }
        }
        current.push(' ');
        if depth == 0 {
            out.push((start, std::mem::take(&mut current)));
        }
    }
    if depth != 0 {
        return Err(format!("line {start}: unclosed '('"));
    }
    Ok(out)
}

/// RFC 4648 §4 base64 (padding optional), as DNSKEY public keys are written.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in text.trim_end_matches('=').bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// Hex digits (either case), as DS digests are written.
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .map(|b| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        })
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// DNSSEC settings: the mode and the extra trust anchors.
#[derive(Debug, Clone, Default)]
pub struct DnssecConfig {
    /// The mode.
    pub mode: DnssecMode,
    /// Anchors in addition to the root KSKs.
    pub anchors: Option<TrustAnchorFile>,
}

impl DnssecConfig {
    /// No validation.
    #[must_use]
    pub fn off() -> Self {
        Self {
            mode: DnssecMode::Off,
            anchors: None,
        }
    }
}

/// The state of a whole answer: the worst proof of its records (bogus > indeterminate > insecure
/// > secure); an answer without records is indeterminate.
#[must_use]
pub fn state_of<'a>(proofs: impl IntoIterator<Item = &'a Proof>) -> DnssecState {
    let mut state: Option<DnssecState> = None;
    for p in proofs {
        let s = match p {
            Proof::Secure => DnssecState::Secure,
            Proof::Insecure => DnssecState::Insecure,
            Proof::Bogus => DnssecState::Bogus,
            _ => DnssecState::Indeterminate,
        };
        state = Some(state.map_or(s, |old| old.worst(s)));
    }
    state.unwrap_or(DnssecState::Indeterminate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device's metadata size is 0; reading it must stop at the cap, not run out of memory.
    #[test]
    fn trust_anchor_file_read_is_bounded() {
        let err = TrustAnchorFile::load(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    // A real KSK (ECDSA P-256) and its DS, as `dig DNSKEY` / `dig DS` print them.
    const KSK: &str = "example.net.\t3600\tIN\tDNSKEY\t257 3 13 \
        mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+ KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    const DS_OK: &str = "example.net. IN DS 55648 13 2 \
        b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e3 7df61d17";

    #[test]
    fn modes() {
        assert_eq!("REPORT".parse::<DnssecMode>().unwrap(), DnssecMode::Report);
        assert_eq!("off".parse::<DnssecMode>().unwrap(), DnssecMode::Off);
        assert_eq!(
            "require".parse::<DnssecMode>().unwrap(),
            DnssecMode::Require
        );
        assert!("yes".parse::<DnssecMode>().is_err());
        assert_eq!(DnssecMode::default(), DnssecMode::Report);
    }

    #[test]
    fn parses_dig_dnskey_with_comments_and_rrsig() {
        let text = format!(
            "; <<>> DiG <<>> DNSKEY example.net\n{KSK} ; KSK; alg = ECDSAP256SHA256 ; key id = 55648\n\
             example.net. 3600 IN RRSIG DNSKEY 13 2 3600 20300101000000 20200101000000 55648 example.net. AAAA\n"
        );
        let f = TrustAnchorFile::parse(&text).unwrap();
        assert_eq!(f.dnskeys.len(), 1);
        assert!(f.ds.is_empty());
        assert_eq!(f.dnskeys[0].0.to_string(), "example.net.");
        let anchors = f.trust_anchors(&[], 0).unwrap();
        assert!(anchors.contains_with_name(
            f.dnskeys[0].1.public_key(),
            &(&Name::from_ascii("example.net.").unwrap()).into()
        ));
    }

    #[test]
    fn multi_line_dnskey_parses() {
        let text = "example.net. 3600 IN DNSKEY 257 3 13 (\n  mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+\n  KkxLbxILfDLUT0rAK9iUzy1L53eKGQ== ) ; KSK\n";
        assert_eq!(TrustAnchorFile::parse(text).unwrap().dnskeys.len(), 1);
    }

    #[test]
    fn ds_is_matched_against_served_keys() {
        let key = TrustAnchorFile::parse(KSK).unwrap().dnskeys;
        let f = TrustAnchorFile::parse(DS_OK).unwrap();
        assert_eq!(f.names().len(), 1);
        // A DS that covers no served key is an error, never a silent no-op.
        assert!(matches!(
            f.trust_anchors(&[], 0),
            Err(DnssecError::DsUnmatched { .. })
        ));
        // A DS made from the key covers it.
        let (name, k) = &key[0];
        let digest = k.to_digest(name, DigestType::SHA256).unwrap();
        let ds = format!(
            "{name} IN DS {} 13 2 {}",
            k.calculate_key_tag().unwrap(),
            digest
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let f = TrustAnchorFile::parse(&ds).unwrap();
        let served = vec![(
            name.clone(),
            vec![Record::from_rdata(
                name.clone(),
                300,
                RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())),
            )],
        )];
        let anchors = f.trust_anchors(&served, 0).unwrap();
        assert!(anchors.contains_with_name(k.public_key(), &name.into()));
    }

    #[test]
    fn decoders() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(base64_decode("a*b").is_none());
        assert_eq!(hex_decode("0aFf").unwrap(), vec![0x0a, 0xff]);
        assert!(hex_decode("abc").is_none());
        assert!(hex_decode("zz").is_none());
        assert!(logical_lines("a (\n b").is_err());
        assert!(logical_lines("a ) b").is_err());
    }

    #[test]
    fn rejects_empty_and_garbage() {
        assert!(TrustAnchorFile::parse("; nothing\n").is_err());
        assert!(TrustAnchorFile::parse("example.net. IN DNSKEY 257 3 13 !!!").is_err());
        // A non-zone key (flags 0) cannot anchor anything.
        assert!(
            TrustAnchorFile::parse(
                "example.net. IN DNSKEY 0 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
            )
            .is_err()
        );
    }

    #[test]
    fn worst_state_wins() {
        assert_eq!(
            state_of(&[Proof::Secure, Proof::Secure]),
            DnssecState::Secure
        );
        assert_eq!(
            state_of(&[Proof::Secure, Proof::Insecure]),
            DnssecState::Insecure
        );
        assert_eq!(
            state_of(&[Proof::Insecure, Proof::Bogus, Proof::Secure]),
            DnssecState::Bogus
        );
        assert_eq!(
            state_of(&[Proof::Indeterminate, Proof::Insecure]),
            DnssecState::Indeterminate
        );
        assert_eq!(state_of(&[]), DnssecState::Indeterminate);
    }
}
