//! Temporary failures against real sockets: a server that never answers.

use std::time::Duration;

use altodisc_proto::service::WantedService;
use altodisc_resolver::{DnsConfig, FailureReason, NameStatus, Resolver, XdomOptions, XdomStatus};

use crate::fixtures::SilentServer;

fn resolver_for(addr: std::net::SocketAddr, sequential: bool) -> Resolver {
    Resolver::with_servers(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_millis(200),
        attempts: 1,
        recursion_desired: false,
    })
    .unwrap()
    .options(XdomOptions {
        sequential,
        ..XdomOptions::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_gives_temporary_failure_and_each_name_is_retried_once() {
    for sequential in [false, true] {
        let silent = SilentServer::start();
        let r = resolver_for(silent.addr, sequential);
        let started = std::time::Instant::now();
        let o = r
            .xdom("198.51.100.3", &[WantedService::alto_https()])
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(o.status, XdomStatus::TemporaryFailure);
        for l in &o.ladder {
            assert_eq!(
                l.status(),
                Some(&NameStatus::Temporary(FailureReason::Timeout))
            );
            assert_eq!(
                l.first_attempt,
                Some(NameStatus::Temporary(FailureReason::Timeout))
            );
        }
        // Give the socket thread a moment to count the last datagrams.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for n in [
            "3.100.51.198.in-addr.arpa.",
            "100.51.198.in-addr.arpa.",
            "51.198.in-addr.arpa.",
            "198.in-addr.arpa.",
        ] {
            assert_eq!(
                silent.count(n),
                2,
                "{n}: first try + one retry (sequential={sequential})"
            );
        }
        if !sequential {
            // Concurrent: two rounds of one timeout each, not eight.
            assert!(took < Duration::from_millis(1500), "{took:?}");
        }
        let j = o.to_json(false);
        assert_eq!(j["status"], "not_found");
        assert_eq!(j["temporary"], true);
    }
}

/// A real server where one ladder name fails temporarily: BIND is authoritative for
/// `198.in-addr.arpa.` (R24, R16, R8) but R32 is delegated and forwarded to a silent socket, so
/// BIND answers R32 with SERVFAIL after its resolver timeout while R24 answers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_servfail_at_r32_gives_degraded_r24() {
    use altodisc_testpeers::{Peer, PeerKind, PeerOptions, Zone, require_or_skip};
    if !require_or_skip(PeerKind::Bind) {
        return;
    }
    let silent = SilentServer::start();
    let zone = Zone::text(
        "198.in-addr.arpa.",
        "$TTL 300
@        IN SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60
@        IN NS  ns.example.net.
100.51   IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto1.example.net/ird!\" .
3.100.51 IN NS  ns.example.net.
",
    );
    let port = silent.addr.port();
    // Recursion only towards the silent loopback socket: `forward only` everywhere.
    let options = PeerOptions {
        server_options: format!(
            "recursion yes;\nallow-recursion {{ 127.0.0.1; }};\nforward only;\n\
             forwarders {{ 127.0.0.1 port {port}; }};\nresolver-query-timeout 1000;"
        ),
        extra_config: format!(
            "zone \"3.100.51.198.in-addr.arpa\" {{ type forward; forward only; \
             forwarders {{ 127.0.0.1 port {port}; }}; }};"
        ),
        ..PeerOptions::default()
    };
    let peer = Peer::start_with_options(PeerKind::Bind, &[zone], &options)
        .unwrap_or_else(|e| panic!("{e}"));
    for sequential in [false, true] {
        let r = Resolver::with_servers(&DnsConfig {
            servers: vec![peer.addr()],
            timeout: Duration::from_secs(5),
            attempts: 1,
            recursion_desired: true,
        })
        .unwrap()
        .options(XdomOptions {
            sequential,
            ..XdomOptions::default()
        });
        let o = r
            .xdom("198.51.100.3", &[WantedService::alto_https()])
            .await
            .unwrap();
        assert_eq!(o.status, XdomStatus::Found, "{o:?}\n{}", peer.log_tail());
        assert_eq!(o.matched_label().as_deref(), Some("R24"));
        assert!(
            o.degraded,
            "R32 failed temporarily: {:?}",
            o.ladder[0].status()
        );
        assert!(
            matches!(o.ladder[0].status(), Some(NameStatus::Temporary(_))),
            "{:?}",
            o.ladder[0].status()
        );
        assert!(o.to_json(false)["degraded"].as_bool().unwrap());
    }
    assert!(
        silent.count("3.100.51.198.in-addr.arpa.") >= 1,
        "BIND forwarded R32"
    );
}

/// A port nobody listens on: the host answers with ICMP "port unreachable". The lookup must say
/// "connection refused" at once, as `dig` does, instead of waiting out every timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_fails_fast_with_its_own_reason() {
    let closed = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let timeout = Duration::from_secs(5);
    let r = Resolver::with_servers(&DnsConfig {
        servers: vec![closed],
        timeout,
        attempts: 2,
        recursion_desired: false,
    })
    .unwrap();
    let started = std::time::Instant::now();
    let o = r
        .xdom("198.51.100.3", &[WantedService::alto_https()])
        .await
        .unwrap();
    assert!(
        started.elapsed() < timeout,
        "took {:?}: the refusal must not wait for the {timeout:?} timeout",
        started.elapsed()
    );
    assert_eq!(o.status, XdomStatus::TemporaryFailure);
    for l in &o.ladder {
        assert_eq!(
            l.status(),
            Some(&NameStatus::Temporary(FailureReason::ConnectionRefused(
                closed.to_string()
            ))),
            "{l:?}"
        );
    }
}
