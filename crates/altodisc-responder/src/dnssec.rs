//! Zone signing for the responder (RFC 8686 §6.1: operators SHOULD sign their reverse zones;
//! RFC 4033/4034/4035): takes an [`altodisc_zone::Zone`] and returns it with DNSKEY, RRSIG and
//! NSEC records added.
//!
//! ```text
//!   ZoneKeys::load_or_create(dir, origin)    KSK + ZSK, ECDSA P-256 / SHA-256 (algorithm 13,
//!     <dir>/<origin>ksk.pk8, ...zsk.pk8       RFC 8624 MUST), PKCS#8 files (0600), made on first
//!                                             start and reused afterwards
//!   sign_zone(&zone, &keys, &policy, now)   → Zone + DNSKEY RRset (signed by the KSK), an RRSIG per
//!                                             authoritative RRset (ZSK), the NSEC chain (RFC 4035
//!                                             §2.3) with its RRSIGs
//!   sign_zone_with(.., &Denial::Nsec3(p), ..) the same with an NSEC3 chain and NSEC3PARAM
//!                                             (RFC 5155 §7.1; RFC 9276 parameters by default)
//!   Nsec3Index                                the NSEC3 chain by hash, for the proofs of DO=1
//!                                             answers (RFC 5155 §7.2, crate::index)
//!   needs_refresh(&signed, &policy, now)    → re-sign when any RRSIG expires within
//!                                             `policy.refresh_before` (RRSIG refresh before expiry)
//!   keys.ds_text(origin) / dnskey_text()     the DS (SHA-256) to give the parent / a trust anchor
//!   ZoneKeys::load_rolling / roll_ksk         ZSK pre-publication and KSK double-DS rollovers
//!     roll_ksk_checking_parent(.., parent)    (RFC 6781 §4.1), state in the key directory; the
//!                                             new KSK's DS looked for at the parent's servers
//! ```
//!
//! Not signed (RFC 4035 §2.2): the NS RRset at a delegation point and glue below it; delegation
//! points are in the NSEC chain, glue names are not. Existing DNSSEC records in the input
//! (pre-signed zones) are dropped and made again; serving a pre-signed zone unchanged is the
//! other option (do not call this).
//!
//! Wiring into serving (DO bit, RRSIGs in answers, NSEC in negative answers, a config switch,
//! AXFR carrying the signatures) is done in the responder's handler and index, not here.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use altodisc_proto::DomainName;
use altodisc_proto::name::CanonicalName;
pub use altodisc_proto::name::canonical_cmp;
use altodisc_zone::record::{CLASS_IN, Zone, ZoneRecord, rtype};
use hickory_proto::dnssec::crypto::Digest;
use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{
    CDNSKEY, CDS, DNSKEY, DNSSECRData, NSEC, NSEC3, NSEC3PARAM, RRSIG, SigInput,
};
use hickory_proto::dnssec::{Algorithm, DigestType, Nsec3HashAlgorithm, SigningKey, TBS};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::{
    BinDecoder, BinEncodable, BinEncoder, NameEncoding, Restrict,
};

/// The CDS and CDNSKEY record types (RFC 7344 §3.1, §3.2).
const TYPE_CDS: u16 = 59;
const TYPE_CDNSKEY: u16 = 60;

/// DNSKEY flags: Zone Key (RFC 4034 §2.1.1).
const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flags: Secure Entry Point (RFC 4034 §2.1.1), set on the KSK.
const FLAG_SEP: u16 = 0x0001;

/// Errors signing a zone or handling its keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A key file could not be read or written.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Key generation or a signature failed in the crypto library.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A record of the zone could not be decoded or encoded.
    #[error("record {owner} type {rtype}: {message}")]
    Record {
        /// Owner.
        owner: String,
        /// Type number.
        rtype: u16,
        /// Why.
        message: String,
    },
    /// The zone has no SOA at its apex (needed for the NSEC TTL, RFC 4035 §2.3).
    #[error("zone {0} has no SOA at its apex")]
    NoSoa(String),
}

/// Signature validity and refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningPolicy {
    /// How long a signature is valid from `now` (expiration = now + validity).
    pub validity: Duration,
    /// How far before `now` the inception is put, for validators with slow clocks.
    pub inception_offset: Duration,
    /// Re-sign when any signature expires within this time ([`needs_refresh`]).
    pub refresh_before: Duration,
}

impl Default for SigningPolicy {
    /// 14 days valid, inception 1 hour back, refreshed when less than 7 days remain (the
    /// remaining half covers a long outage of the signer plus the longest TTL).
    fn default() -> Self {
        Self {
            validity: Duration::from_secs(14 * 86_400),
            inception_offset: Duration::from_secs(3600),
            refresh_before: Duration::from_secs(7 * 86_400),
        }
    }
}

/// A zone's key pair set: a KSK (signs the DNSKEY RRset; its DS goes to the parent or into a
/// trust anchor) and a ZSK (signs everything else).
pub struct ZoneKeys {
    ksk: EcdsaSigningKey,
    zsk: EcdsaSigningKey,
    ksk_dnskey: DNSKEY,
    zsk_dnskey: DNSKEY,
    /// ZSKs published in the DNSKEY RRset without signing: the successor of a pre-publication
    /// rollover and the retired predecessor (RFC 6781 §4.1.1.1).
    published: Vec<DNSKEY>,
    /// KSKs whose DS the parent should hold, published as CDS/CDNSKEY (RFC 7344) during a KSK
    /// rollover; empty otherwise.
    cds: Vec<DNSKEY>,
}

impl std::fmt::Debug for ZoneKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print private keys.
        f.debug_struct("ZoneKeys")
            .field("ksk_tag", &self.ksk_dnskey.calculate_key_tag().ok())
            .field("zsk_tag", &self.zsk_dnskey.calculate_key_tag().ok())
            .finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> SignError {
    SignError::Crypto(e.to_string())
}

impl ZoneKeys {
    /// New random keys (ECDSA P-256 / SHA-256, algorithm 13).
    ///
    /// # Errors
    /// [`SignError::Crypto`].
    pub fn generate() -> Result<Self, SignError> {
        let ksk = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
        let zsk = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
        Self::from_pkcs8(ksk.secret_pkcs8_der(), zsk.secret_pkcs8_der())
    }

    fn from_pkcs8(ksk: &[u8], zsk: &[u8]) -> Result<Self, SignError> {
        let ksk = EcdsaSigningKey::from_pkcs8(&ksk.to_vec().into(), Algorithm::ECDSAP256SHA256)
            .map_err(crypto)?;
        let zsk = EcdsaSigningKey::from_pkcs8(&zsk.to_vec().into(), Algorithm::ECDSAP256SHA256)
            .map_err(crypto)?;
        let ksk_dnskey =
            DNSKEY::with_flags(FLAG_ZONE | FLAG_SEP, ksk.to_public_key().map_err(crypto)?);
        let zsk_dnskey = DNSKEY::with_flags(FLAG_ZONE, zsk.to_public_key().map_err(crypto)?);
        Ok(Self {
            ksk,
            zsk,
            ksk_dnskey,
            zsk_dnskey,
            published: Vec::new(),
            cds: Vec::new(),
        })
    }

    /// Loads `<dir>/<origin>ksk.pk8` and `<dir>/<origin>zsk.pk8` (PKCS#8 DER), or creates both
    /// (mode 0600) when neither exists, so a zone keeps its keys, and its DS stays valid,
    /// across restarts.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] when only one exists or a file is unreadable or unwritable.
    pub fn load_or_create(dir: &Path, origin: &DomainName) -> Result<Self, SignError> {
        let base = origin.to_lowercase_string();
        let base = if base == "." {
            "root.".to_owned()
        } else {
            base
        };
        let ksk_path = dir.join(format!("{base}ksk.pk8"));
        let zsk_path = dir.join(format!("{base}zsk.pk8"));
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| SignError::KeyFile {
                path: p.to_owned(),
                message: e.to_string(),
            })
        };
        match (ksk_path.exists(), zsk_path.exists()) {
            (true, true) => {
                let (ksk, zsk) = (read(&ksk_path)?, read(&zsk_path)?);
                // A damaged key file is named, with what to do: the zone cannot be signed, and
                // making a new key would silently break the DS at the parent.
                for (path, der) in [(&ksk_path, &ksk), (&zsk_path, &zsk)] {
                    EcdsaSigningKey::from_pkcs8(&der.clone().into(), Algorithm::ECDSAP256SHA256)
                        .map_err(|e| SignError::KeyFile {
                            path: path.clone(),
                            message: format!(
                                "not an ECDSA P-256 PKCS#8 private key ({e}); restore it from a backup (a new key needs a new DS at the parent)"
                            ),
                        })?;
                }
                Self::from_pkcs8(&ksk, &zsk)
            }
            (false, false) => {
                let ksk =
                    EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
                let zsk =
                    EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
                std::fs::create_dir_all(dir).map_err(|e| SignError::KeyFile {
                    path: dir.to_owned(),
                    message: e.to_string(),
                })?;
                write_private(&ksk_path, ksk.secret_pkcs8_der())?;
                write_private(&zsk_path, zsk.secret_pkcs8_der())?;
                Self::from_pkcs8(ksk.secret_pkcs8_der(), zsk.secret_pkcs8_der())
            }
            (true, false) | (false, true) => Err(SignError::KeyFile {
                path: if ksk_path.exists() {
                    zsk_path
                } else {
                    ksk_path
                },
                message: "missing while its partner key exists; refusing to make a new pair"
                    .to_owned(),
            }),
        }
    }

    /// The key tags of the KSK and the ZSK (RFC 4034 Appendix B).
    ///
    /// # Errors
    /// [`SignError::Crypto`] when a key cannot be encoded.
    pub fn key_tags(&self) -> Result<(u16, u16), SignError> {
        Ok((
            self.ksk_dnskey.calculate_key_tag().map_err(crypto)?,
            self.zsk_dnskey.calculate_key_tag().map_err(crypto)?,
        ))
    }

    /// The zones with keys in `dir`: one per `<origin>ksk.pk8` file, sorted.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] when the directory cannot be read.
    pub fn zones_in(dir: &Path) -> Result<Vec<DomainName>, SignError> {
        let entries = std::fs::read_dir(dir).map_err(|e| SignError::KeyFile {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
        let mut zones: Vec<DomainName> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let origin = name.strip_suffix("ksk.pk8")?;
                let origin = if origin == "root." { "." } else { origin };
                DomainName::parse(origin).ok()
            })
            .collect();
        zones.sort_by(canonical_cmp);
        Ok(zones)
    }

    /// The KSK's DNSKEY RDATA.
    #[must_use]
    pub fn ksk_dnskey(&self) -> &DNSKEY {
        &self.ksk_dnskey
    }

    /// The ZSK's DNSKEY RDATA.
    #[must_use]
    pub fn zsk_dnskey(&self) -> &DNSKEY {
        &self.zsk_dnskey
    }

    /// The KSK's DS record (SHA-256, RFC 4509) in zone-file format, for the parent zone or a
    /// `--trust-anchor` file.
    ///
    /// # Errors
    /// [`SignError`] when the origin is not a valid name or the digest fails.
    pub fn ds_text(&self, origin: &DomainName) -> Result<String, SignError> {
        let name = to_name(origin)?;
        let digest = self
            .ksk_dnskey
            .to_digest(&name, DigestType::SHA256)
            .map_err(crypto)?;
        let tag = self.ksk_dnskey.calculate_key_tag().map_err(crypto)?;
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        Ok(format!("{name} 3600 IN DS {tag} 13 2 {hex}\n"))
    }

    /// The KSK's DNSKEY record in zone-file format (a trust anchor).
    ///
    /// # Errors
    /// [`SignError`] when the origin is not a valid name.
    pub fn dnskey_text(&self, origin: &DomainName) -> Result<String, SignError> {
        let data = RData::DNSSEC(DNSSECRData::DNSKEY(self.ksk_dnskey.clone()));
        let record = to_zone_record(origin, 3600, &data)?;
        Ok(format!("{}\n", altodisc_zone::master::record_line(&record)))
    }
}

/// Automatic ZSK rollover by pre-publication (RFC 6781 §4.1.1.1): a new ZSK is published
/// `lifetime` after the current one became active, signs once its DNSKEY has reached every cache
/// (DNSKEY TTL + `propagation_delay`), and the old one stays published until the signatures it
/// made have expired from caches (the zone's longest TTL + `propagation_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZskRollover {
    /// How long a ZSK signs before its successor is published.
    pub lifetime: Duration,
    /// Time for a change to reach every secondary, added to each TTL-based wait.
    pub propagation_delay: Duration,
}

/// One ZSK of a rollover state: its file (in the key directory) and when it entered its state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StateKey {
    file: String,
    since: u64,
}

