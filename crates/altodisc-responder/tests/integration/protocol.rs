//! Protocol corner cases found by probing altodisc against NSD, Knot and BIND, each checked on
//! both answer paths (UDP, where the fast path answers what it can, and TCP, always the hickory
//! path): compared with the peers where NSD and Knot agree with the RFC, asserted against the RFC
//! where they differ (docs/operators/protocol.md says which and why).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use altodisc_responder::load::load_zone_dir;
use altodisc_responder::{ServeOptions, ZoneIndex};
use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::common::{Running, query, tcp, udp, zone_files};

/// A zone with the CNAME shapes the probes found: loops, a CNAME to itself, and a CNAME into a
/// delegated child (served the same by every server under test).
const CHAINS: &str = "\
$ORIGIN chains.example.
$TTL 300
@         SOA  ns hostmaster 1 3600 600 86400 60
@         NS   ns
ns        A    192.0.2.1
loop1     CNAME loop2
loop2     CNAME loop1
self      CNAME self
long      CNAME hop
hop       CNAME loop1
child     NS   ns.child
ns.child  A    192.0.2.2
tochild   CNAME www.child
";

/// A temporary zone directory holding `text` as `<origin>.zone`; removed on drop.
struct ZoneDir(PathBuf);

impl ZoneDir {
    fn new(origin: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "altodisc-protocol-{}-{}",
            std::process::id(),
            origin.trim_end_matches('.')
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{origin}zone")), text).unwrap();
        Self(dir)
    }

    fn index(&self) -> ZoneIndex {
        // No checker here: the loops are exactly what it would reject (Z rules), and a responder
        // started with `--no-check` must still answer them sanely.
        let loaded = load_zone_dir(&self.0).unwrap();
        ZoneIndex::build(&loaded.zones).unwrap()
    }
}

impl Drop for ZoneDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything a referral-after-CNAME comparison looks at: RCODE, AA, and the three sections
/// as sorted lowercase presentation (the OPT record is not among the additionals).
fn sections(m: &Message) -> (ResponseCode, bool, [Vec<String>; 3]) {
    let show = |rs: &[hickory_proto::rr::Record]| {
        let mut v: Vec<String> = rs
            .iter()
            .map(|r| r.to_string().to_ascii_lowercase())
            .collect();
        v.sort();
        v
    };
    (
        m.metadata.response_code,
        m.metadata.authoritative,
        [show(&m.answers), show(&m.authorities), show(&m.additionals)],
    )
}

fn start_peer(kind: PeerKind, zones: &[Zone]) -> Option<Peer> {
    if !require_or_skip(kind) {
        return None;
    }
    Some(Peer::start(kind, zones).expect("peer starts"))
}

#[test]
fn cname_loops_and_cnames_into_children_answer_like_nsd_and_knot() {
    let dir = ZoneDir::new("chains.example.", CHAINS);
    let ours = Running::with_index(dir.index(), ServeOptions::default());
    let zones = [Zone::text("chains.example.", CHAINS)];
    let mut compared = 0;
    for kind in [PeerKind::Nsd, PeerKind::Knot] {
        let Some(peer) = start_peer(kind, &zones) else {
            continue;
        };
        for name in [
            "loop1.chains.example.",
            "self.chains.example.",
            "long.chains.example.",
            "tochild.chains.example.",
        ] {
            for t in [RecordType::A, RecordType::NAPTR] {
                let theirs = sections(&udp(peer.addr(), name, t, Some(1232)));
                // UDP (fast path first) and TCP (hickory path) must both match.
                let mine_udp = sections(&udp(ours.addr, name, t, Some(1232)));
                let mine_tcp = sections(&tcp(ours.addr, name, t, Some(1232)));
                assert_eq!(mine_udp, theirs, "{name} {t} over UDP vs {kind}");
                assert_eq!(mine_tcp, theirs, "{name} {t} over TCP vs {kind}");
                compared += 1;
            }
        }
        // What the comparison must have covered: each CNAME of a loop once, and the referral.
        let (rcode, aa, [answer, authority, additional]) = sections(&udp(
            peer.addr(),
            "loop1.chains.example.",
            RecordType::A,
            None,
        ));
        assert_eq!((rcode, aa, answer.len()), (ResponseCode::NoError, true, 2));
        assert!(authority.is_empty() && additional.is_empty());
        let (rcode, aa, [answer, authority, additional]) = sections(&udp(
            peer.addr(),
            "tochild.chains.example.",
            RecordType::A,
            None,
        ));
        assert_eq!((rcode, aa), (ResponseCode::NoError, true));
        assert_eq!((answer.len(), authority.len()), (1, 1), "{kind}");
        assert!(authority[0].contains(" ns "), "{authority:?}");
        assert_eq!(additional.len(), 1, "glue from {kind}");
    }
    if compared == 0 {
        eprintln!("skipped: neither NSD nor Knot is installed");
    }
}

