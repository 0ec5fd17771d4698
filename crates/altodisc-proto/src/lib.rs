//! Pure protocol logic for ALTO server discovery: no I/O, no async, no clock.
//!
//! ```text
//!   altodisc CLI ─┬─ altodisc-resolver (DNS, DHCP, HTTPS) ─┐
//!                 ├─ altodisc-responder ─ altodisc-zone ───┼─▶ altodisc-proto (this crate)
//!                 └─ altodisc-zone (checker) ──────────────┘
//! ```
//!
//! Every rule that the resolver applies, the checker replays and the responder's reload gate
//! enforces lives here once, and is table-tested against vectors taken from the RFCs:
//!
//! | module | what | RFC |
//! |---|---|---|
//! | [`service`] | the SERVICES field grammar, `ALTO:https` | RFC 4848 §4.5 |
//! | [`regexp`] | the U-NAPTR terminal REGEXP `!.*!URI!` | RFC 4848 §2.2 |
//! | [`subst`] | general substitution-expression validator | RFC 3402 §3.2 |
//! | [`uri`] | absolute http(s) URI, scheme = protocol tag | RFC 3986, RFC 7286 §3.2 |
//! | [`naptr`] | NAPTR RDATA codec and presentation | RFC 3403 §4.1, RFC 3597 §4 |
//! | [`select`](mod@select) | classification and (ORDER, PREFERENCE) ordering | RFC 3403 §4.1, RFC 3958 §2.2, RFC 4848 §4.4 |
//! | [`ladder`] | addresses/prefixes to the ordered reverse names | RFC 8686 §3.2–§3.4 |
//! | [`publish`] | prefixes to the owner names an operator publishes at | RFC 8686 §5.2.1 |
//! | [`access_domain`] | DHCP options 213 / 57 / 15, RFC 3396 concatenation | RFC 5986 §3, RFC 2132 |
//! | [`name`] | domain names in wire and presentation form | RFC 1035 §3.1, §5.1 |
//! | [`walk`] | the U-NAPTR walk: non-terminal chasing, loops, budget, protocol order | RFC 3958 §2.2.4–§2.2.5, RFC 4848 |
//!
//! Decisions where the RFCs are silent or disagree are marked with their entry in `docs/decisions.md` (`A<n>`) in the
//! docs of the item that takes them.

pub mod access_domain;
pub mod ladder;
pub mod name;
pub mod naptr;
pub mod publish;
pub mod regexp;
pub mod select;
pub mod service;
pub mod subst;
pub mod uri;
pub mod walk;

pub use access_domain::{AccessDomainError, decode_access_domain, parse_domain_name_option};
pub use ladder::{AddressFamily, IpPrefix, LadderError, LadderStep, LadderWarning, ReverseLadder};
pub use name::{CanonicalName, DomainName, NameError, canonical_cmp};
pub use naptr::{NaptrRecord, NaptrWireError};
pub use publish::{
    ExpansionMode, ExpansionPolicy, PublishError, PublishPlan, PublishWarning, publish_owners,
};
pub use regexp::{RegexpMode, UnaptrRegexpError, extract_unaptr_uri};
pub use select::{NextStep, Selection, SelectionOptions, SkipReason, Skipped, Usable, select};
pub use service::{ServiceParamError, ServiceParameter, WantedService};
pub use subst::{SubstErrorKind, SubstExprError, SubstitutionExpr, validate_substitution};
pub use uri::{UriError, check_uri, check_uri_for_protocol};
pub use walk::{
    NameAnswer, UnaptrWalk, WalkCandidate, WalkOptions, WalkOutcome, WalkSkipped, WalkStatus,
    WalkStep, WalkVisit,
};
