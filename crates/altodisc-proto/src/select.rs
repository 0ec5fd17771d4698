//! NAPTR selection at one name: which records a U-NAPTR client may use, and in which order.
//!
//! Given every NAPTR record found at one name and the wanted (service, protocol) pair,
//! [`select`] classifies each record (docs/decisions.md, resolver steps 3–7):
//!
//! * **usable, terminal** (`U` flag): yields a URI (RFC 4848 §2.1–§2.2);
//! * **usable, non-terminal** (empty flag): names the next name to query, with the *same* protocol
//!   (RFC 3958 §2.2.3, §2.2.5);
//! * **skipped**, with a [`SkipReason`]: flags that are not alphanumeric (RFC 3403 §4.1), unknown flags
//!   (RFC 4848 §4.4), `S`/`A` flags that yield a host rather than a URI (docs/decisions.md, A4), a service
//!   field that does not parse (RFC 4848 §4.5) or does not offer the wanted service and protocol
//!   (RFC 3958 §2.2.2), REGEXP and REPLACEMENT both set (RFC 3403 §4.1), a REGEXP that is not the
//!   U-NAPTR form, a bad URI, or a URI whose scheme is not the protocol (docs/decisions.md, A2).
//!
//! Usable records are sorted by (ORDER, PREFERENCE) ascending (RFC 3403 §4.1, RFC 3958 §2.2.1), then
//! by a deterministic tie-break (the URI or target, then the record's index), so the wire order in
//! which a server happened to send the RRset never matters. Every usable record is returned, tagged
//! with its ORDER: the caller backtracks through them (RFC 3958 §2.2.4), or keeps only the first
//! ORDER group for strict RFC 3403 §4.1 behaviour ([`Selection::first_order_group`]; docs/decisions.md, A6).

use crate::name::DomainName;
use crate::naptr::NaptrRecord;
use crate::regexp::{RegexpMode, UnaptrRegexpError, extract_unaptr_uri};
use crate::service::{ServiceParamError, ServiceParameter, WantedService};
use crate::uri::{UriError, check_uri, check_uri_for_protocol};

/// Options for [`select`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectionOptions {
    /// How strictly a `U` record's REGEXP is read (docs/decisions.md, A3).
    pub regexp_mode: RegexpMode,
    /// Accept a *non-terminal* record whose service field names the service but no protocol
    /// (e.g. `ALTO`). Off by default: S-NAPTR matching needs a supported protocol (docs/decisions.md, A8).
    pub accept_service_only_non_terminal: bool,
    /// For a wanted protocol tag that is not itself a URI scheme ALTO uses (anything but `http` and
    /// `https`, e.g. `HELD` in `LIS:HELD`), accept any URI that passes
    /// [`crate::uri::check_uri`] instead of requiring scheme = protocol. Off by default (docs/decisions.md,
    /// A2 applies to every protocol); RFC 8686 §3.1 requires accepting any service parameter,
    /// and RFC 5985 `LIS:HELD` records carry `https:` URIs (RFC 8686 Appendix C.4).
    /// `http`/`https` are always checked strictly.
    pub any_scheme_for_non_http_protocols: bool,
}

impl SelectionOptions {
    /// What the altodisc client selects with — the resolver, and the zone checker's replay that
    /// must find exactly what the client finds (ARCHITECTURE.md principle 2): the default, plus
    /// [`Self::any_scheme_for_non_http_protocols`], because RFC 8686 §3.1 accepts any service
    /// parameter and `LIS:HELD` records carry `https:` URIs (RFC 8686 Appendix C.4).
    /// `http`/`https` keep the strict scheme = protocol check (docs/decisions.md, A2).
    #[must_use]
    pub fn client() -> Self {
        Self {
            any_scheme_for_non_http_protocols: true,
            ..Self::default()
        }
    }
}

