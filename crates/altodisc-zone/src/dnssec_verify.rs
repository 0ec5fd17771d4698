//! Rule Z20b, in depth: verifies a signed zone the way `ldns-verify-zone` and `kzonecheck -d on`
//! do (RFC 4035 §5.3, RFC 5155 §8), with the position of every finding.
//!
//! ```text
//!   verify_zone(&zone, now)  → Z20b diagnostics:
//!     * every authoritative RRset (RFC 4035 §2.2: not the NS of a delegation, not glue) has an
//!       RRSIG inside its validity window (RFC 4034 §3.1.5, serial arithmetic) that verifies
//!       with a DNSKEY of the apex having its key tag and algorithm;
//!     * NSEC chain (RFC 4034 §4.1.1): every authoritative name has an NSEC pointing to the next
//!       name in canonical order, the last one back to the apex;
//!     * NSEC3 chain (RFC 5155 §7.1): every authoritative name and empty non-terminal (an
//!       unsigned delegation under opt-out excepted) has the NSEC3 of its hash, and the NSEC3
//!       records link their hashes in order, the last one back to the first.
//! ```
//!
//! A DNSKEY that signs nothing is no finding: pre-published keys of a rollover (RFC 6781
//! §4.1) sign nothing yet, and `ldns-verify-zone` accepts them too. NAPTR RRsets without an RRSIG
//! or with none in its window are reported by the checker's own Z20b pass
//! ([`crate::check`]); this module adds every other RRset, the signatures that do not verify,
//! and the chains.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use altodisc_proto::DomainName;
use altodisc_proto::name::{CanonicalName, canonical_cmp};
use hickory_proto::dnssec::DigestType;
use hickory_proto::dnssec::Verifier as _;
use hickory_proto::dnssec::crypto::Digest;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, RRSIG};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::diag::Diagnostic;
use crate::record::{Position, Zone, ZoneRecord, rtype};
use crate::rules::Rule;

fn is_below(name: &DomainName, ancestor: &DomainName) -> bool {
    name.label_count() > ancestor.label_count() && name.is_subdomain_of(ancestor)
}

fn decode(r: &ZoneRecord) -> Result<Record, String> {
    let len = u16::try_from(r.rdata.len()).map_err(|_| "RDATA over 65535 octets".to_owned())?;
    let mut dec = BinDecoder::new(&r.rdata);
    let data = RData::read(&mut dec, RecordType::from(r.rtype), Restrict::new(len))
        .map_err(|e| e.to_string())?;
    let name = Name::from_labels(r.owner.labels()).map_err(|e| e.to_string())?;
    let mut rec = Record::from_rdata(name, r.ttl, data);
    rec.dns_class = DNSClass::from(r.class);
    Ok(rec)
}

fn finding(position: Option<&Position>, message: String, hint: &str) -> Diagnostic {
    Diagnostic::new(Rule::Z20b, position.cloned(), message).with_hint(hint.to_owned())
}

/// Whether `t` is inside the window of `sig` (RFC 4034 §3.1.5: serial-number arithmetic).
fn in_window(sig: &RRSIG, now: u32) -> bool {
    let i = sig.input();
    let exp = i.sig_expiration.get();
    let inc = i.sig_inception.get();
    exp.wrapping_sub(now) <= u32::MAX / 2 && now.wrapping_sub(inc) <= u32::MAX / 2
}

/// Why `sig` is not usable at `now` (it is outside its window): not yet valid, or expired.
fn window_problem(sig: &RRSIG, now: u32) -> (String, &'static str) {
    let i = sig.input();
    let inc = i.sig_inception.get();
    let exp = i.sig_expiration.get();
    if now.wrapping_sub(inc) > u32::MAX / 2 {
        (
            format!(
                "not yet valid: its inception {} is after the check time {}",
                stamp(inc),
                stamp(now)
            ),
            "validators reject a signature before its inception (RFC 4035 §5.3.1): check the \
             signer's clock and this machine's, or sign with an inception in the past",
        )
    } else {
        (
            format!(
                "expired: its expiration {} is before the check time {}",
                stamp(exp),
                stamp(now)
            ),
            "re-sign the zone and automate re-signing before expiry",
        )
    }
}

