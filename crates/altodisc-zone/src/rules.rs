//! The rule catalogue of docs/checker-rules.md: stable IDs, default severities, one-line titles and the
//! rationale `altodisc check --explain <ID>` prints (with the RFC section each rule rests on).
//!
//! The checks themselves live in [`crate::check`] (and, for Z1/Z2, in the reader, which is where a
//! syntax error or a `""` replacement is seen).

use std::fmt;
use std::str::FromStr;

use crate::diag::Severity;

/// One rule of docs/checker-rules.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
#[allow(
    missing_docs,
    reason = "each variant is documented by its catalogue entry in `Rule::ALL`"
)]
pub enum Rule {
    Z1,
    Z2,
    Z3,
    Z3b,
    Z4,
    Z5,
    Z5b,
    Z6,
    Z7,
    Z8,
    Z9,
    Z10,
    Z11,
    Z12,
    Z13,
    Z14,
    Z15,
    Z16,
    Z17,
    Z18,
    Z19,
    Z20,
    Z20b,
    Z21,
    Z22,
    Z23,
    Z24,
    Z25,
    Z26,
    Z27,
    Z28,
    Z29,
    Z30,
}

/// Catalogue entry: (rule, id, default severity, title, rationale).
type Entry = (Rule, &'static str, Severity, &'static str, &'static str);

const CATALOGUE: &[Entry] = &[
    (
        Rule::Z1,
        "Z1",
        Severity::Error,
        "zone file syntax (RFC 1035 §5, RFC 3403 §4.3)",
        "The zone must parse per the RFC 1035 §5.1 master-file rules: balanced parentheses and quotes, \
valid \\X and \\DDD escapes, known classes and types (or the RFC 3597 §5 generic form \\# len hex). \
Character-strings hold at most 255 octets (RFC 1035 §3.3); NAPTR ORDER and PREFERENCE are 0-65535 \
(RFC 3403 §4.3). Some tools silently truncate ORDER 70000 to 4464; altodisc reports it instead. \
A line that does not parse is never dropped silently.",
    ),
    (
        Rule::Z2,
        "Z2",
        Severity::Error,
        "NAPTR REPLACEMENT written as \"\" (docs/decisions.md, A1)",
        "RFC 7286 §3.2 and RFC 8686 §3.4 print the empty replacement as \"\", but in RFC 3403 presentation \
format REPLACEMENT is a domain name and the empty one is the root, written `.`. BIND rejects \"\"; ldns \
turns it into a relative label \"\".<origin>, which is silently wrong. Write `.`.",
    ),
    (
        Rule::Z3,
        "Z3",
        Severity::Error,
        "NAPTR FLAGS contain characters outside [A-Za-z0-9] (RFC 3403 §4.1)",
        "RFC 3403 §4.1: FLAGS is a string of single characters from A-Z and 0-9 (case-insensitive). \
Anything else makes the record invalid; clients skip it.",
    ),
    (
        Rule::Z3b,
        "Z3b",
        Severity::Warning,
        "NAPTR FLAGS not one of \"\", U, S, A (RFC 4848 §4.4)",
        "RFC 4848 §4.4: U-NAPTR clients know the flags \"\" (non-terminal), U, S and A; a record with any \
other flag is ignored and the client moves on. For ALTO only U (a URI) and \"\" (delegation) are useful \
(S and A yield a host, not a URI; docs/decisions.md, A4).",
    ),
    (
        Rule::Z4,
        "Z4",
        Severity::Error,
        "NAPTR SERVICES does not match the RFC 4848 §4.5 grammar",
        "RFC 4848 §4.5: SERVICES is empty, a service tag, or a service tag followed by `:protocol` tags. \
Each tag is 1-32 characters, starts with a letter and continues with letters, digits, +, - or . \
Clients cannot match a record whose SERVICES does not parse.",
    ),
    (
        Rule::Z5,
        "Z5",
        Severity::Warning,
        "service ALTO with a protocol other than http or https (RFC 7286 §3.2)",
        "RFC 7286 §3.2 and RFC 8686 §3.4 define ALTO:https and ALTO:http only. A client asking for \
ALTO:https will not use a record that only offers another protocol.",
    ),
    (
        Rule::Z5b,
        "Z5b",
        Severity::Warning,
        "ALTO:http published (RFC 7286 §3.2)",
        "Plain HTTP gives no TLS: the ALTO client cannot authenticate the server (RFC 7286 §6.1, RFC 8686 \
§6.1). RFC 8686 treats ALTO:http as a debugging aid. Publish ALTO:https.",
    ),
    (
        Rule::Z6,
        "Z6",
        Severity::Error,
        "\"U\" record: REGEXP is not exactly !.*!<URI>! (RFC 4848 §2.2)",
        "RFC 4848 §2.2 allows exactly one REGEXP shape for U-NAPTR terminal records: the literal `!.*!`, \
the URI, and a closing `!` - no other delimiter, no anchors, no backreferences, no `i` flag. A client \
rejects anything else, so the record is never used. Remember that the zone file needs doubled \
backslashes (RFC 3403 §7).",
    ),
    (
        Rule::Z7,
        "Z7",
        Severity::Error,
        "\"U\" record: REPLACEMENT is not the root (RFC 4848 §2.1)",
        "RFC 4848 §2.1: with the U flag, REGEXP is filled and REPLACEMENT is empty (the root, `.`). The \
URI comes from the REGEXP; a replacement name has no meaning for a terminal U record.",
    ),
    (
        Rule::Z8,
        "Z8",
        Severity::Error,
        "REGEXP and REPLACEMENT both set (RFC 3403 §4.1)",
        "RFC 3403 §4.1: REGEXP and REPLACEMENT are mutually exclusive; a record with both is in error and \
SHOULD be ignored. named-checkzone, kzonecheck, ldns and NSD all accept such a record.",
    ),
    (
        Rule::Z9,
        "Z9",
        Severity::Error,
        "URI not an absolute http(s) URI, empty, or containing a raw ! (RFC 7286 §3.2, RFC 3986)",
        "The REGEXP result of a U record is the ALTO server's IRD URI (RFC 7286 §3.2, RFC 8686 §3.4): an \
absolute RFC 3986 URI with scheme http or https. `!.*!!` gives an empty URI. A raw `!` ends the \
expression early (docs/decisions.md, A3): escape it as %21.",
    ),
    (
        Rule::Z10,
        "Z10",
        Severity::Error,
        "URI scheme differs from the protocol tag (docs/decisions.md, A2)",
        "No RFC says ALTO:https must carry an https: URI, but a client asking for ALTO:https expects TLS. \
altodisc (resolver and checker alike) treats a mismatch such as http:// under ALTO:https as invalid \
(docs/decisions.md, A2).",
    ),
    (
        Rule::Z11,
        "Z11",
        Severity::Error,
        "non-terminal record: REGEXP set, or REPLACEMENT is the root (RFC 3958 §2.2.3)",
        "A record with empty FLAGS is non-terminal: the client queries NAPTR at REPLACEMENT next \
(RFC 3958 §2.2.3, RFC 4848 §2.1). It needs a REPLACEMENT target and no REGEXP.",
    ),
    (
        Rule::Z12,
        "Z12",
        Severity::Error,
        "non-terminal target missing or without a matching NAPTR (RFC 3958 §2.2.4)",
        "RFC 3958 §2.2.4: after a non-terminal record, finding no matching NAPTR at the target is a \
configuration error. Checked inside the loaded zones (following CNAMEs); targets outside every \
loaded zone are reported as info and need an online check (`altodisc check --live`).",
    ),
    (
        Rule::Z13,
        "Z13",
        Severity::Error,
        "non-terminal chain loops or is deeper than 5 (docs/decisions.md, resolver)",
        "No RFC sets a loop limit (RFC 3402/3403/3958/4848); clients cap the depth (altodisc: 5, echoing \
RFC 3958 §3.2 \"shallower is better\") and detect loops. A chain that loops or is longer never \
yields a URI.",
    ),
    (
        Rule::Z14,
        "Z14",
        Severity::Error,
        "ALTO NAPTR at a reverse owner depth XDOMDISC never queries (RFC 8686 §3.3-3.4)",
        "RFC 8686 §3.3 Table 1: a client queries IPv4 names of 1-4 octet labels and IPv6 names of 8, 10, \
12, 14, 16 or 32 nibbles. A record at any other depth (e.g. a 15-nibble /60 owner) is never \
queried. Publish at the next longer supported length (expand) instead.",
    ),
    (
        Rule::Z15,
        "Z15",
        Severity::Error,
        "CNAME and other data at one owner (RFC 1034 §3.6.2)",
        "RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner has no other data. Resolvers return the CNAME, \
so a NAPTR beside it is never seen.",
    ),
    (
        Rule::Z16,
        "Z16",
        Severity::Info,
        "CNAME from a queried name to a NAPTR owner (BCP 20, RFC 2317)",
        "A CNAME at a reverse name pointing to the NAPTR owner is allowed (RFC 2317 classless delegation, \
RFC 8686 §5.2.2); clients follow it. The rule looks at CNAME chains that reach ALTO NAPTR records (info: \
clients follow them), and at CNAMEs at reverse names of zones that publish ALTO records, where an \
XDOMDISC client queries (error when the chain breaks or loops inside the loaded zones, info when it \
leaves them). Other CNAMEs, loops included, are outside its scope: DNS servers load them as they are.",
    ),
    (
        Rule::Z17,
        "Z17",
        Severity::Warning,
        "wildcard NAPTR with explicit sibling names (RFC 4592, docs/decisions.md, A13)",
        "RFC 4592: a wildcard does not match names that exist. Addresses with e.g. a PTR record get NODATA \
for NAPTR instead of the wildcard's records, and the client falls back to a shorter name \
(RFC 8686 §5.2.1 mentions wildcards).",
    ),
    (
        Rule::Z18,
        "Z18",
        Severity::Warning,
        "NAPTR RRset larger than 512 or 1232 octets (RFC 1035 §4.2.1, RFC 6891)",
        "Above 512 octets a response without EDNS is truncated; above 1232 octets (the DNS flag day 2020 \
EDNS buffer) even EDNS clients need TCP (RFC 7766). Clients must retry over TCP; some networks \
block it.",
    ),
    (
        Rule::Z19,
        "Z19",
        Severity::Info,
        "duplicate (ORDER, PREFERENCE) among ALTO records at one owner (RFC 3403 §6.1)",
        "Allowed, but the client's choice between the records is arbitrary (RFC 3403 §4.1, §6.1); load \
balancing belongs elsewhere. Give them distinct PREFERENCE values if one is preferred.",
    ),
    (
        Rule::Z20,
        "Z20",
        Severity::Warning,
        "unsigned reverse zone (RFC 8686 §6.1)",
        "RFC 8686 §6.1: only the URI host is authenticated by TLS, so the mapping from address to URI \
relies on DNSSEC; reverse zones with ALTO records SHOULD be signed. The zone has no DNSKEY at its apex.",
    ),
    (
        Rule::Z20b,
        "Z20b",
        Severity::Error,
        "signed zone: RRSIG missing, outside its validity window or not verifying, or NSEC/NSEC3 chain broken (RFC 4035 §2.2, §5.3)",
        "RFC 4035 §2.2: every authoritative RRset in a signed zone carries an RRSIG. An RRset whose \
RRSIG is missing, expired, not yet valid or does not verify is bogus for validating clients, which \
then never use the records. For a zone file with a DNSKEY at its apex, `altodisc check` verifies \
every authoritative RRset's RRSIG with the apex DNSKEYs inside its validity window (RFC 4035 §5.3, \
RFC 4034 §3.1.5) and the NSEC or NSEC3 chain (RFC 4034 §4.1.1, RFC 5155 §7.1), as \
ldns-verify-zone does, with the line of each problem. A DNSKEY that signs \
nothing is accepted (a pre-published key, RFC 6781 §4.1). `--no-verify-dnssec` skips the \
verification (each signed file is read a second time, and each RRset costs a signature check): \
then only the NAPTR RRsets are checked for an RRSIG inside its validity window.",
    ),
    (
        Rule::Z21,
        "Z21",
        Severity::Warning,
        "declared prefix not reachable by its own prefix-form query (RFC 8686 §5.2.1, docs/decisions.md, A12)",
        "A prefix whose length is not a supported depth must be expanded to the next longer supported \
length (e.g. a /22 into four /24 names, RFC 8686 §5.2.1). Address lookups inside it then work, but a \
prefix-form query XDOMDISC(p/22) starts at R16 and does not see the /24 records (docs/decisions.md, A12).",
    ),
    (
        Rule::Z22,
        "Z22",
        Severity::Warning,
        "domain zone with ALTO records but none for ALTO:https (RFC 7286 §3.2)",
        "RFC 7286 clients ask for ALTO:https first and use ALTO:http only when configured to. A domain \
that publishes ALTO only over http is invisible to a default client.",
    ),
    (
        Rule::Z23,
        "Z23",
        Severity::Warning,
        "REGEXP contains backslashes: check the doubling (RFC 3403 §7)",
        "RFC 3403 §7: every backslash of a regexp must be doubled in the zone file to reach the wire once. \
A single `\\` before an ordinary character disappears silently (RFC 1035 §5.1 `\\X`). U-NAPTR \
regexps (RFC 4848 §2.2) never need a backslash.",
    ),
    (
        Rule::Z24,
        "Z24",
        Severity::Error,
        "intent replay mismatch (RFC 8686 §3, RFC 7286 §3)",
        "For every declared domain, prefix and address (and sampled addresses inside every prefix, first \
and last included), the checker runs the client algorithm (RFC 8686 Table 1 ladder, U-NAPTR \
selection, non-terminal chasing, CNAMEs) against the loaded zones and compares the URIs found \
with the ones declared.",
    ),
    (
        Rule::Z25,
        "Z25",
        Severity::Error,
        "several CNAME records at one owner (RFC 1034 §3.6.2, RFC 2181 §10.1)",
        "RFC 2181 §10.1: an alias has exactly one canonical name, so a CNAME RRset holds one record \
(RFC 1034 §3.6.2: a CNAME owner has no other data). BIND, Knot and NSD refuse to load such a zone. \
Keep one CNAME and delete the others.",
    ),
    (
        Rule::Z26,
        "Z26",
        Severity::Error,
        "several DNAME records at one owner, or DNAME beside NS below the apex (RFC 6672 §2.4)",
        "RFC 6672 §2.4: DNAME is a singleton type (one DNAME per owner, so that a name has one \
redirection), and a DNAME does not share its owner with an NS RRset unless the owner is the zone apex: \
below the apex the NS marks a delegation and the DNAME belongs in the child zone. BIND, Knot and NSD \
refuse several DNAMEs; Knot also refuses DNAME beside NS.",
    ),
    (
        Rule::Z27,
        "Z27",
        Severity::Error,
        "records below a DNAME owner (RFC 6672 §2.4)",
        "RFC 6672 §2.4: resource records MUST NOT exist at any subdomain of a DNAME owner; queries for \
those names are redirected by the DNAME, so the records are occluded and never served. Knot and NSD \
refuse to load such a zone, BIND when the names are NS targets. Move the records to the DNAME target \
or remove the DNAME. (Owners that hold only NSEC3 records are not reported: RFC 5155 hashed names.)",
    ),
    (
        Rule::Z28,
        "Z28",
        Severity::Error,
        "zone without exactly one SOA record, at its apex (RFC 1035 §5.2)",
        "RFC 1035 §5.2: exactly one SOA RR is present at the top of the zone (RFC 1034 §4.3.4: the SOA \
marks the start of a zone of authority). A zone with no SOA, several SOA records, an SOA below the apex \
or (when the origin is given, by --origin or the file name) none at the apex is refused by the DNS \
servers.",
    ),
    (
        Rule::Z29,
        "Z29",
        Severity::Error,
        "record of a class other than IN (RFC 1035 §3.2.4, §5.2)",
        "RFC 1035 §5.2: the records of a master file are of one class. ALTO discovery (RFC 7286, RFC 8686) \
uses the Internet class IN, which is what BIND, Knot and NSD serve by default; a record of another \
class (CH, HS, CLASS10 …) is refused. The first such record of each zone is reported.",
    ),
    (
        Rule::Z30,
        "Z30",
        Severity::Error,
        "record outside the zone (RFC 1034 §4.2, RFC 1035 §5.2)",
        "RFC 1034 §4.2: a zone holds the data of its apex and of the names below it, down to its \
delegations; RFC 1035 §5.2: a master file describes one zone. A record whose owner is not at or below \
the origin is not part of the zone: NSD refuses the file, BIND and Knot drop the record (so it is never \
served). Usually a relative name written with a final dot, or a wrong $ORIGIN. Checked when the origin \
is given (--origin or the file name); the first such record of each zone is reported.",
    ),
];

impl Rule {
    /// Every rule, in catalogue order.
    pub const ALL: [Self; 33] = [
        Self::Z1,
        Self::Z2,
        Self::Z3,
        Self::Z3b,
        Self::Z4,
        Self::Z5,
        Self::Z5b,
        Self::Z6,
        Self::Z7,
        Self::Z8,
        Self::Z9,
        Self::Z10,
        Self::Z11,
        Self::Z12,
        Self::Z13,
        Self::Z14,
        Self::Z15,
        Self::Z16,
        Self::Z17,
        Self::Z18,
        Self::Z19,
        Self::Z20,
        Self::Z20b,
        Self::Z21,
        Self::Z22,
        Self::Z23,
        Self::Z24,
        Self::Z25,
        Self::Z26,
        Self::Z27,
        Self::Z28,
        Self::Z29,
        Self::Z30,
    ];

    fn entry(self) -> &'static Entry {
        // Every variant has exactly one entry (unit test `catalogue_complete`).
        CATALOGUE
            .iter()
            .find(|e| e.0 == self)
            .unwrap_or(&CATALOGUE[0])
    }

    /// The stable ID, e.g. `Z3b`.
    #[must_use]
    pub fn id(self) -> &'static str {
        self.entry().1
    }

    /// Default severity (docs/checker-rules.md).
    #[must_use]
    pub fn default_severity(self) -> Severity {
        self.entry().2
    }

    /// One-line title with the RFC section.
    #[must_use]
    pub fn title(self) -> &'static str {
        self.entry().3
    }

    /// Rationale, for `--explain` and SARIF rule help.
    #[must_use]
    pub fn rationale(self) -> &'static str {
        self.entry().4
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An unknown rule ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule {0:?} (rules are Z1 … Z30, Z3b, Z5b, Z20b)")]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;

    /// Case-insensitive: `z6`, `Z6`, `Z3B` all work.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CATALOGUE
            .iter()
            .find(|e| e.1.eq_ignore_ascii_case(s.trim()))
            .map(|e| e.0)
            .ok_or_else(|| UnknownRule(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_complete() {
        assert_eq!(CATALOGUE.len(), Rule::ALL.len());
        for r in Rule::ALL {
            assert_eq!(CATALOGUE.iter().filter(|e| e.0 == r).count(), 1, "{r:?}");
            assert_eq!(r.id().parse::<Rule>(), Ok(r));
            assert_eq!(format!("{r:?}"), r.id());
        }
        assert_eq!("z20B".parse::<Rule>(), Ok(Rule::Z20b));
        assert!("Z99".parse::<Rule>().is_err());
    }
}
