//! Transport behaviour: EDNS(0) sizing and TC, TCP framing, idle timeout, connection limit,
//! header flags, error RCODEs and atomic reload.

use std::io::Read;
use std::net::{TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::Duration;

use altodisc_responder::{ServeOptions, ZoneIndex};
use altodisc_zone::reader::read_zone_str;
use hickory_proto::op::{Edns, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::common::{Running, query, tcp, tcp_exchange, udp, udp_exchange};

#[test]
fn edns_payload_decides_truncation() {
    let r = Running::bundled();
    // 10 NAPTRs ≈ 700 octets: over 512, under 1232.
    let m = udp(r.addr, "big.example.net.", RecordType::NAPTR, Some(512));
    assert!(m.metadata.truncation && m.answers.is_empty());
    assert!(
        m.edns.is_some(),
        "OPT echoed when the query had one (RFC 6891 §7)"
    );
    let (m, len) = udp_exchange(
        r.addr,
        &query("big.example.net.", RecordType::NAPTR, Some(1232)),
    );
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 10);
    assert!(len > 512 && len <= 1232, "{len}");
    // A client offering more still gets at most our 1232, and our OPT says 1232.
    let m = udp(r.addr, "big.example.net.", RecordType::NAPTR, Some(4096));
    assert_eq!(m.answers.len(), 10);
    assert_eq!(m.edns.as_ref().unwrap().max_payload(), 1232);
    // No EDNS: 512 octets, TC, and no OPT in the answer.
    let m = udp(r.addr, "big.example.net.", RecordType::NAPTR, None);
    assert!(m.metadata.truncation && m.answers.is_empty() && m.edns.is_none());
    // TCP carries it whole (RFC 7766 §5).
    let m = tcp(r.addr, "big.example.net.", RecordType::NAPTR, None);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 10);
}

#[test]
fn header_flags() {
    let r = Running::bundled();
    let mut q = query("example.net.", RecordType::NAPTR, Some(1232));
    q.metadata.recursion_desired = true;
    let (m, _) = udp_exchange(r.addr, &q);
    assert!(m.metadata.authoritative);
    assert!(
        m.metadata.recursion_desired,
        "RD is copied (RFC 1035 §4.1.1)"
    );
    assert!(!m.metadata.recursion_available, "no recursion");
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(
        m.queries[0].name(),
        &Name::from_str("example.net.").unwrap()
    );
}

#[test]
fn error_rcodes() {
    let r = Running::bundled();
    // Unknown opcode: NOTIMP.
    let mut q = query("example.net.", RecordType::SOA, None);
    q.metadata.op_code = OpCode::Status;
    assert_eq!(
        udp_exchange(r.addr, &q).0.metadata.response_code,
        ResponseCode::NotImp
    );
    // Class CH: REFUSED (we serve IN only).
    let mut q = query("example.net.", RecordType::SOA, None);
    let mut ch = Query::query(Name::from_str("example.net.").unwrap(), RecordType::SOA);
    ch.set_query_class(DNSClass::CH);
    q.queries = vec![ch];
    assert_eq!(
        udp_exchange(r.addr, &q).0.metadata.response_code,
        ResponseCode::Refused
    );
    // Two questions: FORMERR.
    let mut q = query("example.net.", RecordType::SOA, None);
    q.add_query(Query::query(
        Name::from_str("example.net.").unwrap(),
        RecordType::NS,
    ));
    assert_eq!(
        udp_exchange(r.addr, &q).0.metadata.response_code,
        ResponseCode::FormErr
    );
    // EDNS version 1: BADVERS (RFC 6891 §6.1.3).
    let mut q = query("example.net.", RecordType::SOA, None);
    let mut e = Edns::new();
    e.set_version(1);
    q.set_edns(e);
    // BADVERS is 16, carried in the OPT extended RCODE; hickory decodes 16 as BADSIG (same value).
    let m = udp_exchange(r.addr, &q).0;
    assert_eq!(
        u16::from(m.metadata.response_code),
        u16::from(ResponseCode::BADVERS)
    );
    assert!(m.edns.is_some());
    // AXFR is refused.
    let m = tcp(r.addr, "example.net.", RecordType::AXFR, None);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // Garbage does not stop the server.
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(&[1, 2, 3], r.addr).unwrap();
    s.send_to(&[0u8; 40], r.addr).unwrap();
    let m = udp(r.addr, "example.net.", RecordType::NAPTR, Some(1232));
    assert_eq!(m.answers.len(), 2);
}

