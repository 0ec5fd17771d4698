//! Differential test: NSD, Knot and BIND load the bundled zone files; every query of the list must get
//! the same RCODE, AA, TC, answer RRset and SOA-in-authority from altodisc as from each peer.

use std::net::SocketAddr;

use altodisc_proto::ladder::reverse_name;
use altodisc_responder::ServeOptions;
use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
use hickory_proto::rr::RecordType;

use crate::common::{Running, Summary, summary, tcp, udp, zone_files};

/// How a query is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// UDP with EDNS(0) payload 1232.
    Edns1232,
    /// UDP without EDNS (512-octet limit).
    NoEdns,
    /// TCP with EDNS.
    Tcp,
}

/// The query list: (name, type, transport, what it exercises).
pub(crate) fn query_list() -> Vec<(String, RecordType, Via, &'static str)> {
    use RecordType::{NAPTR, NS, SOA, TXT};
    use Via::{Edns1232, NoEdns, Tcp};
    let v6 = |len| reverse_name("2001:db8:1::33".parse().unwrap(), len);
    let v6_other = |len| reverse_name("2001:db8:2::1".parse().unwrap(), len);
    let mut q: Vec<(String, RecordType, Via, &'static str)> = vec![
        ("example.net.".into(), NAPTR, Edns1232, "RFC 7286 NAPTR hit"),
        ("eXaMpLe.NeT.".into(), NAPTR, Edns1232, "mixed case"),
        (
            "branch.example.net.".into(),
            NAPTR,
            Edns1232,
            "non-terminal NAPTR",
        ),
        ("nope.example.net.".into(), NAPTR, Edns1232, "NXDOMAIN"),
        (
            "alto.example.net.".into(),
            NAPTR,
            Edns1232,
            "NODATA (A only)",
        ),
        ("example.net.".into(), TXT, Edns1232, "NODATA at apex"),
        (
            "office.example.net.".into(),
            NAPTR,
            Edns1232,
            "empty non-terminal",
        ),
        (
            "x.office.example.net.".into(),
            NAPTR,
            Edns1232,
            "NXDOMAIN below ENT",
        ),
        ("example.net.".into(), SOA, Edns1232, "SOA"),
        ("example.net.".into(), NS, Edns1232, "NS"),
        (
            "big.example.net.".into(),
            NAPTR,
            NoEdns,
            "RRset > 512 without EDNS: TC",
        ),
        (
            "big.example.net.".into(),
            NAPTR,
            Edns1232,
            "RRset > 512 with EDNS 1232",
        ),
        (
            "big.example.net.".into(),
            NAPTR,
            Tcp,
            "RRset > 512 over TCP",
        ),
        ("example.net.".into(), NAPTR, NoEdns, "no EDNS, fits"),
        ("nope.example.net.".into(), NAPTR, Tcp, "NXDOMAIN over TCP"),
        (
            "10.2.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "R32 hit",
        ),
        (
            "77.2.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "R32 miss",
        ),
        ("2.0.192.in-addr.arpa.".into(), NAPTR, Edns1232, "R24 hit"),
        (
            "10.2.0.192.in-addr.arpa.".into(),
            TXT,
            Edns1232,
            "NODATA at R32",
        ),
        (
            "65.2.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "RFC 2317 CNAME to NAPTR",
        ),
        (
            "66.2.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "CNAME to NODATA",
        ),
        (
            "65.2.0.192.IN-ADDR.ARPA.".into(),
            NAPTR,
            Tcp,
            "CNAME over TCP, mixed case",
        ),
        (
            "64-26.2.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "ENT of the 2317 block",
        ),
        (
            "5.113.0.203.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "wildcard hit",
        ),
        (
            "250.113.0.203.in-addr.arpa.".into(),
            NAPTR,
            NoEdns,
            "wildcard hit, no EDNS",
        ),
        (
            "5.113.0.203.in-addr.arpa.".into(),
            TXT,
            Edns1232,
            "wildcard NODATA",
        ),
        (
            "1.113.0.203.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "wildcard exception (name exists)",
        ),
        (
            "a.1.113.0.203.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "below the exception: NXDOMAIN",
        ),
        (
            "a.b.113.0.203.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "wildcard, deeper name",
        ),
        (
            "113.0.203.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "R24 with wildcard zone",
        ),
        ("example.org.".into(), NAPTR, Edns1232, "outside every zone"),
        (
            "3.0.192.in-addr.arpa.".into(),
            NAPTR,
            Edns1232,
            "sibling outside every zone",
        ),
    ];
    for (len, what) in [
        (128, "R128 hit"),
        (64, "/64 empty non-terminal"),
        (56, "/56 empty non-terminal"),
        (48, "R48 hit"),
        (40, "/40 empty non-terminal"),
        (32, "R32 (v6) hit"),
    ] {
        q.push((v6(len), NAPTR, Edns1232, what));
    }
    q.push((v6_other(128), NAPTR, Edns1232, "R128 miss"));
    q.push((v6_other(48), NAPTR, Edns1232, "R48 miss"));
    q
}

