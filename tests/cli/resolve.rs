//! `altodisc resolve` end to end, against a real NSD (or Knot) serving the resolver fixtures.

use std::net::UdpSocket;
use std::path::PathBuf;

use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
use serde_json::Value;

use crate::altodisc;

pub(crate) fn fixture_zones() -> Vec<Zone> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resolver");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zone"))
        .map(|p| {
            Zone::file(
                p.file_stem().unwrap().to_string_lossy().into_owned() + ".",
                p,
            )
        })
        .collect()
}

/// A real authoritative server with the fixtures: NSD, or Knot when NSD is missing locally.
pub(crate) fn fixture_peer() -> Option<Peer> {
    let kind = [PeerKind::Nsd, PeerKind::Knot]
        .into_iter()
        .find(|k| altodisc_testpeers::available(*k))
        .unwrap_or(PeerKind::Nsd);
    if !require_or_skip(kind) {
        return None;
    }
    Some(Peer::start(kind, &fixture_zones()).unwrap())
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn resolve_found_not_found_http_and_exit_codes() {
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let base = ["resolve", "--server", &server, "--no-recursion"];

    let out = altodisc(&[&base[..], &["--json", "example.net"]].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["status"], "found");
    assert_eq!(v["candidates"][0]["uri"], "https://alto1.example.net/ird");
    assert_eq!(v["candidates"][0]["order"], 100);
    assert_eq!(v["candidates"][0]["preference"], 10);
    assert_eq!(v["candidates"][0]["owner"], "example.net.");
    assert_eq!(v["candidates"][1]["preference"], 20);
    // Default `--dnssec report`; NSD queried directly serves no chain from the root.
    assert_eq!(v["candidates"][0]["dnssec"], "indeterminate");

    let out = altodisc(&[&base[..], &["--json", "nothere.example.net."]].concat());
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["result"], "nxdomain");

    let out = altodisc(&[&base[..], &["httponly.example.net"]].concat());
    assert_eq!(out.status.code(), Some(1), "http needs --allow-http");
    let out = altodisc(&[&base[..], &["--allow-http", "httponly.example.net"]].concat());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("http://httponly.example.net/ird"));
}

#[test]
fn resolve_human_output_says_why_and_trace_shows_queries() {
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let out = altodisc(&["resolve", "--server", &server, "skips.example.net"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("https://mixed-case.example.net/ird"),
        "{text}"
    );
    assert!(text.contains("why:"), "{text}");
    assert!(
        text.contains("skipped") && text.contains("scheme"),
        "{text}"
    );
    assert!(text.contains("unknown flag"), "{text}");

    let out = altodisc(&["resolve", "--server", &server, "--trace", "big.example.net"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("query big.example.net. NAPTR -> NOERROR answers=30 ttl=300"),
        "{text}"
    );
    assert!(text.contains(" tcp"), "{text}");

    let out = altodisc(&[
        "resolve",
        "--server",
        &server,
        "--json",
        "--trace",
        "chain.example.net",
    ]);
    let v = json(&out);
    let q = v["queries"].as_array().unwrap();
    assert_eq!(q.len(), 3);
    for key in [
        "name",
        "type",
        "rcode",
        "answers",
        "ttl",
        "time_ms",
        "transport",
    ] {
        assert!(q[0].get(key).is_some(), "{key} missing: {}", q[0]);
    }
    assert_eq!(v["candidates"][0]["owner"], "final.example.org.");
}

#[test]
fn resolve_temporary_failure_exits_3() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let out = altodisc(&[
        "resolve",
        "--server",
        &server,
        "--timeout-ms",
        "200",
        "--attempts",
        "1",
        "--json",
        "example.net",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v = json(&out);
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["temporary"], true);
}

#[test]
fn resolve_refused_is_not_found_not_temporary() {
    // NSD answers REFUSED for a name in no zone it serves: that answer does not change when
    // asked again, so it is "not found" (exit 1), never "retry later" (docs/decisions.md, A16).
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let base = ["resolve", "--server", &server, "--no-recursion"];
    let out = altodisc(&[&base[..], &["--json", "alto.not-served.example."]].concat());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["result"], "refused");
    assert_eq!(v["temporary"], false);
    assert_eq!(v["names"][0]["status"], "refused");

    let out = altodisc(&[&base[..], &["alto.not-served.example."]].concat());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("refused the query (REFUSED)"), "{text}");
    assert!(!text.contains("retry later may help"), "{text}");
}

#[test]
fn resolve_invalid_input_exits_2_with_one_line() {
    // 5 x 63-octet labels: over the 255-octet limit of RFC 1035 §3.1.
    let oversize = vec!["a".repeat(63); 5].join(".");
    for args in [
        &["resolve", "a..b"][..],
        &["resolve", "."][..],
        &["resolve", "--server", "ns.example:53", "example.net"][..],
        &["resolve", "--service", "ALTO", "example.net"][..],
        &["resolve", "--service", "ALTO:http", "example.net"][..],
        &["resolve", "--service", "1bad:https", "example.net"][..],
        &["resolve", &oversize][..],
    ] {
        let out = altodisc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("altodisc: error:"), "{err}");
    }
    let out = altodisc(&["resolve", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("Exit codes:"),
        "{help}"
    );
}
