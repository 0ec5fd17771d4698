//! `altodisc xdom` end to end, including batch mode, against a real NSD (or Knot).

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::altodisc;
use crate::resolve::fixture_peer;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn xdom_found_with_matched_name_and_ladder() {
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let out = altodisc(&[
        "xdom",
        "--server",
        &server,
        "--json",
        "198.51.100.3",
        "192.0.2.34",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = lines(&out.stdout);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["status"], "found");
    assert_eq!(v[0]["matched_name"], "100.51.198.in-addr.arpa.");
    assert_eq!(v[0]["degraded"], false);
    assert_eq!(
        v[0]["candidates"][0]["uri"],
        "https://alto1.example.net/ird"
    );
    assert_eq!(v[0]["candidates"][0]["owner"], "100.51.198.in-addr.arpa.");
    assert_eq!(v[0]["error"], Value::Null);
    assert_eq!(v[1]["matched_label"], "R32");
    assert_eq!(
        v[1]["candidates"][0]["owner"],
        "34.0-25.2.0.192.in-addr.arpa."
    );

    // RFC 8686 C.4, sequential: exactly four queries.
    let out = altodisc(&[
        "xdom",
        "--server",
        &server,
        "--sequential",
        "--trace",
        "--json",
        "2001:DB8:1:2:227:eff:fe6a:de42",
    ]);
    let v = lines(&out.stdout);
    assert_eq!(v[0]["matched_label"], "R48");
    assert_eq!(v[0]["queries"].as_array().unwrap().len(), 4);

    // Any service parameter (RFC 8686 §3.1): LIS:HELD matches at R56 in the same zone (TV-Z3).
    let out = altodisc(&[
        "xdom",
        "--server",
        &server,
        "--service",
        "LIS:HELD",
        "--json",
        "2001:DB8:1:2:227:eff:fe6a:de42",
    ]);
    let v = lines(&out.stdout);
    assert_eq!(v[0]["matched_label"], "R56");
    assert_eq!(
        v[0]["candidates"][1]["uri"],
        "https://lis2.example.org:4802/?c=ex"
    );

    // Human output: the URI, where it matched, and why the others did not.
    let out = altodisc(&["xdom", "--server", &server, "198.51.100.3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("found at R24 100.51.198.in-addr.arpa."),
        "{text}"
    );
    assert!(text.contains("https://alto1.example.net/ird"), "{text}");
    assert!(
        text.contains("R32 3.100.51.198.in-addr.arpa.: NXDOMAIN"),
        "{text}"
    );

    // Nothing published for this /22's names: not found.
    let out = altodisc(&["xdom", "--server", &server, "--json", "198.51.100.0/22"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout)[0]["status"], "not_found");
}

#[test]
fn xdom_invalid_input_exits_2_naming_it() {
    let out = altodisc(&["xdom", "--server", "127.0.0.1:9", "10.0.0.0/7"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("10.0.0.0/7") && err.lines().count() == 1,
        "{err}"
    );
    let out = altodisc(&["xdom"]);
    assert_eq!(out.status.code(), Some(2), "no input is a usage error");
    let out = altodisc(&["xdom", "--concurrency", "0", "--batch", "-"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn xdom_refused_everywhere_exits_1_not_3() {
    // The fixtures serve no reverse zone for 203.0.113.0/24 nor 203/8: NSD answers REFUSED for
    // every ladder name. Not temporary, not retried (docs/decisions.md, A16).
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let out = altodisc(&[
        "xdom",
        "--server",
        &server,
        "--no-recursion",
        "--json",
        "203.0.113.7",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = &lines(&out.stdout)[0];
    assert_eq!(v["status"], "not_found");
    assert_eq!(v["temporary"], false);
    assert_eq!(v["degraded"], false);
    for n in v["names"].as_array().unwrap() {
        assert_eq!(n["status"], "refused", "{n}");
        assert_eq!(n["retried"], false, "{n}");
    }
}

#[test]
fn xdom_only_temporary_failures_exit_3() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let out = altodisc(&[
        "xdom",
        "--server",
        &server,
        "--timeout-ms",
        "150",
        "--attempts",
        "1",
        "--json",
        "198.51.100.3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v = lines(&out.stdout);
    assert_eq!(v[0]["temporary"], true);
    assert_eq!(v[0]["names"][0]["retried"], true);
}

#[test]
fn xdom_batch_json_lines_in_order_with_errors_and_summary() {
    let Some(peer) = fixture_peer() else { return };
    let server = peer.addr().to_string();
    let mut input = String::from("# peers\n");
    for i in 1..=40 {
        input.push_str(&format!("198.51.100.{i}\n"));
    }
    input.push_str("bogus\n\n192.0.2.34\n2001:db8:1:2::33\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args([
            "xdom",
            "--server",
            &server,
            "--batch",
            "-",
            "--concurrency",
            "8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v = lines(&out.stdout);
    assert_eq!(v.len(), 43);
    for (i, row) in v.iter().take(40).enumerate() {
        assert_eq!(row["input"], format!("198.51.100.{}", i + 1));
        assert_eq!(row["status"], "found", "{row}");
        assert_eq!(row["line"], i + 2);
    }
    assert_eq!(v[40]["status"], "error");
    assert_eq!(v[40]["input"], "bogus");
    assert!(v[40]["error"].as_str().unwrap().contains("invalid"));
    assert_eq!(v[41]["matched_label"], "R32");
    assert_eq!(v[42]["matched_label"], "R48");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("addresses=43") && err.contains("queries/address="),
        "{err}"
    );
    // The shared cache: 40 R32 names + R24 (+ R16/R8 at most once) for the /24, not 160.
    let sent: u64 = err
        .split_whitespace()
        .find_map(|w| w.strip_prefix("queries_sent="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent <= 40 + 3 + 4 + 6, "{err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "an invalid line makes the exit code 1"
    );
}