pub(crate) fn ask(addr: SocketAddr, name: &str, t: RecordType, via: Via) -> Summary {
    summary(&match via {
        Via::Edns1232 => udp(addr, name, t, Some(1232)),
        Via::NoEdns => udp(addr, name, t, None),
        Via::Tcp => tcp(addr, name, t, Some(1232)),
    })
}

/// Asks `peer` (a `kind` server) and `ours` every query of [`query_list`] and fails with every
/// difference; `exact_truncation` as in [`compare_with`].
pub(crate) fn assert_same_answers(
    kind: PeerKind,
    peer: SocketAddr,
    ours: SocketAddr,
    exact_truncation: bool,
) {
    let mut mismatches = Vec::new();
    for (name, t, via, what) in query_list() {
        let theirs = ask(peer, &name, t, via);
        let mine = ask(ours, &name, t, via);
        let same = if !exact_truncation && theirs.tc && mine.tc {
            (theirs.rcode, theirs.aa) == (mine.rcode, mine.aa)
        } else {
            theirs == mine
        };
        if !same {
            mismatches.push(format!(
                "{what}: {name} {t} {via:?}\n  {kind}: {theirs:?}\n  altodisc: {mine:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// `exact_truncation`: also compare the answer section of TC=1 responses. NSD and Knot send no
/// partial RRset (as we do); BIND sends as many records as fit. RFC 2181 §9 allows both and clients
/// discard a TC=1 answer, so for BIND only RCODE, AA and TC are compared when TC=1.
fn compare_with(kind: PeerKind, exact_truncation: bool) {
    if !require_or_skip(kind) {
        return;
    }
    let zones: Vec<Zone> = zone_files()
        .into_iter()
        .map(|(origin, path)| Zone::file(origin, path))
        .collect();
    let peer = Peer::start(kind, &zones).expect("peer starts");
    // One worker and two (this machine's cores, as NSD's `server-count: 2` and Knot's two UDP
    // workers), sharing one socket or with one each (`SO_REUSEPORT`): the answers must not
    // depend on which worker takes a query.
    for (workers, reuseport) in [(1, false), (2, false), (2, true)] {
        let ours = Running::with_options(ServeOptions {
            udp_workers: workers,
            udp_reuseport: reuseport,
            ..ServeOptions::default()
        });
        assert_same_answers(kind, peer.addr(), ours.addr, exact_truncation);
    }
    // The list covers what it claims (guards against a peer or zone that answers everything alike).
    let classes = |name: &str, t, via| {
        let s = ask(peer.addr(), name, t, via);
        (
            s.rcode,
            s.aa,
            s.tc,
            s.answer.len(),
            s.soa_in_authority.is_some(),
        )
    };
    use RecordType::NAPTR;
    use hickory_proto::op::ResponseCode::{NXDomain, NoError, Refused};
    assert_eq!(
        classes("77.2.0.192.in-addr.arpa.", NAPTR, Via::Edns1232),
        (NXDomain, true, false, 0, true)
    );
    assert_eq!(
        classes("office.example.net.", NAPTR, Via::Edns1232),
        (NoError, true, false, 0, true)
    );
    assert_eq!(
        classes("65.2.0.192.in-addr.arpa.", NAPTR, Via::Edns1232),
        (NoError, true, false, 2, false)
    );
    assert_eq!(
        classes("5.113.0.203.in-addr.arpa.", NAPTR, Via::Edns1232),
        (NoError, true, false, 1, false)
    );
    assert_eq!(
        classes("1.113.0.203.in-addr.arpa.", NAPTR, Via::Edns1232),
        (NoError, true, false, 0, true)
    );
    assert!(classes("big.example.net.", NAPTR, Via::NoEdns).2);
    assert_eq!(
        classes("big.example.net.", NAPTR, Via::Edns1232),
        (NoError, true, false, 10, false)
    );
    assert_eq!(classes("example.org.", NAPTR, Via::Edns1232).0, Refused);
    let r128 = reverse_name("2001:db8:1::33".parse().unwrap(), 128);
    assert_eq!(
        classes(&r128, NAPTR, Via::Edns1232),
        (NoError, true, false, 1, false)
    );
    let r64 = reverse_name("2001:db8:1::33".parse().unwrap(), 64);
    assert_eq!(
        classes(&r64, NAPTR, Via::Edns1232),
        (NoError, true, false, 0, true)
    );
}

#[test]
fn same_answers_as_nsd() {
    compare_with(PeerKind::Nsd, true);
}

#[test]
fn same_answers_as_knot() {
    compare_with(PeerKind::Knot, true);
}

#[test]
fn same_answers_as_bind() {
    compare_with(PeerKind::Bind, false);
}
