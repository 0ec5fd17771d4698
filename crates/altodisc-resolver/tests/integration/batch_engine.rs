//! Batch mode through the UDP query engine gives the same answers as resolving each address on
//! its own through the full client, against a real NSD: NAPTR at R32, R24 and R16, CNAMEs
//! (RFC 2317 style, left to the full client), a DNAME (RFC 6672, likewise), an RRset too large
//! for UDP (TC, the TCP retry), NODATA and NXDOMAIN ladders (RFC 8686 §3: the next name up the
//! ladder is tried), and invalid lines (error rows).

use std::fmt::Write as _;
use std::sync::Arc;

use altodisc_resolver::batch::{BatchOptions, run_batch};
use altodisc_resolver::dns::DnsSource;
use altodisc_resolver::udp_engine::{EngineConfig, UdpEngineSource};
use altodisc_resolver::{DnsConfig, Resolver, WantedService};
use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
use serde_json::Value;

/// /24s 10.0.C.0 for C in 0..NETS, ADDRS addresses each.
const NETS: usize = 48;
const ADDRS: usize = 60;

fn zone() -> String {
    let u = "\"u\" \"ALTO:https\"";
    let mut z = String::from(
        "$ORIGIN 10.in-addr.arpa.\n$TTL 3600\n\
         @ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 300\n\
         @ IN NS ns1.example.net.\n",
    );
    writeln!(
        z,
        "0 IN NAPTR 100 10 {u} \"!.*!https://r16.example.net/ird!\" ."
    )
    .unwrap();
    writeln!(
        z,
        "target IN NAPTR 100 10 {u} \"!.*!https://via-cname.example.net/ird!\" ."
    )
    .unwrap();
    // 10.0.200.0/24 is a DNAME to dname-target: 10.0.200.D finds the NAPTR at D.dname-target
    // for D = 1..=10 (through the synthesised CNAME) and falls to the R16 for the others (the
    // DNAME owner itself, the R24, has no NAPTR: NODATA).
    writeln!(z, "200.0 IN DNAME dname-target").unwrap();
    for d in 1..=10 {
        writeln!(
            z,
            "{d}.dname-target IN NAPTR 100 10 {u} \"!.*!https://via-dname-{d}.example.net/ird!\" ."
        )
        .unwrap();
    }
    for c in 0..NETS {
        match c % 6 {
            0 => writeln!(
                z,
                "{c}.0 IN NAPTR 100 10 {u} \"!.*!https://r24-{c}.example.net/ird!\" ."
            )
            .unwrap(),
            1 => {
                for d in 1..=20 {
                    writeln!(
                        z,
                        "{d}.{c}.0 IN NAPTR 100 {d} {u} \"!.*!https://r32-{c}-{d}.example.net/ird!\" ."
                    )
                    .unwrap();
                }
            }
            2 => writeln!(z, "{c}.0 IN CNAME target").unwrap(),
            3 => {
                // 30 records: larger than the 1232-octet EDNS payload, so TC=1 and TCP.
                for p in 0..30 {
                    writeln!(
                        z,
                        "{c}.0 IN NAPTR 100 {p} {u} \"!.*!https://big-{c}-{p}-padding-padding.example.net/ird!\" ."
                    )
                    .unwrap();
                }
            }
            4 => writeln!(z, "{c}.0 IN PTR nodata.example.net.").unwrap(),
            _ => {} // nothing below the R16 (NXDOMAIN at R32 and R24, found at R16)
        }
    }
    z
}

