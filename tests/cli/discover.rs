//! `altodisc discover` end to end.
//!
//! * Without root: lease-file fixtures (real dhclient/dhcpcd output) and configured domains,
//!   resolved against a real NSD on loopback (altodisc-testpeers); usage errors.
//! * With root (CI): the full chain in network namespaces — dnsmasq or Kea hands out 213/57 (or
//!   only option 15), NSD in the server namespace serves the NAPTR zone, and the binary runs in
//!   the client namespace under `ip netns exec`; plus the privilege error as user `nobody`.

use std::path::PathBuf;
use std::process::{Command, Output};

use altodisc_testpeers::netns::{self, EXAMPLE_NET_HEX, Lab, dnsmasq_access_domain};
use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip};
use serde_json::Value;

use crate::altodisc;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dhcp")
        .join(name)
        .display()
        .to_string()
}

fn json(out: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v.as_array().unwrap().clone()
}

fn pair<'a>(v: &'a [Value], family: &str) -> &'a Value {
    v.iter()
        .find(|p| p["family"] == family)
        .unwrap_or_else(|| panic!("no {family} entry in {v:?}"))
}

const ZONE: &str = "$TTL 300
@ IN SOA ns hostmaster 1 3600 900 604800 60
@ IN NS ns
ns IN A 192.0.2.1
@ IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/directory!\" .
@ IN NAPTR 200 10 \"u\" \"ALTO:http\" \"!.*!http://alto.example.net/directory!\" .
";

fn loopback_nsd() -> Option<Peer> {
    if !require_or_skip(PeerKind::Nsd) {
        return None;
    }
    Some(Peer::start(PeerKind::Nsd, &[Zone::text("example.net.", ZONE)]).expect("nsd starts"))
}

