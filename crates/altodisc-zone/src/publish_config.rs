//! The publishing config: an operator writes intent (TOML), not records; this module turns it into
//! [`Zone`]s of [`ZoneRecord`]s for the responder and gives the checker the declared intent.
//!
//! ```toml
//! [defaults]                       # optional; every field has a default
//! ttl = 3600                       # NAPTR TTL
//! negative_ttl = 300               # SOA MINIMUM: the RFC 2308 negative TTL (RFC 8686 §5.2.1)
//! ns = ["ns1.example.net."]
//!
//! [[zone]]                         # the zones the records go into (most specific wins)
//! origin = "example.net."
//! records = ["ns1 IN A 192.0.2.53"] # extra records (here: the in-zone name server's address)
//!
//! [[access_domain]]                # RFC 7286 §3.2: NAPTR at the access domain
//! domain = "example.net."
//! records = [{ order = 100, preference = 10, uri = "https://alto.example.net/ird" }]
//!
//! [[prefix]]                       # RFC 8686 §3.4: NAPTR at the reverse names of a prefix
//! prefix = "198.51.100.0/22"       # unaligned: expanded to four /24 owners (docs/decisions.md, A12)
//! records = [{ order = 100, preference = 10, delegate = "alto.example.net." }]
//! ```
//!
//! **Extra records** (`[[zone]] records`): master-file lines read with [`crate::reader`], added
//! to the generated zone; SOA and apex NS are generated and refused there. Every NS target inside
//! its zone needs an address record in it (RFC 1034 §4.2.1), or the build fails with the record to
//! add, as named-checkzone and kzonecheck would reject the zone.
//!
//! **Overlapping prefixes**: the longest prefix wins, as in routing (`longest_prefix_wins`): one
//! rule for the checker's replay, `render` and `serve`, all of which go through
//! [`PublishConfig::intents`].
//!
//! Unknown keys are errors (`deny_unknown_fields`), everywhere. The bundled, commented example is
//! `zones/publish.toml`; a test loads it.
//!
//! **Records** (RFC 3403 §4.1, RFC 4848 §2): `uri` gives a terminal record
//! `NAPTR order pref "u" "<service>" "!.*!<uri>!" .` (the URI is checked against the protocol tag,
//! docs/decisions.md, A2, and may not contain `!`, A3); `delegate` gives a non-terminal record
//! `NAPTR order pref "" "<service>" "" <target>` (RFC 3958 §2.2.3). Prefix owners come from
//! [`altodisc_proto::publish::publish_owners`], the one publish-side expansion.
//!
//! **SOA serial**: unless a zone fixes `serial`, it is automatic. Each zone's generated content is
//! hashed (FNV-1a over owners, types, TTLs and RDATA, serial excluded). [`PublishConfig::build`]
//! takes the previous [`SerialState`] (kept in memory by a running server across reloads, and
//! persisted with [`SerialState::to_text`] / [`SerialState::parse`] in the file named by
//! `serve.serial_file`, if set): the same hash
//! keeps the previous serial; a new hash takes `max(previous + 1, now as Unix seconds)` in RFC 1982
//! serial arithmetic, so the serial increases on every change and also across restarts without
//! state, as long as the clock does not go back. With no previous state the serial is the Unix time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use altodisc_proto::ladder::LadderWarning;
use altodisc_proto::naptr::NaptrRecord;
use altodisc_proto::publish::{ExpansionMode, ExpansionPolicy, PublishWarning, publish_owners};
use altodisc_proto::regexp::unaptr_regexp_for;
use altodisc_proto::service::ServiceParameter;
use altodisc_proto::uri::check_uri_for_protocol;
use altodisc_proto::{DomainName, IpPrefix};
use ipnet::IpNet;
use serde::Deserialize;

use crate::record::{CLASS_IN, Zone, ZoneRecord, rtype};

/// Default NAPTR TTL (seconds).
pub const DEFAULT_TTL: u32 = 3600;
/// Default negative TTL, the SOA MINIMUM (seconds). RFC 8686 §5.2.1 suggests generous values.
pub const DEFAULT_NEGATIVE_TTL: u32 = 300;
/// Default service parameter (RFC 7286 §3.2).
pub const DEFAULT_SERVICE: &str = "ALTO:https";

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// Defaults for every zone and entry.
    #[serde(default)]
    pub defaults: Defaults,
    /// Zones the generated records are placed in.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// RFC 7286 access domains.
    #[serde(default, rename = "access_domain")]
    pub access_domains: Vec<AccessDomainEntry>,
    /// RFC 8686 prefixes.
    #[serde(default, rename = "prefix")]
    pub prefixes: Vec<PrefixEntry>,
    /// Server settings, read and validated by `altodisc-responder` (`altodisc serve`); not
    /// interpreted here.
    #[serde(default)]
    pub serve: Option<toml::Table>,
}

/// Defaults (all optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// NAPTR TTL.
    pub ttl: u32,
    /// SOA MINIMUM, the negative TTL (RFC 2308 §4).
    pub negative_ttl: u32,
    /// TTL of the SOA and NS records.
    pub soa_ttl: u32,
    /// Service parameter for records that do not give one.
    pub service: String,
    /// Name servers of every zone (NS at the apex; the first is the SOA MNAME unless `mname`).
    pub ns: Vec<String>,
    /// SOA MNAME (default: the first NS).
    pub mname: Option<String>,
    /// SOA RNAME, the mailbox in name form (default `hostmaster.<origin>`).
    pub rname: Option<String>,
    /// SOA REFRESH.
    pub refresh: u32,
    /// SOA RETRY.
    pub retry: u32,
    /// SOA EXPIRE.
    pub expire: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            soa_ttl: 3600,
            service: DEFAULT_SERVICE.to_owned(),
            ns: Vec::new(),
            mname: None,
            rname: None,
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
        }
    }
}

/// One zone to generate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The apex.
    pub origin: String,
    /// Name servers (default: `defaults.ns`).
    pub ns: Option<Vec<String>>,
    /// SOA MNAME.
    pub mname: Option<String>,
    /// SOA RNAME.
    pub rname: Option<String>,
    /// A fixed serial; automatic when absent (see the module docs).
    pub serial: Option<u32>,
    /// Negative TTL for this zone.
    pub negative_ttl: Option<u32>,
    /// Extra records, one master-file line each, relative to the origin (e.g.
    /// `"ns1 3600 IN A 192.0.2.53"`: the address of an in-zone name server). Added to the
    /// generated zone; SOA and apex NS are generated and refused here.
    #[serde(default)]
    pub records: Vec<toml::Spanned<String>>,
    /// `file:line:col` of each of `records`, filled in by [`PublishConfig::from_toml`].
    #[serde(skip)]
    pub record_positions: Vec<String>,
}

