//! Hostile servers: malformed NAPTR RDATA and absurd answers must give a clear per-name status,
//! bounded work, and no panic.

use std::time::Duration;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use altodisc_resolver::{DnsConfig, NameStatus, Resolver};

use crate::fixtures::crafted_server;

/// A response echoing the question with one NAPTR answer whose RDATA is `rdata` (RDLENGTH as given).
fn response_with_naptr(query: &[u8], rdlength: u16, rdata: &[u8]) -> Option<Vec<u8>> {
    // Header: same id, QR=1 AA=1, RCODE 0, QDCOUNT 1, ANCOUNT 1.
    let mut qend = 12;
    while *query.get(qend)? != 0 {
        qend += 1 + usize::from(query[qend]);
    }
    qend += 5;
    let mut r = Vec::new();
    r.extend_from_slice(query.get(0..2)?);
    r.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
    r.extend_from_slice(query.get(12..qend)?);
    r.extend_from_slice(&[0xc0, 0x0c, 0, 35, 0, 1, 0, 0, 0, 60]);
    r.extend_from_slice(&rdlength.to_be_bytes());
    r.extend_from_slice(rdata);
    Some(r)
}

fn resolver(addr: std::net::SocketAddr) -> Resolver {
    Resolver::with_servers(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_millis(300),
        attempts: 1,
        recursion_desired: false,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_naptr_rdata_is_a_clear_temporary_status() {
    // RDLENGTH claims 40 octets; only 5 follow.
    let addr = crafted_server(|q| response_with_naptr(q, 40, &[0, 1, 0, 1, 9]));
    let r = resolver(addr);
    let o = r
        .unaptr(
            &DomainName::parse("bad.example.").unwrap(),
            &[WantedService::alto_https()],
        )
        .await;
    assert!(!o.found());
    assert!(
        matches!(o.status, NameStatus::Temporary(_)),
        "{:?}",
        o.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naptr_with_non_alphanumeric_flags_is_a_malformed_response() {
    // hickory refuses to decode FLAGS outside [A-Za-z0-9] (RFC 3403 §4.1): the whole response is
    // malformed, which is reported as a temporary status with the decoder's reason.
    let rdata = vec![0, 1, 0, 1, 2, b'!', b'!', 0, 0, 0];
    let len = u16::try_from(rdata.len()).unwrap();
    let addr = crafted_server(move |q| response_with_naptr(q, len, &rdata));
    let o = resolver(addr)
        .unaptr(
            &DomainName::parse("odd.example.").unwrap(),
            &[WantedService::alto_https()],
        )
        .await;
    assert!(
        matches!(&o.status, NameStatus::Temporary(altodisc_resolver::FailureReason::Malformed(m)) if !m.is_empty()),
        "{:?}",
        o.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naptr_with_garbage_fields_is_skipped_with_reasons() {
    // Well-formed wire, hostile content: two unknown flags, 200 x 'A' as services, a REGEXP that
    // is not U-NAPTR.
    let mut rdata = vec![0, 1, 0, 1, 2, b'Z', b'Q', 200];
    rdata.extend(std::iter::repeat_n(b'A', 200));
    rdata.extend_from_slice(&[5, b'!', b'x', b'!', b'y', b'!', 0]);
    let len = u16::try_from(rdata.len()).unwrap();
    let addr = crafted_server(move |q| response_with_naptr(q, len, &rdata));
    let r = resolver(addr);
    let o = r
        .unaptr(
            &DomainName::parse("odd.example.").unwrap(),
            &[WantedService::alto_https()],
        )
        .await;
    assert_eq!(o.status, NameStatus::NoMatch, "{o:?}");
    assert_eq!(o.visits[0].skipped.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_referencing_non_terminal_from_a_hostile_server_is_bounded() {
    // Every name answers with a non-terminal record pointing at a NEW name one label longer:
    // without caps this never ends.
    let addr = crafted_server(|q| {
        let mut qend = 12;
        let mut labels: Vec<Vec<u8>> = Vec::new();
        while *q.get(qend)? != 0 {
            let l = usize::from(q[qend]);
            labels.push(q.get(qend + 1..qend + 1 + l)?.to_vec());
            qend += 1 + l;
        }
        let mut target = vec![1, b'x'];
        for l in &labels {
            target.push(u8::try_from(l.len()).ok()?);
            target.extend_from_slice(l);
        }
        target.push(0);
        let mut rdata = vec![0, 1, 0, 1, 0, 10];
        rdata.extend_from_slice(b"ALTO:https");
        rdata.push(0);
        rdata.extend_from_slice(&target);
        response_with_naptr(q, u16::try_from(rdata.len()).ok()?, &rdata)
    });
    let r = resolver(addr);
    let started = std::time::Instant::now();
    let o = r
        .unaptr(
            &DomainName::parse("deep.example.").unwrap(),
            &[WantedService::alto_https()],
        )
        .await;
    assert_eq!(o.status, NameStatus::DepthExceeded, "{o:?}");
    assert_eq!(
        o.queries.len(),
        altodisc_resolver::unaptr::DEFAULT_MAX_DEPTH + 1
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}
