//! Writing zones as RFC 1035 §5 master files that BIND, NSD, Knot and PowerDNS load
//! (`altodisc render`).
//!
//! Every name is written absolute (with the final dot), every record with its TTL and class, so
//! the file means the same whatever `$ORIGIN`/`$TTL` a server assumes. RDATA goes through
//! [`crate::rdata::presentation`]: every type BIND, NSD and Knot all read natively in its own form
//! (character-strings always quoted, octets outside printable ASCII as decimal `\DDD`, NAPTR
//! replacement `.` for the root, never `""`, see docs/decisions.md, A1; RRSIG times as
//! `YYYYMMDDHHmmSS`), anything else in the RFC 3597 §5 generic form `TYPEnnn \# <len> <hex>`.

use std::fmt::Write as _;

use crate::rdata::{generic_text, presentation};
use crate::record::{CLASS_IN, Zone, ZoneRecord, rtype};

/// The zone as master-file text: a header comment, `$ORIGIN`, the SOA first, then the other
/// records in their order.
#[must_use]
pub fn zone_to_master(zone: &Zone, header: &str) -> String {
    let mut out = String::with_capacity(128 * (zone.records.len() + 1));
    for line in header.lines() {
        let _ = writeln!(out, "; {line}");
    }
    let _ = writeln!(out, "$ORIGIN {}", zone.origin);
    let soa_first = zone
        .records
        .iter()
        .filter(|r| r.rtype == rtype::SOA)
        .chain(zone.records.iter().filter(|r| r.rtype != rtype::SOA));
    for r in soa_first {
        out.push_str(&record_line(r));
        out.push('\n');
    }
    out
}

/// One record as a master-file line: `owner TTL CLASS TYPE RDATA`, in the form of
/// [`crate::rdata::presentation`] (the one writer for every type).
#[must_use]
pub fn record_line(r: &ZoneRecord) -> String {
    let class = if r.class == CLASS_IN {
        "IN".to_owned()
    } else {
        format!("CLASS{}", r.class)
    };
    // The native forms are those of class IN; elsewhere a type may mean something else (CHAOS A
    // is a name and a 16-bit address), so other classes get the generic form.
    let (type_name, rdata) = if r.class == CLASS_IN {
        presentation(r.rtype, &r.rdata)
    } else {
        (format!("TYPE{}", r.rtype), generic_text(&r.rdata))
    };
    format!("{} {} {class} {type_name} {rdata}", r.owner, r.ttl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read_zone_str;
    use altodisc_proto::DomainName;

    #[test]
    fn written_zone_reads_back_identically() {
        let text = "$TTL 300\n@ SOA ns1.example. host\\.master.example. 7 3600 900 604800 60\n\
                    @ NS ns1.example.\nns1 A 192.0.2.1\nns1 AAAA 2001:db8::1\n\
                    @ NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://a.example/x\\\\y!\" .\n\
                    d NAPTR 200 10 \"\" \"ALTO:https\" \"\" example.net.\n\
                    c CNAME d\nx TYPE65534 \\# 3 abcdef\n";
        let origin = DomainName::parse("example.").unwrap();
        let zone = read_zone_str(text, "in", Some(&origin)).zone;
        assert_eq!(zone.records.len(), 8);
        let written = zone_to_master(&zone, "generated");
        assert!(written.starts_with("; generated\n$ORIGIN example.\nexample. 300 IN SOA "));
        assert!(
            written.contains("x.example. 300 IN TYPE65534 \\# 3 abcdef\n"),
            "{written}"
        );
        let again = read_zone_str(&written, "out", Some(&origin)).zone;
        let key = |z: &Zone| {
            let mut v: Vec<_> = z
                .records
                .iter()
                .map(|r| {
                    (
                        r.owner.to_lowercase_string(),
                        r.ttl,
                        r.rtype,
                        r.rdata.clone(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(key(&zone), key(&again), "{written}");
    }
}