/// One NAPTR record to publish: exactly one of `uri` and `delegate`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEntry {
    /// ORDER (RFC 3403 §4.1).
    pub order: u16,
    /// PREFERENCE.
    pub preference: u16,
    /// Terminal record: the IRD URI (RFC 7285).
    pub uri: Option<String>,
    /// Non-terminal record: the FQDN to continue at (RFC 3958 §2.2.3).
    pub delegate: Option<String>,
    /// Service parameter (default: the entry's, then `defaults.service`).
    pub service: Option<String>,
}

/// An RFC 7286 access domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDomainEntry {
    /// The domain (what DHCP option 213/57 hands out).
    pub domain: String,
    /// Service parameter for its records.
    pub service: Option<String>,
    /// TTL for its records.
    pub ttl: Option<u32>,
    /// Its records.
    pub records: Vec<RecordEntry>,
}

/// How an unaligned prefix is published (docs/decisions.md, responder and A12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Expansion {
    /// One owner per next-longer supported prefix inside it.
    #[default]
    ExpandLonger,
    /// One owner at the next-shorter supported prefix (claims foreign addresses; opt-in).
    CoverShorter,
}

/// An RFC 8686 prefix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixEntry {
    /// The prefix, e.g. `198.51.100.0/24` or `2001:db8:1::/48`; a bare address is a /32 or /128.
    /// Spanned, so errors name the file, line and column of the value.
    pub prefix: toml::Spanned<String>,
    /// `file:line:col` of the prefix value, filled in by [`PublishConfig::from_toml`].
    #[serde(skip)]
    pub position: Option<String>,
    /// Service parameter for its records.
    pub service: Option<String>,
    /// TTL for its records.
    pub ttl: Option<u32>,
    /// Unaligned-prefix policy.
    #[serde(default)]
    pub expansion: Expansion,
    /// Cap on owners one prefix may expand to (default 4096).
    pub max_owners: Option<usize>,
    /// Its records.
    pub records: Vec<RecordEntry>,
}

/// Why a config cannot be used. The `entry` strings name the entry (`prefix[1] 198.51.100.0/22`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishConfigError {
    /// The TOML does not parse, or has an unknown key (the message carries line and column).
    #[error("{file}: {message}")]
    Toml {
        /// The file.
        file: String,
        /// toml's message.
        message: String,
    },
    /// The file cannot be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// An invalid value in an entry.
    #[error("{entry}: {message}")]
    Invalid {
        /// Which entry.
        entry: String,
        /// Why.
        message: String,
    },
    /// An owner that no `[[zone]]` contains.
    #[error("{entry}: owner {owner} is in no [[zone]]; add a zone whose origin contains it")]
    NoZone {
        /// Which entry.
        entry: String,
        /// The owner.
        owner: String,
    },
    /// Two entries publish at the same owner with the same service, ORDER and PREFERENCE.
    #[error(
        "{entry}: owner {owner} already has a record with order {order} preference {preference} for this service"
    )]
    Conflict {
        /// Which entry.
        entry: String,
        /// The owner.
        owner: String,
        /// ORDER.
        order: u16,
        /// PREFERENCE.
        preference: u16,
    },
}

impl PublishConfigError {
    fn invalid(entry: &str, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            entry: entry.to_owned(),
            message: message.to_string(),
        }
    }
}

/// What one record of the config intends (for the checker's replay, docs/checker-rules.md, Z24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntendedTarget {
    /// A terminal URI.
    Uri(String),
    /// A non-terminal delegation to this name.
    Delegate(DomainName),
}

/// The declared intent of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// `access_domain[i] <domain>` or `prefix[i] <prefix>`.
    pub entry: String,
    /// The prefix for RFC 8686 entries; `None` for access domains.
    pub prefix: Option<IpPrefix>,
    /// The owner names the records are published at.
    pub owners: Vec<DomainName>,
    /// The records as (service, order, preference, target), in config order.
    pub records: Vec<(String, u16, u16, IntendedTarget)>,
    /// Publishing notes (e.g. docs/decisions.md, A12 for expanded prefixes).
    pub warnings: Vec<String>,
    /// More specific prefixes of other entries inside this entry's prefix: their addresses are
    /// governed by those entries (longest prefix wins, [`PublishConfig::intents`]), so a
    /// replay of this entry must not expect its own records there.
    pub more_specific: Vec<IpPrefix>,
}

/// Per-zone serial bookkeeping for the automatic serial.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SerialState {
    /// origin (lowercase, trailing dot) → (content hash, serial).
    pub zones: BTreeMap<String, (u64, u32)>,
}

impl SerialState {
    /// One line per zone: `origin hash serial`.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (origin, (hash, serial)) in &self.zones {
            let _ = writeln!(out, "{origin} {hash:016x} {serial}");
        }
        out
    }

    /// Parses [`Self::to_text`]'s output; malformed lines are ignored (the serial then restarts
    /// from the clock, which still increases it).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut zones = BTreeMap::new();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            if let (Some(o), Some(h), Some(s), None) = (f.next(), f.next(), f.next(), f.next())
                && let (Ok(h), Ok(s)) = (u64::from_str_radix(h, 16), s.parse::<u32>())
            {
                zones.insert(o.to_owned(), (h, s));
            }
        }
        Self { zones }
    }
}

/// The result of [`PublishConfig::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The generated zones, one per `[[zone]]`, each with SOA and NS at the apex.
    pub zones: Vec<Zone>,
    /// The serials used (pass to the next build).
    pub serials: SerialState,
    /// Notes for the operator.
    pub warnings: Vec<String>,
}

impl FromStr for PublishConfig {
    type Err = PublishConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_toml(text, "<config>")
    }
}

