//! Equivalence of the UDP fast path (`altodisc_responder::fastpath`) and the hickory path
//! (`ZoneRequestHandler`): for every query the fast path answers, its response must be the same
//! octets the hickory path produces (same header, flags, RCODE, sections, compression and OPT).
//! Queries: the differential list, every owner name of the bundled zones, and a seeded random
//! set of names, types, header flags and EDNS variants. Queries the fast path declines must be
//! the ones it is documented to decline (checked by class below).

use std::net::SocketAddr;
use std::sync::Arc;

use altodisc_responder::fastpath::FastPath;
use altodisc_responder::load::load_zone_dir;
use altodisc_responder::server::CollectResponse;
use altodisc_responder::{ZoneIndex, ZoneRequestHandler};
use arc_swap::ArcSwap;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler};

use crate::common::{query, zones_dir};
use crate::differential::{Via, query_list};

/// The hickory path's UDP response to `wire`.
fn hickory_answer(
    rt: &tokio::runtime::Runtime,
    handler: &ZoneRequestHandler,
    wire: &[u8],
) -> Vec<u8> {
    let peer: SocketAddr = "127.0.0.1:5353".parse().unwrap();
    let request = Request::from_bytes(wire.to_vec(), peer, Protocol::Udp).unwrap();
    let slot = CollectResponse::default();
    rt.block_on(handler.handle_request::<_, TokioTime>(&request, slot.clone()));
    slot.take().unwrap()
}

/// Deterministic xorshift, so a failure names a reproducible case.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

/// Octet-level variants of a query's header and OPT record.
#[derive(Debug, Clone, Copy)]
enum Variant {
    Plain,
    NoRd,
    Cd,
    Ad,
    Z,
    Do,
    Version1,
    WithOption,
    Payload(u16),
    Notify,
}