/// What a usable record leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// A terminal `U` record: the URI (RFC 4848 §2.2).
    Uri(String),
    /// A non-terminal record: query NAPTR at this name next (RFC 3958 §2.2.3).
    Follow(DomainName),
}

/// A record a client may use, in the order it should be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usable {
    /// Index of the record in the input slice.
    pub index: usize,
    /// Its ORDER.
    pub order: u16,
    /// Its PREFERENCE.
    pub preference: u16,
    /// Where it leads.
    pub next: NextStep,
}

/// Why a record at the name is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// FLAGS has characters outside `[A-Za-z0-9]` (RFC 3403 §4.1).
    #[error("flags {0:?} are not alphanumeric (RFC 3403 §4.1)")]
    InvalidFlags(String),
    /// A flag U-NAPTR does not know, or more than one flag (RFC 4848 §4.4: skip the record).
    #[error("unknown flag(s) {0:?}; U-NAPTR knows \"\", U, S and A (RFC 4848 §4.4)")]
    UnknownFlag(String),
    /// `S` or `A`: legal U-NAPTR, but yields a host, not the URI ALTO needs (docs/decisions.md, A4).
    #[error(
        "flag {0:?} yields a host, not a URI; ALTO discovery needs \"U\" (docs/decisions.md, A4)"
    )]
    HostFlag(char),
    /// The SERVICES field does not parse (RFC 4848 §4.5).
    #[error("service field does not parse: {0}")]
    BadServiceField(ServiceParamError),
    /// Another application service (e.g. `LIS:HELD`; RFC 8686 Appendix C.4).
    #[error("service {found:?} is not the wanted service")]
    ServiceMismatch {
        /// The SERVICES field as found.
        found: String,
    },
    /// The service matches but no protocol tag is given (docs/decisions.md, A8).
    #[error("service field {found:?} names no protocol (docs/decisions.md, A8)")]
    NoProtocol {
        /// The SERVICES field.
        found: String,
    },
    /// The service matches but not with the wanted protocol (RFC 3958 §2.2.2).
    #[error("service field {found:?} does not offer the wanted protocol")]
    ProtocolMismatch {
        /// The SERVICES field.
        found: String,
    },
    /// REGEXP and REPLACEMENT are both set (RFC 3403 §4.1: "in error", SHOULD be ignored).
    #[error("REGEXP and REPLACEMENT are both set (RFC 3403 §4.1)")]
    RegexpAndReplacement,
    /// A `U` record with an empty REGEXP and a non-root REPLACEMENT (RFC 4848 §2.1).
    #[error("\"U\" record has a REPLACEMENT instead of a REGEXP (RFC 4848 §2.1)")]
    TerminalWithReplacement,
    /// A `U` record whose REGEXP is not the U-NAPTR form.
    #[error("REGEXP: {0}")]
    BadRegexp(UnaptrRegexpError),
    /// The URI is unusable (including a scheme that differs from the protocol, docs/decisions.md, A2).
    #[error("URI: {0}")]
    BadUri(UriError),
    /// A non-terminal record with a REGEXP (RFC 4848 §2.1: non-terminal records use REPLACEMENT).
    #[error("non-terminal record has a REGEXP; it must use REPLACEMENT (RFC 4848 §2.1)")]
    NonTerminalWithRegexp,
    /// A non-terminal record whose REPLACEMENT is the root: nowhere to go (RFC 3958 §2.2.3).
    #[error("non-terminal record has no REPLACEMENT target (RFC 3958 §2.2.3)")]
    NonTerminalWithoutTarget,
}

/// A record that is not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Index of the record in the input slice.
    pub index: usize,
    /// Why.
    pub reason: SkipReason,
}

/// The outcome of [`select`] at one name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Usable records in the order to try them.
    pub usable: Vec<Usable>,
    /// Records not used, in input order.
    pub skipped: Vec<Skipped>,
}