impl PublishConfig {
    /// Parses TOML text; `file` names it in errors.
    ///
    /// # Errors
    /// [`PublishConfigError::Toml`] for syntax errors and unknown keys.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, PublishConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| PublishConfigError::Toml {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        for e in &mut config.prefixes {
            let (line, col) = line_col(text, e.prefix.span().start);
            e.position = Some(format!("{file}:{line}:{col}"));
        }
        for z in &mut config.zones {
            z.record_positions = z
                .records
                .iter()
                .map(|r| {
                    let (line, col) = line_col(text, r.span().start);
                    format!("{file}:{line}:{col}")
                })
                .collect();
        }
        Ok(config)
    }

    /// Reads and parses a file.
    ///
    /// # Errors
    /// [`PublishConfigError::Io`] or [`PublishConfigError::Toml`].
    pub fn load(path: &Path) -> Result<Self, PublishConfigError> {
        use std::io::Read;
        // A publishing config is kilobytes; the cap bounds a wrong path to a device (whose
        // metadata size is 0, so it cannot be checked up front).
        const MAX_CONFIG_FILE: u64 = 16 << 20;
        let file = path.display().to_string();
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG_FILE + 1).read_to_string(&mut text))
            .map_err(|e| PublishConfigError::Io {
                file: file.clone(),
                message: e.to_string(),
            })?;
        if u64::try_from(text.len()).map_or(true, |n| n > MAX_CONFIG_FILE) {
            return Err(PublishConfigError::Io {
                file,
                message: format!("more than {MAX_CONFIG_FILE} octets; not a publishing config"),
            });
        }
        Self::from_toml(&text, &file)
    }

    /// The declared intent of every entry, validated (URIs, services, names, prefix expansion).
    ///
    /// # Errors
    /// The first invalid entry.
    pub fn intents(&self) -> Result<Vec<Intent>, PublishConfigError> {
        let mut out = Vec::new();
        for (i, e) in self.access_domains.iter().enumerate() {
            let entry = format!("access_domain[{i}] {}", e.domain);
            let owner = parse_name(&entry, &e.domain)?;
            let records = self.records(&entry, e.service.as_deref(), &e.records)?;
            out.push(Intent {
                entry,
                prefix: None,
                owners: vec![owner],
                records,
                warnings: Vec::new(),
                more_specific: Vec::new(),
            });
        }
        let first_prefix = out.len();
        let mut nets: Vec<(IpNet, u8, Expansion)> = Vec::with_capacity(self.prefixes.len());
        for (i, e) in self.prefixes.iter().enumerate() {
            let text = e.prefix.get_ref();
            let entry = match &e.position {
                Some(pos) => format!("{pos}: prefix {text}"),
                None => format!("prefix[{i}] {text}"),
            };
            let prefix =
                IpPrefix::parse(text).map_err(|err| PublishConfigError::invalid(&entry, err))?;
            let net = IpNet::new(prefix.address, prefix.prefix_len)
                .map_err(|err| PublishConfigError::invalid(&entry, err))?
                .trunc();
            let mut notes = Vec::new();
            for w in &prefix.warnings {
                match w {
                    // docs/decisions.md, A11: host bits are ignored; say so, with the fix.
                    LadderWarning::HostBitsSet => notes.push(format!(
                        "host bits below /{} are set and ignored: this entry means {net}; write that",
                        prefix.prefix_len
                    )),
                    LadderWarning::MappedToIpv4 { original } => notes.push(format!(
                        "IPv4-mapped {original} is published as IPv4 {net} (docs/decisions.md, A10)"
                    )),
                    _ => {}
                }
            }
            let policy = ExpansionPolicy {
                mode: match e.expansion {
                    Expansion::ExpandLonger => ExpansionMode::ExpandLonger,
                    Expansion::CoverShorter => ExpansionMode::CoverShorter,
                },
                max_owners: e
                    .max_owners
                    .unwrap_or(altodisc_proto::publish::DEFAULT_MAX_OWNERS),
            };
            let plan = publish_owners(&prefix, &policy)
                .map_err(|err| PublishConfigError::invalid(&entry, err))?;
            let owners = plan
                .owners
                .iter()
                .map(|o| parse_name(&entry, o))
                .collect::<Result<Vec<_>, _>>()?;
            let records = self.records(&entry, e.service.as_deref(), &e.records)?;
            notes.extend(plan.warnings.iter().map(PublishWarning::to_string));
            nets.push((net, plan.owner_len, e.expansion));
            out.push(Intent {
                entry,
                prefix: Some(prefix),
                owners,
                records,
                warnings: notes,
                more_specific: Vec::new(),
            });
        }
        if let Some(prefix_intents) = out.get_mut(first_prefix..) {
            longest_prefix_wins(prefix_intents, &nets)?;
        }
        Ok(out)
    }

    fn records(
        &self,
        entry: &str,
        entry_service: Option<&str>,
        records: &[RecordEntry],
    ) -> Result<Vec<(String, u16, u16, IntendedTarget)>, PublishConfigError> {
        if records.is_empty() {
            return Err(PublishConfigError::invalid(entry, "no records"));
        }
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let service = r
                .service
                .as_deref()
                .or(entry_service)
                .unwrap_or(&self.defaults.service);
            let param = ServiceParameter::from_str(service).map_err(|e| {
                PublishConfigError::invalid(entry, format!("service {service:?}: {e}"))
            })?;
            let target = match (&r.uri, &r.delegate) {
                (Some(uri), None) => {
                    // A terminal U-NAPTR record yields a URI for exactly one protocol: the
                    // scheme must equal it (docs/decisions.md, A2).
                    let [protocol] = param.protocols() else {
                        return Err(PublishConfigError::invalid(
                            entry,
                            format!("service {service:?}: a uri record needs exactly one protocol"),
                        ));
                    };
                    check_uri_for_protocol(uri, protocol).map_err(|e| {
                        PublishConfigError::invalid(entry, format!("uri {uri:?}: {e}"))
                    })?;
                    if uri.contains('!') {
                        // `!` is the regexp delimiter and U-NAPTR has no escape (docs/decisions.md, A3).
                        return Err(PublishConfigError::invalid(
                            entry,
                            format!(
                                "uri {uri:?}: contains '!', the regexp delimiter (docs/decisions.md, A3)"
                            ),
                        ));
                    }
                    IntendedTarget::Uri(uri.clone())
                }
                (None, Some(target)) => {
                    let name = parse_name(entry, target)?;
                    if name.is_root() {
                        return Err(PublishConfigError::invalid(
                            entry,
                            "delegate must be a non-root FQDN (RFC 3958 §2.2.3)",
                        ));
                    }
                    IntendedTarget::Delegate(name)
                }
                _ => {
                    return Err(PublishConfigError::invalid(
                        entry,
                        "each record needs exactly one of `uri` and `delegate`",
                    ));
                }
            };
            out.push((service.to_owned(), r.order, r.preference, target));
        }
        Ok(out)
    }

    /// Generates the zones. `previous` is the serial state of the last build (see the module docs);
    /// `now_unix` the current time in Unix seconds.
    ///
    /// # Errors
    /// The first invalid entry or zone, an owner outside every zone, or a duplicate
    /// (service, ORDER, PREFERENCE) at one owner.
    pub fn build(
        &self,
        previous: Option<&SerialState>,
        now_unix: u64,
    ) -> Result<Published, PublishConfigError> {
        struct Draft {
            origin: DomainName,
            cfg: ZoneConfig,
            naptr: Vec<ZoneRecord>,
        }
        let mut drafts: Vec<Draft> = Vec::with_capacity(self.zones.len());
        for (i, z) in self.zones.iter().enumerate() {
            let entry = format!("zone[{i}] {}", z.origin);
            let origin = parse_name(&entry, &z.origin)?;
            if drafts.iter().any(|d| d.origin == origin) {
                return Err(PublishConfigError::invalid(&entry, "zone declared twice"));
            }
            drafts.push(Draft {
                origin,
                cfg: z.clone(),
                naptr: Vec::new(),
            });
        }
        let mut warnings = Vec::new();
        let mut seen: BTreeMap<(String, String, u16, u16), String> = BTreeMap::new();
        let ttl_of = |entry_ttl: Option<u32>| entry_ttl.unwrap_or(self.defaults.ttl);
        let entry_ttls: Vec<u32> = self
            .access_domains
            .iter()
            .map(|e| ttl_of(e.ttl))
            .chain(self.prefixes.iter().map(|e| ttl_of(e.ttl)))
            .collect();
        for (intent, ttl) in self.intents()?.into_iter().zip(entry_ttls) {
            for w in &intent.warnings {
                warnings.push(format!("{}: {w}", intent.entry));
            }
            for owner in &intent.owners {
                let zone = drafts
                    .iter_mut()
                    .filter(|d| owner.is_subdomain_of(&d.origin))
                    .max_by_key(|d| d.origin.label_count())
                    .ok_or_else(|| PublishConfigError::NoZone {
                        entry: intent.entry.clone(),
                        owner: owner.to_string(),
                    })?;
                for (service, order, preference, target) in &intent.records {
                    let key = (
                        owner.to_lowercase_string(),
                        service.to_ascii_lowercase(),
                        *order,
                        *preference,
                    );
                    if seen.insert(key, intent.entry.clone()).is_some() {
                        return Err(PublishConfigError::Conflict {
                            entry: intent.entry.clone(),
                            owner: owner.to_string(),
                            order: *order,
                            preference: *preference,
                        });
                    }
                    let naptr = match target {
                        IntendedTarget::Uri(uri) => NaptrRecord::terminal(
                            *order,
                            *preference,
                            service,
                            &unaptr_regexp_for(uri),
                        ),
                        IntendedTarget::Delegate(t) => {
                            NaptrRecord::non_terminal(*order, *preference, service, t.clone())
                        }
                    };
                    let rdata = naptr
                        .to_rdata()
                        .map_err(|e| PublishConfigError::invalid(&intent.entry, e))?;
                    zone.naptr
                        .push(generated(owner.clone(), ttl, rtype::NAPTR, rdata));
                }
            }
        }

        let mut zones = Vec::with_capacity(drafts.len());
        let mut serials = SerialState::default();
        for d in drafts {
            let entry = format!("zone {}", d.origin);
            let ns_names = d.cfg.ns.as_ref().unwrap_or(&self.defaults.ns);
            if ns_names.is_empty() {
                return Err(PublishConfigError::invalid(
                    &entry,
                    "no name servers: set `ns` in [defaults] or the zone (RFC 1034 §4.2.1)",
                ));
            }
            let ns = ns_names
                .iter()
                .map(|n| parse_name(&entry, n))
                .collect::<Result<Vec<_>, _>>()?;
            let mname = match d.cfg.mname.as_ref().or(self.defaults.mname.as_ref()) {
                Some(m) => parse_name(&entry, m)?,
                None => ns[0].clone(),
            };
            let rname = match d.cfg.rname.as_ref().or(self.defaults.rname.as_ref()) {
                Some(r) => parse_name(&entry, r)?,
                None => {
                    let text = format!("hostmaster.{}", d.origin);
                    parse_name(&entry, &text)?
                }
            };
            let negative_ttl = d.cfg.negative_ttl.unwrap_or(self.defaults.negative_ttl);
            let soa_ttl = self.defaults.soa_ttl;
            let mut records = Vec::with_capacity(d.naptr.len() + 1 + ns.len());
            for n in &ns {
                records.push(generated(
                    d.origin.clone(),
                    soa_ttl,
                    rtype::NS,
                    n.as_wire().to_vec(),
                ));
            }
            records.extend(d.naptr);
            records.extend(extra_records(&entry, &d.origin, &d.cfg, soa_ttl)?);
            check_ns_addresses(&entry, &d.origin, &records)?;
            let soa_fields = [
                self.defaults.refresh,
                self.defaults.retry,
                self.defaults.expire,
                negative_ttl,
            ];
            // The content hash covers everything but the serial.
            let mut h = Fnv::new();
            for part in [mname.as_wire(), rname.as_wire()] {
                h.write(&part.to_ascii_lowercase());
            }
            for f in soa_fields {
                h.write(&f.to_be_bytes());
            }
            h.write(&soa_ttl.to_be_bytes());
            for r in &records {
                h.write(&r.owner.as_wire().to_ascii_lowercase());
                h.write(&r.rtype.to_be_bytes());
                h.write(&r.ttl.to_be_bytes());
                h.write(&r.rdata);
            }
            let hash = h.finish();
            let key = d.origin.to_lowercase_string();
            let serial = match d.cfg.serial {
                Some(fixed) => fixed,
                None => auto_serial(previous.and_then(|p| p.zones.get(&key)), hash, now_unix),
            };
            serials.zones.insert(key, (hash, serial));
            let mut soa = Vec::with_capacity(64);
            soa.extend_from_slice(mname.as_wire());
            soa.extend_from_slice(rname.as_wire());
            soa.extend_from_slice(&serial.to_be_bytes());
            for f in soa_fields {
                soa.extend_from_slice(&f.to_be_bytes());
            }
            records.insert(0, generated(d.origin.clone(), soa_ttl, rtype::SOA, soa));
            zones.push(Zone {
                origin: d.origin,
                records,
            });
        }
        Ok(Published {
            zones,
            serials,
            warnings,
        })
    }
}