/// `t`, seconds since 1970 (RFC 4034 §3.2), as the zone file writes it: YYYYMMDDHHmmSS (UTC).
fn stamp(t: u32) -> String {
    // Days to civil date (H. Hinnant's algorithm); every value is bounded by t <= u32::MAX, so
    // no step overflows an i64.
    let z = i64::from(t / 86_400) + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let secs = t % 86_400;
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// [`verify_zone`] on the zone file `path`, read again with `options` (the checker streams
/// zone files without keeping their records; it calls this for signed zones only). A file that
/// cannot be read again gives no findings here: the first read reported why.
#[must_use]
pub fn verify_file(
    path: &std::path::Path,
    origin: &DomainName,
    options: &crate::reader::ReadOptions,
    now_unix: u64,
) -> Vec<Diagnostic> {
    match crate::reader::read_zone_file_with(path, Some(origin), options) {
        Ok(read) => verify_zone(&read.zone, now_unix),
        Err(_) => Vec::new(),
    }
}

/// Z20b findings for `zone` at `now_unix` (empty for an unsigned zone: that is rule Z20's).
#[must_use]
pub fn verify_zone(zone: &Zone, now_unix: u64) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Serial-number arithmetic on 32 bits (RFC 4034 §3.1.5).
    let now = u32::try_from(now_unix & u64::from(u32::MAX)).unwrap_or(0);
    let origin = &zone.origin;
    let Ok(apex) = Name::from_labels(origin.labels()) else {
        return out;
    };
    let mut keys: Vec<DNSKEY> = Vec::new();
    // RRsets by owner and type; RRSIGs by owner and covered type.
    let mut sets: Sets<'_> = BTreeMap::new();
    let mut sigs: BTreeMap<(CanonicalName, u16), Vec<(&ZoneRecord, RRSIG)>> = BTreeMap::new();
    for r in &zone.records {
        // Undecodable RDATA is the reader's and other rules' finding.
        let Ok(rec) = decode(r) else {
            continue;
        };
        match rec.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
                let covered = u16::from(sig.input().type_covered);
                sigs.entry((CanonicalName(r.owner.clone()), covered))
                    .or_default()
                    .push((r, sig));
            }
            data => {
                if let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = &data
                    && r.owner == *origin
                {
                    keys.push(k.clone());
                }
                let rec = Record::from_rdata(rec.name, rec.ttl, data);
                sets.entry(CanonicalName(r.owner.clone()))
                    .or_default()
                    .entry(r.rtype)
                    .or_default()
                    .push((r, rec));
            }
        }
    }
    if keys.is_empty() {
        return out;
    }
    let cuts: Vec<DomainName> = sets
        .iter()
        .filter(|(n, t)| n.0 != *origin && t.contains_key(&rtype::NS))
        .map(|(n, _)| n.0.clone())
        .collect();
    let glue = |n: &DomainName| cuts.iter().any(|c| is_below(n, c));

    // Signatures (RFC 4035 §5.3).
    for (owner, types) in &sets {
        if glue(&owner.0) {
            continue;
        }
        let delegation = cuts.contains(&owner.0);
        for (t, rrs) in types {
            if delegation && !matches!(*t, rtype::DS | rtype::NSEC) {
                continue;
            }
            let Some((first, _)) = rrs.first() else {
                continue;
            };
            let type_name = RecordType::from(*t);
            let covering = sigs
                .get(&(owner.clone(), *t))
                .map_or(&[][..], Vec::as_slice);
            let naptr = *t == rtype::NAPTR;
            if covering.is_empty() {
                if !naptr {
                    out.push(finding(
                        first.position.as_ref(),
                        format!("signed zone: {type_name} RRset at {} has no RRSIG", owner.0),
                        "re-sign the zone; validators treat the RRset as bogus",
                    ));
                }
                continue;
            }
            let current: Vec<&(&ZoneRecord, RRSIG)> =
                covering.iter().filter(|(_, s)| in_window(s, now)).collect();
            if current.is_empty() {
                if !naptr && let Some((sr, sig)) = covering.first() {
                    let (why, hint) = window_problem(sig, now);
                    let message = if covering.len() == 1 {
                        format!(
                            "signed zone: the RRSIG over the {type_name} RRset at {} is {why}",
                            owner.0
                        )
                    } else {
                        format!(
                            "signed zone: none of the {} RRSIGs over the {type_name} RRset at {} is in its validity window; the first is {why}",
                            covering.len(),
                            owner.0
                        )
                    };
                    out.push(finding(sr.position.as_ref(), message, hint));
                }
                continue;
            }
            let records: Vec<&Record> = rrs.iter().map(|(_, rec)| rec).collect();
            let mut failures = Vec::new();
            let verified = current.iter().any(|(sr, sig)| {
                let input = sig.input();
                let key = keys.iter().find(|k| {
                    k.calculate_key_tag().ok() == Some(input.key_tag)
                        && k.algorithm() == input.algorithm
                });
                let Some(key) = key else {
                    failures.push((
                        *sr,
                        format!(
                            "no DNSKEY at the apex has key tag {} and algorithm {}",
                            input.key_tag,
                            u8::from(input.algorithm)
                        ),
                    ));
                    return false;
                };
                let Ok(name) = Name::from_labels(owner.0.labels()) else {
                    return false;
                };
                match key.verify_rrsig(&name, DNSClass::IN, sig, records.iter().copied()) {
                    Ok(()) => input.signer_name == apex,
                    Err(e) => {
                        failures.push((
                            *sr,
                            format!("does not verify with DNSKEY {}: {e}", input.key_tag),
                        ));
                        false
                    }
                }
            });
            if !verified && let Some((sr, why)) = failures.first() {
                out.push(finding(
                    sr.position.as_ref(),
                    format!(
                        "signed zone: RRSIG over the {type_name} RRset at {} {why}",
                        owner.0
                    ),
                    "re-sign the zone with the keys published in its DNSKEY RRset",
                ));
            }
        }
    }

    // Authoritative names and the denial chain.
    let nsec3_owner = |types: &Types<'_>| types.keys().all(|t| *t == rtype::NSEC3);
    let names: Vec<&CanonicalName> = sets
        .iter()
        .filter(|(n, t)| !glue(&n.0) && !nsec3_owner(t))
        .map(|(n, _)| n)
        .collect();
    let has = |t: u16| sets.values().any(|types| types.contains_key(&t));
    if has(rtype::NSEC) {
        nsec_chain(origin, &sets, &names, &mut out);
    }
    if has(rtype::NSEC3) {
        nsec3_chain(origin, &sets, &names, &cuts, &mut out);
    }
    out
}