#[test]
fn tcp_pipelines_on_one_connection() {
    let r = Running::bundled();
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    for (name, n) in [
        ("example.net.", 2),
        ("big.example.net.", 10),
        ("10.2.0.192.in-addr.arpa.", 1),
    ] {
        let m = tcp_exchange(&mut s, &query(name, RecordType::NAPTR, None));
        assert_eq!(m.answers.len(), n, "{name}");
    }
}

#[test]
fn idle_tcp_connections_are_closed() {
    let r = Running::with_options(ServeOptions {
        tcp_idle_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    });
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    // The server closes: read returns 0 (EOF) well before our 5 s read timeout.
    let started = std::time::Instant::now();
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn at_the_tcp_connection_limit_the_longest_idle_connection_makes_room() {
    let r = Running::with_options(ServeOptions {
        max_tcp_connections: 1,
        tcp_idle_timeout: Duration::from_secs(30),
        ..ServeOptions::default()
    });
    let mut first = TcpStream::connect(r.addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert_eq!(
        tcp_exchange(&mut first, &query("example.net.", RecordType::NAPTR, None))
            .answers
            .len(),
        2
    );
    // The first connection is idle now: a second one is served at once, and the first is
    // closed for it (RFC 7766 §6.2.3), instead of the second waiting in the kernel's queue.
    let mut second = TcpStream::connect(r.addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert_eq!(
        tcp_exchange(&mut second, &query("example.net.", RecordType::NAPTR, None))
            .answers
            .len(),
        2
    );
    let mut buf = [0u8; 1];
    assert_eq!(first.read(&mut buf).unwrap_or(0), 0, "first not closed");
}

#[test]
fn a_tcp_query_sent_slowly_is_cut_at_the_whole_message_deadline() {
    let r = Running::with_options(ServeOptions {
        tcp_query_timeout: Duration::from_millis(500),
        tcp_idle_timeout: Duration::from_secs(30),
        ..ServeOptions::default()
    });
    let wire = query("example.net.", RecordType::NAPTR, None)
        .to_vec()
        .unwrap();
    let mut framed = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    // One octet every 100 ms: each read is quick, the message is not.
    let mut closed = false;
    for octet in &framed {
        if std::io::Write::write_all(&mut s, &[*octet]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let mut buf = [0u8; 2];
    let got = s.read(&mut buf).unwrap_or(0);
    assert!(closed || got == 0, "a slow query was answered");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn reload_swaps_all_zones_at_once() {
    let r = Running::bundled();
    assert_eq!(
        udp(r.addr, "example.net.", RecordType::NAPTR, Some(1232))
            .answers
            .len(),
        2
    );
    let zone = read_zone_str(
        "$TTL 60\n@ SOA ns. h. 2 1 1 1 1\n@ NS ns.\n@ NAPTR 1 1 \"u\" \"ALTO:https\" \"!.*!https://new.example/!\" .\n",
        "new.zone",
        Some(&altodisc_proto::DomainName::parse("example.com.").unwrap()),
    );
    assert!(!zone.has_errors());
    r.reload(ZoneIndex::build(&[zone.zone]).unwrap());
    assert_eq!(
        udp(r.addr, "example.com.", RecordType::NAPTR, Some(1232))
            .answers
            .len(),
        1
    );
    assert_eq!(
        udp(r.addr, "example.net.", RecordType::NAPTR, Some(1232))
            .metadata
            .response_code,
        ResponseCode::Refused
    );
}
