//! Serving signed zones (RFC 8686 §6.1: operators SHOULD sign their reverse zones): the DNSSEC
//! settings of the publishing config's `[serve]` table, and what a load does with them.
//!
//! ```text
//!   dnssec = "off"        zones are served as loaded (the default)
//!   dnssec = "sign"       every zone is signed at load and at every accepted reload with its
//!                         KSK + ZSK from `key_dir` (created on first start), see crate::dnssec;
//!                         `resign_at` tells `serve` when to reload again so signatures are
//!                         refreshed `refresh_before_days` (or `refresh_before = "7d"`) before
//!                         they expire; every signing publishes a higher SOA serial, and a
//!                         reload that changes neither a zone nor its keys keeps it signed as
//!                         it is (same serial, no NOTIFY) until its refresh is due
//!   dnssec = "presigned"  zone files already hold DNSKEY/RRSIG/NSEC or NSEC3; they are served
//!                         unchanged (a zone without DNSKEY or RRSIG is a load error)
//!
//!   denial = "nsec"       denial of existence of signed zones by an NSEC chain (the default;
//!                         RFC 9276 §3.1: NSEC unless zone walking must be made harder)
//!   denial = "nsec3"      an NSEC3 chain (RFC 5155) with nsec3_iterations (default 0),
//!                         nsec3_salt (hex, default "-": none) and nsec3_opt_out (default false),
//!                         RFC 9276 §3.1's values; [serve.denial_zones] "<origin>" = "nsec3"
//!                         chooses per zone
//!
//!   zsk_lifetime = "90d"  automatic ZSK rollover by pre-publication (RFC 6781 §4.1.1.1): after
//!                         the lifetime a new ZSK is published, it signs once its DNSKEY is in
//!                         every cache (DNSKEY TTL + propagation_delay, default "1h"), and the old
//!                         one is withdrawn once its signatures have left the caches (longest TTL
//!                         of the zone + propagation_delay); the state is kept in
//!                         `<key_dir>/<origin>zsk.state`, so a restart continues where it stood
//!   ksk_lifetime = "1y"   automatic KSK rollover by double-DS (RFC 6781 §4.1.2): after the
//!                         lifetime a new KSK is made and CDS/CDNSKEY (RFC 7344) ask the parent
//!                         for the DS of both KSKs; after `altodisc keys ds-seen ZONE` and the
//!                         parent's DS TTL (parent_ds_ttl, default "1d") + propagation_delay the
//!                         new KSK replaces the old one and the CDS/CDNSKEY name it alone;
//!                         state in `<key_dir>/<origin>ksk.state`
//!   parent_ds_check = ["192.0.2.53:53", ...]
//!                         the parent zone's authoritative servers: while a new KSK waits for
//!                         its DS, `serve` asks each of them for the zone's DS every
//!                         parent_ds_poll (default "1h") and counts the DS as seen once all of
//!                         them serve one matching the new KSK (RFC 7344 §4.1, RFC 6781
//!                         §4.1.2), as `altodisc keys ds-seen` would; [serve.parent_ds_check_zones]
//!                         "<origin>" = [...] sets them per zone (an empty list: operator only)
//! ```
//!
//! **Serial of a signed zone.** Every signing makes new signatures, and a secondary transfers
//! them only for a higher SOA serial (RFC 1996 §4.7, RFC 1982), so a pure re-sign must raise the
//! serial too (as BIND's inline signing and OpenDNSSEC do). The signed zone's serial is
//! `max(next, source)` in serial arithmetic, where `next` is the publishing config's automatic
//! serial policy ([`altodisc_zone::publish_config::next_serial`]: `max(previous signed + 1,
//! now)`) and `source` the serial of the zone as loaded. The previous signed serial is kept in
//! the same [`SerialState`] as the generated zones' serials (key `signed:<origin>`, see
//! [`signed_serial_key`]), so with `serve.serial_file` a restart never goes backwards either.
//!
//! Answers to DO=1 queries then carry RRSIGs and NSEC proofs (RFC 4035 §3.1, see
//! [`crate::index::ZoneIndex::lookup_dnssec`]), and zone transfers carry every record.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use std::collections::BTreeMap;

use altodisc_proto::DomainName;
use altodisc_zone::publish_config::{SerialState, next_serial, serial_max};
use altodisc_zone::record::{Zone, rtype};
use serde::Deserialize;

use crate::dnssec::{
    Denial, KskRollover, Nsec3Params, SigningPolicy, ZoneKeys, ZskRollover, sign_zone_with,
};
use crate::error::ResponderError;
use crate::load::ServeSection;

/// What the responder does about DNSSEC (`[serve] dnssec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DnssecMode {
    /// Serve zones as loaded.
    #[default]
    Off,
    /// Sign every zone at load.
    Sign,
    /// Zone files are already signed: serve them unchanged.
    Presigned,
}

/// How a signed zone denies existence (`[serve] denial`, `[serve.denial_zones]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DenialMethod {
    /// An NSEC chain (RFC 4034 §4).
    #[default]
    Nsec,
    /// An NSEC3 chain (RFC 5155) with the `nsec3_*` parameters.
    Nsec3,
}

/// Longest signature validity accepted, in days.
pub const MAX_VALIDITY_DAYS: u64 = 3650;

/// Longest signature validity accepted.
const MAX_VALIDITY: Duration = Duration::from_secs(MAX_VALIDITY_DAYS * 86_400);