/// The RRsets of one owner by type, each record with its decoded form.
type Types<'a> = BTreeMap<u16, Vec<(&'a ZoneRecord, Record)>>;
/// The RRsets of a zone by owner, in canonical order.
type Sets<'a> = BTreeMap<CanonicalName, Types<'a>>;

fn nsec_chain(
    origin: &DomainName,
    sets: &Sets<'_>,
    names: &[&CanonicalName],
    out: &mut Vec<Diagnostic>,
) {
    for (i, name) in names.iter().enumerate() {
        let next = names.get(i + 1).map_or(origin, |n| &n.0);
        let Some(types) = sets.get(*name) else {
            continue;
        };
        let Some((r, rec)) = types.get(&rtype::NSEC).and_then(|v| v.first()) else {
            let at = types
                .values()
                .next()
                .and_then(|v| v.first())
                .and_then(|(r, _)| r.position.as_ref());
            out.push(finding(
                at,
                format!("signed zone: {} has no NSEC (RFC 4035 §2.3)", name.0),
                "re-sign the zone: the NSEC chain must cover every name",
            ));
            continue;
        };
        if let RData::DNSSEC(DNSSECRData::NSEC(n)) = &rec.data {
            let points = n.next_domain_name().to_string();
            let pointed = DomainName::parse(&points).ok();
            if pointed
                .as_ref()
                .is_none_or(|p| canonical_cmp(p, next) != Ordering::Equal)
            {
                out.push(finding(
                    r.position.as_ref(),
                    format!(
                        "signed zone: the NSEC at {} points to {points}, but the next name is {next} (RFC 4034 §4.1.1)",
                        name.0
                    ),
                    "re-sign the zone: the NSEC chain is broken",
                ));
            }
        }
    }
}

