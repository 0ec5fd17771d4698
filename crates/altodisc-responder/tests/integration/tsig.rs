//! TSIG (RFC 8945) with real secondaries: NSD, Knot and BIND configured with an hmac-sha256 key
//! transfer every zone from altodisc (whose allow-list entry asks for that key), including a
//! zone large enough for a multi-message AXFR whose every message is signed (§5.3.1), serve the
//! same answers, and accept a signed NOTIFY. A secondary with the wrong secret gets BADSIG and
//! one without a key is refused; neither gets a zone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use altodisc_responder::ServeOptions;
use altodisc_responder::load::Sources;
use altodisc_responder::tsig::{TsigAlg, TsigFailure, TsigKey, TsigKeyring};
use altodisc_responder::xfr::{NotifyTarget, TransferAcl, changed_zones, spawn_notify};
use altodisc_testpeers::{Peer, PeerKind, PeerOptions, TsigSpec, require_or_skip};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{Name, RData, RecordType, TSigner};

use crate::common::{Running, udp, zones_dir};
use crate::differential::{Via, ask, assert_same_answers};

/// Base64 of the 32 octets `altodisc-tsig-test-secret-000001`.
const SECRET_B64: &str = "YWx0b2Rpc2MtdHNpZy10ZXN0LXNlY3JldC0wMDAwMDE=";
const SECRET: &[u8] = b"altodisc-tsig-test-secret-000001";
const WRONG_B64: &str = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=";

/// Records in `big.test.`: enough for several 16 KiB transfer messages.
const BIG_RECORDS: usize = 3000;

struct Setup {
    dir: PathBuf,
    sources: Sources,
    origins: Vec<String>,
}

fn config_text(uri: &str) -> String {
    format!(
        "[serve]\nzones_dir = {:?}\n[defaults]\nns = [\"ns1.example.net.\"]\n\
         [[zone]]\norigin = \"ops.test.\"\n[[access_domain]]\ndomain = \"ops.test.\"\n\
         records = [{{ order = 100, preference = 10, uri = \"{uri}\" }}]\n",
        zones_dir().canonicalize().unwrap().display().to_string()
    )
}

fn setup(tag: &str) -> Setup {
    let dir = std::env::temp_dir().join(format!("altodisc-tsig-{tag}-{}", std::process::id()));
    let big = dir.join("zones");
    std::fs::create_dir_all(&big).unwrap();
    let mut zone = String::from(
        "$TTL 300\n@ SOA ns1.big.test. hostmaster.big.test. 1 3600 600 86400 300\n\
         @ NS ns1.big.test.\nns1 A 192.0.2.1\n",
    );
    // Ten TXT records at one name: about 460 octets of answer, which fits 512 unsigned but not
    // with a TSIG record.
    for i in 0..10 {
        zone.push_str(&format!(
            "fill TXT \"{i:02} twenty-eight octets of text\"\n"
        ));
    }
    for i in 0..BIG_RECORDS {
        zone.push_str(&format!(
            "host{i} TXT \"record number {i} of the big zone\"\n"
        ));
    }
    std::fs::write(big.join("big.test.zone"), zone).unwrap();
    let config = dir.join("publish.toml");
    std::fs::write(&config, config_text("https://alto.ops.test/ird")).unwrap();
    let sources = Sources {
        config: Some(config),
        zones_dir: Some(big),
    };
    let index = sources.load_index(None).unwrap().index;
    let origins = index.zones().map(|z| z.origin().to_string()).collect();
    Setup {
        dir,
        sources,
        origins,
    }
}

fn key() -> TsigKey {
    TsigKey::new("xfr-key", TsigAlg::HmacSha256, SECRET).unwrap()
}

fn start_primary(s: &Setup) -> (Running, altodisc_zone::publish_config::SerialState) {
    let altodisc_responder::load::LoadedIndex { index, serials, .. } =
        s.sources.load_index(None).unwrap();
    let options = ServeOptions {
        transfer_acl: TransferAcl::parse(&["127.0.0.1 key xfr-key"]).unwrap(),
        tsig: TsigKeyring::new(vec![key()], 300),
        ..ServeOptions::default()
    };
    (Running::with_index(index, options), serials)
}

