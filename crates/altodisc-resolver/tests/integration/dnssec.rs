//! DNSSEC validation against real peers: Knot signs the fixture zones itself
//! (automatic signing, ECDSA P-256, NSEC); the trust anchor is Knot's KSK exported with keymgr.
//!
//! * secure: RFC 7286 NAPTR at the access domain, RFC 8686 NAPTR at R24 of a signed reverse zone
//!   (the NXDOMAIN at R32 before it is validated too);
//! * bogus: the same zone checked against a key that is not the anchor, and a proxy that flips a
//!   byte in the NAPTR RDATA: no candidate, a temporary status;
//! * insecure: an unsigned zone delegated (without DS) from the signed one; `require` refuses it.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use altodisc_resolver::dnssec::{DnssecConfig, DnssecMode, TrustAnchorFile};
use altodisc_resolver::{DnsConfig, DnssecState, FailureReason, NameStatus, Resolver, XdomStatus};
use altodisc_testpeers::dnssec::SignedKnot;
use altodisc_testpeers::{Zone, require_tool_or_skip};

pub(crate) const FORWARD: &str = "$TTL 300\n\
@ SOA ns hostmaster 1 3600 900 604800 60\n\
@ NS ns\n\
ns A 192.0.2.53\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/ird!\" .\n\
chase NAPTR 10 10 \"\" \"ALTO:https\" \"\" target\n\
target NAPTR 10 20 \"u\" \"ALTO:https\" \"!.*!https://alto2.example.net/ird!\" .\n\
plain NS ns.plain\n\
ns.plain A 192.0.2.54\n";

pub(crate) const REVERSE: &str = "$TTL 300\n\
@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60\n\
@ NS ns.example.net.\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/reverse-ird!\" .\n";

pub(crate) const UNSIGNED: &str = "$TTL 300\n\
@ SOA ns hostmaster 1 3600 900 604800 60\n\
@ NS ns\n\
ns A 192.0.2.54\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.plain.example.net/ird!\" .\n";

/// Knot serving example.net. and 2.0.192.in-addr.arpa. signed, plain.example.net. unsigned
/// (delegated without DS). `None` (skipped) when knotd/keymgr are missing locally.
pub(crate) fn signed_knot() -> Option<SignedKnot> {
    if !require_tool_or_skip("knotd", "knot") || !require_tool_or_skip("keymgr", "knot") {
        return None;
    }
    Some(
        SignedKnot::start(
            &[
                Zone::text("example.net.", FORWARD),
                Zone::text("2.0.192.in-addr.arpa.", REVERSE),
            ],
            &[Zone::text("plain.example.net.", UNSIGNED)],
        )
        .expect("knot starts and signs"),
    )
}

/// The anchors: example.net.'s KSK as a DS (resolved against the served DNSKEY), the reverse
/// zone's as a DNSKEY.
pub(crate) fn anchors(knot: &SignedKnot) -> String {
    format!(
        "{}{}",
        knot.ds("example.net.").unwrap(),
        knot.dnskey("2.0.192.in-addr.arpa.").unwrap()
    )
}

fn config(server: SocketAddr, rd: bool) -> DnsConfig {
    DnsConfig {
        servers: vec![server],
        timeout: Duration::from_secs(2),
        attempts: 2,
        recursion_desired: rd,
    }
}

pub(crate) async fn validating(
    server: SocketAddr,
    rd: bool,
    anchors: &str,
    mode: DnssecMode,
) -> Resolver {
    let dnssec = DnssecConfig {
        mode,
        anchors: Some(TrustAnchorFile::parse(anchors).unwrap()),
    };
    Resolver::with_dnssec(&config(server, rd), &dnssec)
        .await
        .unwrap()
}