/// RFC 1982 serial choice: keep the serial for unchanged content; otherwise the larger of
/// previous + 1 and the clock (both as serial numbers).
fn auto_serial(previous: Option<&(u64, u32)>, hash: u64, now_unix: u64) -> u32 {
    match previous {
        Some(&(h, s)) if h == hash => s,
        Some(&(_, s)) => next_serial(Some(s), now_unix),
        None => next_serial(None, now_unix),
    }
}

/// The automatic serial policy for a zone whose published content changed (see the module
/// docs): `max(previous + 1, now as Unix seconds)` in RFC 1982 serial arithmetic, or the clock
/// without a previous serial. The responder uses the same policy for re-signed zones.
#[must_use]
pub fn next_serial(previous: Option<u32>, now_unix: u64) -> u32 {
    // Unix seconds fit u32 until 2106; beyond that, wrap (serial arithmetic is modular anyway).
    let clock = u32::try_from(now_unix & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    match previous {
        Some(s) => serial_max(s.wrapping_add(1), clock),
        None => clock,
    }
}

/// The later of two serials in RFC 1982 serial arithmetic (§3.2: `b > a` iff `(b - a) mod 2^32`
/// is in `(0, 2^31)`); `a` when they are equal or incomparable.
#[must_use]
pub fn serial_max(a: u32, b: u32) -> u32 {
    let diff = b.wrapping_sub(a);
    if diff != 0 && diff < (1 << 31) { b } else { a }
}

fn generated(owner: DomainName, ttl: u32, rtype: u16, rdata: Vec<u8>) -> ZoneRecord {
    ZoneRecord {
        owner,
        ttl,
        class: CLASS_IN,
        rtype,
        rdata,
        position: None,
        rdata_positions: Vec::new(),
    }
}

/// Overlapping prefixes: the longest prefix wins, as in IP routing (docs/operators/publishing.md,
/// "Overlapping prefixes"). `intents` are the prefix entries in config order, `nets` their
/// normalised prefixes, owner lengths and expansion modes.
///
/// * The same prefix twice (also after dropping host bits) is an error: merge the records.
/// * Two entries expanding to the same owner name: the longer prefix keeps the name, the shorter
///   loses it there (a note says so). Equal lengths at one name (two `cover-shorter` entries) is
///   an error.
/// * A prefix inside another: its addresses belong to it. Its owners must then be at least as
///   specific as the outer entry's, or a client's ladder (RFC 8686 §3.2) would reach the outer
///   records first; a `cover-shorter` entry inside a more finely published one is an error.
///
/// The checker's replay, `render` and `serve` all take the prefixes through here
/// ([`PublishConfig::intents`]), so they agree on what each address gets.
fn longest_prefix_wins(
    intents: &mut [Intent],
    nets: &[(IpNet, u8, Expansion)],
) -> Result<(), PublishConfigError> {
    for (j, (nj, owner_j, mode_j)) in nets.iter().enumerate() {
        for (i, (ni, owner_i, _)) in nets.iter().enumerate().take(j) {
            if ni == nj {
                return Err(PublishConfigError::invalid(
                    &intents[j].entry,
                    format!(
                        "the same prefix {nj} as {}: merge their records into one entry",
                        intents[i].entry
                    ),
                ));
            }
            let (outer, inner, outer_owner, inner_owner, inner_mode) = if ni.contains(nj) {
                (i, j, *owner_i, *owner_j, *mode_j)
            } else if nj.contains(ni) {
                (j, i, *owner_j, *owner_i, nets[i].2)
            } else {
                continue;
            };
            if inner_owner < outer_owner {
                let hint = if inner_mode == Expansion::CoverShorter {
                    "use expansion = \"expand-longer\" for it"
                } else {
                    "publish it at longer names"
                };
                return Err(PublishConfigError::invalid(
                    &intents[inner].entry,
                    format!(
                        "lies inside {} but is published at /{inner_owner} names, less specific \
                         than that entry's /{outer_owner} names: a client would find the outer \
                         records first (RFC 8686 §3.2); {hint}",
                        intents[outer].entry
                    ),
                ));
            }
            if let Some(p) = intents[inner].prefix.clone() {
                intents[outer].more_specific.push(p);
            }
            let note = format!(
                "addresses in {} use {} (longest prefix wins)",
                nets[inner].0, intents[inner].entry
            );
            intents[outer].warnings.push(note);
        }
    }
    // Owner names claimed by more than one entry: the longer prefix keeps them.
    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    for k in 0..intents.len() {
        let owners = std::mem::take(&mut intents[k].owners);
        let mut kept = Vec::with_capacity(owners.len());
        for owner in owners {
            let key = owner.to_lowercase_string();
            let Some(&holder) = claimed.get(&key) else {
                claimed.insert(key, k);
                kept.push(owner);
                continue;
            };
            let (len_h, len_k) = (nets[holder].0.prefix_len(), nets[k].0.prefix_len());
            if len_h == len_k {
                return Err(PublishConfigError::invalid(
                    &intents[k].entry,
                    format!(
                        "publishes at {owner} like {}, with the same prefix length: a client \
                         cannot tell them apart; merge them or use expansion = \"expand-longer\"",
                        intents[holder].entry
                    ),
                ));
            }
            let (winner, loser) = if len_k > len_h {
                (k, holder)
            } else {
                (holder, k)
            };
            let note = format!(
                "not published at {owner}: {} is more specific there (longest prefix wins)",
                intents[winner].entry
            );
            intents[loser].warnings.push(note);
            if winner == k {
                intents[holder]
                    .owners
                    .retain(|o| o.to_lowercase_string() != key);
                claimed.insert(key, k);
                kept.push(owner);
            }
        }
        intents[k].owners = kept;
    }
    for intent in intents.iter_mut() {
        if intent.owners.is_empty() {
            intent
                .warnings
                .push("publishes nothing: more specific entries cover all its names".to_owned());
        }
    }
    Ok(())
}

/// The `records` of a `[[zone]]`, read with the zone reader (one record per string, relative
/// names against the origin, `soa_ttl` when the line gives no TTL).
fn extra_records(
    entry: &str,
    origin: &DomainName,
    cfg: &ZoneConfig,
    default_ttl: u32,
) -> Result<Vec<ZoneRecord>, PublishConfigError> {
    let mut out = Vec::with_capacity(cfg.records.len());
    for (k, line) in cfg.records.iter().enumerate() {
        let at = cfg.record_positions.get(k).map_or_else(
            || format!("{entry}: records[{k}]"),
            |p| format!("{p}: {entry}"),
        );
        let line = line.get_ref();
        if line.contains(['\n', '\r', '$']) {
            return Err(PublishConfigError::invalid(
                &at,
                "one record per string, without line breaks or $-directives",
            ));
        }
        let text = format!("$ORIGIN {origin}\n$TTL {default_ttl}\n{line}\n");
        let read = crate::reader::read_zone_str(&text, "records", Some(origin));
        if let Some(d) = read
            .diagnostics
            .iter()
            .find(|d| d.severity == crate::Severity::Error)
        {
            return Err(PublishConfigError::invalid(
                &at,
                format!("record {line:?}: {}", d.message),
            ));
        }
        let [mut record] = <[ZoneRecord; 1]>::try_from(read.zone.records).map_err(|_| {
            PublishConfigError::invalid(&at, format!("record {line:?}: not exactly one record"))
        })?;
        if !record.owner.is_subdomain_of(origin) {
            return Err(PublishConfigError::invalid(
                &at,
                format!(
                    "record {line:?}: owner {} is outside the zone",
                    record.owner
                ),
            ));
        }
        if record.rtype == rtype::SOA || (record.rtype == rtype::NS && &record.owner == origin) {
            return Err(PublishConfigError::invalid(
                &at,
                format!(
                    "record {line:?}: the SOA and the apex NS are generated; set `ns`, `mname`, \
                     `rname` in the zone or [defaults] instead"
                ),
            ));
        }
        // The record comes from the config, not a zone file: no file position to point at.
        record.position = None;
        record.rdata_positions.clear();
        out.push(record);
    }
    Ok(out)
}

/// Every NS target inside the zone needs an address in it (RFC 1034 §4.2.1 glue; the
/// in-zone address of an apex name server): named-checkzone and kzonecheck reject the zone
/// otherwise, and a resolver cannot reach the server.
fn check_ns_addresses(
    entry: &str,
    origin: &DomainName,
    records: &[ZoneRecord],
) -> Result<(), PublishConfigError> {
    for ns in records.iter().filter(|r| r.rtype == rtype::NS) {
        let Ok((target, _)) = DomainName::from_wire(&ns.rdata) else {
            continue;
        };
        if !target.is_subdomain_of(origin) {
            continue;
        }
        let has_address = records.iter().any(|r| {
            (r.rtype == rtype::A || r.rtype == rtype::AAAA)
                && r.owner.to_lowercase_string() == target.to_lowercase_string()
        });
        if !has_address {
            let relative = target
                .to_string()
                .strip_suffix(&format!(".{origin}"))
                .map_or_else(|| target.to_string(), str::to_owned);
            return Err(PublishConfigError::invalid(
                entry,
                format!(
                    "name server {target} (NS at {}) is inside the zone but has no address \
                     record: add it to the zone, e.g. records = [\"{relative} 3600 IN A \
                     192.0.2.53\"] (RFC 1034 §4.2.1; named-checkzone and kzonecheck reject \
                     the zone otherwise)",
                    ns.owner
                ),
            ));
        }
    }
    Ok(())
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count().saturating_add(1);
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        .saturating_add(1);
    (line, col)
}

fn parse_name(entry: &str, text: &str) -> Result<DomainName, PublishConfigError> {
    if text.is_empty() || text == "\"\"" {
        // docs/decisions.md, A1: an empty name is not the root; write "." for the root.
        return Err(PublishConfigError::invalid(
            entry,
            "empty name (write \".\" for the root)",
        ));
    }
    DomainName::parse(text)
        .map_err(|e| PublishConfigError::invalid(entry, format!("name {text:?}: {e}")))
}

/// FNV-1a 64: stable across Rust releases (unlike `DefaultHasher`), so a persisted
/// [`SerialState`] stays meaningful.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Field separator, so ("ab","c") and ("a","bc") differ.
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3) ^ 0xff;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device's metadata size is 0; reading it must stop at the cap, not run out of memory.
    #[test]
    fn load_of_dev_zero_is_bounded() {
        let err = PublishConfig::load(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("not a publishing config"), "{err}");
    }

    const MINIMAL: &str = r#"