impl Selection {
    /// The usable records sharing the lowest ORDER: strict RFC 3403 §4.1 ("once a match is found,
    /// records with another ORDER MUST NOT be used"; docs/decisions.md, A6).
    #[must_use]
    pub fn first_order_group(&self) -> &[Usable] {
        let Some(first) = self.usable.first() else {
            return &[];
        };
        let n = self
            .usable
            .iter()
            .take_while(|u| u.order == first.order)
            .count();
        &self.usable[..n]
    }

    /// Whether records existed but none is usable (for RFC 8686 §3.5 this is like NODATA).
    #[must_use]
    pub fn nothing_usable(&self) -> bool {
        self.usable.is_empty()
    }
}

/// Classifies and orders the NAPTR records found at one name for `wanted`.
#[must_use]
pub fn select(
    records: &[NaptrRecord],
    wanted: &WantedService,
    options: &SelectionOptions,
) -> Selection {
    let mut selection = Selection::default();
    for (index, record) in records.iter().enumerate() {
        match classify(record, wanted, options) {
            Ok(next) => selection.usable.push(Usable {
                index,
                order: record.order,
                preference: record.preference,
                next,
            }),
            Err(reason) => selection.skipped.push(Skipped { index, reason }),
        }
    }
    selection.usable.sort_by(|a, b| {
        (a.order, a.preference)
            .cmp(&(b.order, b.preference))
            .then_with(|| tie_break_key(&a.next).cmp(&tie_break_key(&b.next)))
            .then_with(|| a.index.cmp(&b.index))
    });
    selection
}

fn tie_break_key(next: &NextStep) -> String {
    match next {
        NextStep::Uri(u) => u.clone(),
        NextStep::Follow(n) => n.to_lowercase_string(),
    }
}

