//! Intent replay (rules Z24 and Z21): run the client algorithm against the loaded zones and
//! compare what a client would find with what the operator declared.
//!
//! ```text
//!   intent TOML ──▶ entries (domain | address | prefix → expected URIs)
//!        prefix ──▶ sampled addresses (first, last, evenly spaced) ──▶ RFC 8686 Table 1 ladder
//!        every name ──▶ ZoneSet::unaptr (altodisc_proto::select, non-terminal chasing, CNAMEs)
//!        first name with URIs wins (RFC 8686 §3.4) ──▶ compare ──▶ Z24 error / Z21 warning
//! ```
//!
//! The expectations file (`altodisc check --intent FILE`):
//!
//! ```toml
//! # Optional: the service every entry asks for (default ALTO:https) and how many addresses to
//! # sample inside each prefix besides the first and the last (default 14).
//! service = "ALTO:https"
//! samples = 14
//!
//! [[expect]]
//! prefix = "198.51.100.0/24"            # or address = "…", or domain = "example.net"
//! uris = ["https://alto1.example.net/ird", "https://alto2.example.net/ird"]
//!
//! [[expect]]
//! address = "192.0.2.7"
//! uris = []                              # "nothing must be found"
//! ```
//!
//! `uris` lists the URIs in the order the client would try them (ORDER, PREFERENCE; docs/decisions.md, A6).
//! For a prefix entry, the prefix-form query `XDOMDISC(prefix)` is replayed too; a mismatch there
//! while the addresses work is the docs/decisions.md, A12 case and reported as Z21 (warning).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use altodisc_proto::DomainName;
use altodisc_proto::ladder::{IpPrefix, ReverseLadder, network_address, publish_boundary};
use altodisc_proto::service::{ServiceParameter, WantedService};
use serde::Deserialize;

use crate::check::ZoneSet;
use crate::diag::Diagnostic;
use crate::record::Position;
use crate::rules::Rule;

/// Why an intent file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntentError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown keys.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An entry is invalid (bad prefix, bad service, not exactly one of domain/address/prefix).
    #[error("{path}:{line}: {message}")]
    Entry {
        /// The file.
        path: String,
        /// Line of the entry.
        line: u32,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    service: Option<String>,
    samples: Option<u32>,
    #[serde(default)]
    expect: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    domain: Option<toml::Spanned<String>>,
    address: Option<toml::Spanned<String>>,
    prefix: Option<toml::Spanned<String>>,
    service: Option<String>,
    uris: Vec<String>,
}

/// What an entry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An RFC 7286 domain: U-NAPTR at the name itself.
    Domain(DomainName),
    /// One address: the RFC 8686 ladder from the full-length name.
    Address(IpAddr),
    /// A prefix: sampled addresses plus the prefix-form query.
    Prefix(IpPrefix),
}

/// One expectation.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// What is looked up.
    pub subject: Subject,
    /// The service asked for.
    pub wanted: WantedService,
    /// What a client must find, in order (empty: nothing must be found).
    pub expected: Vec<Expected>,
    /// Where the entry is written (for diagnostics).
    pub position: Option<Position>,
    /// How the entry is named in messages when it has no position (e.g. `prefix[0] 192.0.2.0/24`).
    pub label: Option<String>,
    /// For a prefix subject: more specific prefixes inside it that another entry governs
    /// (longest prefix wins, `PublishConfig::intents`); their addresses are not sampled.
    pub except: Vec<IpPrefix>,
}

impl Expectation {
    /// The addresses of a prefix subject to check: [`sample_addresses`] minus those inside
    /// [`Self::except`].
    #[must_use]
    pub fn sampled_addresses(&self, prefix: &IpPrefix, samples: u32) -> Vec<IpAddr> {
        let except: Vec<ipnet::IpNet> = self
            .except
            .iter()
            .filter_map(|p| ipnet::IpNet::new(p.address, p.prefix_len).ok())
            .collect();
        let mut out = sample_addresses(prefix, samples);
        out.retain(|a| !except.iter().any(|n| n.contains(a)));
        out
    }

    /// A finding about this expectation: at its position, the message prefixed with its label
    /// (the offline replay and `check --live` report the same way).
    #[must_use]
    pub fn diagnostic(&self, rule: Rule, message: &str) -> Diagnostic {
        let from = self
            .label
            .as_ref()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        Diagnostic::new(rule, self.position.clone(), format!("{from}{message}"))
    }
}