/// The persisted ZSK rollover state of a zone (`<origin>zsk.state` in the key directory), so a
/// restart continues where it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ZskState {
    active: StateKey,
    incoming: Option<StateKey>,
    retired: Option<StateKey>,
    /// DNSKEY TTL and longest TTL of the zone as last signed: the waits are computed from them.
    ttls: Option<(u32, u32)>,
}

impl ZskState {
    fn parse(text: &str, path: &Path) -> Result<Self, SignError> {
        let bad = |line: usize, why: &str| SignError::KeyFile {
            path: path.to_owned(),
            message: format!(
                "line {line}: {why}; fix or remove the file (the rollover then starts over)"
            ),
        };
        let (mut active, mut incoming, mut retired, mut ttls) = (None, None, None, None);
        for (i, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [] => {}
                [c, ..] if c.starts_with('#') => {}
                ["ttls", a, b] => {
                    ttls = Some((
                        a.parse().map_err(|_| bad(i + 1, "bad TTL"))?,
                        b.parse().map_err(|_| bad(i + 1, "bad TTL"))?,
                    ));
                }
                [state, file, since] => {
                    if file.contains('/') || file.starts_with('.') {
                        return Err(bad(i + 1, "key file names must be plain file names"));
                    }
                    let key = StateKey {
                        file: (*file).to_owned(),
                        since: since.parse().map_err(|_| bad(i + 1, "bad time"))?,
                    };
                    match *state {
                        "active" => active = Some(key),
                        "incoming" => incoming = Some(key),
                        "retired" => retired = Some(key),
                        _ => return Err(bad(i + 1, "unknown state")),
                    }
                }
                _ => {
                    return Err(bad(
                        i + 1,
                        "expected `STATE FILE UNIX-TIME` or `ttls DNSKEY MAX`",
                    ));
                }
            }
        }
        let active = active.ok_or_else(|| bad(0, "no active ZSK"))?;
        Ok(Self {
            active,
            incoming,
            retired,
            ttls,
        })
    }

    fn to_text(&self) -> String {
        let mut s = String::from("# ZSK rollover state (RFC 6781 §4.1.1.1), written by altodisc\n");
        for (name, k) in [
            ("active", Some(&self.active)),
            ("incoming", self.incoming.as_ref()),
            ("retired", self.retired.as_ref()),
        ] {
            if let Some(k) = k {
                s.push_str(&format!("{name} {} {}\n", k.file, k.since));
            }
        }
        if let Some((d, m)) = self.ttls {
            s.push_str(&format!("ttls {d} {m}\n"));
        }
        s
    }

    /// When the next step is due, in Unix seconds (`None` before the TTLs are known).
    fn next_event(&self, roll: &ZskRollover) -> Option<u64> {
        let delay = roll.propagation_delay.as_secs();
        let (dnskey_ttl, max_ttl) = self.ttls?;
        let mut at = Vec::new();
        if let Some(k) = &self.incoming {
            at.push(
                k.since
                    .saturating_add(u64::from(dnskey_ttl))
                    .saturating_add(delay),
            );
        }
        if let Some(k) = &self.retired {
            at.push(
                k.since
                    .saturating_add(u64::from(max_ttl))
                    .saturating_add(delay),
            );
        }
        if self.incoming.is_none() && self.retired.is_none() {
            at.push(self.active.since.saturating_add(roll.lifetime.as_secs()));
        }
        at.into_iter().min()
    }

    /// Takes every step due at `now` (Unix seconds); `true` when something changed. A new ZSK
    /// is made in `dir` when the active one reaches its lifetime.
    fn advance(
        &mut self,
        roll: &ZskRollover,
        now: u64,
        dir: &Path,
        base: &str,
    ) -> Result<bool, SignError> {
        let mut changed = false;
        // At most one step of each kind per call; a long outage catches up one step per load.
        for _ in 0..3 {
            let Some(due) = self.next_event(roll) else {
                break;
            };
            if now < due {
                break;
            }
            changed = true;
            if let Some(new) = self.incoming.take() {
                // The successor's DNSKEY is in every cache: it signs from now on.
                let old = std::mem::replace(
                    &mut self.active,
                    StateKey {
                        file: new.file,
                        since: now,
                    },
                );
                self.retired = Some(StateKey {
                    file: old.file,
                    since: now,
                });
            } else if self.retired.is_some() {
                // No cache holds a signature of the old ZSK any more: withdraw its DNSKEY.
                self.retired = None;
            } else {
                let key =
                    EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
                let file = format!("{base}zsk-{now}.pk8");
                let path = dir.join(&file);
                if !path.exists() {
                    write_private(&path, key.secret_pkcs8_der())?;
                }
                self.incoming = Some(StateKey { file, since: now });
            }
        }
        Ok(changed)
    }
}

/// One key of a rollover, as [`ZoneKeys::rollover_status`] and [`ZoneKeys::ksk_status`]
/// report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZskStatus {
    /// `active` (signs), `incoming` (ZSK: published, signs after the wait; KSK: made, its DS
    /// asked for by CDS), `ds-seen` (KSK whose DS is at the parent) or `retired` (ZSK published
    /// until its signatures have left caches).
    pub state: &'static str,
    /// The key file, in the key directory.
    pub file: String,
    /// When it entered that state (Unix seconds).
    pub since: u64,
    /// Its key tag.
    pub key_tag: u16,
}

/// Automatic KSK rollover by double-DS (RFC 6781 §4.1.2) with CDS/CDNSKEY (RFC 7344, RFC
/// 8078): `lifetime` after the KSK became active a successor is made and the CDS/CDNSKEY RRsets
/// ask the parent for the DS of both; once the operator confirms the new DS is at the parent
/// (`altodisc keys ds-seen`) and the parent's DS TTL + `propagation_delay` have passed, the
/// successor replaces the old KSK in the DNSKEY RRset and the CDS/CDNSKEY name it alone, so the
/// parent can drop the old DS. Outside a rollover the CDS/CDNSKEY name the active KSK. The old
/// KSK never stops before its successor's DS is seen: confirmed by the operator, or found at
/// every one of the parent's servers by [`ZoneKeys::roll_ksk_checking_parent`], which asks them
/// every `parent_ds_poll` while the successor waits (RFC 7344 §4.1, RFC 6781 §4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KskRollover {
    /// How long a KSK is active before its successor is made.
    pub lifetime: Duration,
    /// TTL of the DS RRset at the parent: caches may hold the old DS set that long.
    pub parent_ds_ttl: Duration,
    /// Time for a change to reach every secondary.
    pub propagation_delay: Duration,
    /// How often the parent's servers are asked for the successor's DS while it waits (only
    /// for zones with parent servers given).
    pub parent_ds_poll: Duration,
}

/// The persisted KSK rollover state (`<origin>ksk.state`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KskState {
    active: StateKey,
    incoming: Option<StateKey>,
    /// When the successor's DS was confirmed at the parent.
    ds_seen: Option<u64>,
    /// When the parent's servers were last asked for the successor's DS (automatic check).
    ds_checked: Option<u64>,
}

impl KskState {
    fn parse(text: &str, path: &Path) -> Result<Self, SignError> {
        let bad = |line: usize, why: &str| SignError::KeyFile {
            path: path.to_owned(),
            message: format!("line {line}: {why}; fix the file from a backup"),
        };
        let (mut active, mut incoming, mut ds_seen, mut ds_checked) = (None, None, None, None);
        for (i, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [] => {}
                [c, ..] if c.starts_with('#') => {}
                ["ds_seen", t] => ds_seen = Some(t.parse().map_err(|_| bad(i + 1, "bad time"))?),
                ["ds_checked", t] => {
                    ds_checked = Some(t.parse().map_err(|_| bad(i + 1, "bad time"))?);
                }
                [state @ ("active" | "incoming"), file, since] => {
                    if file.contains('/') || file.starts_with('.') {
                        return Err(bad(i + 1, "key file names must be plain file names"));
                    }
                    let key = StateKey {
                        file: (*file).to_owned(),
                        since: since.parse().map_err(|_| bad(i + 1, "bad time"))?,
                    };
                    if *state == "active" {
                        active = Some(key);
                    } else {
                        incoming = Some(key);
                    }
                }
                _ => {
                    return Err(bad(
                        i + 1,
                        "expected `active|incoming FILE UNIX-TIME`, `ds_seen UNIX-TIME` or \
                         `ds_checked UNIX-TIME`",
                    ));
                }
            }
        }
        Ok(Self {
            active: active.ok_or_else(|| bad(0, "no active KSK"))?,
            incoming,
            ds_seen,
            ds_checked,
        })
    }

    fn to_text(&self) -> String {
        let mut s =
            String::from("# KSK rollover state (RFC 6781 §4.1.2 double-DS), written by altodisc\n");
        s.push_str(&format!(
            "active {} {}\n",
            self.active.file, self.active.since
        ));
        if let Some(k) = &self.incoming {
            s.push_str(&format!("incoming {} {}\n", k.file, k.since));
        }
        if let Some(t) = self.ds_seen {
            s.push_str(&format!("ds_seen {t}\n"));
        }
        if let Some(t) = self.ds_checked {
            s.push_str(&format!("ds_checked {t}\n"));
        }
        s
    }

    /// When the next step is due (Unix seconds), or the next look at the parent's servers.
    fn next_event(&self, roll: &KskRollover) -> Option<u64> {
        let poll = match (&self.incoming, self.ds_seen, self.ds_checked) {
            (Some(_), None, Some(checked)) => {
                Some(checked.saturating_add(roll.parent_ds_poll.as_secs().max(1)))
            }
            _ => None,
        };
        match (self.next_step(roll), poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the next state change is due (Unix seconds).
    fn next_step(&self, roll: &KskRollover) -> Option<u64> {
        match (&self.incoming, self.ds_seen) {
            (None, _) => Some(self.active.since.saturating_add(roll.lifetime.as_secs())),
            // Waiting for the DS at the parent: only the operator or the check moves on.
            (Some(_), None) => None,
            (Some(_), Some(seen)) => Some(
                seen.saturating_add(roll.parent_ds_ttl.as_secs())
                    .saturating_add(roll.propagation_delay.as_secs()),
            ),
        }
    }

    fn advance(
        &mut self,
        roll: &KskRollover,
        now: u64,
        dir: &Path,
        base: &str,
    ) -> Result<(), SignError> {
        let Some(due) = self.next_step(roll) else {
            return Ok(());
        };
        if now < due {
            return Ok(());
        }
        match self.incoming.take() {
            Some(new) => {
                // Double-DS: both DS are at the parent and cached; swap the DNSKEY.
                self.active = StateKey {
                    file: new.file,
                    since: now,
                };
                self.ds_seen = None;
                self.ds_checked = None;
            }
            None => {
                let key =
                    EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).map_err(crypto)?;
                let file = format!("{base}ksk-{now}.pk8");
                let path = dir.join(&file);
                if !path.exists() {
                    write_private(&path, key.secret_pkcs8_der())?;
                }
                self.incoming = Some(StateKey { file, since: now });
            }
        }
        Ok(())
    }
}

fn load_ksk(dir: &Path, file: &str) -> Result<(EcdsaSigningKey, DNSKEY), SignError> {
    let (key, dnskey) = load_zsk(dir, file)?;
    let ksk = DNSKEY::with_flags(FLAG_ZONE | FLAG_SEP, dnskey.public_key().clone());
    Ok((key, ksk))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), SignError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| SignError::KeyFile {
            path: path.to_owned(),
            message: format!("cannot write the rollover state: {e}"),
        })
}

impl ZoneKeys {
    /// Applies the KSK rollover state of `origin` (`<origin>ksk.state`, made on first use) at
    /// `now`: takes the step due, writes the state back when it changed, signs the DNSKEY RRset
    /// with the active KSK, and publishes CDS/CDNSKEY while a successor waits. Returns the time
    /// of the next step (`None` while waiting for `altodisc keys ds-seen`).
    ///
    /// # Errors
    /// [`SignError::KeyFile`] naming the state or key file that cannot be read, parsed or
    /// written.
    pub fn roll_ksk(
        &mut self,
        dir: &Path,
        origin: &DomainName,
        roll: &KskRollover,
        now: SystemTime,
    ) -> Result<Option<SystemTime>, SignError> {
        self.roll_ksk_checking_parent(dir, origin, roll, &[], now)
    }