/// Octets of a UDP exchange (`None`: no reply within a second).
fn udp_raw(addr: SocketAddr, wire: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = vec![0u8; 65535];
    for _ in 0..2 {
        sock.send_to(wire, addr).unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            return Some(buf[..n].to_vec());
        }
    }
    None
}

/// Octets of a TCP exchange (`None`: the server closed without answering).
fn tcp_raw(addr: SocketAddr, wire: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut framed = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(wire);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Header counts (QD, AN, NS, AR) and RCODE (low four bits) of a response.
fn counts(wire: &[u8]) -> (u8, [u16; 4]) {
    let c = |i: usize| u16::from_be_bytes([wire[4 + 2 * i], wire[5 + 2 * i]]);
    (wire[3] & 0x0F, [c(0), c(1), c(2), c(3)])
}

fn header(qdcount: u16, arcount: u16) -> Vec<u8> {
    let mut h = vec![0x12, 0x34, 0x01, 0x00];
    for c in [qdcount, 0, 0, arcount] {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

const QUESTION: &[u8] = b"\x07example\x03net\x00\x00\x23\x00\x01";
/// An OPT record (payload 1232, version 0, DO=0) with `rdata` as its options.
fn opt(rdata: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0];
    o.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
    o.extend_from_slice(rdata);
    o
}

/// Both transports of `ours`, and the peers' UDP answers for comparison.
fn exchanges(addr: SocketAddr, wire: &[u8]) -> [(&'static str, Vec<u8>); 2] {
    [
        ("UDP", udp_raw(addr, wire).expect("a UDP reply")),
        ("TCP", tcp_raw(addr, wire).expect("a TCP reply")),
    ]
}

#[test]
fn two_questions_get_formerr_without_a_question_section() {
    // RFC 9619 §4: QDCOUNT > 1 is FORMERR (or no answer); NSD and BIND send FORMERR with no
    // question section and, without EDNS in the query, no OPT; Knot drops the query.
    let ours = Running::bundled();
    let mut two = header(2, 0);
    two.extend_from_slice(QUESTION);
    two.extend_from_slice(QUESTION);
    for (via, reply) in exchanges(ours.addr, &two) {
        assert_eq!(counts(&reply), (1, [0, 0, 0, 0]), "{via}");
        assert_eq!(&reply[..2], &two[..2], "ID kept ({via})");
        assert_eq!(reply[2], 0x81, "QR, OPCODE QUERY, RD copied ({via})");
    }
    let zones: Vec<Zone> = zone_files()
        .into_iter()
        .map(|(origin, path)| Zone::file(origin, path))
        .collect();
    if let Some(nsd) = start_peer(PeerKind::Nsd, &zones) {
        let theirs = udp_raw(nsd.addr(), &two).expect("NSD answers");
        assert_eq!(counts(&theirs), (1, [0, 0, 0, 0]));
    }
    // With EDNS the FORMERR keeps the OPT record (RFC 6891 §6.1.1), still without questions.
    let mut two_edns = header(2, 1);
    two_edns.extend_from_slice(QUESTION);
    two_edns.extend_from_slice(QUESTION);
    two_edns.extend_from_slice(&opt(&[]));
    for (via, reply) in exchanges(ours.addr, &two_edns) {
        assert_eq!(counts(&reply), (1, [0, 0, 0, 1]), "{via}");
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(
            m.edns.as_ref().map(hickory_proto::op::Edns::version),
            Some(0),
            "{via}"
        );
    }
}

#[test]
fn a_compression_pointer_in_qname_gets_formerr() {
    // The first name of a message can only point into the header (or forward): not a name
    // (RFC 1035 §4.1.4). NSD answers FORMERR without a question; Knot drops it. Before the fix,
    // the pointer was copied into the reply, where it pointed into the reply's own header.
    let ours = Running::bundled();
    for (target, edns) in [(4u8, false), (4, true), (0, false), (12, false)] {
        let mut wire = header(1, u16::from(edns));
        wire.extend_from_slice(b"\x03abc\xC0");
        wire.push(target);
        wire.extend_from_slice(&[0, 0x23, 0, 1]);
        if edns {
            wire.extend_from_slice(&opt(&[]));
        }
        for (via, reply) in exchanges(ours.addr, &wire) {
            let case = format!("pointer to {target}, EDNS {edns}, {via}");
            assert_eq!(counts(&reply), (1, [0, 0, 0, u16::from(edns)]), "{case}");
            // Whatever we send parses.
            let m = Message::from_vec(&reply).unwrap();
            assert!(m.queries.is_empty(), "{case}");
            assert_eq!(m.edns.is_some(), edns, "{case}");
        }
    }
}

#[test]
fn a_malformed_client_subnet_option_gets_formerr_with_opt_and_question() {
    // RFC 7871 §6: a wrongly formatted ECS option MUST be answered with FORMERR; RFC 6891 §6.1.1:
    // the response to a query with an OPT record carries one. BIND does exactly this; NSD and
    // Knot ignore the option (docs/operators/protocol.md). Before the fix the FORMERR had no OPT
    // record and no question.
    let ours = Running::bundled();
    // ECS (code 8) of 3 octets: FAMILY 1, SOURCE PREFIX-LENGTH 24, SCOPE missing.
    let mut wire = header(1, 1);
    wire.extend_from_slice(QUESTION);
    wire.extend_from_slice(&opt(&[0, 8, 0, 3, 0, 1, 24]));
    let mut seen = Vec::new();
    for (via, reply) in exchanges(ours.addr, &wire) {
        assert_eq!(counts(&reply), (1, [1, 0, 0, 1]), "{via}");
        let m = Message::from_vec(&reply).unwrap();
        assert_eq!(m.queries.len(), 1, "{via}");
        assert_eq!(m.queries[0].name().to_ascii(), "example.net.", "{via}");
        let edns = m.edns.as_ref().expect("OPT record");
        assert_eq!(edns.version(), 0, "{via}");
        seen.push(reply);
    }
    let zones: Vec<Zone> = zone_files()
        .into_iter()
        .map(|(origin, path)| Zone::file(origin, path))
        .collect();
    if let Some(bind) = start_peer(PeerKind::Bind, &zones) {
        let theirs = udp_raw(bind.addr(), &wire).expect("BIND answers");
        assert_eq!(counts(&theirs), counts(&seen[0]), "same as BIND");
    }
    // A well-formed ECS option is ignored (RFC 7871 §7.2.1: an authoritative server that does
    // not tailor answers need not echo it): the normal answer.
    let mut good = header(1, 1);
    good.extend_from_slice(QUESTION);
    good.extend_from_slice(&opt(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]));
    for (via, reply) in exchanges(ours.addr, &good) {
        assert_eq!(counts(&reply).0, 0, "{via}");
    }
}

/// The octets of our UDP and TCP answers and NSD's UDP answer to the same query.
fn three_answers(ours: SocketAddr, nsd: SocketAddr, name: &str, t: RecordType) -> [Vec<u8>; 3] {
    let q = query(name, t, Some(1232)).to_vec().unwrap();
    [
        udp_raw(ours, &q).unwrap(),
        tcp_raw(ours, &q).unwrap(),
        udp_raw(nsd, &q).unwrap(),
    ]
}

#[test]
fn names_compress_against_the_question_like_nsd() {
    // RFC 1035 §4.1.4: the answer's owner and a negative answer's SOA owner point into the
    // question. On UDP (the fast path answers these) and TCP (the hickory path); negative
    // answers must be exactly as long as NSD's for the bundled zones (before the fix: 15 octets
    // longer), positive ones no longer (NSD adds the zone's NS to some).
    let zones: Vec<Zone> = zone_files()
        .into_iter()
        .map(|(origin, path)| Zone::file(origin, path))
        .collect();
    let Some(nsd) = start_peer(PeerKind::Nsd, &zones) else {
        return;
    };
    let ours = Running::bundled();
    for (name, t, negative) in [
        ("nope.example.net.", RecordType::NAPTR, true),
        ("77.2.0.192.in-addr.arpa.", RecordType::NAPTR, true),
        ("10.2.0.192.in-addr.arpa.", RecordType::TXT, true),
        ("a.1.113.0.203.in-addr.arpa.", RecordType::NAPTR, true),
        ("10.2.0.192.in-addr.arpa.", RecordType::NAPTR, false),
        ("example.net.", RecordType::NAPTR, false),
        ("5.113.0.203.in-addr.arpa.", RecordType::NAPTR, false),
    ] {
        let [udp, tcp, theirs] = three_answers(ours.addr, nsd.addr(), name, t);
        let case = format!("{name} {t}");
        assert_eq!(udp, tcp, "{case}: both paths send the same octets");
        if negative {
            assert_eq!(udp.len(), theirs.len(), "{case}: ours vs NSD's size");
        } else {
            assert!(
                udp.len() <= theirs.len(),
                "{case}: {} > NSD's {}",
                udp.len(),
                theirs.len()
            );
        }
        // The first record after the question starts with a pointer to the question (offset
        // 12): QNAME itself for an answer, its zone's origin (a suffix of QNAME) for the SOA.
        let first_rr = 12 + name.len() + 1 + 4;
        let pointer = u16::from_be_bytes([udp[first_rr], udp[first_rr + 1]]);
        assert_eq!(pointer & 0xC000, 0xC000, "{case}: owner not compressed");
        assert!(
            (12..first_rr - 4).contains(&usize::from(pointer & 0x3FFF)),
            "{case}"
        );
    }
}

/// A zone whose wildcard is a CNAME to a name with an A record only.
const WILD_CNAME: &str = "\
$ORIGIN wild.example.
$TTL 300
@         SOA  ns hostmaster 1 3600 600 86400 60
@         NS   ns
ns        A    192.0.2.1
*.w       CNAME target
target    A    192.0.2.7
";

/// (owner, type) of each record of a section, sorted, lowercase.
fn owners_and_types(rs: &[hickory_proto::rr::Record]) -> Vec<(String, RecordType)> {
    let mut v: Vec<_> = rs
        .iter()
        .map(|r| (r.name.to_ascii().to_ascii_lowercase(), r.record_type()))
        .collect();
    v.sort();
    v
}

#[test]
fn wildcard_cname_to_a_missing_type_carries_both_nsec_proofs_like_nsd_and_knot() {
    // DO=1, y.w TXT: the wildcard synthesizes `y.w CNAME target`, and target has no TXT. RFC
    // 4035 §3.1.3.3 wants the NSEC proving y.w does not exist, §3.1.3.1 the NSEC at `target`
    // proving TXT is absent there. NSD and Knot serve the same signed zone text.
    use altodisc_responder::dnssec::{SigningPolicy, ZoneKeys, render_zone, sign_zone};
    let dir = ZoneDir::new("wild.example.", WILD_CNAME);
    let loaded = load_zone_dir(&dir.0).unwrap();
    let signed = sign_zone(
        &loaded.zones[0],
        &ZoneKeys::generate().unwrap(),
        &SigningPolicy::default(),
        std::time::SystemTime::now(),
    )
    .unwrap();
    let signed_text = render_zone(&signed).unwrap();
    let ours = Running::with_index(
        ZoneIndex::build(std::slice::from_ref(&signed)).unwrap(),
        ServeOptions::default(),
    );
    let zones = [Zone::text("wild.example.", signed_text)];
    let ask = |addr: SocketAddr, name: &str, t: RecordType, via_tcp: bool| {
        let mut q = query(name, t, Some(1232));
        q.edns.as_mut().unwrap().set_dnssec_ok(true);
        let m = if via_tcp {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            crate::common::tcp_exchange(&mut s, &q)
        } else {
            crate::common::udp_exchange(addr, &q).0
        };
        // The authority section's proofs and SOA: NSD also adds the apex NS RRset to positive
        // answers, which no RFC asks for, so NS and RRSIGs are left out of the comparison.
        let mut authority = owners_and_types(&m.authorities);
        authority.retain(|(_, t)| matches!(t, RecordType::NSEC | RecordType::SOA));
        (
            m.metadata.response_code,
            m.metadata.authoritative,
            owners_and_types(&m.answers),
            authority,
        )
    };
    // Ours first, against the RFC, whether or not a peer is installed.
    let (rcode, aa, answer, authority) =
        ask(ours.addr, "y.w.wild.example.", RecordType::TXT, false);
    assert_eq!((rcode, aa), (ResponseCode::NoError, true));
    assert_eq!(
        answer,
        [
            ("y.w.wild.example.".to_owned(), RecordType::CNAME),
            ("y.w.wild.example.".to_owned(), RecordType::RRSIG),
        ]
    );
    let nsec_owners: Vec<&str> = authority
        .iter()
        .filter(|(_, t)| *t == RecordType::NSEC)
        .map(|(o, _)| o.as_str())
        .collect();
    assert_eq!(nsec_owners, ["*.w.wild.example.", "target.wild.example."]);
    for kind in [PeerKind::Nsd, PeerKind::Knot] {
        let Some(peer) = start_peer(kind, &zones) else {
            continue;
        };
        for (name, t) in [
            ("y.w.wild.example.", RecordType::TXT),
            ("y.w.wild.example.", RecordType::A),
            ("target.wild.example.", RecordType::TXT),
        ] {
            let theirs = ask(peer.addr(), name, t, false);
            assert_eq!(
                ask(ours.addr, name, t, false),
                theirs,
                "{name} {t} UDP vs {kind}"
            );
            assert_eq!(
                ask(ours.addr, name, t, true),
                theirs,
                "{name} {t} TCP vs {kind}"
            );
        }
    }
}

#[test]
fn the_choices_of_the_operator_guide_hold() {
    // docs/operators/protocol.md: where NSD, Knot and BIND differ, what we chose. Both paths.
    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::{DNSClass, Name};
    let ours = Running::bundled();
    let exchange = |q: &Message, via_tcp: bool| {
        if via_tcp {
            let mut s = TcpStream::connect(ours.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            crate::common::tcp_exchange(&mut s, q)
        } else {
            crate::common::udp_exchange(ours.addr, q).0
        }
    };
    for via_tcp in [false, true] {
        // CHAOS: REFUSED like any data we do not serve, with the OPT record, no version string.
        let mut q = query("version.bind.", RecordType::TXT, Some(1232));
        let mut ch = Query::query(Name::from_ascii("version.bind.").unwrap(), RecordType::TXT);
        ch.set_query_class(DNSClass::CH);
        q.queries = vec![ch];
        let m = exchange(&q, via_tcp);
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(!m.metadata.authoritative && m.answers.is_empty());
        assert!(m.edns.is_some());
        // NOTIFY and UPDATE (and any other OPCODE but QUERY): NOTIMP, AA=0, RD and CD copied,
        // the question repeated, the OPT record kept.
        for op in [OpCode::Notify, OpCode::Update, OpCode::Status] {
            let mut q = query("example.net.", RecordType::SOA, Some(1232));
            q.metadata.op_code = op;
            q.metadata.recursion_desired = true;
            q.metadata.checking_disabled = true;
            let m = exchange(&q, via_tcp);
            let case = format!("{op:?} over TCP {via_tcp}");
            assert_eq!(m.metadata.response_code, ResponseCode::NotImp, "{case}");
            assert_eq!(m.metadata.op_code, op, "{case}");
            assert!(!m.metadata.authoritative, "{case}");
            assert!(m.metadata.recursion_desired, "{case}");
            assert!(m.metadata.checking_disabled, "{case}");
            assert_eq!(m.queries.len(), 1, "{case}");
            assert!(m.edns.is_some(), "{case}");
        }
        // Zone transfers to an address not in allow_transfer (none by default): REFUSED, with
        // RD copied and the OPT record when the query had one (RFC 6891 §6.1.1).
        for t in [RecordType::AXFR, RecordType::IXFR] {
            for edns in [None, Some(1232)] {
                let mut q = query("example.net.", t, edns);
                q.metadata.recursion_desired = true;
                let m = exchange(&q, via_tcp);
                let case = format!("{t} EDNS {edns:?} over TCP {via_tcp}");
                assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{case}");
                assert!(m.answers.is_empty(), "{case}");
                assert_eq!(m.edns.is_some(), edns.is_some(), "{case}");
                assert!(m.metadata.recursion_desired, "{case}");
            }
        }
    }
}