[defaults]
ns = ["ns1.example.net."]
negative_ttl = 120

[[zone]]
origin = "example.net."
records = ["ns1 3600 IN A 192.0.2.53"]

[[zone]]
origin = "100.51.198.in-addr.arpa."

[[zone]]
origin = "51.198.in-addr.arpa."

[[access_domain]]
domain = "example.net."
records = [
  { order = 100, preference = 10, uri = "https://alto1.example.net/ird" },
  { order = 200, preference = 10, delegate = "alto.example.org." },
]

[[prefix]]
prefix = "198.51.100.0/22"
records = [{ order = 100, preference = 10, uri = "https://alto22.example.net/ird" }]
"#;

    fn naptrs(z: &Zone) -> Vec<(String, NaptrRecord)> {
        z.records
            .iter()
            .filter(|r| r.rtype == rtype::NAPTR)
            .map(|r| {
                (
                    r.owner.to_lowercase_string(),
                    NaptrRecord::from_rdata(&r.rdata).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn builds_records_into_the_most_specific_zone() {
        let cfg: PublishConfig = MINIMAL.parse().unwrap();
        let p = cfg.build(None, 1_700_000_000).unwrap();
        assert_eq!(p.zones.len(), 3);
        let fwd = &p.zones[0];
        assert_eq!(fwd.records[0].rtype, rtype::SOA);
        assert_eq!(fwd.records[1].rtype, rtype::NS);
        let n = naptrs(fwd);
        assert_eq!(n.len(), 2);
        assert_eq!(
            n[0].1.to_string(),
            r#"100 10 "u" "ALTO:https" "!.*!https://alto1.example.net/ird!" ."#
        );
        assert_eq!(
            n[1].1.to_string(),
            r#"200 10 "" "ALTO:https" "" alto.example.org."#
        );
        // The /22 expands to four /24 owners; 100.51.198 is its own zone, the rest go to 51.198.
        let owners: Vec<String> = naptrs(&p.zones[2]).into_iter().map(|(o, _)| o).collect();
        assert_eq!(
            owners,
            [
                "101.51.198.in-addr.arpa.",
                "102.51.198.in-addr.arpa.",
                "103.51.198.in-addr.arpa."
            ]
        );
        assert_eq!(naptrs(&p.zones[1])[0].0, "100.51.198.in-addr.arpa.");
        assert!(
            p.warnings.iter().any(|w| w.contains("A12")),
            "{:?}",
            p.warnings
        );
        // SOA MINIMUM is the negative TTL.
        let soa = &fwd.records[0].rdata;
        assert_eq!(&soa[soa.len() - 4..], &120u32.to_be_bytes());
    }

    #[test]
    fn serial_is_stable_for_same_content_and_increases_on_change() {
        let cfg: PublishConfig = MINIMAL.parse().unwrap();
        let first = cfg.build(None, 1_700_000_000).unwrap();
        let s1 = first.serials.zones["example.net."].1;
        assert_eq!(s1, 1_700_000_000);
        // Same content, later clock: same serial.
        let again = cfg.build(Some(&first.serials), 1_700_000_500).unwrap();
        assert_eq!(again.serials.zones["example.net."].1, s1);
        // Changed content, clock behind: previous + 1.
        let changed: PublishConfig = MINIMAL
            .replace("alto1.example.net", "alto9.example.net")
            .parse()
            .unwrap();
        let c = changed.build(Some(&first.serials), 1_000).unwrap();
        assert_eq!(c.serials.zones["example.net."].1, s1 + 1);
        // Unchanged zones keep theirs.
        assert_eq!(
            c.serials.zones["51.198.in-addr.arpa."],
            first.serials.zones["51.198.in-addr.arpa."]
        );
        // Changed content, clock ahead: the clock.
        let c = changed.build(Some(&first.serials), 1_800_000_000).unwrap();
        assert_eq!(c.serials.zones["example.net."].1, 1_800_000_000);
        // The state survives a text round trip.
        assert_eq!(SerialState::parse(&first.serials.to_text()), first.serials);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = format!("{}\n[[zone]]\norigin = \"x.\"\ncolour = 1\n", MINIMAL)
            .parse::<PublishConfig>()
            .unwrap_err();
        assert!(
            matches!(&err, PublishConfigError::Toml { message, .. } if message.contains("colour")),
            "{err}"
        );
        let err = "[defaults]\nttl = 1\nnegative = 2\n"
            .parse::<PublishConfig>()
            .unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn invalid_entries_are_reported() {
        let bad_scheme = MINIMAL.replace("https://alto1", "http://alto1");
        let err = bad_scheme
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("access_domain[0] example.net.: uri"),
            "{err}"
        );
        let bang = MINIMAL.replace("/ird\" }", "/i!rd\" }");
        let err = bang
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(err.to_string().contains("'!'"), "{err}");
        let no_zone = MINIMAL.replace("origin = \"example.net.\"", "origin = \"example.com.\"");
        let err = no_zone
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(matches!(err, PublishConfigError::NoZone { .. }), "{err}");
        let both = MINIMAL.replace(
            "delegate = \"alto.example.org.\"",
            "delegate = \"alto.example.org.\", uri = \"https://x.example/\"",
        );
        let err = both
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let dup = MINIMAL.replace("order = 200", "order = 100");
        let err = dup
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(matches!(err, PublishConfigError::Conflict { .. }), "{err}");
    }

    /// The config text with one more prefix entry.
    fn with_prefix(prefix: &str, uri: &str, extra: &str) -> String {
        format!(
            "{MINIMAL}\n[[prefix]]\nprefix = \"{prefix}\"\n{extra}records = [{{ order = 100, preference = 10, uri = \"{uri}\" }}]\n"
        )
    }

    /// Replays the config's intent against its own generated zones: the checker's view.
    fn replay_findings(text: &str) -> Vec<crate::Diagnostic> {
        let published = PublishConfig::from_toml(text, "t.toml")
            .unwrap()
            .build(None, 1_800_000_000)
            .unwrap();
        let intent = crate::replay::Intent::from_publish_config(text, "t.toml").unwrap();
        let mut checker = crate::check::Checker::new(crate::check::CheckOptions {
            now_unix: 1_800_000_000,
        });
        for z in &published.zones {
            checker.load_zone(z);
        }
        checker.index();
        crate::replay::replay(checker.zones(), &intent)
            .into_iter()
            .filter(|d| d.rule == crate::Rule::Z24)
            .collect()
    }

    #[test]
    fn a_nested_prefix_on_the_same_name_replaces_the_outer_records_there() {
        // /24 inside the /22: both expand to 100.51.198.in-addr.arpa. Longest prefix wins, so
        // clients get the /24's URI only there (before: both URIs, merged).
        let text = with_prefix("198.51.100.0/24", "https://alto24.example.net/ird", "");
        let cfg = PublishConfig::from_toml(&text, "t.toml").unwrap();
        let p = cfg.build(None, 0).unwrap();
        let at = |zone: &Zone, owner: &str| -> Vec<String> {
            naptrs(zone)
                .into_iter()
                .filter(|(o, _)| o == owner)
                .map(|(_, r)| r.to_string())
                .collect()
        };
        let r24 = at(&p.zones[1], "100.51.198.in-addr.arpa.");
        assert_eq!(r24.len(), 1, "{r24:?}");
        assert!(r24[0].contains("alto24"), "{r24:?}");
        // The /22 keeps its other three names.
        assert_eq!(at(&p.zones[2], "101.51.198.in-addr.arpa.").len(), 1);
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("not published at 100.51.198")
                    && w.contains("longest prefix wins")),
            "{:?}",
            p.warnings
        );
        // The checker agrees: no address of either entry misses its URIs.
        let found = replay_findings(&text);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_more_specific_prefix_wins_for_its_addresses_and_the_checker_agrees() {
        // /25 at the start of the /22 (its first address is always sampled): published at R32
        // names, which the ladder reaches before the /22's R24 names.
        let text = with_prefix("198.51.100.0/25", "https://alto25.example.net/ird", "");
        let cfg = PublishConfig::from_toml(&text, "t.toml").unwrap();
        let intents = cfg.intents().unwrap();
        let outer = intents.iter().find(|i| i.entry.contains("/22")).unwrap();
        assert_eq!(outer.more_specific.len(), 1);
        assert!(
            outer
                .warnings
                .iter()
                .any(|w| w.contains("addresses in 198.51.100.0/25 use")),
            "{:?}",
            outer.warnings
        );
        let found = replay_findings(&text);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn duplicate_prefixes_and_host_bits_are_named_with_their_position() {
        // Host bits: normalised, with a warning that says what the entry means.
        let text = with_prefix("203.0.113.5/24", "https://x.example.net/ird", "")
            + "\n[[zone]]\norigin = \"113.0.203.in-addr.arpa.\"\n";
        let p = PublishConfig::from_toml(&text, "t.toml")
            .unwrap()
            .build(None, 0)
            .unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("host bits") && w.contains("203.0.113.0/24")),
            "{:?}",
            p.warnings
        );
        // The same prefix twice (after dropping host bits): an error at file:line:col.
        let text = with_prefix("198.51.100.9/22", "https://x.example.net/ird", "");
        let err = PublishConfig::from_toml(&text, "t.toml")
            .unwrap()
            .build(None, 0)
            .unwrap_err()
            .to_string();
        let line = text
            .lines()
            .position(|l| l.contains("198.51.100.9/22"))
            .unwrap()
            + 1;
        assert!(
            err.starts_with(&format!(
                "t.toml:{line}:10: prefix 198.51.100.9/22: the same prefix"
            )),
            "{err}"
        );
        // An invalid prefix, likewise.
        let text = with_prefix("198.51.100.0/33", "https://x.example.net/ird", "");
        let err = PublishConfig::from_toml(&text, "t.toml")
            .unwrap()
            .intents()
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("t.toml:{line}:10: prefix 198.51.100.0/33")),
            "{err}"
        );
    }

    #[test]
    fn a_cover_shorter_prefix_inside_a_finer_entry_is_refused() {
        // A /23 published at its /16 name inside the /22 published at /24 names: a client in the
        // /23 would reach the /22's records first, so longest prefix could not win.
        let text = with_prefix(
            "198.51.100.0/23",
            "https://x.example.net/ird",
            "expansion = \"cover-shorter\"\n",
        );
        let err = PublishConfig::from_toml(&text, "t.toml")
            .unwrap()
            .intents()
            .unwrap_err()
            .to_string();
        assert!(err.contains("expand-longer"), "{err}");
    }

    #[test]
    fn an_in_zone_name_server_needs_an_address_and_records_supply_it() {
        // ns1.example.net. is inside example.net.: without its A record the zone is one that
        // named-checkzone and kzonecheck reject, so the config is refused with the fix.
        let without = MINIMAL.replace("records = [\"ns1 3600 IN A 192.0.2.53\"]\n", "");
        let err = without
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("zone example.net.: name server ns1.example.net.")
                && err.contains("records = [\"ns1 3600 IN A 192.0.2.53\"]"),
            "{err}"
        );
        // With it, the record is in the zone (relative owner, explicit TTL).
        let p = MINIMAL
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap();
        let a: Vec<&ZoneRecord> = p.zones[0]
            .records
            .iter()
            .filter(|r| r.rtype == rtype::A)
            .collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].owner.to_string(), "ns1.example.net.");
        assert_eq!(a[0].rdata, [192, 0, 2, 53]);
        assert_eq!(a[0].ttl, 3600);
        // An address record changes the content, so the serial moves.
        let other = MINIMAL.replace("192.0.2.53", "192.0.2.54");
        let q = other
            .parse::<PublishConfig>()
            .unwrap()
            .build(Some(&p.serials), 0)
            .unwrap();
        assert_ne!(
            q.serials.zones["example.net."],
            p.serials.zones["example.net."]
        );
        // A delegation inside the zone needs glue too (RFC 1034 §4.2.1).
        let deleg = MINIMAL.replace(
            "records = [\"ns1 3600 IN A 192.0.2.53\"]",
            "records = [\"ns1 3600 IN A 192.0.2.53\", \"sub NS ns.sub\"]",
        );
        let err = deleg
            .parse::<PublishConfig>()
            .unwrap()
            .build(None, 0)
            .unwrap_err();
        assert!(
            err.to_string().contains("name server ns.sub.example.net."),
            "{err}"
        );
    }

    #[test]
    fn extra_records_are_checked_and_errors_name_their_position() {
        let cases = [
            (
                "ns1 3600 IN A 300.0.2.53",
                "record \"ns1 3600 IN A 300.0.2.53\"",
            ),
            ("ns1.example.com. 3600 IN A 192.0.2.1", "outside the zone"),
            ("@ 3600 IN NS ns2.example.org.", "apex NS are generated"),
            ("@ 3600 IN SOA a. b. 1 2 3 4 5", "apex NS are generated"),
            ("$INCLUDE /etc/passwd", "one record per string"),
        ];
        for (record, want) in cases {
            let text = MINIMAL.replace("ns1 3600 IN A 192.0.2.53", record);
            let err = PublishConfig::from_toml(&text, "t.toml")
                .unwrap()
                .build(None, 0)
                .unwrap_err()
                .to_string();
            let line = text
                .lines()
                .position(|l| l.starts_with("records = [\""))
                .unwrap()
                + 1;
            assert!(
                err.starts_with(&format!("t.toml:{line}:12: zone")),
                "{record}: {err}"
            );
            assert!(err.contains(want), "{record}: {err}");
        }
    }

    #[test]
    fn bundled_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones/publish.toml");
        let cfg = PublishConfig::load(&path).unwrap();
        let p = cfg.build(None, 1_700_000_000).unwrap();
        assert!(!p.zones.is_empty());
        assert!(!cfg.intents().unwrap().is_empty());
    }

    #[test]
    fn next_serial_is_max_of_previous_plus_one_and_clock_in_serial_arithmetic() {
        assert_eq!(next_serial(None, 1_000), 1_000);
        assert_eq!(next_serial(Some(5), 1_000), 1_000);
        assert_eq!(next_serial(Some(5_000), 1_000), 5_001, "clock behind");
        assert_eq!(next_serial(Some(u32::MAX), 1_000), 1_000, "wraps past 2^32");
        assert_eq!(next_serial(Some(u32::MAX), 0), 0);
        assert_eq!(serial_max(u32::MAX, 3), 3, "3 follows 2^32-1 (RFC 1982)");
        assert_eq!(serial_max(3, u32::MAX), 3);
        assert_eq!(serial_max(7, 7), 7);
    }
}