/// Classifies one record (docs/decisions.md, resolver steps 3–7).
///
/// # Errors
/// The [`SkipReason`] when the record is not usable for `wanted`.
pub fn classify(
    record: &NaptrRecord,
    wanted: &WantedService,
    options: &SelectionOptions,
) -> Result<NextStep, SkipReason> {
    let flags = &record.flags;
    if !flags.iter().all(u8::is_ascii_alphanumeric) {
        return Err(SkipReason::InvalidFlags(lossy(flags)));
    }
    let flag = match flags.as_slice() {
        [] => None,
        [f] if matches!(f.to_ascii_uppercase(), b'U' | b'S' | b'A') => Some(f.to_ascii_uppercase()),
        _ => return Err(SkipReason::UnknownFlag(lossy(flags))),
    };

    let field =
        ServiceParameter::parse_bytes(&record.services).map_err(SkipReason::BadServiceField)?;
    if !field.offers_service(&wanted.service) {
        return Err(SkipReason::ServiceMismatch {
            found: lossy(&record.services),
        });
    }
    if field.protocols().is_empty() {
        let allowed = flag.is_none() && options.accept_service_only_non_terminal;
        if !allowed {
            return Err(SkipReason::NoProtocol {
                found: lossy(&record.services),
            });
        }
    } else if !field.matches(&wanted.service, &wanted.protocol) {
        return Err(SkipReason::ProtocolMismatch {
            found: lossy(&record.services),
        });
    }

    if !record.regexp.is_empty() && !record.has_root_replacement() {
        return Err(SkipReason::RegexpAndReplacement);
    }

    match flag {
        Some(b'U') => {
            if record.regexp.is_empty() && !record.has_root_replacement() {
                return Err(SkipReason::TerminalWithReplacement);
            }
            let uri = extract_unaptr_uri(&record.regexp, options.regexp_mode)
                .map_err(SkipReason::BadRegexp)?;
            let http_tag = wanted.protocol.eq_ignore_ascii_case("http")
                || wanted.protocol.eq_ignore_ascii_case("https");
            if options.any_scheme_for_non_http_protocols && !http_tag {
                check_uri(&uri).map_err(SkipReason::BadUri)?;
            } else {
                check_uri_for_protocol(&uri, &wanted.protocol).map_err(SkipReason::BadUri)?;
            }
            Ok(NextStep::Uri(uri))
        }
        Some(other) => Err(SkipReason::HostFlag(char::from(other))),
        None => {
            if !record.regexp.is_empty() {
                return Err(SkipReason::NonTerminalWithRegexp);
            }
            if record.has_root_replacement() {
                return Err(SkipReason::NonTerminalWithoutTarget);
            }
            Ok(NextStep::Follow(record.replacement.clone()))
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(order: u16, pref: u16, svc: &str, uri: &str) -> NaptrRecord {
        NaptrRecord::terminal(order, pref, svc, &format!("!.*!{uri}!"))
    }

    #[test]
    fn orders_by_order_then_preference_whatever_the_wire_order() {
        let recs = vec![
            u(200, 1, "ALTO:https", "https://c.example/"),
            u(100, 20, "ALTO:https", "https://b.example/"),
            u(100, 10, "ALTO:https", "https://a.example/"),
        ];
        let sel = select(
            &recs,
            &WantedService::alto_https(),
            &SelectionOptions::default(),
        );
        let uris: Vec<_> = sel.usable.iter().map(|x| x.next.clone()).collect();
        assert_eq!(
            uris,
            vec![
                NextStep::Uri("https://a.example/".into()),
                NextStep::Uri("https://b.example/".into()),
                NextStep::Uri("https://c.example/".into()),
            ]
        );
        assert_eq!(sel.first_order_group().len(), 2);
        let mut reversed = recs.clone();
        reversed.reverse();
        let sel2 = select(
            &reversed,
            &WantedService::alto_https(),
            &SelectionOptions::default(),
        );
        let uris2: Vec<_> = sel2.usable.iter().map(|x| x.next.clone()).collect();
        assert_eq!(uris, uris2);
    }

    #[test]
    fn non_http_protocol_scheme_check_is_opt_in() {
        let r = NaptrRecord::terminal(
            100,
            10,
            "LIS:HELD",
            "!.*!https://lis1.example.org:4802/?c=ex!",
        );
        let held = WantedService {
            service: "LIS".into(),
            protocol: "HELD".into(),
        };
        assert!(matches!(
            classify(&r, &held, &SelectionOptions::default()),
            Err(SkipReason::BadUri(UriError::SchemeMismatch { .. }))
        ));
        let opts = SelectionOptions {
            any_scheme_for_non_http_protocols: true,
            ..Default::default()
        };
        assert_eq!(
            classify(&r, &held, &opts),
            Ok(NextStep::Uri("https://lis1.example.org:4802/?c=ex".into()))
        );
        // http/https stay strict with the option on (docs/decisions.md, A2).
        let http_under_https = NaptrRecord::terminal(1, 1, "ALTO:https", "!.*!http://a.example/!");
        assert!(classify(&http_under_https, &WantedService::alto_https(), &opts).is_err());
        // The client's options (resolver and checker replay) are exactly these.
        let client = SelectionOptions::client();
        assert_eq!(classify(&r, &held, &client), classify(&r, &held, &opts));
        assert!(classify(&http_under_https, &WantedService::alto_https(), &client).is_err());
        assert!(!client.accept_service_only_non_terminal);
        assert_eq!(client.regexp_mode, SelectionOptions::default().regexp_mode);
    }

    #[test]
    fn service_only_non_terminal_needs_opt_in() {
        let target = DomainName::parse("deleg.example.").unwrap();
        let r = NaptrRecord::non_terminal(10, 10, "ALTO", target.clone());
        let w = WantedService::alto_https();
        assert_eq!(
            classify(&r, &w, &SelectionOptions::default()),
            Err(SkipReason::NoProtocol {
                found: "ALTO".into()
            })
        );
        let opts = SelectionOptions {
            accept_service_only_non_terminal: true,
            ..Default::default()
        };
        assert_eq!(classify(&r, &w, &opts), Ok(NextStep::Follow(target)));
    }
}