/// The [`SerialState`] key under which the last serial published for the signed zone `origin`
/// is kept: `signed:<origin>` (lowercase, trailing dot), apart from the generated zone's own
/// entry.
#[must_use]
pub fn signed_serial_key(origin: &DomainName) -> String {
    format!("signed:{}", origin.to_lowercase_string())
}

/// Parses a duration of the `[serve]` table with humantime's units (`"90s"`, `"15m"`, `"14d"`,
/// `"2w"`, `"1y"`, `"1h 30m"`). A bare number is refused: days or seconds would be a guess.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?}: give a unit: s, m, h, d, w or y (e.g. \"14d\")"
        ));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("{text:?}: {e}; write a whole number and a unit (s, m, h, d, w, y), e.g. \"14d\"")
    })
}

/// One of the old `*_days` key and its duration form, not both.
fn either(
    days: Option<u64>,
    days_key: &str,
    text: Option<&str>,
    key: &str,
) -> Result<Option<Duration>, ResponderError> {
    match (days, text) {
        (Some(_), Some(_)) => Err(ResponderError::Config(format!(
            "[serve] give {days_key} or {key}, not both"
        ))),
        (Some(d), None) => Ok(Some(Duration::from_secs(d.saturating_mul(86_400)))),
        (None, Some(t)) => parse_duration(t)
            .map(Some)
            .map_err(|e| ResponderError::Config(format!("[serve] {key}: {e}"))),
        (None, None) => Ok(None),
    }
}

/// How long after a rollover step that could not be taken (the zone failed to load) the
/// timer tries again.
pub const STEP_RETRY: Duration = Duration::from_secs(60);

/// Default key directory, relative to the config file.
pub const DEFAULT_KEY_DIR: &str = "keys";

/// Where keys go when `key_dir` is not set: `keys` in the service's state directory when
/// systemd gives one (`$STATE_DIRECTORY`, a ':'-separated list of absolute paths whose first is
/// the unit's own; the packaged unit's is /var/lib/altodisc, the only place it may write under
/// `ProtectSystem=strict`), else [`DEFAULT_KEY_DIR`] beside the config file (`base`).
#[must_use]
pub fn default_key_dir(base: &Path, state_directory: Option<&std::ffi::OsStr>) -> PathBuf {
    state_directory
        .and_then(|s| {
            let first = s.to_string_lossy().split(':').next()?.to_owned();
            let dir = PathBuf::from(first);
            dir.is_absolute().then(|| dir.join(DEFAULT_KEY_DIR))
        })
        .unwrap_or_else(|| base.join(DEFAULT_KEY_DIR))
}

/// The DNSSEC settings of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnssecSettings {
    /// The mode of zones not in `per_zone`.
    pub mode: DnssecMode,
    /// Modes for single zones (`[serve.dnssec_zones]`), keyed by lowercase origin with the
    /// trailing dot.
    pub per_zone: BTreeMap<String, DnssecMode>,
    /// Where the zone keys live (mode `sign`).
    pub key_dir: PathBuf,
    /// Signature validity and refresh margin.
    pub policy: SigningPolicy,
    /// Denial of existence of zones not in `denial_zones`.
    pub denial: Denial,
    /// Denial for single zones (`[serve.denial_zones]`), keyed like `per_zone`.
    pub denial_zones: BTreeMap<String, Denial>,
    /// Automatic ZSK rollover (`zsk_lifetime`), off when `None`.
    pub rollover: Option<ZskRollover>,
    /// Automatic KSK rollover (`ksk_lifetime`), off when `None`.
    pub ksk_rollover: Option<KskRollover>,
    /// The parent's servers asked for a new KSK's DS (`parent_ds_check`), for zones not in
    /// `parent_ds_zones`; empty: only `altodisc keys ds-seen` confirms.
    pub parent_ds: Vec<SocketAddr>,
    /// `parent_ds_check_zones`, keyed like `per_zone`.
    pub parent_ds_zones: BTreeMap<String, Vec<SocketAddr>>,
}

/// A parent server's address: `192.0.2.53:53`, `[2001:db8::53]:53`, or an address alone (port
/// 53).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    t.parse::<SocketAddr>()
        .or_else(|_| t.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            format!("{text:?}: not an address (write \"192.0.2.53\", \"192.0.2.53:53\" or \"[2001:db8::53]:53\")")
        })
}