    /// [`Self::roll_ksk`] that also asks the parent zone's authoritative servers (`parent`,
    /// none: only the operator confirms) for the successor's DS while it waits, at most every
    /// `roll.parent_ds_poll`: once every one of them answers authoritatively with a DS matching
    /// the successor KSK (key tag, algorithm and digest, RFC 4034 §5.1.4), the DS counts as
    /// seen, as after `altodisc keys ds-seen`, and the swap follows after the parent's DS TTL
    /// (RFC 6781 §4.1.2; RFC 7344 §4.1: the parent's servers, not a cache, say what the parent
    /// publishes). A server that cannot be reached, or answers without the DS, only delays: the
    /// next look is a poll later, and the old KSK keeps signing.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] naming the state or key file that cannot be read, parsed or
    /// written.
    pub fn roll_ksk_checking_parent(
        &mut self,
        dir: &Path,
        origin: &DomainName,
        roll: &KskRollover,
        parent: &[SocketAddr],
        now: SystemTime,
    ) -> Result<Option<SystemTime>, SignError> {
        let now_unix = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let base = file_base(origin);
        let path = dir.join(format!("{base}ksk.state"));
        let read = read_ksk_state(&path)?;
        if let Some(read) = &read {
            let latest = [
                read.incoming.as_ref().map(|k| k.since),
                read.ds_seen,
                read.ds_checked,
            ]
            .into_iter()
            .flatten()
            .fold(read.active.since, u64::max);
            clock_after(&path, origin, latest, now_unix)?;
        }
        let mut state = read.clone().unwrap_or_else(|| KskState {
            active: StateKey {
                file: format!("{base}ksk.pk8"),
                since: now_unix,
            },
            incoming: None,
            ds_seen: None,
            ds_checked: None,
        });
        state.advance(roll, now_unix, dir, &base)?;
        let waiting = state.incoming.is_some() && state.ds_seen.is_none();
        if parent.is_empty() || !waiting {
            // No look at the parent pending: no poll timer either.
            state.ds_checked = None;
        } else if let Some(incoming) = &state.incoming
            && state.ds_checked.is_none_or(|at| {
                now_unix >= at.saturating_add(roll.parent_ds_poll.as_secs().max(1))
            })
        {
            let successor = load_ksk(dir, &incoming.file)?.1;
            let tag = successor.calculate_key_tag().map_err(crypto)?;
            state.ds_checked = Some(now_unix);
            match parent_serves_ds(parent, origin, &successor) {
                Ok(()) => {
                    tracing::info!(
                        zone = %origin,
                        key_tag = tag,
                        "DS of the new KSK seen at every parent server; the old KSK retires after the parent's DS TTL"
                    );
                    state.ds_seen = Some(now_unix);
                    state.ds_checked = None;
                }
                Err(why) => tracing::info!(
                    zone = %origin,
                    key_tag = tag,
                    "DS of the new KSK not yet at the parent ({why}); asking again in {} s",
                    roll.parent_ds_poll.as_secs().max(1)
                ),
            }
        }
        if read.as_ref() != Some(&state) {
            write_atomic(&path, &state.to_text())?;
        }
        let (ksk, ksk_dnskey) = load_ksk(dir, &state.active.file)?;
        self.ksk = ksk;
        self.ksk_dnskey = ksk_dnskey;
        // CDS/CDNSKEY mirror the DS set the parent should hold (RFC 7344 §4, RFC 8078 §3): the
        // active KSK, and its successor as soon as it is made; after the swap the successor
        // alone, which tells the parent to drop the old DS.
        self.cds.clear();
        self.cds.push(self.ksk_dnskey.clone());
        if let Some(k) = &state.incoming {
            let successor = load_ksk(dir, &k.file)?.1;
            // Its DNSKEY is published too, not signing: every CDS/CDNSKEY then matches a key
            // of the DNSKEY RRset (RFC 7344 §4.1; Knot's checker insists), and validators
            // holding either DS find their key.
            self.published.retain(|p| *p != successor);
            self.published.push(successor.clone());
            self.cds.push(successor);
        }
        Ok(state
            .next_event(roll)
            .map(|s| UNIX_EPOCH + Duration::from_secs(s)))
    }

    /// Records that the DS of the zone's waiting successor KSK is at the parent (operator
    /// command `altodisc keys ds-seen`): the swap follows after the parent's DS TTL.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] when there is no successor waiting, or the state cannot be read
    /// or written.
    pub fn mark_ds_seen(
        dir: &Path,
        origin: &DomainName,
        now: SystemTime,
    ) -> Result<String, SignError> {
        let path = dir.join(format!("{}ksk.state", file_base(origin)));
        let Some(mut state) = read_ksk_state(&path)? else {
            return Err(SignError::KeyFile {
                path,
                message: "no KSK rollover under way for this zone (is ksk_lifetime set?)"
                    .to_owned(),
            });
        };
        let Some(incoming) = &state.incoming else {
            return Err(SignError::KeyFile {
                path,
                message: "no new KSK is waiting for its DS".to_owned(),
            });
        };
        let tag = load_ksk(dir, &incoming.file)?
            .1
            .calculate_key_tag()
            .map_err(crypto)?;
        if state.ds_seen.is_none() {
            state.ds_seen = Some(now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
            write_atomic(&path, &state.to_text())?;
        }
        Ok(format!("KSK {tag} of {origin}: DS seen at the parent"))
    }

    /// The earliest next KSK rollover step of any zone with a state in `dir`.
    #[must_use]
    pub fn next_ksk_step(dir: &Path, roll: &KskRollover) -> Option<SystemTime> {
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("ksk.state"))
            .filter_map(|e| read_ksk_state(&e.path()).ok().flatten()?.next_event(roll))
            .min()
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
    }

    /// The KSKs of a zone's KSK rollover state, read only, each with its DS record (SHA-256):
    /// the active one and a successor; `None` without a state file.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] naming the state or key file that cannot be read or parsed.
    pub fn ksk_status(
        dir: &Path,
        origin: &DomainName,
    ) -> Result<Option<Vec<(ZskStatus, String)>>, SignError> {
        let path = dir.join(format!("{}ksk.state", file_base(origin)));
        let Some(state) = read_ksk_state(&path)? else {
            return Ok(None);
        };
        let name = to_name(origin)?;
        let mut out = Vec::new();
        for (label, k) in [
            ("active", Some(&state.active)),
            ("incoming", state.incoming.as_ref()),
        ] {
            let Some(k) = k else { continue };
            let dnskey = load_ksk(dir, &k.file)?.1;
            let tag = dnskey.calculate_key_tag().map_err(crypto)?;
            let digest = dnskey
                .to_digest(&name, DigestType::SHA256)
                .map_err(crypto)?;
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
            let state = if label == "incoming" && state.ds_seen.is_some() {
                "ds-seen"
            } else {
                label
            };
            out.push((
                ZskStatus {
                    state,
                    file: k.file.clone(),
                    since: k.since,
                    key_tag: tag,
                },
                format!("{name} 3600 IN DS {tag} 13 2 {hex}"),
            ));
        }
        Ok(Some(out))
    }

    /// The KSKs published as CDS/CDNSKEY (during a KSK rollover).
    #[must_use]
    pub fn cds_keys(&self) -> &[DNSKEY] {
        &self.cds
    }
}

/// How far the clock may be behind the latest time of a rollover state (written by an earlier
/// step) before signing stops: small steps of NTP are fine, a clock set back is not.
pub const CLOCK_SKEW_ALLOWED: Duration = Duration::from_secs(300);

/// `Err` naming the state file and zone when `now` is more than [`CLOCK_SKEW_ALLOWED`] before
/// `latest`, a time the state file records as already passed (a step taken, a key made). With
/// the clock behind, the waits of RFC 6781 §4.1 would be measured from a time that has not
/// come and the signatures' inception and expiration (RFC 4034 §3.1.5) set from a wrong now:
/// the zone is not signed again, and a reload keeps the previous signed version.
fn clock_after(path: &Path, origin: &DomainName, latest: u64, now: u64) -> Result<(), SignError> {
    if now.saturating_add(CLOCK_SKEW_ALLOWED.as_secs()) >= latest {
        return Ok(());
    }
    Err(SignError::KeyFile {
        path: path.to_owned(),
        message: format!(
            "zone {origin}: the system clock ({now}, Unix seconds) is {} s behind this \
             rollover state (a step taken at {latest}); fix the clock (NTP) and reload, or, if \
             the state is wrong, restore it from a backup; the zone is not signed again until \
             then",
            latest.saturating_sub(now)
        ),
    })
}

/// How long one server gets to answer a DS query, per try (two tries over UDP).
const PARENT_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// `Ok` when every server in `servers` answers a DS query for `origin` authoritatively
/// (NOERROR, AA) with a DS matching `ksk`; else why not, naming the first server that does not.
fn parent_serves_ds(
    servers: &[SocketAddr],
    origin: &DomainName,
    ksk: &DNSKEY,
) -> Result<(), String> {
    use hickory_proto::op::ResponseCode;
    let name = to_name(origin).map_err(|e| e.to_string())?;
    let tag = ksk.calculate_key_tag().map_err(|e| e.to_string())?;
    for server in servers {
        let reply = ask_ds(*server, &name)?;
        if reply.metadata.response_code != ResponseCode::NoError || !reply.metadata.authoritative {
            return Err(format!(
                "{server} answered {} without the AA bit or with an error: not authoritative for the parent zone",
                reply.metadata.response_code
            ));
        }
        let ds: Vec<_> = reply
            .answers
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds),
                _ => None,
            })
            .collect();
        let matches = ds.iter().any(|ds| {
            ds.key_tag() == tag
                && ds.algorithm() == Algorithm::ECDSAP256SHA256
                && ds.covers(&name, ksk).unwrap_or(false)
        });
        if !matches {
            let tags: Vec<u16> = ds.iter().map(|ds| ds.key_tag()).collect();
            return Err(format!(
                "{server} has no DS matching key tag {tag} (DS tags there: {tags:?})"
            ));
        }
    }
    Ok(())
}