/// A UDP proxy to `upstream` that flips the case of the last byte of `needle` wherever it appears
/// in a response (an on-path attacker changing the NAPTR RDATA; the RRSIG no longer matches).
fn tampering_proxy(upstream: SocketAddr, needle: &'static [u8]) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let query = buf[..n].to_vec();
            let reply = sock.try_clone().unwrap();
            std::thread::spawn(move || {
                let up = UdpSocket::bind("127.0.0.1:0").unwrap();
                up.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                up.send_to(&query, upstream).unwrap();
                let mut rbuf = [0u8; 4096];
                if let Ok((m, _)) = up.recv_from(&mut rbuf) {
                    let mut resp = rbuf[..m].to_vec();
                    let mut i = 0;
                    while i + needle.len() <= resp.len() {
                        if &resp[i..i + needle.len()] == needle {
                            resp[i + needle.len() - 1] ^= 0x20;
                        }
                        i += 1;
                    }
                    let _ = reply.send_to(&resp, from);
                }
            });
        }
    });
    addr
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_signed_zone_is_secure_with_its_ksk_as_anchor() {
    let Some(knot) = signed_knot() else { return };
    let r = validating(knot.addr(), false, &anchors(&knot), DnssecMode::Report).await;
    let https = [WantedService::alto_https()];

    let o = r.unaptr(&name("example.net."), &https).await;
    assert!(o.found(), "{o:?}\n{}", knot.peer().log_tail());
    assert_eq!(o.candidates[0].uri, "https://alto.example.net/ird");
    assert_eq!(o.candidates[0].dnssec, DnssecState::Secure, "{o:?}");
    assert_eq!(o.to_json(false)["candidates"][0]["dnssec"], "secure");

    // Non-terminal chasing: both hops secure.
    let o = r.unaptr(&name("chase.example.net."), &https).await;
    assert_eq!(o.candidates[0].uri, "https://alto2.example.net/ird");
    assert_eq!(o.candidates[0].dnssec, DnssecState::Secure);

    // RFC 8686: R32 is NXDOMAIN (NSEC-proven), R24 holds the record.
    let x = r.xdom("192.0.2.10", &https).await.unwrap();
    assert_eq!(x.status, XdomStatus::Found, "{x:?}");
    let c = &x.candidates[0];
    assert_eq!(c.uri, "https://alto.example.net/reverse-ird");
    assert_eq!(c.dnssec, DnssecState::Secure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_child_is_insecure_and_require_refuses_it() {
    let Some(knot) = signed_knot() else { return };
    let a = anchors(&knot);
    let https = [WantedService::alto_https()];
    let r = validating(knot.addr(), false, &a, DnssecMode::Report).await;
    let o = r.unaptr(&name("plain.example.net."), &https).await;
    assert!(o.found(), "{o:?}");
    assert_eq!(o.candidates[0].dnssec, DnssecState::Insecure, "{o:?}");

    let r = validating(knot.addr(), false, &a, DnssecMode::Require).await;
    let o = r.unaptr(&name("plain.example.net."), &https).await;
    assert!(!o.found(), "{o:?}");
    assert!(
        matches!(
            o.status,
            NameStatus::Temporary(FailureReason::DnssecRequired(DnssecState::Insecure))
        ),
        "{:?}",
        o.status
    );
    assert!(
        o.status.to_string().contains("DNSSEC required"),
        "{}",
        o.status
    );
    // The signed zone still works under require.
    let o = r.unaptr(&name("example.net."), &https).await;
    assert_eq!(o.candidates[0].dnssec, DnssecState::Secure, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_signed_with_another_key_is_bogus_and_yields_nothing() {
    let Some(knot) = signed_knot() else { return };
    let Some(other) = signed_knot() else { return };
    // Anchored on the OTHER Knot's keys: this Knot's signatures cannot validate.
    let wrong = format!(
        "{}{}",
        other.dnskey("example.net.").unwrap(),
        other.dnskey("2.0.192.in-addr.arpa.").unwrap()
    );
    let r = validating(knot.addr(), false, &wrong, DnssecMode::Report).await;
    let https = [WantedService::alto_https()];
    let o = r.unaptr(&name("example.net."), &https).await;
    assert!(!o.found(), "{o:?}");
    assert!(
        matches!(o.status, NameStatus::Temporary(FailureReason::DnssecBogus)),
        "{:?}",
        o.status
    );
    let x = r.xdom("192.0.2.10", &https).await.unwrap();
    assert!(x.candidates.is_empty(), "{x:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_naptr_rdata_is_bogus() {
    let Some(knot) = signed_knot() else { return };
    let proxy = tampering_proxy(knot.addr(), b"alto.example.net/ird");
    let r = validating(proxy, false, &anchors(&knot), DnssecMode::Report).await;
    let o = r
        .unaptr(&name("example.net."), &[WantedService::alto_https()])
        .await;
    assert!(!o.found(), "{o:?}");
    assert!(
        matches!(o.status, NameStatus::Temporary(FailureReason::DnssecBogus)),
        "{:?}",
        o.status
    );
    // Without validation the tampered URI would have been used: the proxy really tampers.
    let plain = Resolver::with_servers(&config(proxy, false)).unwrap();
    let o = plain
        .unaptr(&name("example.net."), &[WantedService::alto_https()])
        .await;
    assert_eq!(o.candidates[0].uri, "https://alto.example.net/irD");
}

/// Sends `name type` with RD=1 and DO=1 to `server` and returns (AD flag, RCODE, answer count).
fn ad_query(server: SocketAddr, name: &str, qtype: u16) -> (bool, u8, u16) {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        q.push(u8::try_from(label.len()).unwrap());
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    // OPT: payload 1232, DO bit.
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q, server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(n >= 12);
    (
        buf[3] & 0x20 != 0,
        buf[3] & 0x0f,
        u16::from_be_bytes([buf[6], buf[7]]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_validates_knot_and_altodisc_agrees_through_it() {
    let Some(knot) = signed_knot() else { return };
    if !require_tool_or_skip("unbound", "unbound") {
        return;
    }
    let a = anchors(&knot);
    let unbound = altodisc_testpeers::dnssec::Unbound::start(
        &[
            ("example.net.", knot.addr()),
            ("2.0.192.in-addr.arpa.", knot.addr()),
        ],
        &a,
        &[],
    )
    .unwrap();
    // unbound sets AD for the NAPTR answer and for the NXDOMAIN at R32 (NSEC-proven).
    let (ad, rcode, an) = ad_query(unbound.addr(), "2.0.192.in-addr.arpa.", 35);
    assert!(
        ad && rcode == 0 && an >= 1,
        "ad={ad} rcode={rcode} an={an}\n{}",
        unbound.log_tail()
    );
    let (ad, rcode, _) = ad_query(unbound.addr(), "10.2.0.192.in-addr.arpa.", 35);
    assert_eq!(rcode, 3, "NXDOMAIN");
    assert!(ad, "AD on the NXDOMAIN\n{}", unbound.log_tail());
    let (ad, rcode, an) = ad_query(unbound.addr(), "example.net.", 35);
    assert!(ad && rcode == 0 && an >= 1);

    // altodisc through unbound (RD=1): its own validation, same anchors, says secure.
    let r = validating(unbound.addr(), true, &a, DnssecMode::Require).await;
    let x = r
        .xdom("192.0.2.10", &[WantedService::alto_https()])
        .await
        .unwrap();
    assert_eq!(x.status, XdomStatus::Found, "{x:?}");
    assert_eq!(x.candidates[0].dnssec, DnssecState::Secure);
    assert_eq!(x.matched_label().as_deref(), Some("R24"));
}
