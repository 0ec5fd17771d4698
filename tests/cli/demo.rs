//! `altodisc demo`: runs both discovery procedures against its own responder and exits 0.

#[test]
fn demo_finds_every_server() {
    let out = crate::altodisc(&["demo"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        // RFC 7286, including a non-terminal hop.
        "==>    https://alto.example.net/ird  (order 100, preference 10, from example.net.)",
        "follow central.example.net. (non-terminal, depth 1)",
        // RFC 8686: R32, R24 after NXDOMAIN, RFC 2317 CNAME, wildcard and its exception, R128.
        "match  10.2.0.192.in-addr.arpa. (R32)",
        "77.2.0.192.in-addr.arpa. NAPTR -> NXDOMAIN",
        "https://alto.customer.example.org/ird",
        "https://alto-wild.example.org/ird",
        "match  113.0.203.in-addr.arpa. (R24)",
        "https://alto-v6-host.example.net/ird",
        // Generated from zones/publish.toml.
        "match  101.51.198.in-addr.arpa. (R24)",
        "every lookup found an ALTO server",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn demo_with_a_missing_zone_dir_fails_cleanly() {
    let out = crate::altodisc(&["demo", "--zones", "/nonexistent/altodisc-zones"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/altodisc-zones"));
}

/// The zones are built into the binary: the demo runs from any directory, and says so; `--zones`
/// serves another directory instead.
#[test]
fn demo_uses_its_built_in_zones_anywhere_and_zones_overrides_them() {
    let empty = crate::deploy::TempDir::new("demo-cwd");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .arg("demo")
        .current_dir(&empty.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("from the example zones built in"), "{text}");

    // An override with one zone: its record is served, the example ones are not.
    let dir = crate::deploy::TempDir::new("demo-zones");
    std::fs::write(
        dir.0.join("example.net.zone"),
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n\
         @ NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto.override.example/ird!\" .\n",
    )
    .unwrap();
    let out = crate::altodisc(&["demo", "--zones", dir.0.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("https://alto.override.example/ird"), "{text}");
    assert!(
        text.contains(&format!("from {}", dir.0.display())),
        "{text}"
    );
    // Only example.net. is there: the other lookups find nothing (exit 1).
    assert_eq!(out.status.code(), Some(1), "{text}");
}