fn nsec3_chain(
    origin: &DomainName,
    sets: &Sets<'_>,
    names: &[&CanonicalName],
    cuts: &[DomainName],
    out: &mut Vec<Diagnostic>,
) {
    // The chain's parameters: the first NSEC3 (RFC 5155 §7.3 wants them all alike).
    let mut chain: Vec<(Vec<u8>, &ZoneRecord, Vec<u8>, bool)> = Vec::new();
    let mut params: Option<(u16, Vec<u8>)> = None;
    for types in sets.values() {
        for (r, rec) in types.get(&rtype::NSEC3).into_iter().flatten() {
            if let RData::DNSSEC(DNSSECRData::NSEC3(n)) = &rec.data {
                let Some(label) = r.owner.labels().next() else {
                    continue;
                };
                let Ok(hash) = data_encoding::BASE32_DNSSEC.decode(&label.to_ascii_lowercase())
                else {
                    out.push(finding(
                        r.position.as_ref(),
                        format!(
                            "signed zone: NSEC3 owner {} is not a base32hex hash (RFC 5155 §3)",
                            r.owner
                        ),
                        "re-sign the zone",
                    ));
                    continue;
                };
                params.get_or_insert_with(|| (n.iterations(), n.salt().to_vec()));
                chain.push((hash, r, n.next_hashed_owner_name().to_vec(), n.opt_out()));
            }
        }
    }
    let Some((iterations, salt)) = params else {
        return;
    };
    chain.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (hash, r, next, _)) in chain.iter().enumerate() {
        let Some(want) = chain.get(i + 1).or_else(|| chain.first()) else {
            continue;
        };
        if *next != want.0 {
            out.push(finding(
                r.position.as_ref(),
                format!(
                    "signed zone: the NSEC3 at {} points to {}, but the next hash is {} (RFC 5155 §7.1)",
                    r.owner,
                    data_encoding::BASE32_DNSSEC.encode(next),
                    data_encoding::BASE32_DNSSEC.encode(&want.0)
                ),
                "re-sign the zone: the NSEC3 chain is broken",
            ));
        }
        let _ = hash;
    }
    let opt_out = chain.iter().any(|c| c.3);
    let hashes: BTreeSet<&[u8]> = chain.iter().map(|c| c.0.as_slice()).collect();
    let mut expected: BTreeMap<CanonicalName, Option<&Position>> = BTreeMap::new();
    for name in names {
        let types = sets.get(*name);
        let delegation = cuts.contains(&name.0);
        let unsigned = types.is_none_or(|t| !t.contains_key(&rtype::DS));
        if opt_out && delegation && unsigned {
            continue;
        }
        let at = types
            .and_then(|t| t.values().next())
            .and_then(|v| v.first())
            .and_then(|(r, _)| r.position.as_ref());
        expected.insert((*name).clone(), at);
        // Empty non-terminals up to the apex (RFC 5155 §7.1).
        let labels: Vec<&[u8]> = name.0.labels().collect();
        for skip in 1..labels.len().saturating_sub(origin.label_count()) {
            if let Ok(anc) = DomainName::from_labels(labels[skip..].iter().copied()) {
                expected.entry(CanonicalName(anc)).or_insert(at);
            }
        }
    }
    for (name, at) in expected {
        let lower = name.0.as_wire().to_ascii_lowercase();
        let Ok(h) = Digest::iterated(&salt, &lower, DigestType::SHA1, iterations) else {
            continue;
        };
        if !hashes.contains(h.as_ref()) {
            out.push(finding(
                at,
                format!(
                    "signed zone: {} has no NSEC3 (its hash {} is not in the chain; RFC 5155 §7.1)",
                    name.0,
                    data_encoding::BASE32_DNSSEC.encode(h.as_ref())
                ),
                "re-sign the zone: the NSEC3 chain must cover every name",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read_zone_str;

    const NOW: u64 = 1_900_000_000;

    fn findings(text: &str) -> Vec<String> {
        let origin = DomainName::parse("2.0.192.in-addr.arpa.").unwrap();
        let read = read_zone_str(text, "t.zone", Some(&origin));
        assert!(!read.has_errors(), "{:?}", read.diagnostics);
        verify_zone(&read.zone, NOW)
            .into_iter()
            .map(|d| {
                assert_eq!(d.rule, Rule::Z20b);
                let line = d.position.map_or(0, |p| p.line);
                format!("{line}: {}", d.message)
            })
            .collect()
    }

    const HEAD: &str = "$ORIGIN 2.0.192.in-addr.arpa.\n$TTL 300\n\
        @ SOA ns.example.net. h.example.net. 1 3600 900 604800 60\n\
        @ NS ns.example.net.\n";

    #[test]
    fn unsigned_zones_are_rule_z20s_not_this_ones() {
        assert!(findings(HEAD).is_empty());
    }

    #[test]
    fn missing_unknown_key_and_expired_signatures_are_found_with_their_line() {
        let text = format!(
            "{HEAD}@ DNSKEY 257 3 13 AQID\n\
             @ RRSIG SOA 13 5 300 20400101000000 20200101000000 999 2.0.192.in-addr.arpa. AQID\n\
             @ RRSIG NS 13 5 300 20300101000000 20200101000000 999 2.0.192.in-addr.arpa. AQID\n\
             34 PTR x.example.net.\n"
        );
        let f = findings(&text);
        // SOA: in its window, but no DNSKEY has tag 999.
        assert!(
            f.iter()
                .any(|m| m.starts_with("6: ") && m.contains("key tag 999")),
            "{f:?}"
        );
        // NS: its only RRSIG expired in 2030 (NOW is 2030-03-17).
        assert!(
            f.iter()
                .any(|m| m.starts_with("7: ") && m.contains("expired")),
            "{f:?}"
        );
        // The DNSKEY RRset and the PTR at 34: no RRSIG.
        assert!(
            f.iter()
                .any(|m| m.starts_with("5: ") && m.contains("DNSKEY RRset")),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|m| m.starts_with("8: ") && m.contains("PTR RRset")),
            "{f:?}"
        );
    }

    #[test]
    fn stamps_are_written_as_in_zone_files() {
        assert_eq!(stamp(0), "19700101000000");
        // 2026-01-01 and the leap day of 2028 (RFC 4034 §3.2 presentation form).
        assert_eq!(stamp(1_767_225_600), "20260101000000");
        assert_eq!(stamp(1_835_395_199), "20280228235959");
        assert_eq!(stamp(1_835_395_200), "20280229000000");
        assert_eq!(stamp(u32::MAX), "21060207062815");
    }

    #[test]
    fn signatures_before_their_inception_are_not_yet_valid_with_both_times() {
        // NOW is 2030-03-17; the signature starts in 2031: the clock is before the inception.
        let text = format!(
            "{HEAD}@ DNSKEY 257 3 13 AQID\n\
             @ RRSIG SOA 13 5 300 20400101000000 20310101000000 999 2.0.192.in-addr.arpa. AQID\n"
        );
        let f = findings(&text);
        let soa: Vec<&String> = f.iter().filter(|m| m.contains("SOA RRset")).collect();
        assert_eq!(soa.len(), 1, "{f:?}");
        assert!(
            soa[0].starts_with("6: ")
                && soa[0].contains(
                    "not yet valid: its inception 20310101000000 is after the check time 20300317"
                )
                && !soa[0].contains("expired"),
            "{f:?}"
        );
    }

    #[test]
    fn broken_nsec_chains_are_found() {
        // The apex NSEC skips 10; 34's NSEC is missing; sub (a delegation) is in the chain,
        // its glue is not.
        let text = format!(
            "{HEAD}@ DNSKEY 257 3 13 AQID\n\
             @ NSEC 34 NS SOA RRSIG NSEC DNSKEY\n\
             10 PTR a.example.net.\n\
             10 NSEC 34 PTR RRSIG NSEC\n\
             34 PTR b.example.net.\n\
             sub NS ns.sub\n\
             sub NSEC 2.0.192.in-addr.arpa. NS RRSIG NSEC\n\
             ns.sub A 192.0.2.1\n"
        );
        let f = findings(&text);
        let chain: Vec<&String> = f
            .iter()
            .filter(|m| m.contains("NSEC ") || m.contains("no NSEC"))
            .collect();
        assert!(
            chain.iter().any(|m| m.starts_with("6: ") && m.contains("points to 34.2.0.192.in-addr.arpa., but the next name is 10.2.0.192.in-addr.arpa.")),
            "{chain:?}"
        );
        assert!(chain.iter().any(|m| m.starts_with("9: ") && m.contains("34.2.0.192.in-addr.arpa. has no NSEC")), "{chain:?}");
        assert!(
            !f.iter().any(|m| m.contains("ns.sub")),
            "glue is neither signed nor chained: {f:?}"
        );
    }
}