impl DnssecSettings {
    /// Settings from the `[serve]` table; a relative `key_dir` is taken from `base` (the
    /// config file's directory).
    ///
    /// # Errors
    /// [`ResponderError::Config`] when the refresh margin is not shorter than the validity, a
    /// duration is malformed or given both as `*_days` and as a duration, or a
    /// `[serve.dnssec_zones]` key is not a domain name.
    pub fn from_serve(serve: &ServeSection, base: &Path) -> Result<Self, ResponderError> {
        let mut per_zone = BTreeMap::new();
        for (origin, mode) in &serve.dnssec_zones {
            let name = DomainName::parse(origin).map_err(|e| {
                ResponderError::Config(format!("[serve.dnssec_zones] {origin:?}: {e}"))
            })?;
            per_zone.insert(name.to_lowercase_string(), *mode);
        }
        let validity = either(
            serve.signature_validity_days,
            "signature_validity_days",
            serve.signature_validity.as_deref(),
            "signature_validity",
        )?;
        let refresh_before = either(
            serve.refresh_before_days,
            "refresh_before_days",
            serve.refresh_before.as_deref(),
            "refresh_before",
        )?;
        let mut settings = Self::with_durations(
            serve.dnssec,
            serve.key_dir.as_deref(),
            validity,
            refresh_before,
            base,
        )?;
        settings.per_zone = per_zone;
        let params = Nsec3Params {
            iterations: serve.nsec3_iterations.unwrap_or(0),
            salt: Nsec3Params::parse_salt(serve.nsec3_salt.as_deref().unwrap_or("-"))
                .map_err(|e| ResponderError::Config(format!("[serve] nsec3_salt: {e}")))?,
            opt_out: serve.nsec3_opt_out.unwrap_or(false),
        };
        params
            .validate()
            .map_err(|e| ResponderError::Config(format!("[serve] nsec3_iterations: {e}")))?;
        let denial = |m: DenialMethod| match m {
            DenialMethod::Nsec => Denial::Nsec,
            DenialMethod::Nsec3 => Denial::Nsec3(params.clone()),
        };
        settings.denial = denial(serve.denial.unwrap_or_default());
        let duration = |key: &str, text: &str| {
            parse_duration(text).map_err(|e| ResponderError::Config(format!("[serve] {key}: {e}")))
        };
        let delay = match &serve.propagation_delay {
            Some(t) => duration("propagation_delay", t)?,
            None => Duration::from_secs(3600),
        };
        if let Some(t) = &serve.zsk_lifetime {
            let lifetime = duration("zsk_lifetime", t)?;
            if lifetime.is_zero() {
                return Err(ResponderError::Config(
                    "[serve] zsk_lifetime must be more than 0".to_owned(),
                ));
            }
            settings.rollover = Some(ZskRollover {
                lifetime,
                propagation_delay: delay,
            });
        }
        if let Some(t) = &serve.ksk_lifetime {
            let lifetime = duration("ksk_lifetime", t)?;
            if lifetime.is_zero() {
                return Err(ResponderError::Config(
                    "[serve] ksk_lifetime must be more than 0".to_owned(),
                ));
            }
            let parent_ds_ttl = match &serve.parent_ds_ttl {
                Some(t) => duration("parent_ds_ttl", t)?,
                None => Duration::from_secs(86_400),
            };
            let parent_ds_poll = match &serve.parent_ds_poll {
                Some(t) => duration("parent_ds_poll", t)?,
                None => Duration::from_secs(3600),
            };
            if parent_ds_poll.is_zero() {
                return Err(ResponderError::Config(
                    "[serve] parent_ds_poll must be more than 0".to_owned(),
                ));
            }
            settings.ksk_rollover = Some(KskRollover {
                lifetime,
                parent_ds_ttl,
                propagation_delay: delay,
                parent_ds_poll,
            });
        }
        let servers = |key: &str, list: &[String]| {
            list.iter()
                .map(|t| parse_server(t).map_err(|e| ResponderError::Config(format!("{key}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
        };
        settings.parent_ds = servers("[serve] parent_ds_check", &serve.parent_ds_check)?;
        for (origin, list) in &serve.parent_ds_check_zones {
            let key = format!("[serve.parent_ds_check_zones] {origin:?}");
            let name = DomainName::parse(origin)
                .map_err(|e| ResponderError::Config(format!("{key}: {e}")))?;
            settings
                .parent_ds_zones
                .insert(name.to_lowercase_string(), servers(&key, list)?);
        }
        let checks = !settings.parent_ds.is_empty()
            || settings.parent_ds_zones.values().any(|l| !l.is_empty());
        if checks && settings.ksk_rollover.is_none() {
            return Err(ResponderError::Config(
                "[serve] parent_ds_check is used during a KSK rollover: set ksk_lifetime too"
                    .to_owned(),
            ));
        }
        for (origin, method) in &serve.denial_zones {
            let name = DomainName::parse(origin).map_err(|e| {
                ResponderError::Config(format!("[serve.denial_zones] {origin:?}: {e}"))
            })?;
            settings
                .denial_zones
                .insert(name.to_lowercase_string(), denial(*method));
        }
        Ok(settings)
    }

    /// Settings for every zone alike; a relative `key_dir` is taken from `base`.
    ///
    /// # Errors
    /// [`ResponderError::Config`] when the refresh margin is not shorter than the validity.
    pub fn new(
        mode: Option<DnssecMode>,
        key_dir: Option<&Path>,
        validity_days: Option<u64>,
        refresh_before_days: Option<u64>,
        base: &Path,
    ) -> Result<Self, ResponderError> {
        let days = |d: u64| Duration::from_secs(d.saturating_mul(86_400));
        Self::with_durations(
            mode,
            key_dir,
            validity_days.map(days),
            refresh_before_days.map(days),
            base,
        )
    }

    /// [`Self::new`] with the validity and refresh margin to the second (`None`: the
    /// [`SigningPolicy`] default).
    ///
    /// # Errors
    /// [`ResponderError::Config`] when the refresh margin is not shorter than the validity, or
    /// the validity exceeds [`MAX_VALIDITY_DAYS`].
    pub fn with_durations(
        mode: Option<DnssecMode>,
        key_dir: Option<&Path>,
        validity: Option<Duration>,
        refresh_before: Option<Duration>,
        base: &Path,
    ) -> Result<Self, ResponderError> {
        let mut policy = SigningPolicy::default();
        if let Some(v) = validity {
            policy.validity = v;
        }
        if let Some(r) = refresh_before {
            policy.refresh_before = r;
        }
        if policy.validity > MAX_VALIDITY {
            // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5): keep far from wrapping.
            return Err(ResponderError::Config(format!(
                "[serve] signature validity must be at most {MAX_VALIDITY_DAYS} days"
            )));
        }
        if policy.refresh_before >= policy.validity {
            return Err(ResponderError::Config(format!(
                "[serve] the refresh margin ({} s) must be less than the signature validity ({} s)",
                policy.refresh_before.as_secs(),
                policy.validity.as_secs()
            )));
        }
        Ok(Self {
            mode: mode.unwrap_or_default(),
            per_zone: BTreeMap::new(),
            key_dir: key_dir.map_or_else(
                || default_key_dir(base, std::env::var_os("STATE_DIRECTORY").as_deref()),
                |dir| base.join(dir),
            ),
            policy,
            denial: Denial::Nsec,
            denial_zones: BTreeMap::new(),
            rollover: None,
            ksk_rollover: None,
            parent_ds: Vec::new(),
            parent_ds_zones: BTreeMap::new(),
        })
    }

    /// The mode of the zone at `origin`.
    #[must_use]
    pub fn mode_for(&self, origin: &DomainName) -> DnssecMode {
        self.per_zone
            .get(&origin.to_lowercase_string())
            .copied()
            .unwrap_or(self.mode)
    }

    /// The denial of existence the zone at `origin` is signed with.
    #[must_use]
    pub fn denial_for(&self, origin: &DomainName) -> &Denial {
        self.denial_zones
            .get(&origin.to_lowercase_string())
            .unwrap_or(&self.denial)
    }

    /// The parent servers asked for the DS of `origin`'s new KSK (empty: operator only).
    #[must_use]
    pub fn parent_ds_for(&self, origin: &DomainName) -> &[SocketAddr] {
        self.parent_ds_zones
            .get(&origin.to_lowercase_string())
            .unwrap_or(&self.parent_ds)
    }

    /// Whether any zone is signed at load (so a re-signing reload is due some day).
    #[must_use]
    pub fn signs(&self) -> bool {
        self.mode == DnssecMode::Sign || self.per_zone.values().any(|m| *m == DnssecMode::Sign)
    }

    /// Whether any zone is not `off`: zones must then be held in memory before indexing.
    #[must_use]
    pub fn active(&self) -> bool {
        self.mode != DnssecMode::Off || self.per_zone.values().any(|m| *m != DnssecMode::Off)
    }

    /// What a load does with `zone`: signs it (mode `sign`), checks it is signed (mode
    /// `presigned`), or passes it through. A signed zone gets a higher SOA serial than the one
    /// last published for it in `history` (see the module docs), and that serial is recorded in
    /// `serials` under [`signed_serial_key`].
    ///
    /// # Errors
    /// [`ResponderError::Config`] when keys cannot be read or made, signing fails, or a
    /// `presigned` zone has no DNSKEY or RRSIG.
    pub fn prepare(
        &self,
        mut zone: Zone,
        now: SystemTime,
        history: Option<&SerialState>,
        serials: &mut SerialState,
    ) -> Result<Zone, ResponderError> {
        match self.mode_for(&zone.origin) {
            DnssecMode::Off => Ok(zone),
            DnssecMode::Presigned => {
                let has = |t: u16| zone.records.iter().any(|r| r.rtype == t);
                if has(rtype::DNSKEY) && has(rtype::RRSIG) {
                    Ok(zone)
                } else {
                    Err(ResponderError::Config(format!(
                        "dnssec = \"presigned\" but zone {} has no DNSKEY or RRSIG records",
                        zone.origin
                    )))
                }
            }
            DnssecMode::Sign => {
                let origin = zone.origin.clone();
                let fail = |e: crate::dnssec::SignError| {
                    ResponderError::Config(format!("signing zone {origin}: {e}"))
                };
                std::fs::create_dir_all(&self.key_dir).map_err(|e| {
                    ResponderError::Config(format!("key directory {}: {e}", self.key_dir.display()))
                })?;
                let mut keys = match &self.rollover {
                    Some(roll) => {
                        ZoneKeys::load_rolling(
                            &self.key_dir,
                            &origin,
                            roll,
                            Some(zone_ttls(&zone)),
                            now,
                        )
                        .map_err(fail)?
                        .0
                    }
                    None => ZoneKeys::load_or_create(&self.key_dir, &origin).map_err(fail)?,
                };
                if let Some(roll) = &self.ksk_rollover {
                    keys.roll_ksk_checking_parent(
                        &self.key_dir,
                        &origin,
                        roll,
                        self.parent_ds_for(&origin),
                        now,
                    )
                    .map_err(fail)?;
                }
                let key = signed_serial_key(&origin);
                let previous = history.and_then(|h| h.zones.get(&key)).map(|&(_, s)| s);
                let now_unix = now
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let serial = set_signed_serial(&mut zone, previous, now_unix);
                let denial = self.denial_for(&origin);
                let signed =
                    sign_zone_with(&zone, &keys, &self.policy, denial, now).map_err(fail)?;
                if let Some(serial) = serial {
                    serials.zones.insert(key, (0, serial));
                }
                Ok(signed)
            }
        }
    }

    /// The public keys `origin` is signed with (KSK and ZSK DNSKEY in presentation form) and
    /// its denial setting, keys created on first use like [`Self::prepare`] does: a reload
    /// re-signs a zone whose keys or denial changed even when its records did not.
    ///
    /// # Errors
    /// [`ResponderError::Config`] when the keys cannot be read or made.
    pub fn key_material(&self, origin: &DomainName) -> Result<Vec<u8>, ResponderError> {
        let fail = |e: String| ResponderError::Config(format!("keys of zone {origin}: {e}"));
        std::fs::create_dir_all(&self.key_dir)
            .map_err(|e| fail(format!("key directory {}: {e}", self.key_dir.display())))?;
        let mut keys = match &self.rollover {
            Some(roll) => {
                ZoneKeys::load_rolling(&self.key_dir, origin, roll, None, SystemTime::now())
                    .map_err(|e| fail(e.to_string()))?
                    .0
            }
            None => {
                ZoneKeys::load_or_create(&self.key_dir, origin).map_err(|e| fail(e.to_string()))?
            }
        };
        if let Some(roll) = &self.ksk_rollover {
            keys.roll_ksk_checking_parent(
                &self.key_dir,
                origin,
                roll,
                self.parent_ds_for(origin),
                SystemTime::now(),
            )
            .map_err(|e| fail(e.to_string()))?;
        }
        // The denial setting too: switching NSEC and NSEC3 must re-sign an unchanged zone; and
        // the keys only published (ZSKs, CDS/CDNSKEY), which a rollover step changes.
        Ok(format!(
            "{} {} {:?} {:?} {:?}",
            keys.ksk_dnskey(),
            keys.zsk_dnskey(),
            self.denial_for(origin),
            keys.published_only(),
            keys.cds_keys()
        )
        .into_bytes())
    }

    /// When a zone signed at `signed_at` is due for re-signing: `refresh_before` ahead of the
    /// expiry of its signatures.
    #[must_use]
    pub fn refresh_due(&self, signed_at: SystemTime) -> SystemTime {
        let refresh = signed_at
            + self
                .policy
                .validity
                .saturating_sub(self.policy.refresh_before);
        // A ZSK or KSK rollover step re-signs too (module docs).
        // A step already due was not taken: the zone failed to load (a damaged or unwritable
        // state, a clock behind it, a bad zone file). Try again in a while, not at once: a
        // timer in the past would reload without pause. (A step taken changes the keys the
        // zone is signed with, and that alone re-signs it; this time only wakes the timer.)
        let now = SystemTime::now();
        let later = |t: SystemTime| if t <= now { now + STEP_RETRY } else { t };
        let zsk = self
            .rollover
            .and_then(|roll| ZoneKeys::next_rollover_step(&self.key_dir, &roll))
            .map(later);
        let ksk = self
            .ksk_rollover
            .and_then(|roll| ZoneKeys::next_ksk_step(&self.key_dir, &roll))
            .map(later);
        [Some(refresh), zsk, ksk]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(refresh)
    }

    /// When zones signed at `signed_at` must be signed again: `refresh_before` ahead of the
    /// expiry of their signatures (`None` unless mode `sign`).
    #[must_use]
    pub fn resign_at(&self, signed_at: SystemTime) -> Option<SystemTime> {
        self.signs().then(|| self.refresh_due(signed_at))
    }
}

/// The DNSKEY TTL (the apex SOA's, as the signer gives it) and the longest TTL of `zone`: the
/// waits of a ZSK rollover (RFC 6781 §4.1.1.1) are computed from them.
fn zone_ttls(zone: &Zone) -> (u32, u32) {
    let dnskey = zone
        .records
        .iter()
        .find(|r| r.rtype == rtype::SOA && r.owner == zone.origin)
        .map_or(0, |r| r.ttl);
    let max = zone.records.iter().map(|r| r.ttl).max().unwrap_or(0);
    (dnskey, max.max(dnskey))
}

/// Gives the apex SOA of `zone` the serial of its next signing: `max(next_serial(previous,
/// now), source)` in RFC 1982 arithmetic (module docs). `None` when the zone has no apex SOA (the
/// signer then refuses it).
fn set_signed_serial(zone: &mut Zone, previous: Option<u32>, now_unix: u64) -> Option<u32> {
    let origin = zone.origin.clone();
    let soa = zone
        .records
        .iter_mut()
        .find(|r| r.rtype == rtype::SOA && r.owner == origin)?;
    // SOA RDATA ends with SERIAL REFRESH RETRY EXPIRE MINIMUM, 4 octets each (RFC 1035 §3.3.13).
    let at = soa.rdata.len().checked_sub(20)?;
    let bytes = soa.rdata.get_mut(at..at + 4)?;
    let source = u32::from_be_bytes(<[u8; 4]>::try_from(&*bytes).ok()?);
    let serial = serial_max(next_serial(previous, now_unix), source);
    bytes.copy_from_slice(&serial.to_be_bytes());
    Some(serial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::needs_refresh;
    use std::time::UNIX_EPOCH;

    /// A fresh directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "altodisc-zone-signing-{tag}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fixture() -> Zone {
        crate::index::tests::zone_from_text(
            "2.0.192.in-addr.arpa.",
            "@ 60 SOA a. b. 1 2 3 4 5\n@ 60 NS a.\n10 60 NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://a.example/!\" .\n",
        )
    }

    #[test]
    fn sign_mode_creates_keys_once_and_signs() {
        let dir = Scratch::new("sign");
        let s = DnssecSettings::new(Some(DnssecMode::Sign), None, Some(10), Some(3), dir.path())
            .unwrap();
        let now = SystemTime::now();
        let a = s
            .prepare(fixture(), now, None, &mut SerialState::default())
            .unwrap();
        let b = s
            .prepare(fixture(), now, None, &mut SerialState::default())
            .unwrap();
        let dnskeys = |z: &Zone| {
            z.records
                .iter()
                .filter(|r| r.rtype == rtype::DNSKEY)
                .map(|r| r.rdata.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(dnskeys(&a).len(), 2);
        assert_eq!(dnskeys(&a), dnskeys(&b), "keys are reused from the key dir");
        assert!(dir.path().join("keys").is_dir());
        // The timer fires exactly when the signer's refresh check would say so.
        let at = s.resign_at(now).unwrap();
        assert!(!needs_refresh(&a, &s.policy, at - Duration::from_secs(60)));
        assert!(needs_refresh(&a, &s.policy, at + Duration::from_secs(60)));
    }

    #[test]
    fn presigned_requires_signatures_and_off_passes_through() {
        let dir = Scratch::new("pre");
        let pre =
            DnssecSettings::new(Some(DnssecMode::Presigned), None, None, None, dir.path()).unwrap();
        assert!(
            pre.prepare(
                fixture(),
                SystemTime::now(),
                None,
                &mut SerialState::default()
            )
            .is_err()
        );
        let off = DnssecSettings::new(None, None, None, None, dir.path()).unwrap();
        assert_eq!(
            off.prepare(
                fixture(),
                SystemTime::now(),
                None,
                &mut SerialState::default()
            )
            .unwrap(),
            fixture()
        );
        assert_eq!(off.resign_at(SystemTime::now()), None);
        assert!(
            DnssecSettings::new(Some(DnssecMode::Sign), None, Some(5), Some(5), dir.path())
                .is_err()
        );
        assert!(
            DnssecSettings::new(None, None, Some(u64::MAX), None, dir.path()).is_err(),
            "no overflow"
        );
    }

    #[test]
    fn per_zone_modes_override_the_global_one() {
        let dir = Scratch::new("per-zone");
        let serve: ServeSection = toml_serve(
            "dnssec = \"presigned\"\n[serve.dnssec_zones]\n\"2.0.192.IN-ADDR.arpa\" = \"sign\"\n\"example.net.\" = \"off\"\n",
        );
        let s = DnssecSettings::from_serve(&serve, dir.path()).unwrap();
        assert!(s.signs() && s.active());
        let signed = s
            .prepare(
                fixture(),
                SystemTime::now(),
                None,
                &mut SerialState::default(),
            )
            .unwrap();
        assert!(signed.records.iter().any(|r| r.rtype == rtype::RRSIG));
        let other = DomainName::parse("example.org.").unwrap();
        assert_eq!(s.mode_for(&other), DnssecMode::Presigned);
        let off = DomainName::parse("EXAMPLE.net.").unwrap();
        assert_eq!(s.mode_for(&off), DnssecMode::Off);
        let bad: ServeSection = toml_serve("[serve.dnssec_zones]\n\"a..b\" = \"sign\"\n");
        assert!(DnssecSettings::from_serve(&bad, dir.path()).is_err());
    }

    #[test]
    fn denial_is_chosen_globally_and_per_zone() {
        let dir = Scratch::new("denial");
        let count = |z: &Zone, t: u16| z.records.iter().filter(|r| r.rtype == t).count();
        let sign = |s: &DnssecSettings| {
            s.prepare(
                fixture(),
                SystemTime::now(),
                None,
                &mut SerialState::default(),
            )
            .unwrap()
        };
        // Default: NSEC.
        let nsec =
            DnssecSettings::from_serve(&toml_serve("dnssec = \"sign\"\n"), dir.path()).unwrap();
        let z = sign(&nsec);
        assert!(count(&z, rtype::NSEC) > 0 && count(&z, rtype::NSEC3) == 0);
        // Global NSEC3 with RFC 9276 defaults.
        let n3 = DnssecSettings::from_serve(
            &toml_serve("dnssec = \"sign\"\ndenial = \"nsec3\"\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(n3.denial, Denial::Nsec3(Nsec3Params::default()));
        let z = sign(&n3);
        assert!(count(&z, rtype::NSEC) == 0 && count(&z, rtype::NSEC3) == 2);
        assert_eq!(count(&z, rtype::NSEC3PARAM), 1);
        // Switching the denial changes the key material, so an unchanged zone is re-signed.
        assert_ne!(
            nsec.key_material(&fixture().origin).unwrap(),
            n3.key_material(&fixture().origin).unwrap()
        );
        // Per zone, with parameters; the other zones keep the global choice.
        let per = DnssecSettings::from_serve(
            &toml_serve(
                "dnssec = \"sign\"\nnsec3_salt = \"BEEF\"\nnsec3_opt_out = true\nnsec3_iterations = 1\n[serve.denial_zones]\n\"2.0.192.IN-ADDR.ARPA\" = \"nsec3\"\n",
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            per.denial_for(&fixture().origin),
            &Denial::Nsec3(Nsec3Params {
                iterations: 1,
                salt: vec![0xbe, 0xef],
                opt_out: true
            })
        );
        assert_eq!(
            per.denial_for(&DomainName::parse("example.net.").unwrap()),
            &Denial::Nsec
        );
        for bad in [
            "denial = \"nsec5\"\n",
            "nsec3_salt = \"xyz\"\n",
            "nsec3_iterations = 151\n",
            "[serve.denial_zones]\n\"a..b\" = \"nsec3\"\n",
        ] {
            let config = altodisc_zone::publish_config::PublishConfig::from_toml(
                &format!("[serve]\n{bad}"),
                "test",
            )
            .unwrap();
            let refused = ServeSection::from_config(&config, "test")
                .and_then(|serve| DnssecSettings::from_serve(&serve, dir.path()));
            assert!(refused.is_err(), "{bad}");
        }
    }

    #[test]
    fn zsk_rollover_settings() {
        let dir = Scratch::new("rollover");
        let s = DnssecSettings::from_serve(
            &toml_serve("dnssec = \"sign\"\nzsk_lifetime = \"2d\"\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            s.rollover,
            Some(ZskRollover {
                lifetime: Duration::from_secs(2 * 86_400),
                propagation_delay: Duration::from_secs(3600),
            })
        );
        let none =
            DnssecSettings::from_serve(&toml_serve("dnssec = \"sign\"\n"), dir.path()).unwrap();
        assert_eq!(none.rollover, None);
        for bad in [
            "zsk_lifetime = \"0s\"\n",
            "zsk_lifetime = \"30\"\n",
            "zsk_lifetime = \"30d\"\npropagation_delay = \"soon\"\n",
        ] {
            assert!(
                DnssecSettings::from_serve(&toml_serve(bad), dir.path()).is_err(),
                "{bad}"
            );
        }
        // Signing with rollover records the state; the timer is due at the ZSK's lifetime (2 days,
        // before the signature refresh at 7 days).
        let now = SystemTime::now();
        let signed = s
            .prepare(fixture(), now, None, &mut SerialState::default())
            .unwrap();
        assert_eq!(
            signed
                .records
                .iter()
                .filter(|r| r.rtype == rtype::DNSKEY)
                .count(),
            2
        );
        assert!(
            dir.path()
                .join("keys/2.0.192.in-addr.arpa.zsk.state")
                .is_file()
        );
        let due = s.refresh_due(now);
        assert!(due <= now + Duration::from_secs(2 * 86_400 + 1), "{due:?}");
        assert!(due >= now + Duration::from_secs(2 * 86_400 - 5), "{due:?}");
        // A step long due but not taken (the zone failed to load): the timer tries again a
        // minute later, never at a time already past (that would reload without pause).
        std::fs::write(
            dir.path().join("keys/2.0.192.in-addr.arpa.zsk.state"),
            "active 2.0.192.in-addr.arpa.zsk.pk8 1\nttls 60 60\n",
        )
        .unwrap();
        let now = SystemTime::now();
        let due = s.refresh_due(now);
        assert!(due >= now + STEP_RETRY, "{due:?}");
        assert!(due <= now + STEP_RETRY + Duration::from_secs(5), "{due:?}");
    }

    #[test]
    fn parent_ds_check_settings() {
        let dir = Scratch::new("parent-ds");
        let s = DnssecSettings::from_serve(
            &toml_serve(
                "dnssec = \"sign\"\nksk_lifetime = \"1y\"\nparent_ds_poll = \"10m\"\n\
                 parent_ds_check = [\"192.0.2.53\", \"[2001:db8::53]:5353\"]\n\
                 [serve.parent_ds_check_zones]\n\"2.0.192.IN-ADDR.ARPA\" = [\"127.0.0.1:5300\"]\n\
                 \"example.net.\" = []\n",
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            s.ksk_rollover.map(|r| r.parent_ds_poll),
            Some(Duration::from_secs(600))
        );
        let addr = |t: &str| t.parse::<SocketAddr>().unwrap();
        assert_eq!(
            s.parent_ds_for(&DomainName::parse("example.org.").unwrap()),
            &[addr("192.0.2.53:53"), addr("[2001:db8::53]:5353")][..]
        );
        assert_eq!(
            s.parent_ds_for(&fixture().origin),
            &[addr("127.0.0.1:5300")][..]
        );
        assert!(
            s.parent_ds_for(&DomainName::parse("example.net.").unwrap())
                .is_empty()
        );
        // The default poll is an hour.
        let d = DnssecSettings::from_serve(
            &toml_serve("ksk_lifetime = \"1y\"\nparent_ds_check = [\"192.0.2.53\"]\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            d.ksk_rollover.map(|r| r.parent_ds_poll),
            Some(Duration::from_secs(3600))
        );
        for bad in [
            "parent_ds_check = [\"192.0.2.53\"]\n",
            "ksk_lifetime = \"1y\"\nparent_ds_check = [\"ns.example.\"]\n",
            "ksk_lifetime = \"1y\"\nparent_ds_poll = \"0s\"\n",
            "ksk_lifetime = \"1y\"\n[serve.parent_ds_check_zones]\n\"a..b\" = []\n",
        ] {
            let e = DnssecSettings::from_serve(&toml_serve(bad), dir.path()).unwrap_err();
            assert!(e.to_string().contains("parent_ds"), "{bad}: {e}");
        }
    }

    fn soa_serial(z: &Zone) -> u32 {
        let soa = z
            .records
            .iter()
            .find(|r| r.rtype == rtype::SOA && r.owner == z.origin)
            .unwrap();
        let at = soa.rdata.len() - 20;
        u32::from_be_bytes(soa.rdata[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn every_signing_publishes_a_higher_serial_and_records_it() {
        let dir = Scratch::new("serial");
        let s = DnssecSettings::new(Some(DnssecMode::Sign), None, None, None, dir.path()).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut first = SerialState::default();
        let a = s.prepare(fixture(), t0, None, &mut first).unwrap();
        // No history: the clock (the source serial 1 is lower).
        assert_eq!(soa_serial(&a), 1_800_000_000);
        let key = signed_serial_key(&fixture().origin);
        assert_eq!(first.zones[&key].1, 1_800_000_000);
        // A pure re-sign in the same second, content unchanged: previous + 1.
        let mut second = SerialState::default();
        let b = s.prepare(fixture(), t0, Some(&first), &mut second).unwrap();
        assert_eq!(soa_serial(&b), 1_800_000_001);
        // Through the persisted text form, later: the clock again.
        let history = SerialState::parse(&second.to_text());
        let mut third = SerialState::default();
        let later = t0 + Duration::from_secs(3600);
        let c = s
            .prepare(fixture(), later, Some(&history), &mut third)
            .unwrap();
        assert_eq!(soa_serial(&c), 1_800_003_600);
        // The clock behind the previous serial (restart after a clock step back): previous + 1.
        let mut fourth = SerialState::default();
        let d = s.prepare(fixture(), t0, Some(&third), &mut fourth).unwrap();
        assert_eq!(soa_serial(&d), 1_800_003_601);
        // A source serial ahead of both (date-style serials) is never undercut.
        let mut dated = fixture();
        let soa = dated
            .records
            .iter_mut()
            .find(|r| r.rtype == rtype::SOA)
            .unwrap();
        let at = soa.rdata.len() - 20;
        soa.rdata[at..at + 4].copy_from_slice(&2_026_112_201_u32.to_be_bytes());
        let e = s
            .prepare(dated, t0, Some(&fourth), &mut SerialState::default())
            .unwrap();
        assert_eq!(soa_serial(&e), 2_026_112_201);
        // The signatures cover the new serial (the SOA RRSIG is made after the serial is set).
        assert!(!needs_refresh(&e, &s.policy, t0));
    }

    #[test]
    fn default_key_dir_is_in_the_state_directory_under_systemd() {
        let base = Path::new("/etc/altodisc");
        assert_eq!(
            default_key_dir(base, None),
            PathBuf::from("/etc/altodisc/keys")
        );
        assert_eq!(
            default_key_dir(base, Some(std::ffi::OsStr::new("/var/lib/altodisc"))),
            PathBuf::from("/var/lib/altodisc/keys")
        );
        assert_eq!(
            default_key_dir(
                base,
                Some(std::ffi::OsStr::new("/var/lib/altodisc:/var/lib/other"))
            ),
            PathBuf::from("/var/lib/altodisc/keys")
        );
        // Not an absolute path: not from systemd, ignored.
        assert_eq!(
            default_key_dir(base, Some(std::ffi::OsStr::new("relative"))),
            PathBuf::from("/etc/altodisc/keys")
        );
    }

    #[test]
    fn durations_with_units_and_the_old_day_keys() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 15m "), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        // The documented `ksk_lifetime = "1y"` (humantime: 365.25 days).
        assert_eq!(parse_duration("1y"), Ok(Duration::from_secs(31_557_600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1.5d"), Ok(Duration::from_secs(129_600)));
        for bad in ["14", "d", "-1d", "1,5d", "3x", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration(&format!("{}w", u64::MAX / 2)).is_err(),
            "overflow"
        );
        let dir = Scratch::new("durations");
        let s = DnssecSettings::from_serve(
            &toml_serve(
                "dnssec = \"sign\"\nsignature_validity = \"20s\"\nrefresh_before = \"15s\"\n",
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(s.policy.validity, Duration::from_secs(20));
        assert_eq!(s.policy.refresh_before, Duration::from_secs(15));
        let now = SystemTime::now();
        assert_eq!(s.resign_at(now), Some(now + Duration::from_secs(5)));
        // The old keys still work, and may be mixed with the new ones across the two settings.
        let old = DnssecSettings::from_serve(
            &toml_serve("signature_validity_days = 10\nrefresh_before = \"36h\"\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(old.policy.validity, Duration::from_secs(10 * 86_400));
        assert_eq!(old.policy.refresh_before, Duration::from_secs(36 * 3600));
        for bad in [
            "signature_validity_days = 10\nsignature_validity = \"10d\"\n",
            "refresh_before_days = 1\nrefresh_before = \"1d\"\n",
            "signature_validity = \"10\"\n",
            "signature_validity = \"20s\"\nrefresh_before = \"20s\"\n",
            "signature_validity = \"3651d\"\n",
        ] {
            assert!(
                DnssecSettings::from_serve(&toml_serve(bad), dir.path()).is_err(),
                "{bad}"
            );
        }
    }

    fn toml_serve(text: &str) -> ServeSection {
        let config = altodisc_zone::publish_config::PublishConfig::from_toml(
            &format!("[serve]\n{text}"),
            "test",
        )
        .unwrap();
        ServeSection::from_config(&config, "test").unwrap()
    }
}
