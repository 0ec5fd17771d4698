//! The resolver against real NSD, Knot and BIND serving the same fixture zones
//! (`tests/fixtures/resolver/`): every case must give the expected result, and the results must be
//! identical across the three servers.

use std::collections::BTreeMap;

use altodisc_proto::name::DomainName;
use altodisc_proto::service::WantedService;
use altodisc_resolver::source::Transport;
use altodisc_resolver::{Protocols, Resolver, UnaptrOutcome, XdomOptions, XdomOutcome};
use altodisc_testpeers::{Peer, PeerKind, require_or_skip};

use crate::fixtures::fixture_zones;

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn describe_unaptr(o: &UnaptrOutcome) -> String {
    let cands: Vec<String> = o
        .candidates
        .iter()
        .map(|c| {
            let chain: Vec<String> = c.chain.iter().map(ToString::to_string).collect();
            format!(
                "{} {}/{} owner={} chain={} ttl={}",
                c.uri,
                c.order,
                c.preference,
                c.owner,
                chain.join(">"),
                c.ttl
            )
        })
        .collect();
    let visits: Vec<String> = o
        .visits
        .iter()
        .map(|v| {
            format!(
                "{}:{}:{}:skipped={}",
                v.name,
                v.protocol,
                v.status.as_str(),
                v.skipped.len()
            )
        })
        .collect();
    format!(
        "{} [{}] visits[{}]",
        o.status.as_str(),
        cands.join("; "),
        visits.join(" ")
    )
}

fn describe_xdom(o: &XdomOutcome) -> String {
    // Names after the matched one are timing-dependent in concurrent mode (answered or dropped).
    let upto = o.matched.map_or(o.ladder.len(), |m| m + 1);
    let ladder: Vec<String> = o
        .ladder
        .iter()
        .take(upto)
        .map(|l| {
            format!(
                "{}={}",
                l.label(),
                l.status().map_or("not_needed", |s| s.as_str())
            )
        })
        .collect();
    let cands: Vec<String> = o
        .candidates
        .iter()
        .map(|c| format!("{} {}/{} owner={}", c.uri, c.order, c.preference, c.owner))
        .collect();
    format!(
        "{} matched={:?} degraded={} [{}] ladder[{}]",
        o.status.as_str(),
        o.matched_label(),
        o.degraded,
        cands.join("; "),
        ladder.join(" ")
    )
}