#[test]
fn from_lease_fixtures_resolve_to_the_uri() {
    let Some(nsd) = loopback_nsd() else { return };
    let server = nsd.addr().to_string();
    // dhcpcd binary leases are per interface by file name, so any interface works; `lo` always
    // exists and has both families.
    for (file, family) in [("dhcpcd.lease", "ipv4"), ("dhcpcd.lease6", "ipv6")] {
        let path = fixture(file);
        let out = altodisc(&[
            "discover",
            "-i",
            "lo",
            "--family",
            family,
            "--from-lease",
            &path,
            "--server",
            &server,
            "--no-recursion",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{file}: {out:?}");
        let v = json(&out);
        let p = pair(&v, family);
        assert_eq!(p["interface"], "lo");
        assert_eq!(p["domain"], "example.net.");
        assert_eq!(p["domain_source"], "lease");
        assert_eq!(p["status"], "found");
        assert_eq!(
            p["candidates"][0]["uri"],
            "https://alto.example.net/directory"
        );
        assert!(
            p["domain_detail"].as_str().unwrap().contains("dhcpcd"),
            "{p}"
        );
    }
    // dhclient text leases select the block of the interface: `lo` has none.
    let out = altodisc(&[
        "discover",
        "-i",
        "lo",
        "--family",
        "ipv4",
        "--from-lease",
        &fixture("dhclient.eth0.leases"),
        "--server",
        &server,
        "--no-recursion",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    assert_eq!(pair(&v, "ipv4")["status"], "no_domain");
    assert!(
        pair(&v, "ipv4")["domain_error"]
            .as_str()
            .unwrap()
            .contains("for interface lo"),
        "{v:?}"
    );
}

#[test]
fn configured_domain_comes_first_and_human_output_says_where_from() {
    let Some(nsd) = loopback_nsd() else { return };
    let server = nsd.addr().to_string();
    let out = altodisc(&[
        "discover",
        "-i",
        "lo",
        "--family",
        "ipv4",
        "--domain",
        "example.net",
        "--server",
        &server,
        "--no-recursion",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lo IPv4: domain example.net. (source config"),
        "{text}"
    );
    assert!(
        text.contains("https://alto.example.net/directory"),
        "{text}"
    );

    // TOML config: per-interface/per-family over the default.
    let dir = std::env::temp_dir().join(format!("altodisc-discover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("discover.toml");
    std::fs::write(
        &cfg,
        "default = \"nowhere.example\"\n[interfaces.lo]\nipv4 = \"example.net\"\n",
    )
    .unwrap();
    let out = altodisc(&[
        "discover",
        "-i",
        "lo",
        "--family",
        "ipv4",
        "--family",
        "ipv6",
        "--config",
        cfg.to_str().unwrap(),
        "--server",
        &server,
        "--no-recursion",
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "one pair found is success: {v:?}"
    );
    assert_eq!(pair(&v, "ipv4")["status"], "found");
    assert_eq!(pair(&v, "ipv4")["domain_source"], "config");
    // IPv6 got the default, which NSD does not serve (REFUSED): not found, not a temporary
    // failure (a retry will not help, docs/decisions.md A16), the other pair unaffected.
    assert_eq!(pair(&v, "ipv6")["domain"], "nowhere.example.");
    assert_eq!(pair(&v, "ipv6")["status"], "not_found", "{v:?}");

    std::fs::write(&cfg, "defualt = \"example.net\"\n").unwrap();
    let out = altodisc(&["discover", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "unknown key rejected: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("defualt"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_input_is_a_usage_error() {
    for args in [
        &["discover", "--domain", "exa mple..net"][..],
        &["discover", "--domain", "."],
        &["discover", "--dhcp-timeout", "0"],
        &["discover", "-i", "no-such-if0", "--domain", "example.net"],
        &[
            "discover",
            "--dhcp-server",
            "192.0.2.1",
            "--dhcp-server",
            "192.0.2.2",
        ],
    ] {
        let out = altodisc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
    let help = altodisc(&["discover", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "CAP_NET_BIND_SERVICE",
        "--from-lease",
        "dhcpv4-option15",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
}

/// A lab whose server namespace runs NSD with the NAPTR zone for `origin` (`https_uri` at the
/// apex); `None` (skipped) when `test` cannot run here (no root, or one of `binaries` missing).
fn nsd_lab(test: &str, binaries: &[&str], origin: &str, https_uri: &str) -> Option<Lab> {
    if !netns::can_run(test, binaries) {
        return None;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    lab.start_nsd(origin, &netns::naptr_zone(origin, https_uri));
    Some(lab)
}

/// Runs the built binary inside the client namespace.
fn in_client(lab: &Lab, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", &lab.cli, env!("CARGO_BIN_EXE_altodisc")])
        .args(args)
        .output()
        .unwrap()
}

fn discover_both(lab: &Lab, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec![
        "discover",
        "-i",
        &lab.cli_if,
        "--server",
        netns::SRV_V4,
        "--no-recursion",
        "--dhcp-timeout",
        "5",
        "--json",
        "--trace",
    ];
    args.extend_from_slice(extra);
    let out = in_client(lab, &args);
    let v = json(&out);
    (out, v)
}

#[test]
fn full_chain_dnsmasq_and_nsd_in_namespaces() {
    let Some(mut lab) = nsd_lab(
        "full_chain_dnsmasq_and_nsd_in_namespaces",
        &["dnsmasq", "nsd"],
        "example.net.",
        "https://alto.example.net/directory",
    ) else {
        return;
    };
    lab.start_dnsmasq("dnsmasq", &dnsmasq_access_domain(EXAMPLE_NET_HEX));
    let (out, v) = discover_both(&lab, &[]);
    assert_eq!(out.status.code(), Some(0), "{v:?}");
    for (family, source) in [("ipv4", "dhcpv4"), ("ipv6", "dhcpv6")] {
        let p = pair(&v, family);
        assert_eq!(p["domain"], "example.net.", "{p}");
        assert_eq!(p["domain_source"], source, "{p}");
        assert_eq!(p["status"], "found", "{p}");
        assert_eq!(
            p["candidates"][0]["uri"], "https://alto.example.net/directory",
            "{p}"
        );
        assert!(!p["dhcp_trace"].as_array().unwrap().is_empty());
    }
    // Human --trace output: DHCP exchange, then the URI.
    let out = in_client(
        &lab,
        &[
            "discover",
            "-i",
            &lab.cli_if,
            "--family",
            "ipv4",
            "--server",
            netns::SRV_V4,
            "--no-recursion",
            "--trace",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DHCPACK from"), "{text}");
    assert!(
        text.contains("https://alto.example.net/directory"),
        "{text}"
    );

    // --verify: no ALTO server listens in the lab (and the namespace reaches nothing else), so
    // the candidate is reported NOT VERIFIED with the reason, and nothing counts as found.
    let (out, v) = discover_both(
        &lab,
        &["--family", "ipv4", "--verify", "--connect-timeout", "2"],
    );
    assert_eq!(out.status.code(), Some(1), "{v:?}");
    let c = &pair(&v, "ipv4")["candidates"][0];
    assert_eq!(c["verified"], false, "{c}");
    assert!(c["verify_error"]["message"].is_string(), "{c}");
}

#[test]
fn full_chain_kea_and_nsd_in_namespaces() {
    let Some(mut lab) = nsd_lab(
        "full_chain_kea_and_nsd_in_namespaces",
        &["kea-dhcp4", "kea-dhcp6", "nsd"],
        "example.org.",
        "https://alto.example.org/ird",
    ) else {
        return;
    };
    lab.start_kea("kea4", false, &netns::kea4_config("example.org"));
    lab.start_kea("kea6", true, &netns::kea6_config("example.org"));
    let (out, v) = discover_both(&lab, &[]);
    assert_eq!(out.status.code(), Some(0), "{v:?}");
    for (family, source) in [("ipv4", "dhcpv4"), ("ipv6", "dhcpv6")] {
        let p = pair(&v, family);
        assert_eq!(p["domain"], "example.org.", "{p}");
        assert_eq!(p["domain_source"], source, "{p}");
        assert_eq!(
            p["candidates"][0]["uri"], "https://alto.example.org/ird",
            "{p}"
        );
    }
}

#[test]
fn option_15_fallback_and_no_ipv6_fallback_in_namespaces() {
    let Some(mut lab) = nsd_lab(
        "option_15_fallback_and_no_ipv6_fallback_in_namespaces",
        &["dnsmasq", "nsd"],
        "example.net.",
        "https://alto.example.net/directory",
    ) else {
        return;
    };
    lab.start_dnsmasq(
        "dnsmasq",
        &[
            netns::DNSMASQ_RANGE_V4,
            netns::DNSMASQ_RANGE_V6,
            "dhcp-option=option:domain-name,example.net",
            // The v6 side offers only a domain search list: RFC 7286 §3.1.2 has no fallback.
            "dhcp-option=option6:domain-search,example.net",
        ],
    );
    let (out, v) = discover_both(&lab, &[]);
    assert_eq!(out.status.code(), Some(0), "{v:?}");
    let p4 = pair(&v, "ipv4");
    assert_eq!(p4["domain_source"], "dhcpv4-option15", "{p4}");
    assert_eq!(
        p4["candidates"][0]["uri"],
        "https://alto.example.net/directory"
    );
    let p6 = pair(&v, "ipv6");
    assert_eq!(p6["status"], "no_domain", "{p6}");
    assert!(
        p6["domain_error"]
            .as_str()
            .unwrap()
            .contains("no option 57"),
        "{p6}"
    );
}

#[test]
fn privilege_error_explains_cap_net_bind_service() {
    if !netns::can_run(
        "privilege_error_explains_cap_net_bind_service",
        &["setpriv"],
    ) {
        return;
    }
    let lab = Lab::new(false);
    lab.client_up(true);
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.cli,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            env!("CARGO_BIN_EXE_altodisc"),
            "discover",
            "-i",
            &lab.cli_if,
            "--json",
            "--dhcp-timeout",
            "1",
            "--server",
            netns::SRV_V4,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if text.is_empty() && String::from_utf8_lossy(&out.stderr).contains("Permission denied") {
        // The built binary is not reachable for `nobody` (e.g. a 0700 home directory).
        eprintln!("skipped: privilege test: binary not executable as nobody");
        return;
    }
    let v = json(&out);
    assert_eq!(out.status.code(), Some(1), "{v:?}");
    for family in ["ipv4", "ipv6"] {
        let p = pair(&v, family);
        assert_eq!(p["status"], "error", "{p}");
        let e = p["domain_error"].as_str().unwrap();
        assert!(
            e.contains("CAP_NET_BIND_SERVICE") && e.contains("--from-lease"),
            "{e}"
        );
    }
}

#[test]
fn from_lease_dhclient_files_in_namespace() {
    let Some(lab) = nsd_lab(
        "from_lease_dhclient_files_in_namespace",
        &["nsd"],
        "example.net.",
        "https://alto.example.net/directory",
    ) else {
        return;
    };
    // The captured dhclient leases name `eth0`; point them at this lab's client interface.
    for (file, family) in [
        ("dhclient.eth0.leases", "ipv4"),
        ("dhclient6.eth0.leases", "ipv6"),
    ] {
        let text = std::fs::read_to_string(fixture(file))
            .unwrap()
            .replace("\"eth0\"", &format!("\"{}\"", lab.cli_if));
        let path = lab.write(file, &text).display().to_string();
        let (out, v) = discover_both(&lab, &["--family", family, "--from-lease", &path]);
        assert_eq!(out.status.code(), Some(0), "{file}: {v:?}");
        let p = pair(&v, family);
        assert_eq!(p["domain"], "example.net.", "{p}");
        assert_eq!(p["domain_source"], "lease", "{p}");
        assert!(
            p["domain_detail"].as_str().unwrap().contains("dhclient"),
            "{p}"
        );
        assert_eq!(
            p["candidates"][0]["uri"],
            "https://alto.example.net/directory"
        );
    }
}