/// What must agree: status, matched name, candidates (TTL aside: the full client's own cache
/// counts it down between the one-by-one lookups).
fn essence(v: &Value) -> String {
    let cands: Vec<String> = v["candidates"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    format!(
                        "{} {}/{} owner={} chain={}",
                        c["uri"], c["order"], c["preference"], c["owner"], c["chain"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} {} {} matched={} degraded={} error={} [{}]",
        v["input"],
        v["status"],
        v["result"],
        v["matched_name"],
        v["degraded"],
        v["error"],
        cands.join("; ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_through_the_engine_matches_one_by_one_resolution() {
    if !require_or_skip(PeerKind::Nsd) {
        return;
    }
    let peer = Peer::start(PeerKind::Nsd, &[Zone::text("10.in-addr.arpa.", zone())]).unwrap();
    let config = DnsConfig {
        servers: vec![peer.addr()],
        recursion_desired: false,
        ..DnsConfig::default()
    };
    let resolver = Resolver::with_servers(&config).unwrap();
    let wanted = [WantedService::alto_https()];
    let inputs: Vec<String> = (0..NETS)
        .flat_map(|c| (1..=ADDRS).map(move |d| format!("10.0.{c}.{d}")))
        .chain((1..=20).map(|d| format!("10.0.200.{d}")))
        .chain(["not-an-address".to_owned(), "10.0.0.0/7".to_owned()])
        .collect();

    let mut expected = Vec::new();
    for input in &inputs {
        let v = match resolver.xdom(input, &wanted).await {
            Ok(o) => o.to_json(false),
            Err(e) => e.to_json(),
        };
        expected.push(essence(&v));
    }

    let engine = UdpEngineSource::new(
        EngineConfig {
            server: peer.addr(),
            timeout: config.timeout,
            attempts: config.attempts,
            recursion_desired: false,
            other_servers: false,
        },
        Arc::new(DnsSource::new(&config).unwrap()),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let options = BatchOptions {
        concurrency: 128,
        with_queries: true,
        ..BatchOptions::default()
    };
    let summary = run_batch(
        Arc::new(engine),
        inputs.clone(),
        &wanted,
        &options,
        &mut out,
        |_| {},
    )
    .await
    .unwrap();
    let rows: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), inputs.len());
    for (row, want) in rows.iter().zip(&expected) {
        assert_eq!(&essence(row), want);
    }
    // Every kind of outcome occurred, so the comparison covered them.
    let all = expected.join("\n");
    for needle in [
        "r24-0.",
        "r32-1-7.",
        "via-cname",
        "big-3-29-",
        "r16.example",
        "via-dname-7.",
        "\"10.0.200.15\" \"found\" \"found\" matched=\"0.10.in-addr.arpa.\"",
        "\"not-an-address\" \"error\"",
        "\"10.0.0.0/7\" \"error\"",
    ] {
        assert!(all.contains(needle), "{needle} missing");
    }
    // The TC answers went over TCP (the full client's retry), the rest over UDP.
    let transports: Vec<String> = rows
        .iter()
        .flat_map(|r| r["queries"].as_array().cloned().unwrap_or_default())
        .map(|q| q["transport"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(transports.iter().any(|t| t == "tcp"), "{transports:?}");
    assert!(transports.iter().any(|t| t == "udp"));
    assert_eq!(summary.inputs, inputs.len() as u64);
    assert_eq!(summary.temporary, 0, "{summary}");
}

/// An NXDOMAIN answer to `query` with an SOA in the authority section (RFC 2308 §5), built by
/// hand: the question is copied, the OPT record dropped.
fn nxdomain_for(query: &[u8]) -> Option<Vec<u8>> {
    let mut end = 12;
    loop {
        let len = usize::from(*query.get(end)?);
        end += 1 + len;
        if len == 0 {
            break;
        }
    }
    let question = query.get(12..end + 4)?;
    let mut r = Vec::new();
    r.extend_from_slice(query.get(..2)?);
    r.extend_from_slice(&[0x84, 0x03, 0, 1, 0, 0, 0, 1, 0, 0]);
    r.extend_from_slice(question);
    // owner = the question name (pointer to offset 12), SOA, IN, TTL 300, RDATA 22 octets:
    // MNAME and RNAME the root, then serial, refresh, retry, expire, minimum.
    r.extend_from_slice(&[0xC0, 12, 0, 6, 0, 1, 0, 0, 1, 44, 0, 22, 0, 0]);
    for v in [1_u32, 7200, 900, 1_209_600, 300] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    Some(r)
}

/// A lost datagram costs one retransmission timeout based on the measured round-trip time, not
/// the configured 2 s per try: with hundreds of queries in flight and output in input order, the
/// full timeout held up every later address of a batch. The server here answers every NAPTR
/// query at once except the 30th, which it drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_datagram_is_retransmitted_on_the_measured_rtt() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use altodisc_resolver::{DomainName, LookupFailure, NaptrSource};

    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let addr = server.local_addr().unwrap();
    let naptr_queries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (count, halt) = (Arc::clone(&naptr_queries), Arc::clone(&stop));
    let thread = std::thread::spawn(move || {
        let mut buf = [0_u8; 512];
        while !halt.load(Ordering::Relaxed) {
            let Ok((n, from)) = server.recv_from(&mut buf) else {
                continue;
            };
            let Some(reply) = nxdomain_for(&buf[..n]) else {
                continue;
            };
            let qtype = &reply[reply.len() - 38..reply.len() - 36];
            if qtype == [0, 35] && count.fetch_add(1, Ordering::Relaxed) + 1 == 30 {
                continue; // lost
            }
            let _ = server.send_to(&reply, from);
        }
    });

    let config = DnsConfig {
        servers: vec![addr],
        recursion_desired: false,
        timeout: Duration::from_secs(2),
        attempts: 2,
    };
    let engine = UdpEngineSource::new(
        EngineConfig {
            server: addr,
            timeout: config.timeout,
            attempts: config.attempts,
            recursion_desired: false,
            other_servers: false,
        },
        Arc::new(DnsSource::new(&config).unwrap()),
    )
    .await
    .unwrap();
    for i in 1..=29 {
        let name = DomainName::parse(&format!("{i}.0.0.10.in-addr.arpa.")).unwrap();
        let r = engine.lookup_naptr(&name).await;
        assert!(
            matches!(r.result, Err(LookupFailure::NxDomain { .. })),
            "{r:?}"
        );
    }
    let name = DomainName::parse("30.0.0.10.in-addr.arpa.").unwrap();
    let started = Instant::now();
    let r = engine.lookup_naptr(&name).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    assert!(
        matches!(r.result, Err(LookupFailure::NxDomain { .. })),
        "{r:?}"
    );
    // Before: the second try went out after the whole 2 s timeout.
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    assert_eq!(
        naptr_queries.load(Ordering::Relaxed),
        31,
        "30 queries, 1 retransmission"
    );
}
