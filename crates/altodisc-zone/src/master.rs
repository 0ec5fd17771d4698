//! Writing zones as RFC 1035 §5 master files that BIND, NSD, Knot and PowerDNS load
//! (`altodisc render`).
//!
//! Every name is written absolute (with the final dot), every record with its TTL and class, so
//! the file means the same whatever `$ORIGIN`/`$TTL` a server assumes. NAPTR RDATA goes through
//! [`NaptrRecord`]'s presentation form (quoted character-strings, replacement `.` for the root,
//! never `""`, SPEC.md A1); SOA, NS, CNAME, PTR, A and AAAA in their usual form; any other type
//! in the RFC 3597 §5 generic form `\# <len> <hex>`, which all four servers accept.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use altodisc_proto::DomainName;
use altodisc_proto::naptr::NaptrRecord;

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

/// One record as a master-file line: `owner TTL CLASS TYPE RDATA`.
#[must_use]
pub fn record_line(r: &ZoneRecord) -> String {
    let class = if r.class == CLASS_IN {
        "IN".to_owned()
    } else {
        format!("CLASS{}", r.class)
    };
    let (type_name, rdata) = match presentation(r.rtype, &r.rdata) {
        Some((name, text)) => (name.to_owned(), text),
        None => (format!("TYPE{}", r.rtype), generic(&r.rdata)),
    };
    format!("{} {} {class} {type_name} {rdata}", r.owner, r.ttl)
}

/// RFC 3597 §5: `\# <length> <hex>`.
fn generic(rdata: &[u8]) -> String {
    let mut s = format!("\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        for b in rdata {
            let _ = write!(s, "{b:02x}");
        }
    }
    s
}

/// Type mnemonic and RDATA text for the types written natively; `None` for the generic form
/// (including RDATA that does not decode as its type).
fn presentation(t: u16, rdata: &[u8]) -> Option<(&'static str, String)> {
    let name_only = |n: &'static str| {
        let (name, used) = DomainName::from_wire(rdata).ok()?;
        (used == rdata.len()).then(|| (n, name.to_string()))
    };
    match t {
        rtype::NAPTR => NaptrRecord::from_rdata(rdata)
            .ok()
            .map(|n| ("NAPTR", n.to_string())),
        rtype::NS => name_only("NS"),
        rtype::CNAME => name_only("CNAME"),
        rtype::PTR => name_only("PTR"),
        rtype::SOA => {
            let (mname, a) = DomainName::from_wire(rdata).ok()?;
            let (rname, b) = DomainName::from_wire(rdata.get(a..)?).ok()?;
            let nums = rdata.get(a + b..)?;
            if nums.len() != 20 {
                return None;
            }
            let n = |i: usize| -> Option<u32> {
                Some(u32::from_be_bytes(
                    nums.get(i * 4..i * 4 + 4)?.try_into().ok()?,
                ))
            };
            Some((
                "SOA",
                format!(
                    "{mname} {rname} {} {} {} {} {}",
                    n(0)?,
                    n(1)?,
                    n(2)?,
                    n(3)?,
                    n(4)?
                ),
            ))
        }
        rtype::A => {
            let b: [u8; 4] = rdata.try_into().ok()?;
            Some(("A", Ipv4Addr::from(b).to_string()))
        }
        rtype::AAAA => {
            let b: [u8; 16] = rdata.try_into().ok()?;
            Some(("AAAA", Ipv6Addr::from(b).to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read_zone_str;

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