async fn run_cases(resolver: &Resolver, kind: PeerKind) -> BTreeMap<&'static str, String> {
    let https = [WantedService::alto_https()];
    let mut r = BTreeMap::new();

    // TV-Z1 (RFC 7286 §3.2): sorted by PREFERENCE although the zone lists 20 first.
    let o = resolver
        .resolve_domain(&name("example.net."), Protocols::HttpsOnly)
        .await;
    assert_eq!(o.candidates.len(), 2, "{kind}: {o:?}");
    assert_eq!(o.candidates[0].uri, "https://alto1.example.net/ird");
    assert_eq!(o.candidates[1].uri, "https://alto2.example.net/ird");
    r.insert("tv-z1", describe_unaptr(&o));
    let o = resolver
        .unaptr(&name("example.net."), &[WantedService::alto_http()])
        .await;
    assert_eq!(o.status.as_str(), "no_match", "{kind}");
    r.insert("tv-z1-http", describe_unaptr(&o));

    // Non-terminal chain across two zones.
    let o = resolver.unaptr(&name("chain.example.net."), &https).await;
    assert_eq!(o.candidates.len(), 1, "{kind}: {o:?}");
    assert_eq!(o.candidates[0].uri, "https://alto.example.org/ird");
    assert_eq!(o.candidates[0].owner, name("final.example.org."));
    assert_eq!(
        o.candidates[0].chain,
        [
            name("chain.example.net."),
            name("step.example.org."),
            name("final.example.org.")
        ]
    );
    r.insert("chain", describe_unaptr(&o));

    // A loop ends with a loop status after two queries.
    let t = std::time::Instant::now();
    let o = resolver.unaptr(&name("loop-a.example.net."), &https).await;
    assert_eq!(o.status.as_str(), "loop", "{kind}: {o:?}");
    assert_eq!(o.queries.len(), 2, "{kind}");
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    r.insert("loop", describe_unaptr(&o));

    // A CNAME loop: a temporary failure for the name, without hanging.
    let t = std::time::Instant::now();
    let o = resolver.unaptr(&name("cloop1.example.net."), &https).await;
    assert!(
        matches!(o.status, altodisc_resolver::NameStatus::Temporary(_)),
        "{kind}: {o:?}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(3), "{kind}");
    r.insert("cname-loop", describe_unaptr(&o));

    // http:// under ALTO:https, unknown flag and LIS:HELD skipped; mixed case accepted.
    let o = resolver.unaptr(&name("skips.example.net."), &https).await;
    assert_eq!(o.candidates.len(), 1, "{kind}: {o:?}");
    assert_eq!(o.candidates[0].uri, "https://mixed-case.example.net/ird");
    let reasons: Vec<&str> = o.visits[0]
        .skipped
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 3, "{kind}: {reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("scheme")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("unknown flag")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not the wanted service")),
        "{reasons:?}"
    );
    r.insert("skips", describe_unaptr(&o));

    // http only with allow_http.
    let o = resolver
        .resolve_domain(&name("httponly.example.net."), Protocols::HttpsOnly)
        .await;
    assert!(!o.found(), "{kind}");
    let o = resolver
        .resolve_domain(&name("httponly.example.net."), Protocols::HttpsThenHttp)
        .await;
    assert_eq!(
        o.candidates[0].uri, "http://httponly.example.net/ird",
        "{kind}"
    );
    r.insert("httponly", describe_unaptr(&o));

    // Wildcard: synthesized at the query name; a name that exists below it is NODATA.
    let o = resolver
        .unaptr(&name("anything.wild.example.net."), &https)
        .await;
    assert_eq!(
        o.candidates[0].uri, "https://wildcard.example.net/ird",
        "{kind}"
    );
    assert_eq!(o.candidates[0].owner, name("anything.wild.example.net."));
    r.insert("wildcard", describe_unaptr(&o));
    let o = resolver
        .unaptr(&name("exists.wild.example.net."), &https)
        .await;
    assert_eq!(o.status.as_str(), "nodata", "{kind}");
    r.insert("wildcard-exists", describe_unaptr(&o));

    // NXDOMAIN.
    let o = resolver.unaptr(&name("nothere.example.net."), &https).await;
    assert_eq!(o.status.as_str(), "nxdomain", "{kind}");
    r.insert("nxdomain", describe_unaptr(&o));

    // An RRset larger than 1232 octets comes back complete, over TCP.
    let o = resolver.unaptr(&name("big.example.net."), &https).await;
    assert_eq!(o.candidates.len(), 30, "{kind}: {:?}", o.queries);
    assert_eq!(o.queries[0].transport, Transport::Tcp, "{kind}");
    for (i, c) in o.candidates.iter().enumerate() {
        assert_eq!(usize::from(c.preference), i);
    }
    r.insert("big", describe_unaptr(&o));

    for sequential in [false, true] {
        let resolver = resolver.clone().options(XdomOptions {
            sequential,
            ..XdomOptions::default()
        });
        let mode = if sequential { "seq" } else { "conc" };

        // TV-Z2 (RFC 8686 §3.4): R32 NXDOMAIN, R24 matches.
        let o = resolver.xdom("198.51.100.3", &https).await.unwrap();
        assert_eq!(
            o.matched_label().as_deref(),
            Some("R24"),
            "{kind} {mode}: {o:?}"
        );
        assert_eq!(o.candidates.len(), 2);
        assert!(!o.degraded);
        assert_eq!(o.ladder[0].status().unwrap().as_str(), "nxdomain");
        r.insert(
            if sequential { "tv-z2-seq" } else { "tv-z2" },
            describe_xdom(&o),
        );

        // TV-Z3 (RFC 8686 C.4): NXDOMAIN, NODATA, LIS:HELD only, match at R48.
        let o = resolver
            .xdom("2001:DB8:1:2:227:eff:fe6a:de42", &https)
            .await
            .unwrap();
        assert_eq!(
            o.matched_label().as_deref(),
            Some("R48"),
            "{kind} {mode}: {o:?}"
        );
        let st: Vec<_> = o
            .ladder
            .iter()
            .take(4)
            .map(|l| l.status().unwrap().as_str())
            .collect();
        assert_eq!(
            st,
            ["nxdomain", "nodata", "no_match", "found"],
            "{kind} {mode}"
        );
        assert_eq!(o.candidates.len(), 1);
        assert_eq!(o.candidates[0].uri, "https://alto1.example.net/ird");
        if sequential {
            assert_eq!(o.queries.len(), 4, "{kind}: exactly four queries");
        }
        r.insert(
            if sequential { "tv-z3-seq" } else { "tv-z3" },
            describe_xdom(&o),
        );

        // The same zone with SP = LIS:HELD matches at R56 (TV-Z3: SP is a parameter).
        let held = [WantedService {
            service: "LIS".into(),
            protocol: "HELD".into(),
        }];
        let o = resolver
            .xdom("2001:DB8:1:2:227:eff:fe6a:de42", &held)
            .await
            .unwrap();
        assert_eq!(
            o.matched_label().as_deref(),
            Some("R56"),
            "{kind} {mode}: {o:?}"
        );
        let uris: Vec<_> = o.candidates.iter().map(|c| c.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                "https://lis1.example.org:4802/?c=ex",
                "https://lis2.example.org:4802/?c=ex"
            ]
        );
        r.insert(
            if sequential {
                "tv-z3-held-seq"
            } else {
                "tv-z3-held"
            },
            describe_xdom(&o),
        );

        // RFC 2317 CNAME delegation at R32.
        let o = resolver.xdom("192.0.2.34", &https).await.unwrap();
        assert_eq!(
            o.matched_label().as_deref(),
            Some("R32"),
            "{kind} {mode}: {o:?}"
        );
        assert_eq!(o.candidates[0].uri, "https://classless.example.net/ird");
        assert_eq!(o.candidates[0].owner, name("34.0-25.2.0.192.in-addr.arpa."));
        assert_eq!(
            o.candidates[0].chain,
            [
                name("34.2.0.192.in-addr.arpa."),
                name("34.0-25.2.0.192.in-addr.arpa.")
            ]
        );
        r.insert(
            if sequential { "rfc2317-seq" } else { "rfc2317" },
            describe_xdom(&o),
        );

        // A /22 starts at R16 (docs/decisions.md, A12): nothing there, not found, nothing temporary.
        let o = resolver.xdom("198.51.100.0/22", &https).await.unwrap();
        assert_eq!(o.status.as_str(), "not_found", "{kind} {mode}: {o:?}");
        assert!(!o.degraded);
        r.insert(
            if sequential { "slash22-seq" } else { "slash22" },
            describe_xdom(&o),
        );
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_results_against_nsd_knot_and_bind() {
    let zones = fixture_zones();
    let mut all: Vec<(PeerKind, BTreeMap<&'static str, String>)> = Vec::new();
    for kind in PeerKind::ALL {
        if !require_or_skip(kind) {
            continue;
        }
        let peer = Peer::start(kind, &zones).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let resolver = Resolver::with_server(peer.addr()).unwrap();
        let results = run_cases(&resolver, kind).await;
        all.push((kind, results));
    }
    let Some((first_kind, first)) = all.first() else {
        return;
    };
    for (kind, results) in &all[1..] {
        for (case, expected) in first {
            assert_eq!(
                results.get(case),
                Some(expected),
                "case {case}: {kind} differs from {first_kind}"
            );
        }
    }
}