fn apply(mut wire: Vec<u8>, v: Variant) -> Vec<u8> {
    let has_opt = wire[11] == 1;
    let opt = wire.len() - 11;
    match v {
        Variant::Plain => {}
        Variant::NoRd => wire[2] &= !0x01,
        Variant::Cd => wire[3] |= 0x10,
        Variant::Ad => wire[3] |= 0x20,
        Variant::Z => wire[3] |= 0x40,
        Variant::Notify => wire[2] = (wire[2] & 0x87) | (4 << 3),
        Variant::Do if has_opt => wire[opt + 7] |= 0x80,
        Variant::Version1 if has_opt => wire[opt + 6] = 1,
        Variant::WithOption if has_opt => {
            // An EDNS COOKIE (RFC 7873) client cookie.
            wire[opt + 10] = 12;
            wire.extend_from_slice(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        Variant::Payload(p) if has_opt => wire[opt + 3..opt + 5].copy_from_slice(&p.to_be_bytes()),
        _ => {}
    }
    wire
}

/// Flips the case of some letters of `name` (RFC 4343: answers keep the query's case).
fn mixed_case(name: &str, rng: &mut Rng) -> String {
    name.chars()
        .map(|c| {
            if rng.below(3) == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

#[test]
fn fast_path_answers_are_byte_identical_to_the_hickory_path() {
    let loaded = load_zone_dir(&zones_dir()).unwrap();
    let index = ZoneIndex::build(&loaded.zones).unwrap();
    let mut owners: Vec<String> = index
        .zones()
        .flat_map(|z| {
            z.transfer_records()
                .map(|r| r.name.to_ascii())
                .collect::<Vec<_>>()
        })
        .collect();
    owners.sort();
    owners.dedup();
    let shared = Arc::new(ArcSwap::from_pointee(index));
    let handler = ZoneRequestHandler::new(shared.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut fast = FastPath::new();
    let mut out = Vec::new();

    let mut cases: Vec<(String, RecordType, Option<u16>, Variant)> = Vec::new();
    for (name, qtype, via, _) in query_list() {
        let edns = match via {
            Via::NoEdns => None,
            Via::Edns1232 | Via::Tcp => Some(1232),
        };
        cases.push((name, qtype, edns, Variant::Plain));
    }
    use RecordType::{A, AAAA, ANY, AXFR, CNAME, DS, MX, NAPTR, NS, PTR, SOA, TXT};
    let types = [
        NAPTR,
        A,
        AAAA,
        TXT,
        SOA,
        NS,
        PTR,
        CNAME,
        MX,
        DS,
        ANY,
        AXFR,
        RecordType::Unknown(65280),
    ];
    let variants = [
        Variant::Plain,
        Variant::NoRd,
        Variant::Cd,
        Variant::Ad,
        Variant::Z,
        Variant::Do,
        Variant::Version1,
        Variant::WithOption,
        Variant::Payload(512),
        Variant::Payload(100),
        Variant::Payload(4096),
        Variant::Notify,
    ];
    let mut rng = Rng(0x5eed_a170_d15c_0001);
    for owner in &owners {
        for &t in &types {
            cases.push((owner.clone(), t, Some(1232), Variant::Plain));
        }
    }
    let prefixes = ["", "1.", "x.", "255.", "a.b.", "*.", "77."];
    for _ in 0..4000 {
        let owner = &owners[rng.below(owners.len())];
        let name = format!("{}{owner}", prefixes[rng.below(prefixes.len())]);
        let name = mixed_case(&name, &mut rng);
        let edns = [None, Some(1232), Some(512), Some(4096)][rng.below(4)];
        cases.push((
            name,
            types[rng.below(types.len())],
            edns,
            variants[rng.below(variants.len())],
        ));
    }
    for n in [
        "example.org.",
        "3.0.192.in-addr.arpa.",
        "ARPA.",
        "x.in-addr.arpa.",
    ] {
        cases.push((n.to_owned(), NAPTR, None, Variant::Plain));
    }

    let mut by_rcode = std::collections::BTreeMap::<(u16, bool), usize>::new();
    let mut declined = 0usize;
    for (name, qtype, edns, variant) in &cases {
        let wire = apply(query(name, *qtype, *edns).to_vec().unwrap(), *variant);
        let slow = hickory_answer(&rt, &handler, &wire);
        let Some(done) = fast.answer(&shared, &wire, &mut out) else {
            declined += 1;
            continue;
        };
        let case = format!("{name} {qtype} edns={edns:?} {variant:?}");
        assert!(
            !matches!(qtype, ANY | AXFR),
            "fast path answered a meta query: {case}"
        );
        if edns.is_some() {
            assert!(
                !matches!(
                    variant,
                    Variant::Do | Variant::Version1 | Variant::WithOption
                ),
                "fast path answered an EDNS variant it must leave to hickory: {case}"
            );
        }
        assert!(!matches!(variant, Variant::Z | Variant::Notify), "{case}");
        if out != slow {
            panic!(
                "fast path differs for {case}\nfast:    {:02x?}\nhickory: {:02x?}\nfast:    {}\nhickory: {}",
                out,
                slow,
                Message::from_vec(&out).map_or_else(|e| e.to_string(), |m| m.to_string()),
                Message::from_vec(&slow).map_or_else(|e| e.to_string(), |m| m.to_string()),
            );
        }
        let parsed = Message::from_vec(&out).unwrap();
        assert_eq!(parsed.metadata.response_code, done.rcode, "{case}");
        assert_eq!(done.qtype, *qtype, "{case}");
        *by_rcode
            .entry((u16::from(done.rcode), parsed.answers.is_empty()))
            .or_default() += 1;
    }
    eprintln!(
        "fast path: {} cases, {declined} left to hickory, answered by (rcode, empty answer): {by_rcode:?}",
        cases.len()
    );
    // Every class the fast path exists for must actually have been exercised.
    for class in [(0, false), (0, true), (3, true), (5, true)] {
        assert!(
            by_rcode.get(&class).copied().unwrap_or(0) > 0,
            "no fast-path answer of class {class:?}: {by_rcode:?}"
        );
    }
    // And the differential list's common cases go the fast way.
    for (name, qtype) in [
        ("10.2.0.192.in-addr.arpa.", NAPTR),
        ("77.2.0.192.in-addr.arpa.", NAPTR),
        ("10.2.0.192.in-addr.arpa.", TXT),
        ("example.org.", NAPTR),
    ] {
        let wire = query(name, qtype, Some(1232)).to_vec().unwrap();
        assert!(
            fast.answer(&shared, &wire, &mut out).is_some(),
            "{name} {qtype}"
        );
    }
}

#[test]
fn fast_path_follows_reloads() {
    let loaded = load_zone_dir(&zones_dir()).unwrap();
    let shared = Arc::new(ArcSwap::from_pointee(
        ZoneIndex::build(&loaded.zones).unwrap(),
    ));
    let mut fast = FastPath::new();
    let mut out = Vec::new();
    let wire = query("77.2.0.192.in-addr.arpa.", RecordType::NAPTR, None)
        .to_vec()
        .unwrap();
    assert_eq!(
        fast.answer(&shared, &wire, &mut out).unwrap().rcode,
        ResponseCode::NXDomain
    );
    // After a reload to an empty index the same query is outside every zone.
    shared.store(Arc::new(ZoneIndex::default()));
    assert_eq!(
        fast.answer(&shared, &wire, &mut out).unwrap().rcode,
        ResponseCode::Refused
    );
}

#[test]
fn fast_path_answers_are_counted_in_the_metrics() {
    // Over a real socket: answers from the fast path (NAPTR hit, NXDOMAIN, REFUSED) must reach the
    // same counters as hickory-path answers (by RCODE, by QTYPE, by zone).
    let running = crate::common::Running::bundled();
    let render = || {
        let r = running.responder();
        r.metrics().render(&r.current())
    };
    let before = render();
    for (name, want) in [
        ("10.2.0.192.in-addr.arpa.", ResponseCode::NoError),
        ("77.2.0.192.in-addr.arpa.", ResponseCode::NXDomain),
        ("example.org.", ResponseCode::Refused),
    ] {
        let m = crate::common::udp(running.addr, name, RecordType::NAPTR, Some(1232));
        assert_eq!(m.metadata.response_code, want, "{name}");
    }
    let after = render();
    let sum = altodisc_responder::metrics::sample_sum;
    for (name, labels, added) in [
        ("altodisc_queries_total", [("rcode", "NOERROR")], 1),
        ("altodisc_queries_total", [("rcode", "NXDOMAIN")], 1),
        ("altodisc_queries_total", [("rcode", "REFUSED")], 1),
        ("altodisc_queries_total", [("qtype", "NAPTR")], 3),
        ("altodisc_queries_total", [("transport", "udp")], 3),
        (
            "altodisc_zone_queries_total",
            [("zone", "2.0.192.in-addr.arpa.")],
            2,
        ),
    ] {
        assert_eq!(
            sum(&after, name, &labels) - sum(&before, name, &labels),
            added,
            "{name} {labels:?}\n{after}"
        );
    }
}