fn spec(secret: &str) -> PeerOptions {
    PeerOptions {
        startup_timeout: Duration::from_secs(30),
        tsig: Some(TsigSpec {
            name: "xfr-key".into(),
            algorithm: "hmac-sha256".into(),
            secret: secret.into(),
        }),
        ..PeerOptions::default()
    }
}

fn serial(addr: SocketAddr, zone: &str) -> Option<u32> {
    let m = udp(addr, zone, RecordType::SOA, Some(1232));
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => Some(soa.serial),
        _ => None,
    }
}

fn failures(ours: &Running, why: TsigFailure) -> u64 {
    ours.responder().metrics().tsig_failures.get(why)
}

fn secondary_with_key(kind: PeerKind, exact_truncation: bool) {
    if !require_or_skip(kind) {
        return;
    }
    let s = setup(kind.name());
    let (ours, serials) = start_primary(&s);
    let names: Vec<&str> = s.origins.iter().map(String::as_str).collect();
    let peer = Peer::start_secondary_with(kind, ours.addr, &names, &spec(SECRET_B64))
        .expect("secondary with the key transfers every zone");
    // Every zone, the multi-message one included, arrived whole and answers as ours does.
    assert_same_answers(kind, peer.addr(), ours.addr, exact_truncation);
    for i in [0, BIG_RECORDS / 2, BIG_RECORDS - 1] {
        let name = format!("host{i}.big.test.");
        assert_eq!(
            ask(peer.addr(), &name, RecordType::TXT, Via::Edns1232),
            ask(ours.addr, &name, RecordType::TXT, Via::Edns1232)
        );
    }
    assert_eq!(failures(&ours, TsigFailure::BadSig), 0);

    // A signed NOTIFY after a change: the secondary (which accepts NOTIFY only with the key)
    // fetches the new serial.
    std::fs::write(
        s.sources.config.as_ref().unwrap(),
        config_text("https://alto2.ops.test/ird"),
    )
    .unwrap();
    let second = s.sources.load_index(Some(&serials)).unwrap();
    let old = ours.responder().reload(second.index);
    let changed = changed_zones(&old, &ours.responder().current());
    let after = serial(ours.addr, "ops.test.").unwrap();
    {
        let _guard = ours.runtime().enter();
        let target = NotifyTarget {
            addr: peer.addr(),
            key: Some(Arc::new(key())),
            fudge: 300,
        };
        spawn_notify(&[target], changed, ours.responder().metrics());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while serial(peer.addr(), "ops.test.") != Some(after) {
        assert!(
            Instant::now() < deadline,
            "{kind} did not reach serial {after} after a signed NOTIFY; log:\n{}",
            peer.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(peer);
    drop(ours);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[test]
fn nsd_secondary_transfers_with_tsig() {
    secondary_with_key(PeerKind::Nsd, true);
}

#[test]
fn knot_secondary_transfers_with_tsig() {
    secondary_with_key(PeerKind::Knot, true);
}

#[test]
fn bind_secondary_transfers_with_tsig() {
    secondary_with_key(PeerKind::Bind, false);
}

/// A secondary with the wrong secret (BADSIG) and one without a key (REFUSED) get no zone.
fn secondary_refused(kind: PeerKind) {
    if !require_or_skip(kind) {
        return;
    }
    let s = setup(&format!("{}-refused", kind.name()));
    let (ours, _) = start_primary(&s);
    let names = ["ops.test."];
    let mut wrong = spec(WRONG_B64);
    wrong.startup_timeout = Duration::from_secs(4);
    let err = Peer::start_secondary_with(kind, ours.addr, &names, &wrong)
        .expect_err("a secondary with the wrong secret must not get the zone");
    assert!(failures(&ours, TsigFailure::BadSig) > 0, "{err}");
    let nokey = PeerOptions {
        startup_timeout: Duration::from_secs(4),
        ..PeerOptions::default()
    };
    let err = Peer::start_secondary_with(kind, ours.addr, &names, &nokey)
        .expect_err("a secondary without the key must not get the zone");
    assert!(failures(&ours, TsigFailure::Unsigned) > 0, "{err}");
    let text = ours
        .responder()
        .metrics()
        .render(&ours.responder().current());
    assert!(
        text.contains("altodisc_tsig_failures_total{reason=\"badsig\"}"),
        "{text}"
    );
    drop(ours);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[test]
fn nsd_secondary_with_wrong_or_no_key_is_refused() {
    secondary_refused(PeerKind::Nsd);
}

#[test]
fn knot_secondary_with_wrong_or_no_key_is_refused() {
    secondary_refused(PeerKind::Knot);
}

#[test]
fn bind_secondary_with_wrong_or_no_key_is_refused() {
    secondary_refused(PeerKind::Bind);
}

/// Reads one length-prefixed DNS message from `stream`.
fn read_msg(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).unwrap();
    buf
}

fn send_msg(stream: &mut TcpStream, wire: &[u8]) {
    let mut out = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(wire);
    stream.write_all(&out).unwrap();
}

/// The multi-message AXFR of `big.test.` checked message by message with hickory's verifier of
/// chained TSIG responses (RFC 8945 §5.3.1), independent of our signing code.
#[test]
fn every_axfr_message_is_signed_and_chained() {
    let s = setup("chain");
    let (ours, _) = start_primary(&s);
    let signer = TSigner::new(
        SECRET.to_vec(),
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("xfr-key.").unwrap(),
        300,
    )
    .unwrap();
    let mut q = Message::query();
    q.add_query(Query::query(
        Name::from_ascii("big.test.").unwrap(),
        RecordType::AXFR,
    ));
    q.metadata.id = 0x5151;
    let now = altodisc_responder::tsig::now();
    let (tsig, verifier) = signer.sign_message(&q, now).unwrap();
    q.set_signature(tsig);
    let mut verifier = verifier.unwrap();
    let mut stream = TcpStream::connect(ours.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    send_msg(&mut stream, &q.to_vec().unwrap());
    let mut soas = 0;
    let mut records = 0;
    let mut messages = 0;
    while soas < 2 {
        let wire = read_msg(&mut stream);
        let m = verifier.verify(&wire).expect("each message verifies");
        messages += 1;
        records += m.answers.len();
        soas += m
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
    }
    assert!(messages >= 3, "{messages} messages");
    assert_eq!(records, BIG_RECORDS + 14, "SOA, NS, A, the TXTs, SOA");
    drop(ours);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

/// Hostile signed queries over TCP and UDP: each gets the RFC 8945 error, none a zone.
#[test]
fn bad_signatures_get_rfc_errors_over_the_wire() {
    let s = setup("wire");
    let (ours, _) = start_primary(&s);
    let soa = || Query::query(Name::from_ascii("ops.test.").unwrap(), RecordType::SOA);
    let axfr = || Query::query(Name::from_ascii("ops.test.").unwrap(), RecordType::AXFR);
    let now = altodisc_responder::tsig::now();
    let tcp_ask = |wire: &[u8]| {
        let mut stream = TcpStream::connect(ours.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        send_msg(&mut stream, wire);
        Message::from_vec(&read_msg(&mut stream)).unwrap()
    };
    let udp_ask = |wire: &[u8]| {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.send_to(wire, ours.addr).unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    };
    let tsig_error = |m: &Message| m.signature().and_then(|t| t.data.error);
    use altodisc_responder::tsig::signed_query;

    // Signed SOA query over UDP: answered and signed.
    let good = signed_query(&key(), 1, soa(), now, 300).unwrap();
    let r = udp_ask(&good);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.signature().unwrap().data.mac.len(), 32);

    // A signed answer that would not fit 512 octets: TC, no records but the TSIG, which
    // verifies (RFC 8945 §5.3).
    let fill = Query::query(Name::from_ascii("fill.big.test.").unwrap(), RecordType::TXT);
    let q = signed_query(&key(), 11, fill, now, 300).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q, ours.addr).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    assert!(n <= 512, "{n} octets");
    let r = Message::from_vec(&buf[..n]).unwrap();
    assert!(r.metadata.truncation);
    assert!(r.answers.is_empty());
    let request_mac = Message::from_vec(&q)
        .unwrap()
        .signature()
        .unwrap()
        .data
        .mac
        .clone();
    let hk = TSigner::new(
        SECRET.to_vec(),
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("xfr-key.").unwrap(),
        300,
    )
    .unwrap();
    hk.verify_message_byte(&buf[..n], Some(&request_mac), true)
        .expect("the TC response is signed");
    // Over TCP the same query gets the ten records, signed.
    let r = tcp_ask(&q);
    assert_eq!(r.answers.len(), 10);
    assert!(r.signature().is_some());

    // Unknown key: NOTAUTH + BADKEY, over both transports.
    let other = TsigKey::new("other-key", TsigAlg::HmacSha256, SECRET).unwrap();
    let bad = signed_query(&other, 2, axfr(), now, 300).unwrap();
    for r in [
        tcp_ask(&bad),
        udp_ask(&signed_query(&other, 2, soa(), now, 300).unwrap()),
    ] {
        assert_eq!(r.metadata.response_code, ResponseCode::NotAuth);
        assert_eq!(tsig_error(&r), Some(TsigError::BadKey));
        assert!(r.answers.is_empty());
    }
    // Wrong secret: BADSIG.
    let wrong = TsigKey::new("xfr-key", TsigAlg::HmacSha256, b"wrong").unwrap();
    let r = tcp_ask(&signed_query(&wrong, 3, axfr(), now, 300).unwrap());
    assert_eq!(
        (r.metadata.response_code, tsig_error(&r)),
        (ResponseCode::NotAuth, Some(TsigError::BadSig))
    );
    // Time outside the fudge: BADTIME, with our clock in Other Data.
    let r = tcp_ask(&signed_query(&key(), 4, axfr(), now - 3600, 300).unwrap());
    assert_eq!(
        (r.metadata.response_code, tsig_error(&r)),
        (ResponseCode::NotAuth, Some(TsigError::BadTime))
    );
    assert_eq!(r.signature().unwrap().data.other.len(), 6);
    // Unknown algorithm (hmac-sha224 is not configured): BADKEY.
    let mut q = Message::query();
    q.add_query(axfr());
    let sha224 = TSigner::new(
        SECRET.to_vec(),
        TsigAlgorithm::HmacSha512,
        Name::from_ascii("xfr-key.").unwrap(),
        300,
    )
    .unwrap();
    let (t, _) = sha224.sign_message(&q, now).unwrap();
    q.set_signature(t);
    let r = tcp_ask(&q.to_vec().unwrap());
    assert_eq!(tsig_error(&r), Some(TsigError::BadKey));
    // A TSIG that is not the last record: FORMERR (RFC 8945 §5.1).
    let mut notlast = signed_query(&key(), 5, axfr(), now, 300).unwrap();
    notlast.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    notlast[11] += 1;
    let r = tcp_ask(&notlast);
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    // A truncated MAC of 8 octets (less than 10): FORMERR; the server still answers after.
    let full = signed_query(&key(), 6, axfr(), now, 300).unwrap();
    let m = Message::from_vec(&full).unwrap();
    let mut cut = m.clone();
    let t = m.signature().unwrap().clone();
    let mut data = t.data.clone();
    data.mac.truncate(8);
    cut.signature = Some(Box::new(hickory_proto::rr::rdata::tsig::make_tsig_record(
        t.name.clone(),
        data,
    )));
    let r = tcp_ask(&cut.to_vec().unwrap());
    assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    assert!(failures(&ours, TsigFailure::FormErr) >= 1);
    // An unsigned AXFR from an address whose entry asks for a key: REFUSED.
    let mut plain = Message::query();
    plain.add_query(axfr());
    let r = tcp_ask(&plain.to_vec().unwrap());
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(failures(&ours, TsigFailure::BadKey) >= 3);
    drop(ours);
    std::fs::remove_dir_all(&s.dir).unwrap();
}