/// One expected step of the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// This URI.
    Uri(String),
    /// Whatever a client finds by continuing at this name (a declared delegation): resolved in the
    /// loaded zones at replay time.
    Delegation(DomainName),
}

/// A parsed intent.
#[derive(Debug, Clone, Default)]
pub struct Intent {
    /// The entries.
    pub entries: Vec<Expectation>,
    /// Addresses sampled inside each prefix besides the first and the last.
    pub samples: u32,
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

fn wanted_from(service: &str) -> Result<WantedService, String> {
    let p: ServiceParameter = service
        .parse()
        .map_err(|e| format!("service {service:?}: {e}"))?;
    p.wanted()
        .into_iter()
        .next()
        .ok_or_else(|| format!("service {service:?} names no protocol (write e.g. ALTO:https)"))
}

impl Intent {
    /// Reads an expectations file.
    ///
    /// # Errors
    /// [`IntentError`].
    pub fn from_file(path: &Path) -> Result<Self, IntentError> {
        let text = std::fs::read_to_string(path).map_err(|source| IntentError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let label = path.display().to_string();
        // A publishing config has no `expect` key; an expectations file has nothing else at the
        // top level but `service` and `samples`.
        let is_expectations = text
            .parse::<toml::Table>()
            .map(|t| t.contains_key("expect") || t.is_empty())
            .unwrap_or(true);
        if is_expectations {
            Self::from_toml(&text, &label)
        } else {
            Self::from_publish_config(&text, &label)
        }
    }

    /// Builds expectations from a publishing config (the responder's `[[access_domain]]` and
    /// `[[prefix]]` entries): for each entry and service, the declared records in (ORDER,
    /// PREFERENCE) order; a `delegate` record expects whatever its target yields.
    ///
    /// # Errors
    /// [`IntentError::Syntax`] when the config does not parse or is invalid.
    pub fn from_publish_config(text: &str, label: &str) -> Result<Self, IntentError> {
        use crate::publish_config::{IntendedTarget, PublishConfig};
        let syntax = |message: String| IntentError::Syntax {
            path: label.to_owned(),
            message,
        };
        let config = PublishConfig::from_toml(text, label).map_err(|e| syntax(e.to_string()))?;
        let intents = config.intents().map_err(|e| syntax(e.to_string()))?;
        let mut entries = Vec::new();
        for intent in intents {
            let subject = match (&intent.prefix, intent.owners.first()) {
                (Some(p), _) => Subject::Prefix(p.clone()),
                (None, Some(owner)) => Subject::Domain(owner.clone()),
                (None, None) => continue,
            };
            let mut services: Vec<&str> = intent.records.iter().map(|r| r.0.as_str()).collect();
            services.sort_unstable();
            services.dedup();
            for service in services {
                let wanted =
                    wanted_from(service).map_err(|m| syntax(format!("{}: {m}", intent.entry)))?;
                let mut recs: Vec<&(String, u16, u16, IntendedTarget)> =
                    intent.records.iter().filter(|r| r.0 == service).collect();
                // The order `altodisc_proto::select` gives: (ORDER, PREFERENCE), then the URI or
                // the lowercase target.
                let key = |t: &IntendedTarget| match t {
                    IntendedTarget::Uri(u) => u.clone(),
                    IntendedTarget::Delegate(n) => n.to_lowercase_string(),
                };
                recs.sort_by_key(|r| (r.1, r.2, key(&r.3)));
                entries.push(Expectation {
                    subject: subject.clone(),
                    wanted,
                    expected: recs
                        .iter()
                        .map(|r| match &r.3 {
                            IntendedTarget::Uri(u) => Expected::Uri(u.clone()),
                            IntendedTarget::Delegate(n) => Expected::Delegation(n.clone()),
                        })
                        .collect(),
                    position: None,
                    label: Some(format!("{label}: {}", intent.entry)),
                    except: intent.more_specific.clone(),
                });
            }
        }
        Ok(Self {
            entries,
            samples: 14,
        })
    }

    /// Parses expectations TOML; `label` names the file in positions.
    ///
    /// # Errors
    /// [`IntentError::Syntax`] or [`IntentError::Entry`].
    pub fn from_toml(text: &str, label: &str) -> Result<Self, IntentError> {
        let raw: RawIntent = toml::from_str(text).map_err(|e| IntentError::Syntax {
            path: label.to_owned(),
            message: e.to_string(),
        })?;
        let file: Arc<str> = Arc::from(label);
        let default_service = raw.service.unwrap_or_else(|| "ALTO:https".to_owned());
        let mut entries = Vec::new();
        for e in raw.expect {
            let spans = [&e.domain, &e.address, &e.prefix];
            let given: Vec<&toml::Spanned<String>> =
                spans.iter().filter_map(|s| s.as_ref()).collect();
            let offset = given.first().map_or(0, |s| s.span().start);
            let (line, column) = line_col(text, offset);
            let err = |message: String| IntentError::Entry {
                path: label.to_owned(),
                line,
                message,
            };
            if given.len() != 1 {
                return Err(err(
                    "each [[expect]] needs exactly one of domain, address, prefix".into(),
                ));
            }
            let subject = if let Some(d) = &e.domain {
                Subject::Domain(
                    DomainName::parse(d.get_ref()).map_err(|x| err(format!("domain: {x}")))?,
                )
            } else if let Some(a) = &e.address {
                let p = IpPrefix::parse(a.get_ref()).map_err(|x| err(format!("address: {x}")))?;
                Subject::Address(p.address)
            } else if let Some(p) = &e.prefix {
                Subject::Prefix(
                    IpPrefix::parse(p.get_ref()).map_err(|x| err(format!("prefix: {x}")))?,
                )
            } else {
                return Err(err("no subject".into()));
            };
            let wanted =
                wanted_from(e.service.as_deref().unwrap_or(&default_service)).map_err(err)?;
            entries.push(Expectation {
                subject,
                wanted,
                expected: e.uris.into_iter().map(Expected::Uri).collect(),
                position: Some(Position {
                    file: Arc::clone(&file),
                    line,
                    column,
                }),
                label: None,
                except: Vec::new(),
            });
        }
        Ok(Self {
            entries,
            samples: raw.samples.unwrap_or(14),
        })
    }
}

/// The outcome of one replayed lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// URIs, in the order a client tries them.
    pub uris: Vec<String>,
    /// The names walked, with their answers.
    pub trace: Vec<String>,
}

/// RFC 8686 §3.4 at an address or prefix: the ladder's names in order, the first that yields URIs
/// wins.
#[must_use]
pub fn replay_ladder(set: &ZoneSet, ladder: &ReverseLadder, wanted: &WantedService) -> Found {
    let mut trace = Vec::new();
    for step in &ladder.steps {
        let Ok(name) = DomainName::parse(&step.name) else {
            continue;
        };
        let walk = set.unaptr(&name, wanted);
        for t in walk.trace {
            trace.push(format!("{} {t}", step.label()));
        }
        if !walk.uris.is_empty() {
            return Found {
                uris: walk.uris,
                trace,
            };
        }
    }
    Found {
        uris: Vec::new(),
        trace,
    }
}

/// RFC 7286 §3.2 at a domain.
#[must_use]
pub fn replay_domain(set: &ZoneSet, domain: &DomainName, wanted: &WantedService) -> Found {
    let walk = set.unaptr(domain, wanted);
    Found {
        uris: walk.uris,
        trace: walk.trace,
    }
}

/// The addresses sampled inside a prefix: the first, the last, and `samples` evenly spaced ones.
#[must_use]
pub fn sample_addresses(prefix: &IpPrefix, samples: u32) -> Vec<IpAddr> {
    let net = network_address(prefix.address, prefix.prefix_len);
    let (base, bits): (u128, u32) = match net {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    };
    let host_bits = bits - u32::from(prefix.prefix_len);
    let size_minus_one: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let mut offsets = vec![0u128, size_minus_one];
    let n = u128::from(samples);
    if n > 0 && size_minus_one > 1 {
        let step = (size_minus_one / (n + 1)).max(1);
        for k in 1..=n {
            let o = step.saturating_mul(k);
            if o < size_minus_one {
                offsets.push(o);
            }
        }
    }
    offsets.sort_unstable();
    offsets.dedup();
    offsets
        .into_iter()
        .map(|o| {
            let v = base + o;
            if bits == 32 {
                IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)))
            } else {
                IpAddr::V6(Ipv6Addr::from(v))
            }
        })
        .collect()
}