/// One DS query to `server`: UDP with EDNS (1232 octets, RFC 9715), retried once, then TCP
/// when the answer is truncated (RFC 7766 §5). The ID is random (RFC 5452 §9.2) and the reply
/// must come from `server` and echo the question.
fn ask_ds(server: SocketAddr, name: &Name) -> Result<hickory_proto::op::Message, String> {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use ring::rand::SecureRandom as _;
    use std::io::{Read as _, Write as _};
    let mut id = [0u8; 2];
    ring::rand::SystemRandom::new()
        .fill(&mut id)
        .map_err(|_| "no random query ID".to_owned())?;
    let id = u16::from_be_bytes(id);
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(name.clone(), RecordType::DS));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    query.set_edns(edns);
    let wire = query.to_vec().map_err(|e| e.to_string())?;
    let fits = |m: &Message| {
        m.metadata.id == id
            && m.metadata.message_type == MessageType::Response
            && m.queries.len() == 1
            && m.queries
                .first()
                .is_some_and(|q| q.name() == name && q.query_type() == RecordType::DS)
    };
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| format!("{server}: {e}");
    let sock = std::net::UdpSocket::bind(bind).map_err(io)?;
    sock.set_read_timeout(Some(PARENT_QUERY_TIMEOUT))
        .map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    let mut udp = None;
    'tries: for _ in 0..2 {
        sock.send_to(&wire, server).map_err(io)?;
        let deadline = std::time::Instant::now() + PARENT_QUERY_TIMEOUT;
        while std::time::Instant::now() < deadline {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                break;
            };
            if from != server {
                continue;
            }
            if let Some(m) = buf.get(..n).and_then(|b| Message::from_vec(b).ok())
                && fits(&m)
            {
                udp = Some(m);
                break 'tries;
            }
        }
    }
    let Some(reply) = udp else {
        return Err(format!("{server}: no answer"));
    };
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    let mut tcp =
        std::net::TcpStream::connect_timeout(&server, PARENT_QUERY_TIMEOUT).map_err(io)?;
    tcp.set_read_timeout(Some(PARENT_QUERY_TIMEOUT))
        .map_err(io)?;
    tcp.set_write_timeout(Some(PARENT_QUERY_TIMEOUT))
        .map_err(io)?;
    let len = u16::try_from(wire.len()).map_err(|_| format!("{server}: query too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    tcp.write_all(&framed).map_err(io)?;
    let mut len = [0u8; 2];
    tcp.read_exact(&mut len).map_err(io)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tcp.read_exact(&mut body).map_err(io)?;
    let reply = Message::from_vec(&body).map_err(|e| format!("{server}: {e}"))?;
    if fits(&reply) {
        Ok(reply)
    } else {
        Err(format!("{server}: the TCP answer does not match the query"))
    }
}

fn read_ksk_state(path: &Path) -> Result<Option<KskState>, SignError> {
    match std::fs::read_to_string(path) {
        Ok(text) => KskState::parse(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SignError::KeyFile {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

fn file_base(origin: &DomainName) -> String {
    let base = origin.to_lowercase_string();
    if base == "." {
        "root.".to_owned()
    } else {
        base
    }
}

fn load_zsk(dir: &Path, file: &str) -> Result<(EcdsaSigningKey, DNSKEY), SignError> {
    let path = dir.join(file);
    let der = std::fs::read(&path).map_err(|e| SignError::KeyFile {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let key =
        EcdsaSigningKey::from_pkcs8(&der.into(), Algorithm::ECDSAP256SHA256).map_err(|e| {
            SignError::KeyFile {
                path: path.clone(),
                message: format!(
                    "not an ECDSA P-256 PKCS#8 private key ({e}); restore it from a backup"
                ),
            }
        })?;
    let dnskey = DNSKEY::with_flags(FLAG_ZONE, key.to_public_key().map_err(crypto)?);
    Ok((key, dnskey))
}

impl ZoneKeys {
    /// [`Self::load_or_create`] with automatic ZSK rollover: reads `<origin>zsk.state`, takes the
    /// steps due at `now`, records `ttls` (DNSKEY TTL and longest TTL of the zone about to be
    /// signed; `None` keeps the recorded ones), writes the state back when it changed, and
    /// returns the keys (signing ZSK and the ZSKs only published) with the time of the next
    /// step.
    ///
    /// # Errors
    /// [`SignError::KeyFile`] naming the state or key file that cannot be read, parsed or
    /// written.
    pub fn load_rolling(
        dir: &Path,
        origin: &DomainName,
        roll: &ZskRollover,
        ttls: Option<(u32, u32)>,
        now: SystemTime,
    ) -> Result<(Self, Option<SystemTime>), SignError> {
        let mut keys = Self::load_or_create(dir, origin)?;
        let now_unix = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let base = file_base(origin);
        let path = dir.join(format!("{base}zsk.state"));
        let read = match std::fs::read_to_string(&path) {
            Ok(text) => Some(ZskState::parse(&text, &path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(SignError::KeyFile {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let mut state = read.clone().unwrap_or_else(|| ZskState {
            active: StateKey {
                file: format!("{base}zsk.pk8"),
                since: now_unix,
            },
            incoming: None,
            retired: None,
            ttls: None,
        });
        if let Some(read) = &read {
            let latest = [&read.incoming, &read.retired]
                .into_iter()
                .flatten()
                .map(|k| k.since)
                .fold(read.active.since, u64::max);
            clock_after(&path, origin, latest, now_unix)?;
        }
        if ttls.is_some() {
            state.ttls = ttls;
        }
        state.advance(roll, now_unix, dir, &base)?;
        if read.as_ref() != Some(&state) {
            let tmp = dir.join(format!("{base}zsk.state.tmp"));
            std::fs::write(&tmp, state.to_text())
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| SignError::KeyFile {
                    path: path.clone(),
                    message: format!("cannot write the rollover state: {e}"),
                })?;
        }
        let (zsk, zsk_dnskey) = load_zsk(dir, &state.active.file)?;
        keys.zsk = zsk;
        keys.zsk_dnskey = zsk_dnskey;
        keys.published.clear();
        for k in [&state.incoming, &state.retired].into_iter().flatten() {
            keys.published.push(load_zsk(dir, &k.file)?.1);
        }
        let next = state
            .next_event(roll)
            .map(|s| UNIX_EPOCH + Duration::from_secs(s));
        Ok((keys, next))
    }

    /// The earliest next rollover step of any zone with a state file in `dir` (for the timer
    /// that reloads `serve`). Unreadable state files are skipped here; the load reports them.
    #[must_use]
    pub fn next_rollover_step(dir: &Path, roll: &ZskRollover) -> Option<SystemTime> {
        let entries = std::fs::read_dir(dir).ok()?;
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with("zsk.state"))
            .filter_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                ZskState::parse(&text, &e.path()).ok()?.next_event(roll)
            })
            .min()
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
    }

    /// The ZSKs of a zone's rollover state, read only: the active, incoming and retired ZSK;
    /// `None` without a state file (no rollover yet).
    ///
    /// # Errors
    /// [`SignError::KeyFile`] naming the state or key file that cannot be read or parsed.
    pub fn rollover_status(
        dir: &Path,
        origin: &DomainName,
    ) -> Result<Option<Vec<ZskStatus>>, SignError> {
        let path = dir.join(format!("{}zsk.state", file_base(origin)));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SignError::KeyFile {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let state = ZskState::parse(&text, &path)?;
        let mut out = Vec::new();
        for (name, k) in [
            ("active", Some(&state.active)),
            ("incoming", state.incoming.as_ref()),
            ("retired", state.retired.as_ref()),
        ] {
            if let Some(k) = k {
                let tag = load_zsk(dir, &k.file)?
                    .1
                    .calculate_key_tag()
                    .map_err(crypto)?;
                out.push(ZskStatus {
                    state: name,
                    file: k.file.clone(),
                    since: k.since,
                    key_tag: tag,
                });
            }
        }
        Ok(Some(out))
    }

    /// The DNSKEYs published in addition to the KSK and the signing ZSK.
    #[must_use]
    pub fn published_only(&self) -> &[DNSKEY] {
        &self.published
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SignError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |e: std::io::Error| SignError::KeyFile {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

fn to_name(n: &DomainName) -> Result<Name, SignError> {
    Name::from_labels(n.labels()).map_err(|e| SignError::Record {
        owner: n.to_string(),
        rtype: 0,
        message: e.to_string(),
    })
}

fn from_name(n: &Name) -> Result<DomainName, SignError> {
    DomainName::from_labels(n.iter()).map_err(|e| SignError::Record {
        owner: n.to_string(),
        rtype: 0,
        message: e.to_string(),
    })
}

fn is_below(name: &DomainName, ancestor: &DomainName) -> bool {
    let n: Vec<&[u8]> = name.labels().collect();
    let a: Vec<&[u8]> = ancestor.labels().collect();
    n.len() > a.len()
        && n[n.len() - a.len()..]
            .iter()
            .zip(&a)
            .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

pub(crate) fn to_record(r: &ZoneRecord) -> Result<Record, SignError> {
    let err = |m: String| SignError::Record {
        owner: r.owner.to_string(),
        rtype: r.rtype,
        message: m,
    };
    let len = u16::try_from(r.rdata.len()).map_err(|_| err("RDATA over 65535 octets".into()))?;
    let mut dec = BinDecoder::new(&r.rdata);
    let data = RData::read(&mut dec, RecordType::from(r.rtype), Restrict::new(len))
        .map_err(|e| err(e.to_string()))?;
    let mut rec = Record::from_rdata(to_name(&r.owner)?, r.ttl, data);
    rec.dns_class = DNSClass::from(r.class);
    Ok(rec)
}

fn to_zone_record(owner: &DomainName, ttl: u32, data: &RData) -> Result<ZoneRecord, SignError> {
    let rt = u16::from(data.record_type());
    let mut rdata = Vec::new();
    let mut enc = BinEncoder::new(&mut rdata);
    // RDATA stands alone in a ZoneRecord: never compressed (RFC 3597 §4, RFC 4034 §6.2).
    enc.set_name_encoding(NameEncoding::Uncompressed);
    data.emit(&mut enc).map_err(|e| SignError::Record {
        owner: owner.to_string(),
        rtype: rt,
        message: e.to_string(),
    })?;
    Ok(ZoneRecord {
        owner: owner.clone(),
        ttl,
        class: CLASS_IN,
        rtype: rt,
        rdata,
        position: None,
        rdata_positions: Vec::new(),
    })
}

fn unix_secs(t: SystemTime) -> u32 {
    // Serial-number arithmetic (RFC 4034 §3.1.5): times are taken modulo 2^32.
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs & u64::from(u32::MAX)).unwrap_or(0)
}

fn is_cds_type(t: u16) -> bool {
    t == TYPE_CDS || t == TYPE_CDNSKEY
}

fn is_dnssec_type(t: u16) -> bool {
    matches!(
        t,
        rtype::RRSIG | rtype::NSEC | rtype::NSEC3 | rtype::NSEC3PARAM | rtype::DNSKEY
    )
}

/// Signs `zone` with `keys`: adds the DNSKEY RRset at the apex, the NSEC chain, and an RRSIG for
/// every authoritative RRset, valid from `now - inception_offset` to `now + validity`. Existing
/// DNSKEY/RRSIG/NSEC/NSEC3/NSEC3PARAM records are replaced. [`sign_zone_with`] with
/// [`Denial::Nsec`].
///
/// # Errors
/// [`SignError`] when the zone has no SOA, a record does not decode, or signing fails.
pub fn sign_zone(
    zone: &Zone,
    keys: &ZoneKeys,
    policy: &SigningPolicy,
    now: SystemTime,
) -> Result<Zone, SignError> {
    sign_zone_with(zone, keys, policy, &Denial::Nsec, now)
}

/// Authenticated denial of existence in a signed zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denial {
    /// An NSEC chain (RFC 4034 §4). The default: RFC 9276 §3.1 recommends NSEC unless zone
    /// walking must be made harder, and a reverse zone can be enumerated by querying anyway.
    #[default]
    Nsec,
    /// An NSEC3 chain of hashed owner names (RFC 5155) and the NSEC3PARAM at the apex.
    Nsec3(Nsec3Params),
}

/// NSEC3 parameters (RFC 5155 §3.1). The default is RFC 9276 §3.1's: no extra iterations,
/// no salt, no opt-out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nsec3Params {
    /// Additional hash iterations (RFC 9276 §3.1: 0).
    pub iterations: u16,
    /// The salt, at most 255 octets (RFC 9276 §3.1: empty).
    pub salt: Vec<u8>,
    /// Opt-out (RFC 5155 §6): delegations without DS get no NSEC3 of their own.
    pub opt_out: bool,
}

/// Most NSEC3 iterations accepted when signing: validators treat higher counts as insecure or
/// bogus (RFC 9276 §3.2; unbound and BIND treat more than 150 as insecure, and Knot and BIND
/// 9.18 refuse to sign with more than 150 or 50), and 0 is the recommended value.
pub const MAX_NSEC3_ITERATIONS: u16 = 50;

impl Nsec3Params {
    /// Parses a salt as written in an NSEC3PARAM record (RFC 5155 §3.3): `-` (or an empty
    /// string) for none, else hexadecimal digits, at most 255 octets.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse_salt(text: &str) -> Result<Vec<u8>, String> {
        let t = text.trim();
        if t.is_empty() || t == "-" {
            return Ok(Vec::new());
        }
        let salt = data_encoding::HEXLOWER_PERMISSIVE
            .decode(t.as_bytes())
            .map_err(|e| format!("salt {text:?}: not hexadecimal ({e}); use \"-\" for none"))?;
        if salt.len() > 255 {
            return Err(format!("salt {text:?}: longer than 255 octets"));
        }
        Ok(salt)
    }

    /// Checks the iteration count and salt length.
    ///
    /// # Errors
    /// A message naming the limit.
    pub fn validate(&self) -> Result<(), String> {
        if self.iterations > MAX_NSEC3_ITERATIONS {
            return Err(format!(
                "NSEC3 iterations {} is above {MAX_NSEC3_ITERATIONS}: validators treat such zones as insecure (RFC 9276 §3.2); use 0",
                self.iterations
            ));
        }
        if self.salt.len() > 255 {
            return Err("NSEC3 salt longer than 255 octets".to_owned());
        }
        Ok(())
    }

    /// The NSEC3 hash of a name given as its wire form (RFC 5155 §5: SHA-1 over the
    /// lowercase wire form and the salt, then `iterations` times over the digest and the salt).
    ///
    /// # Errors
    /// [`SignError::Crypto`] when the hash is unavailable.
    pub fn hash(&self, wire: &[u8]) -> Result<Vec<u8>, SignError> {
        nsec3_hash(wire, &self.salt, self.iterations)
    }
}

/// RFC 5155 §5 hash of the wire-form name `wire` (lowercased here).
pub(crate) fn nsec3_hash(wire: &[u8], salt: &[u8], iterations: u16) -> Result<Vec<u8>, SignError> {
    let lower = wire.to_ascii_lowercase();
    Digest::iterated(salt, &lower, DigestType::SHA1, iterations)
        .map(|d| d.as_ref().to_vec())
        .map_err(crypto)
}

/// [`sign_zone`] with the denial of existence chosen: an NSEC chain, or an NSEC3 chain
/// (RFC 5155 §7.1) with the NSEC3PARAM at the apex.
///
/// # Errors
/// [`SignError`] when the zone has no SOA, a record does not decode, signing fails, or the
/// NSEC3 parameters are out of range.
pub fn sign_zone_with(
    zone: &Zone,
    keys: &ZoneKeys,
    policy: &SigningPolicy,
    denial: &Denial,
    now: SystemTime,
) -> Result<Zone, SignError> {
    if let Denial::Nsec3(p) = denial {
        p.validate().map_err(|message| SignError::Record {
            owner: zone.origin.to_string(),
            rtype: rtype::NSEC3PARAM,
            message,
        })?;
    }
    let origin = &zone.origin;
    let apex = to_name(origin)?;
    // During a KSK rollover the signer owns the apex CDS/CDNSKEY RRsets (RFC 7344 §4).
    let publish_cds = !keys.cds.is_empty();
    let apex_extra: Vec<u16> = if publish_cds {
        vec![rtype::DNSKEY, TYPE_CDS, TYPE_CDNSKEY]
    } else {
        vec![rtype::DNSKEY]
    };
    let records: Vec<&ZoneRecord> = zone
        .records
        .iter()
        .filter(|r| !(is_dnssec_type(r.rtype) || (publish_cds && is_cds_type(r.rtype))))
        .collect();
    let soa = records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner == *origin)
        .ok_or_else(|| SignError::NoSoa(origin.to_string()))?;
    // NSEC TTL: min(SOA TTL, SOA MINIMUM) (RFC 4035 §2.3 as updated by RFC 9077 §3.3).
    let minimum = soa
        .rdata
        .len()
        .checked_sub(4)
        .and_then(|i| soa.rdata.get(i..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(soa.ttl, u32::from_be_bytes);
    let nsec_ttl = soa.ttl.min(minimum);

    // Zone cuts: non-apex names with NS. Names below a cut are glue: not authoritative.
    let cuts: Vec<DomainName> = records
        .iter()
        .filter(|r| r.rtype == rtype::NS && r.owner != *origin)
        .map(|r| r.owner.clone())
        .collect();
    let glue = |n: &DomainName| cuts.iter().any(|c| is_below(n, c));

    // RRsets by (owner, type), in canonical owner order.
    let mut sets: OwnerSets<'_> = BTreeMap::new();
    for r in &records {
        if !glue(&r.owner) {
            sets.entry(CanonicalName(r.owner.clone()))
                .or_default()
                .entry(r.rtype)
                .or_default()
                .push(r);
        }
    }

    let mut out: Vec<ZoneRecord> = zone
        .records
        .iter()
        .filter(|r| !(is_dnssec_type(r.rtype) || (publish_cds && is_cds_type(r.rtype))))
        .cloned()
        .collect();
    let dnskey_ttl = soa.ttl;
    let mut dnskeys = vec![keys.ksk_dnskey.clone(), keys.zsk_dnskey.clone()];
    dnskeys.extend(keys.published.iter().cloned());
    for k in &dnskeys {
        out.push(to_zone_record(
            origin,
            dnskey_ttl,
            &RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())),
        )?);
    }

    let inception = unix_secs(now.checked_sub(policy.inception_offset).unwrap_or(now));
    let expiration = unix_secs(now + policy.validity);
    let sign = |owner: &DomainName,
                rrset: &[Record],
                key: &EcdsaSigningKey,
                dnskey: &DNSKEY|
     -> Result<ZoneRecord, SignError> {
        let name = to_name(owner)?;
        let first = rrset.first().ok_or_else(|| SignError::Record {
            owner: owner.to_string(),
            rtype: 0,
            message: "empty RRset".to_owned(),
        })?;
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: Algorithm::ECDSAP256SHA256,
            num_labels: name.num_labels(),
            original_ttl: first.ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: dnskey.calculate_key_tag().map_err(crypto)?,
            signer_name: apex.clone(),
        };
        let tbs = TBS::from_input(&name, DNSClass::IN, &input, rrset.iter()).map_err(crypto)?;
        let sig = key.sign(&tbs).map_err(crypto)?;
        to_zone_record(
            owner,
            first.ttl,
            &RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
        )
    };

    // DNSKEY RRset, signed by the KSK (RFC 4035 §2.1; the ZSK signs everything else).
    let dnskey_rrset: Vec<Record> = dnskeys
        .iter()
        .map(|k| {
            Record::from_rdata(
                apex.clone(),
                dnskey_ttl,
                RData::DNSSEC(DNSSECRData::DNSKEY(k.clone())),
            )
        })
        .collect();
    out.push(sign(origin, &dnskey_rrset, &keys.ksk, &keys.ksk_dnskey)?);
    if publish_cds {
        // CDS (SHA-256) and CDNSKEY of every KSK the parent should hold (RFC 7344 §3, §4.1:
        // signed by the KSK, which the current DS set represents; RFC 8078 §3).
        let mut cds = Vec::new();
        let mut cdnskey = Vec::new();
        for k in &keys.cds {
            let digest = k.to_digest(&apex, DigestType::SHA256).map_err(crypto)?;
            let tag = k.calculate_key_tag().map_err(crypto)?;
            cds.push(RData::DNSSEC(DNSSECRData::CDS(CDS::new(
                tag,
                Some(Algorithm::ECDSAP256SHA256),
                DigestType::SHA256,
                digest.as_ref().to_vec(),
            ))));
            cdnskey.push(RData::DNSSEC(DNSSECRData::CDNSKEY(CDNSKEY::new(
                true,
                true,
                false,
                Some(Algorithm::ECDSAP256SHA256),
                hickory_proto::dnssec::PublicKey::public_bytes(k.public_key()).to_vec(),
            ))));
        }
        for set in [cds, cdnskey] {
            let mut rrset = Vec::new();
            for data in set {
                out.push(to_zone_record(origin, dnskey_ttl, &data)?);
                rrset.push(Record::from_rdata(apex.clone(), dnskey_ttl, data));
            }
            out.push(sign(origin, &rrset, &keys.ksk, &keys.ksk_dnskey)?);
        }
    }

    let owners: Vec<DomainName> = sets.keys().map(|c| c.0.clone()).collect();
    for (i, owner) in owners.iter().enumerate() {
        let Some(types) = sets.get(&CanonicalName(owner.clone())) else {
            continue;
        };
        let delegation = cuts.contains(owner);
        for (t, rrs) in types {
            // At a delegation point only DS (and the NSEC) are authoritative (RFC 4035 §2.2).
            if delegation && *t != rtype::DS {
                continue;
            }
            // One TTL per RRset (RFC 2181 §5.2): the smallest.
            let ttl = rrs.iter().map(|r| r.ttl).min().unwrap_or(0);
            let rrset: Vec<Record> = rrs
                .iter()
                .map(|r| {
                    to_record(r).map(|mut rec| {
                        rec.ttl = ttl;
                        rec
                    })
                })
                .collect::<Result<_, _>>()?;
            out.push(sign(owner, &rrset, &keys.zsk, &keys.zsk_dnskey)?);
        }
        if *denial != Denial::Nsec {
            continue;
        }
        // NSEC to the next owner in canonical order, wrapping to the apex (RFC 4034 §4.1.1).
        let next = owners.get(i + 1).unwrap_or(origin);
        let mut bitmap: BTreeSet<u16> = types.keys().copied().collect();
        if *owner == *origin {
            bitmap.extend(apex_extra.iter().copied());
        }
        let nsec = NSEC::new_cover_self(to_name(next)?, bitmap.into_iter().map(RecordType::from));
        let data = RData::DNSSEC(DNSSECRData::NSEC(nsec));
        let rec = Record::from_rdata(to_name(owner)?, nsec_ttl, data.clone());
        out.push(to_zone_record(owner, nsec_ttl, &data)?);
        out.push(sign(owner, &[rec], &keys.zsk, &keys.zsk_dnskey)?);
    }
    if let Denial::Nsec3(params) = denial {
        // NSEC3PARAM at the apex (RFC 5155 §4; flags 0: opt-out is a property of the NSEC3
        // records, §4.1.2), TTL 0 as BIND and ldns-signzone give it: it is for the zone's
        // servers, not for caches.
        let param = RData::DNSSEC(DNSSECRData::NSEC3PARAM(NSEC3PARAM::new(
            Nsec3HashAlgorithm::SHA1,
            false,
            params.iterations,
            params.salt.clone(),
        )));
        out.push(to_zone_record(origin, 0, &param)?);
        let rec = Record::from_rdata(apex.clone(), 0, param);
        out.push(sign(origin, &[rec], &keys.zsk, &keys.zsk_dnskey)?);
        for (owner, nsec3) in nsec3_chain(origin, &sets, &cuts, params, &apex_extra)? {
            let data = RData::DNSSEC(DNSSECRData::NSEC3(nsec3));
            let rec = Record::from_rdata(to_name(&owner)?, nsec_ttl, data.clone());
            out.push(to_zone_record(&owner, nsec_ttl, &data)?);
            out.push(sign(&owner, &[rec], &keys.zsk, &keys.zsk_dnskey)?);
        }
    }
    Ok(Zone {
        origin: origin.clone(),
        records: out,
    })
}

/// RRsets of a zone by owner, in canonical order.
type OwnerSets<'a> = BTreeMap<CanonicalName, BTreeMap<u16, Vec<&'a ZoneRecord>>>;

/// The NSEC3 chain of a zone (RFC 5155 §7.1): one NSEC3 per authoritative name and per empty
/// non-terminal, owned by the hashed name, pointing to the next hash in order and wrapping.
/// With opt-out, delegations without DS (and the empty non-terminals that only they make)
/// have none, and every NSEC3 has the opt-out flag.
fn nsec3_chain(
    origin: &DomainName,
    sets: &OwnerSets<'_>,
    cuts: &[DomainName],
    params: &Nsec3Params,
    apex_extra: &[u16],
) -> Result<Vec<(DomainName, NSEC3)>, SignError> {
    let apex_labels = origin.label_count();
    let mut names: BTreeMap<CanonicalName, BTreeSet<u16>> = BTreeMap::new();
    for (owner, types) in sets {
        let delegation = cuts.contains(&owner.0);
        let has_ds = types.contains_key(&rtype::DS);
        if params.opt_out && delegation && !has_ds {
            continue;
        }
        let mut bitmap: BTreeSet<u16> = types.keys().copied().collect();
        // RRSIG is present at the name when an RRset there is signed: everything but the NS
        // (and glue) of a delegation, whose DS is signed (RFC 4035 §2.2).
        if !delegation || has_ds {
            bitmap.insert(rtype::RRSIG);
        }
        if owner.0 == *origin {
            bitmap.extend(apex_extra.iter().copied());
            bitmap.insert(rtype::NSEC3PARAM);
        }
        names.entry(owner.clone()).or_default().extend(bitmap);
        // Empty non-terminals between the owner and the apex (RFC 5155 §7.1).
        let labels: Vec<&[u8]> = owner.0.labels().collect();
        for skip in 1..labels.len().saturating_sub(apex_labels) {
            let anc = DomainName::from_labels(labels[skip..].iter().copied()).map_err(|e| {
                SignError::Record {
                    owner: owner.0.to_string(),
                    rtype: rtype::NSEC3,
                    message: e.to_string(),
                }
            })?;
            names.entry(CanonicalName(anc)).or_default();
        }
    }
    let mut hashed: Vec<(Vec<u8>, BTreeSet<u16>, String)> = Vec::with_capacity(names.len());
    for (name, bitmap) in names {
        hashed.push((params.hash(name.0.as_wire())?, bitmap, name.0.to_string()));
    }
    hashed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = hashed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(SignError::Record {
            owner: w[1].2.clone(),
            rtype: rtype::NSEC3,
            message: format!(
                "NSEC3 hash collides with that of {} (RFC 5155 §7.1): choose another salt",
                w[0].2
            ),
        });
    }
    let mut out = Vec::with_capacity(hashed.len());
    for (i, (hash, bitmap, name)) in hashed.iter().enumerate() {
        let next = hashed
            .get(i + 1)
            .or_else(|| hashed.first())
            .map(|h| h.0.clone())
            .unwrap_or_default();
        // Base32 with the extended hex alphabet, lowercase, unpadded (RFC 5155 §3.3).
        let label = data_encoding::BASE32_DNSSEC.encode(hash);
        let owner =
            DomainName::from_labels(std::iter::once(label.as_bytes()).chain(origin.labels()))
                .map_err(|e| SignError::Record {
                    owner: name.clone(),
                    rtype: rtype::NSEC3,
                    message: format!("hashed owner name: {e}"),
                })?;
        let nsec3 = NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            params.opt_out,
            params.iterations,
            params.salt.clone(),
            next,
            bitmap.iter().map(|t| RecordType::from(*t)),
        );
        out.push((owner, nsec3));
    }
    Ok(out)
}

/// What a signed zone adds to answers, indexed for the serving path (RFC 4035 §3.1): the RRSIGs
/// covering an RRset, and the NSEC records (with their RRSIGs) proving a NODATA or an NXDOMAIN.
/// Built once per signed zone; the handler adds these when the query has DO set.
#[derive(Debug, Clone, Default)]
pub struct SignedExtras {
    rrsigs: std::collections::HashMap<(String, u16), Vec<ZoneRecord>>,
    nsec: BTreeMap<CanonicalName, ZoneRecord>,
    origin: Option<DomainName>,
}

impl SignedExtras {
    /// Indexes the RRSIG and NSEC records of `signed`.
    #[must_use]
    pub fn build(signed: &Zone) -> Self {
        let mut x = Self {
            origin: Some(signed.origin.clone()),
            ..Self::default()
        };
        for r in &signed.records {
            match r.rtype {
                rtype::RRSIG => {
                    if let Some(covered) = r
                        .rdata
                        .get(0..2)
                        .and_then(|b| <[u8; 2]>::try_from(b).ok())
                        .map(u16::from_be_bytes)
                    {
                        x.rrsigs
                            .entry((r.owner.to_lowercase_string(), covered))
                            .or_default()
                            .push(r.clone());
                    }
                }
                rtype::NSEC => {
                    x.nsec.insert(CanonicalName(r.owner.clone()), r.clone());
                }
                _ => {}
            }
        }
        x
    }

    /// The RRSIGs covering the RRset `owner`/`rtype` (empty for unsigned data: delegation NS,
    /// glue).
    #[must_use]
    pub fn rrsigs(&self, owner: &DomainName, rtype: u16) -> &[ZoneRecord] {
        self.rrsigs
            .get(&(owner.to_lowercase_string(), rtype))
            .map_or(&[], Vec::as_slice)
    }

    fn with_sig(&self, nsec: &ZoneRecord, out: &mut Vec<ZoneRecord>) {
        if out.iter().any(|r| r == nsec) {
            return;
        }
        out.push(nsec.clone());
        out.extend(self.rrsigs(&nsec.owner, rtype::NSEC).iter().cloned());
    }

    /// The NSEC whose owner is `qname` or, when there is none, the one covering it (the last
    /// owner before it in canonical order, wrapping round; RFC 4034 §4.1.1).
    fn covering(&self, qname: &DomainName) -> Option<&ZoneRecord> {
        self.nsec
            .range(..=CanonicalName(qname.clone()))
            .next_back()
            .or_else(|| self.nsec.iter().next_back())
            .map(|(_, r)| r)
    }

    /// NODATA proof (RFC 4035 §3.1.3.1): the NSEC at `qname` and its RRSIG.
    #[must_use]
    pub fn nodata_proof(&self, qname: &DomainName) -> Vec<ZoneRecord> {
        let mut out = Vec::new();
        if let Some(n) = self.nsec.get(&CanonicalName(qname.clone())) {
            self.with_sig(n, &mut out);
        }
        out
    }

    /// NXDOMAIN proof (RFC 4035 §3.1.3.2): the NSEC covering `qname` and the NSEC covering the
    /// wildcard at its closest encloser, with their RRSIGs (one record when both are the same).
    #[must_use]
    pub fn nxdomain_proof(&self, qname: &DomainName) -> Vec<ZoneRecord> {
        let mut out = Vec::new();
        if let Some(n) = self.covering(qname) {
            self.with_sig(n, &mut out);
        }
        if let Some(wild) = self.closest_encloser(qname).and_then(|ce| {
            DomainName::from_labels(std::iter::once(&b"*"[..]).chain(ce.labels())).ok()
        }) && let Some(n) = self.covering(&wild)
        {
            self.with_sig(n, &mut out);
        }
        out
    }

    /// The longest ancestor of `qname` that exists: an NSEC owner, or an empty non-terminal
    /// above one (RFC 4592 §3.3.1).
    fn closest_encloser(&self, qname: &DomainName) -> Option<DomainName> {
        let labels: Vec<&[u8]> = qname.labels().collect();
        for skip in 1..=labels.len() {
            let Ok(anc) = DomainName::from_labels(labels[skip..].iter().copied()) else {
                continue;
            };
            let exists = self.nsec.keys().any(|k| k.0 == anc || is_below(&k.0, &anc));
            if exists {
                return Some(anc);
            }
            if self.origin.as_ref() == Some(&anc) {
                return Some(anc);
            }
        }
        None
    }
}

/// The NSEC3 records of a signed zone, for the serving path (RFC 5155 §7.2). NSEC3 owner
/// names are hashes, not names of the zone (RFC 5155 §7.2.8), so the index keeps them apart
/// from its name tree, sorted by hash: a proof is a binary search for the hash of a name.
#[derive(Debug, Default)]
pub struct Nsec3Index {
    /// Iterations and salt of the chain (NSEC3PARAM at the apex, else the first NSEC3).
    params: Option<(u16, Vec<u8>)>,
    /// From the apex NSEC3PARAM: preferred over the NSEC3 records' own.
    from_param: bool,
    /// While building: entries by owner key; then sorted by hash.
    pending: std::collections::HashMap<Vec<u8>, usize>,
    entries: Vec<Nsec3Entry>,
    sorted: bool,
}

#[derive(Debug)]
struct Nsec3Entry {
    hash: Vec<u8>,
    /// The NSEC3 record(s) and their RRSIGs.
    records: Vec<Record>,
    /// Octets the records take uncompressed (owner, fixed part, RDATA), for size bounds.
    size: usize,
}

impl Nsec3Index {
    /// Takes `rec` when it belongs to the NSEC3 chain (an NSEC3 record, or an RRSIG covering
    /// one, owned by a base32hex label right below the apex, RFC 5155 §3.3), and notes the
    /// chain's parameters from the apex NSEC3PARAM. `owner_key` and `origin_key` are the
    /// lowercase wire forms of the owner and the origin. `Ok(false)`: not taken, index it as
    /// any other record.
    ///
    /// # Errors
    /// A message when the record does not decode.
    pub fn offer(
        &mut self,
        owner_key: &[u8],
        origin_key: &[u8],
        rec: &ZoneRecord,
    ) -> Result<bool, String> {
        let rel_len = owner_key.len().saturating_sub(origin_key.len());
        if rec.rtype == rtype::NSEC3PARAM && rel_len == 0 {
            // RDATA: algorithm(1) flags(1) iterations(2) salt length(1) salt (RFC 5155 §4.2).
            if let (Some(&1), Some(it), Some(&len)) =
                (rec.rdata.first(), rec.rdata.get(2..4), rec.rdata.get(4))
                && let Some(salt) = rec.rdata.get(5..5 + usize::from(len))
                && !self.from_param
            {
                let it = u16::from_be_bytes([it[0], it[1]]);
                self.params = Some((it, salt.to_vec()));
                self.from_param = true;
            }
            return Ok(false);
        }
        let covered = |r: &ZoneRecord| r.rdata.get(0..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let ours = rec.rtype == rtype::NSEC3
            || (rec.rtype == rtype::RRSIG && covered(rec) == Some(rtype::NSEC3));
        let Some(label) = owner_key.get(1..rel_len) else {
            return Ok(false);
        };
        if !ours || owner_key.first().map(|&l| usize::from(l) + 1) != Some(rel_len) {
            return Ok(false);
        }
        let Ok(hash) = data_encoding::BASE32_DNSSEC.decode(label) else {
            return Ok(false);
        };
        let record = to_record(rec).map_err(|e| e.to_string())?;
        if self.params.is_none()
            && let RData::DNSSEC(DNSSECRData::NSEC3(n)) = &record.data
            && n.hash_algorithm() == Nsec3HashAlgorithm::SHA1
        {
            self.params = Some((n.iterations(), n.salt().to_vec()));
        }
        let size = owner_key.len() + 10 + rec.rdata.len();
        let at = *self.pending.entry(owner_key.to_vec()).or_insert_with(|| {
            self.entries.push(Nsec3Entry {
                hash,
                records: Vec::new(),
                size: 0,
            });
            self.entries.len() - 1
        });
        if let Some(e) = self.entries.get_mut(at) {
            if e.records.iter().any(|r| r.data == record.data) {
                return Ok(true);
            }
            // The NSEC3 before its RRSIGs, whatever the order in the zone file.
            if rec.rtype == rtype::NSEC3 {
                e.records.insert(0, record);
            } else {
                e.records.push(record);
            }
            e.size += size;
        }
        Ok(true)
    }

    /// Ends the build: sorts the chain by hash.
    #[must_use]
    pub fn finish(mut self) -> Self {
        self.pending = std::collections::HashMap::new();
        self.entries.sort_by(|a, b| a.hash.cmp(&b.hash));
        self.entries.shrink_to_fit();
        self.sorted = true;
        self
    }

    /// Whether the zone denies existence with NSEC3 (it has a chain whose hash is known).
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.params.is_some() && !self.entries.is_empty()
    }

    /// Every NSEC3 record and RRSIG of the chain (for zone transfers).
    pub fn records(&self) -> impl Iterator<Item = &Record> + '_ {
        self.entries.iter().flat_map(|e| e.records.iter())
    }

    fn position(&self, key: &[u8]) -> Option<Result<usize, usize>> {
        let (iterations, salt) = self.params.as_ref()?;
        if !self.sorted {
            return None;
        }
        let h = nsec3_hash(key, salt, *iterations).ok()?;
        Some(self.entries.binary_search_by(|e| e.hash.as_slice().cmp(&h)))
    }

    /// The NSEC3 (with RRSIGs) whose hash is that of the name `key` (lowercase wire form), and
    /// the octets it takes.
    #[must_use]
    pub fn matching(&self, key: &[u8]) -> Option<(&[Record], usize)> {
        let i = self.position(key)?.ok()?;
        self.entries.get(i).map(|e| (e.records.as_slice(), e.size))
    }

    /// The NSEC3 (with RRSIGs) covering the hash of `key`: the last one before it in hash
    /// order, wrapping round to the last (RFC 5155 §3.1.7). `None` when a record matches.
    #[must_use]
    pub fn covering(&self, key: &[u8]) -> Option<(&[Record], usize)> {
        let i = self.position(key)?.err()?;
        let e = match i.checked_sub(1) {
            Some(j) => self.entries.get(j),
            None => self.entries.last(),
        }?;
        Some((e.records.as_slice(), e.size))
    }
}

/// Whether `signed` should be re-signed at `now`: some RRSIG expires within
/// `policy.refresh_before`, or there is no RRSIG at all.
#[must_use]
pub fn needs_refresh(signed: &Zone, policy: &SigningPolicy, now: SystemTime) -> bool {
    let deadline = unix_secs(now + policy.refresh_before);
    let mut any = false;
    for r in signed.records.iter().filter(|r| r.rtype == rtype::RRSIG) {
        any = true;
        // RRSIG RDATA: type(2) alg(1) labels(1) ttl(4) expiration(4) ...
        let Some(exp) = r
            .rdata
            .get(8..12)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return true;
        };
        // Serial-number comparison (RFC 1982): exp before deadline.
        if exp.wrapping_sub(deadline) > u32::MAX / 2 {
            return true;
        }
    }
    !any
}

/// The zone in master-file form (one record per line, in the zone's order), e.g. for
/// `ldns-verify-zone`, NSD or a secondary: each line from the project's one presentation
/// writer, [`altodisc_zone::master::record_line`] (absolute owners, TTL and class on every
/// line, RRSIG times as `YYYYMMDDHHmmSS` per RFC 4034 §3.2, which NSD insists on).
///
/// # Errors
/// None today; the `Result` is kept for callers written against earlier versions.
pub fn render_zone(zone: &Zone) -> Result<String, SignError> {
    let mut s = String::with_capacity(128 * zone.records.len());
    for r in &zone.records {
        s.push_str(&altodisc_zone::master::record_line(r));
        s.push('\n');
    }
    Ok(s)
}

/// The owner of every record as a hickory name, checked; for tests and callers that mix both.
///
/// # Errors
/// [`SignError::Record`] for a name hickory rejects.
pub fn owner_names(zone: &Zone) -> Result<Vec<DomainName>, SignError> {
    zone.records
        .iter()
        .map(|r| to_name(&r.owner).and_then(|n| from_name(&n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use altodisc_zone::reader::read_zone_str;
    use std::cmp::Ordering;

    pub(crate) const FIXTURE: &str = "$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 300\n\
@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60\n\
@ NS ns.example.net.\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/ird!\" .\n\
34 NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto34.example.net/ird!\" .\n\
Sub NS ns.sub\n\
ns.sub A 192.0.2.99\n";

    pub(crate) fn fixture() -> Zone {
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let o = read_zone_str(FIXTURE, "fixture", Some(&origin));
        assert!(!o.has_errors(), "{:?}", o.diagnostics);
        o.zone
    }

    #[test]
    fn canonical_order_is_rfc_4034() {
        // RFC 4034 §6.1 example order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let parsed: Vec<DomainName> = names
            .iter()
            .map(|n| DomainName::parse(n).unwrap())
            .collect();
        for w in parsed.windows(2) {
            assert_eq!(
                canonical_cmp(&w[0], &w[1]),
                Ordering::Less,
                "{} < {}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn signs_verifies_and_chains() {
        let zone = fixture();
        let keys = ZoneKeys::generate().unwrap();
        let now = SystemTime::now();
        let signed = sign_zone(&zone, &keys, &SigningPolicy::default(), now).unwrap();
        let count = |t: u16| signed.records.iter().filter(|r| r.rtype == t).count();
        assert_eq!(count(rtype::DNSKEY), 2);
        // Owners in the chain: apex, 34, sub (delegation); not the glue ns.sub.
        assert_eq!(count(rtype::NSEC), 3);
        // RRSIGs: DNSKEY, SOA, NS(apex), NAPTR(apex), NAPTR(34), 3 NSEC; not the delegation NS
        // nor the glue A.
        assert_eq!(count(rtype::RRSIG), 8);
        // Every RRSIG verifies with the ZSK or KSK (hickory's verifier, independent of signing).
        use hickory_proto::dnssec::Verifier;
        let recs: Vec<Record> = signed
            .records
            .iter()
            .map(|r| to_record(r).unwrap())
            .collect();
        for sig in recs.iter().filter(|r| r.record_type() == RecordType::RRSIG) {
            let RData::DNSSEC(DNSSECRData::RRSIG(s)) = &sig.data else {
                unreachable!()
            };
            let covered: Vec<&Record> = recs
                .iter()
                .filter(|r| r.name == sig.name && r.record_type() == s.input().type_covered)
                .collect();
            let key = if s.input().key_tag == keys.ksk_dnskey.calculate_key_tag().unwrap() {
                &keys.ksk_dnskey
            } else {
                &keys.zsk_dnskey
            };
            key.verify_rrsig(&sig.name, DNSClass::IN, s, covered.into_iter())
                .unwrap_or_else(|e| panic!("{sig}: {e}"));
        }
        assert!(!needs_refresh(&signed, &SigningPolicy::default(), now));
        assert!(needs_refresh(
            &signed,
            &SigningPolicy::default(),
            now + Duration::from_secs(8 * 86_400)
        ));
        assert!(needs_refresh(&zone, &SigningPolicy::default(), now));
        // Re-signing a signed zone replaces, never duplicates.
        let again = sign_zone(&signed, &keys, &SigningPolicy::default(), now).unwrap();
        assert_eq!(again.records.len(), signed.records.len());
        // Rendered by the one presentation writer, and read back by the reader to the same
        // records (RRSIG times as YYYYMMDDHHmmSS, RFC 4034 §3.2).
        let text = render_zone(&signed).unwrap();
        assert!(text.contains(" IN DNSKEY 257 3 13 "), "{text}");
        let rrsig = text.lines().find(|l| l.contains(" IN RRSIG ")).unwrap();
        let inception = rrsig.split(' ').nth(9).unwrap();
        assert!(
            inception.len() == 14 && inception.bytes().all(|b| b.is_ascii_digit()),
            "{rrsig}"
        );
        let back = read_zone_str(&text, "rendered", Some(&signed.origin));
        assert!(!back.has_errors(), "{:?}", back.diagnostics);
        let key = |r: &ZoneRecord| (r.owner.to_string(), r.ttl, r.rtype, r.rdata.clone());
        let mut a: Vec<_> = back.zone.records.iter().map(key).collect();
        let mut b: Vec<_> = signed.records.iter().map(key).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let anchor = keys.dnskey_text(&signed.origin).unwrap();
        assert!(
            anchor.starts_with("2.0.192.in-addr.arpa. 3600 IN DNSKEY 257 3 13 "),
            "{anchor}"
        );
    }

    #[test]
    fn nsec3_chain_is_closed_signed_and_hashed_per_rfc_5155() {
        let keys = ZoneKeys::generate().unwrap();
        let params = Nsec3Params {
            iterations: 2,
            salt: Nsec3Params::parse_salt("AABBCCDD").unwrap(),
            opt_out: false,
        };
        let signed = sign_zone_with(
            &fixture(),
            &keys,
            &SigningPolicy::default(),
            &Denial::Nsec3(params.clone()),
            SystemTime::now(),
        )
        .unwrap();
        let count = |t: u16| signed.records.iter().filter(|r| r.rtype == t).count();
        assert_eq!(count(rtype::NSEC), 0);
        assert_eq!(count(rtype::NSEC3PARAM), 1);
        // apex, 34, sub (delegation); not the glue ns.sub.
        assert_eq!(count(rtype::NSEC3), 3);
        let recs: Vec<Record> = signed
            .records
            .iter()
            .map(|r| to_record(r).unwrap())
            .collect();
        // The chain: owner hashes (hickory's hash of each name) link in order and wrap.
        let mut links = Vec::new();
        for r in &recs {
            if let RData::DNSSEC(DNSSECRData::NSEC3(n)) = &r.data {
                let label = r.name.iter().next().unwrap().to_ascii_lowercase();
                let owner = data_encoding::BASE32_DNSSEC.decode(&label).unwrap();
                assert_eq!(
                    (n.iterations(), n.salt()),
                    (2, &[0xaa, 0xbb, 0xcc, 0xdd][..])
                );
                links.push((owner, n.next_hashed_owner_name().to_vec()));
                // Every NSEC3 is signed.
                assert!(
                    recs.iter()
                        .any(|s| s.name == r.name && s.record_type() == RecordType::RRSIG)
                );
            }
        }
        links.sort();
        for (i, (_, next)) in links.iter().enumerate() {
            assert_eq!(*next, links[(i + 1) % links.len()].0);
        }
        for name in [
            "2.0.192.in-addr.arpa.",
            "34.2.0.192.in-addr.arpa.",
            "sub.2.0.192.in-addr.arpa.",
        ] {
            let h = Nsec3HashAlgorithm::SHA1
                .hash(
                    &[0xaa, 0xbb, 0xcc, 0xdd],
                    &Name::from_ascii(name).unwrap(),
                    2,
                )
                .unwrap();
            assert!(
                links.iter().any(|(o, _)| o.as_slice() == h.as_ref()),
                "{name}"
            );
        }
        // Bad parameters are refused with a reason.
        assert!(Nsec3Params::parse_salt("xyz").is_err());
        assert!(Nsec3Params::parse_salt(&"ab".repeat(256)).is_err());
        assert_eq!(Nsec3Params::parse_salt("-").unwrap(), Vec::<u8>::new());
        let many = Denial::Nsec3(Nsec3Params {
            iterations: 500,
            ..Nsec3Params::default()
        });
        let e = sign_zone_with(
            &fixture(),
            &keys,
            &SigningPolicy::default(),
            &many,
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("RFC 9276"), "{e}");
    }

    #[test]
    fn zsk_rollover_prepublishes_swaps_and_withdraws_on_schedule() {
        let dir = std::env::temp_dir().join(format!("altodisc-roll-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let roll = ZskRollover {
            lifetime: Duration::from_secs(1000),
            propagation_delay: Duration::from_secs(10),
        };
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let ttls = Some((60, 300));
        let tag = |k: &ZoneKeys| k.key_tags().unwrap();
        let load = |s: u64| ZoneKeys::load_rolling(&dir, &origin, &roll, ttls, at(s)).unwrap();
        let (k0, next) = load(0);
        assert!(k0.published_only().is_empty());
        assert_eq!(next, Some(at(1000)), "the lifetime of the first ZSK");
        // Nothing before the lifetime; then the successor is published, not signing.
        assert_eq!(tag(&load(999).0), tag(&k0));
        let (k1, next) = load(1000);
        assert_eq!(tag(&k1), tag(&k0), "the old ZSK still signs");
        assert_eq!(k1.published_only().len(), 1);
        assert_eq!(next, Some(at(1070)), "DNSKEY TTL 60 + delay 10");
        // The successor signs; the old ZSK stays published.
        let (k2, next) = load(1070);
        assert_eq!(tag(&k2).0, tag(&k0).0, "the KSK is not rolled");
        assert_ne!(tag(&k2).1, tag(&k0).1);
        assert_eq!(k2.published_only(), &[k0.zsk_dnskey().clone()][..]);
        assert_eq!(next, Some(at(1380)), "longest TTL 300 + delay 10");
        // A restart in between continues from the state file.
        let (again, _) = ZoneKeys::load_rolling(&dir, &origin, &roll, None, at(1200)).unwrap();
        assert_eq!(tag(&again), tag(&k2));
        // While both ZSKs are published the DNSKEY RRset holds three keys, signed by the KSK.
        let signed = sign_zone(&fixture(), &k2, &SigningPolicy::default(), at(1070)).unwrap();
        assert_eq!(
            signed
                .records
                .iter()
                .filter(|r| r.rtype == rtype::DNSKEY)
                .count(),
            3
        );
        // The old ZSK is withdrawn; the new one's lifetime runs from its activation.
        let (k3, next) = load(1380);
        assert!(k3.published_only().is_empty());
        assert_eq!(tag(&k3), tag(&k2));
        assert_eq!(next, Some(at(2070)), "activated at 1070, lifetime 1000");
        assert_eq!(ZoneKeys::next_rollover_step(&dir, &roll), Some(at(2070)));
        // Long overdue (the signer was down): the next rollover starts with a publication, never
        // a key that signs before its DNSKEY could be cached.
        let (k4, _) = load(9000);
        assert_eq!(k4.published_only().len(), 1);
        assert_eq!(tag(&k4), tag(&k3));
        // A damaged state file is named; nothing is signed with a guess.
        let state = dir.join("2.0.192.in-addr.arpa.zsk.state");
        std::fs::write(&state, "active\n").unwrap();
        let e = ZoneKeys::load_rolling(&dir, &origin, &roll, ttls, at(9500))
            .unwrap_err()
            .to_string();
        assert!(e.contains("zsk.state") && e.contains("line 1"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ksk_double_ds_waits_for_the_parent() {
        let dir = std::env::temp_dir().join(format!("altodisc-kskroll-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let roll = KskRollover {
            lifetime: Duration::from_secs(1000),
            parent_ds_ttl: Duration::from_secs(3600),
            propagation_delay: Duration::from_secs(60),
            parent_ds_poll: Duration::from_secs(600),
        };
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let load = |s: u64| {
            let mut k = ZoneKeys::load_or_create(&dir, &origin).unwrap();
            let next = k.roll_ksk(&dir, &origin, &roll, at(s)).unwrap();
            (k, next)
        };
        let (k0, next) = load(0);
        assert_eq!(
            k0.cds_keys(),
            &[k0.ksk_dnskey().clone()][..],
            "CDS names the active KSK"
        );
        assert_eq!(next, Some(at(1000)));
        // No successor yet: ds-seen is refused with the reason.
        let e = ZoneKeys::mark_ds_seen(&dir, &origin, at(10))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no new KSK is waiting"), "{e}");
        // The successor is made and asked for by CDS; the old KSK signs, with no timer: the
        // parent has to act first, however long it takes.
        let (k1, next) = load(1000);
        assert_eq!(k1.cds_keys().len(), 2);
        assert_eq!(
            k1.published_only(),
            &k1.cds_keys()[1..],
            "the successor's DNSKEY is published"
        );
        assert_eq!(k1.ksk_dnskey(), k0.ksk_dnskey());
        assert_eq!(next, None);
        let (k2, _) = load(1_000_000);
        assert_eq!(
            k2.ksk_dnskey(),
            k0.ksk_dnskey(),
            "never retired before ds-seen"
        );
        // The operator confirms; after the DS TTL + delay the successor takes over.
        ZoneKeys::mark_ds_seen(&dir, &origin, at(1_000_000)).unwrap();
        let (k3, next) = load(1_000_100);
        assert_eq!(k3.ksk_dnskey(), k2.ksk_dnskey());
        assert_eq!(next, Some(at(1_003_660)));
        let (k4, next) = load(1_003_660);
        assert_ne!(k4.ksk_dnskey(), k0.ksk_dnskey());
        assert_eq!(
            k4.cds_keys(),
            &[k4.ksk_dnskey().clone()][..],
            "the new KSK alone"
        );
        assert_eq!(next, Some(at(1_004_660)));
        // The signed DNSKEY RRset holds the new KSK and the ZSK; CDS and CDNSKEY are signed.
        let signed = sign_zone(&fixture(), &k4, &SigningPolicy::default(), at(1_003_660)).unwrap();
        let count = |t: u16| signed.records.iter().filter(|r| r.rtype == t).count();
        assert_eq!(
            (count(rtype::DNSKEY), count(TYPE_CDS), count(TYPE_CDNSKEY)),
            (2, 1, 1)
        );
        let status = ZoneKeys::ksk_status(&dir, &origin).unwrap().unwrap();
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].0.state, "active");
        // A damaged state file is named.
        std::fs::write(dir.join("2.0.192.in-addr.arpa.ksk.state"), "incoming x\n").unwrap();
        let mut k = ZoneKeys::load_or_create(&dir, &origin).unwrap();
        let e = k
            .roll_ksk(&dir, &origin, &roll, at(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ksk.state") && e.contains("line 1"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A parent server on loopback for [`parent_check_moves_on_only_when_every_server_has_the_ds`]:
    /// answers DS queries with the DS records in `ds` (AA set unless `aa` is false), counts them.
    struct FakeParent {
        addr: SocketAddr,
        ds: std::sync::Arc<std::sync::Mutex<Vec<hickory_proto::dnssec::rdata::DS>>>,
        queries: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl FakeParent {
        fn start(aa: bool) -> Self {
            use hickory_proto::op::{Message, MessageType};
            use std::sync::atomic::Ordering::SeqCst;
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let addr = sock.local_addr().unwrap();
            let ds = std::sync::Arc::new(std::sync::Mutex::new(Vec::<
                hickory_proto::dnssec::rdata::DS,
            >::new()));
            let queries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (d, q, st) = (ds.clone(), queries.clone(), stop.clone());
            let thread = std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !st.load(SeqCst) {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let query = Message::from_vec(&buf[..n]).unwrap();
                    q.fetch_add(1, SeqCst);
                    let mut reply = query.clone();
                    reply.metadata.message_type = MessageType::Response;
                    reply.metadata.authoritative = aa;
                    let name = query.queries[0].name().clone();
                    for ds in d.lock().unwrap().iter() {
                        reply.add_answer(Record::from_rdata(
                            name.clone(),
                            60,
                            RData::DNSSEC(DNSSECRData::DS(ds.clone())),
                        ));
                    }
                    sock.send_to(&reply.to_vec().unwrap(), from).unwrap();
                }
            });
            Self {
                addr,
                ds,
                queries,
                stop,
                thread: Some(thread),
            }
        }

        fn publish(&self, origin: &DomainName, key: &DNSKEY) {
            use hickory_proto::dnssec::rdata::DS;
            let name = to_name(origin).unwrap();
            let digest = key.to_digest(&name, DigestType::SHA256).unwrap();
            self.ds.lock().unwrap().push(DS::new(
                key.calculate_key_tag().unwrap(),
                Algorithm::ECDSAP256SHA256,
                DigestType::SHA256,
                digest.as_ref().to_vec(),
            ));
        }

        fn queries(&self) -> usize {
            self.queries.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Drop for FakeParent {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    #[test]
    fn parent_check_moves_on_only_when_every_server_has_the_ds() {
        let dir = std::env::temp_dir().join(format!("altodisc-dscheck-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let roll = KskRollover {
            lifetime: Duration::from_secs(1000),
            parent_ds_ttl: Duration::from_secs(3600),
            propagation_delay: Duration::from_secs(60),
            parent_ds_poll: Duration::from_secs(600),
        };
        let (a, b) = (FakeParent::start(true), FakeParent::start(true));
        let parents = [a.addr, b.addr];
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let load = |s: u64| {
            let mut k = ZoneKeys::load_or_create(&dir, &origin).unwrap();
            let next = k
                .roll_ksk_checking_parent(&dir, &origin, &roll, &parents, at(s))
                .unwrap();
            (k, next)
        };
        let state = || std::fs::read_to_string(dir.join("2.0.192.in-addr.arpa.ksk.state")).unwrap();
        // Both parents serve the old KSK's DS; nothing waits, nobody is asked.
        let (k0, next) = load(0);
        a.publish(&origin, k0.ksk_dnskey());
        b.publish(&origin, k0.ksk_dnskey());
        assert_eq!(next, Some(at(1000)));
        assert_eq!(a.queries() + b.queries(), 0);
        // The successor is made and the parents are asked at once; the first lacks its DS (so
        // the second is not asked): the next look is a poll later, and the old KSK signs.
        let (k1, next) = load(1000);
        let new = k1.cds_keys()[1].clone();
        assert_eq!(next, Some(at(1600)));
        assert_eq!((a.queries(), b.queries()), (1, 0));
        assert!(state().contains("ds_checked 1800001000"), "{}", state());
        assert!(!state().contains("ds_seen"), "{}", state());
        // Before the poll is due nobody is asked again.
        let _ = load(1200);
        assert_eq!((a.queries(), b.queries()), (1, 0));
        // One parent has the new DS, the other not yet: still waiting.
        a.publish(&origin, &new);
        let (k2, next) = load(1600);
        assert_eq!(k2.ksk_dnskey(), k0.ksk_dnskey());
        assert_eq!(next, Some(at(2200)));
        assert_eq!((a.queries(), b.queries()), (2, 1));
        assert!(!state().contains("ds_seen"), "{}", state());
        // Both have it: seen; the swap follows after the DS TTL + delay, with no more polls.
        b.publish(&origin, &new);
        let (k3, next) = load(2200);
        assert_eq!(k3.ksk_dnskey(), k0.ksk_dnskey());
        assert_eq!(next, Some(at(2200 + 3660)));
        assert!(state().contains("ds_seen 1800002200"), "{}", state());
        assert!(!state().contains("ds_checked"), "{}", state());
        let (k4, next) = load(2200 + 3660);
        assert_eq!(k4.ksk_dnskey(), &new);
        assert_eq!(next, Some(at(2200 + 3660 + 1000)));
        assert_eq!((a.queries(), b.queries()), (3, 2));
        let _ = std::fs::remove_dir_all(&dir);

        // A server answering without AA (not authoritative for the parent) never counts,
        // whatever DS it hands out.
        let dir2 = std::env::temp_dir().join(format!("altodisc-dscheck2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir2);
        let lame = FakeParent::start(false);
        let mut k = ZoneKeys::load_or_create(&dir2, &origin).unwrap();
        k.roll_ksk_checking_parent(&dir2, &origin, &roll, &[lame.addr], at(0))
            .unwrap();
        let mut k = ZoneKeys::load_or_create(&dir2, &origin).unwrap();
        k.roll_ksk_checking_parent(&dir2, &origin, &roll, &[lame.addr], at(1000))
            .unwrap();
        lame.publish(&origin, &k.cds_keys()[1].clone());
        let next = k
            .roll_ksk_checking_parent(&dir2, &origin, &roll, &[lame.addr], at(1600))
            .unwrap();
        assert_eq!(next, Some(at(2200)), "still polling");
        assert_eq!(lame.queries(), 2);
        // Without servers (the operator confirms) no poll timer is left behind.
        let next = k.roll_ksk(&dir2, &origin, &roll, at(1700)).unwrap();
        assert_eq!(next, None);
        let _ = std::fs::remove_dir_all(&dir2);
    }

    #[test]
    fn a_clock_behind_the_rollover_state_is_an_error_naming_file_and_zone() {
        let dir = std::env::temp_dir().join(format!("altodisc-clock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let zsk = ZskRollover {
            lifetime: Duration::from_secs(1000),
            propagation_delay: Duration::from_secs(10),
        };
        let ttls = Some((60, 300));
        ZoneKeys::load_rolling(&dir, &origin, &zsk, ttls, at(0)).unwrap();
        // The successor is made at 1000.
        ZoneKeys::load_rolling(&dir, &origin, &zsk, ttls, at(1000)).unwrap();
        let state = dir.join("2.0.192.in-addr.arpa.zsk.state");
        let before = std::fs::read_to_string(&state).unwrap();
        // A few minutes behind (NTP stepping): fine.
        ZoneKeys::load_rolling(&dir, &origin, &zsk, ttls, at(1000 - 300)).unwrap();
        // Far behind: named, nothing written.
        let e = ZoneKeys::load_rolling(&dir, &origin, &zsk, ttls, at(10))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zsk.state")
                && e.contains("2.0.192.in-addr.arpa.")
                && e.contains("990 s behind"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
        // The KSK state likewise, with a time from the future (a key active only from
        // tomorrow, as a clock set back would see it).
        let ksk = KskRollover {
            lifetime: Duration::from_secs(1000),
            parent_ds_ttl: Duration::from_secs(60),
            propagation_delay: Duration::from_secs(10),
            parent_ds_poll: Duration::from_secs(60),
        };
        let ksk_state = dir.join("2.0.192.in-addr.arpa.ksk.state");
        std::fs::write(
            &ksk_state,
            "active 2.0.192.in-addr.arpa.ksk.pk8 1800086400\n",
        )
        .unwrap();
        let mut keys = ZoneKeys::load_or_create(&dir, &origin).unwrap();
        let e = keys
            .roll_ksk(&dir, &origin, &ksk, at(0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ksk.state") && e.contains("86400 s behind") && e.contains("fix the clock"),
            "{e}"
        );
        assert!(keys.roll_ksk(&dir, &origin, &ksk, at(86_400)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_persist_across_restarts() {
        let dir = std::env::temp_dir().join(format!("altodisc-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let a = ZoneKeys::load_or_create(&dir, &origin).unwrap();
        let b = ZoneKeys::load_or_create(&dir, &origin).unwrap();
        assert_eq!(a.ds_text(&origin).unwrap(), b.ds_text(&origin).unwrap());
        assert!(a.ds_text(&origin).unwrap().contains(" IN DS "));
        // A damaged key file: an error naming it, never a new key.
        let ksk = dir.join("2.0.192.in-addr.arpa.ksk.pk8");
        let good = std::fs::read(&ksk).unwrap();
        std::fs::write(&ksk, &good[..good.len() / 2]).unwrap();
        let e = ZoneKeys::load_or_create(&dir, &origin)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2.0.192.in-addr.arpa.ksk.pk8") && e.contains("backup"),
            "{e}"
        );
        std::fs::write(&ksk, &good).unwrap();
        assert!(ZoneKeys::load_or_create(&dir, &origin).is_ok());
        std::fs::remove_file(dir.join("2.0.192.in-addr.arpa.zsk.pk8")).unwrap();
        assert!(ZoneKeys::load_or_create(&dir, &origin).is_err());
        // A key directory that cannot be made: the error names it.
        let blocked = dir.join("file");
        std::fs::write(&blocked, b"x").unwrap();
        let e = ZoneKeys::load_or_create(&blocked.join("keys"), &origin)
            .unwrap_err()
            .to_string();
        assert!(e.contains("file/keys") || e.contains("file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn extras_give_signatures_and_denial_proofs() {
        let keys = ZoneKeys::generate().unwrap();
        let signed = sign_zone(
            &fixture(),
            &keys,
            &SigningPolicy::default(),
            SystemTime::now(),
        )
        .unwrap();
        let x = SignedExtras::build(&signed);
        let n = |s: &str| DomainName::parse(s).unwrap();
        let apex = n("2.0.192.in-addr.arpa.");
        assert_eq!(x.rrsigs(&apex, rtype::NAPTR).len(), 1);
        assert_eq!(x.rrsigs(&apex, rtype::DNSKEY).len(), 1);
        assert!(
            x.rrsigs(&n("sub.2.0.192.in-addr.arpa."), rtype::NS)
                .is_empty()
        );
        // NODATA at the apex for A: its NSEC + RRSIG.
        let p = x.nodata_proof(&apex);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].rtype, rtype::NSEC);
        // NXDOMAIN for 10.2.0.192.in-addr.arpa.: covered by the NSEC at 2.0.192 (apex < 10 < 34);
        // the wildcard *.2.0.192 is covered by the same NSEC: one NSEC, one RRSIG.
        let p = x.nxdomain_proof(&n("10.2.0.192.in-addr.arpa."));
        let owners: Vec<String> = p.iter().map(|r| r.owner.to_string()).collect();
        assert_eq!(
            owners,
            ["2.0.192.in-addr.arpa.", "2.0.192.in-addr.arpa."],
            "{owners:?}"
        );
        // 40 sorts after 34 and before sub: covered by the NSEC at 34.
        let p = x.nxdomain_proof(&n("40.2.0.192.in-addr.arpa."));
        assert!(
            p.iter()
                .any(|r| r.rtype == rtype::NSEC && r.owner == n("34.2.0.192.in-addr.arpa."))
        );
        assert!(p.iter().any(|r| r.rtype == rtype::RRSIG));
    }

    #[test]
    fn no_soa_is_an_error() {
        let mut zone = fixture();
        zone.records.retain(|r| r.rtype != rtype::SOA);
        assert!(matches!(
            sign_zone(
                &zone,
                &ZoneKeys::generate().unwrap(),
                &SigningPolicy::default(),
                SystemTime::now()
            ),
            Err(SignError::NoSoa(_))
        ));
    }
}