fn address_ladder(a: IpAddr) -> Option<ReverseLadder> {
    ReverseLadder::new(IpPrefix::parse(&a.to_string()).ok()?).ok()
}

/// The URIs an expectation stands for: declared URIs as they are, delegations resolved in the
/// loaded zones (with the same selection code a client runs).
fn expected_uris(set: &ZoneSet, e: &Expectation) -> Vec<String> {
    let mut out = Vec::new();
    for x in &e.expected {
        match x {
            Expected::Uri(u) => out.push(u.clone()),
            Expected::Delegation(n) => out.extend(set.unaptr(n, &e.wanted).uris),
        }
    }
    out
}

fn mismatch(
    subject: &str,
    e: &Expectation,
    want: &[String],
    found: &Found,
    rule: Rule,
) -> Diagnostic {
    let walked = if found.trace.is_empty() {
        "nothing".to_owned()
    } else {
        found.trace.join("; ")
    };
    e.diagnostic(
        rule,
        &format!(
            "{subject} ({}): expected {want:?}, a client finds {:?}; walked: {walked}",
            e.wanted, found.uris
        ),
    )
}

/// Replays every expectation against the loaded zones (the set must be indexed).
#[must_use]
pub fn replay(set: &ZoneSet, intent: &Intent) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for e in &intent.entries {
        let want = expected_uris(set, e);
        match &e.subject {
            Subject::Domain(d) => {
                let found = replay_domain(set, d, &e.wanted);
                if found.uris != want {
                    out.push(
                        mismatch(&format!("domain {d}"), e, &want, &found, Rule::Z24).with_hint(
                            "publish the declared URIs at the domain, or fix the intent",
                        ),
                    );
                }
            }
            Subject::Address(a) => {
                let Some(ladder) = address_ladder(*a) else {
                    continue;
                };
                let found = replay_ladder(set, &ladder, &e.wanted);
                if found.uris != want {
                    out.push(
                        mismatch(&format!("address {a}"), e, &want, &found, Rule::Z24)
                            .with_hint("publish at one of the walked names (RFC 8686 Table 1), or fix the intent"),
                    );
                }
            }
            Subject::Prefix(p) => {
                let mut bad = 0usize;
                for a in e.sampled_addresses(p, intent.samples) {
                    let Some(ladder) = address_ladder(a) else {
                        continue;
                    };
                    let found = replay_ladder(set, &ladder, &e.wanted);
                    if found.uris != want {
                        bad += 1;
                        out.push(
                            mismatch(&format!("address {a} in {p}"), e, &want, &found, Rule::Z24)
                                .with_hint("every address of the prefix must reach the declared URIs; publish at a name its ladder walks"),
                        );
                    }
                }
                if let Ok(ladder) = ReverseLadder::new(p.clone()) {
                    let found = replay_ladder(set, &ladder, &e.wanted);
                    if found.uris != want {
                        let aligned =
                            publish_boundary(p.family(), p.prefix_len) == Some(p.prefix_len);
                        let why = if aligned || bad > 0 {
                            String::new()
                        } else {
                            " (the prefix is not a supported length: its records sit at longer names the prefix-form query never reaches, docs/decisions.md, A12)".to_owned()
                        };
                        out.push(
                            mismatch(&format!("prefix-form query {p}{why}"), e, &want, &found, Rule::Z21)
                                .with_hint("publish also at the prefix query's first name, or accept that XDOMDISC(prefix) misses (RFC 8686 §5.2.1)"),
                        );
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_include_first_and_last() {
        let p = IpPrefix::parse("198.51.100.0/24").unwrap();
        let s = sample_addresses(&p, 2);
        assert_eq!(s.first().unwrap().to_string(), "198.51.100.0");
        assert_eq!(s.last().unwrap().to_string(), "198.51.100.255");
        assert_eq!(s.len(), 4);
        let p = IpPrefix::parse("2001:db8::/32").unwrap();
        let s = sample_addresses(&p, 3);
        assert_eq!(
            s.last().unwrap().to_string(),
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        let p = IpPrefix::parse("192.0.2.1/32").unwrap();
        assert_eq!(sample_addresses(&p, 5).len(), 1);
    }

    #[test]
    fn intent_parses_and_rejects() {
        let i = Intent::from_toml(
            "[[expect]]\nprefix = \"198.51.100.0/24\"\nuris = [\"https://a.example/\"]\n",
            "i.toml",
        )
        .unwrap();
        assert_eq!(i.entries.len(), 1);
        assert_eq!(i.entries[0].position.as_ref().unwrap().line, 2);
        assert!(Intent::from_toml("[[expect]]\nuris = []\n", "i").is_err());
        assert!(Intent::from_toml("bogus = 1\n", "i").is_err());
    }
}
