//! `altodisc discover --watch` (the discovery agent) and `--write-alto-conf`: in network
//! namespaces with dnsmasq and NSD (root needed), and the systemd unit through
//! `systemd-analyze verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use altodisc_testpeers::netns::{self, EXAMPLE_NET_HEX, Lab, dnsmasq_access_domain};
use serde_json::Value;

use crate::deploy::{TempDir, require};

/// `sub.example.net.` in DHCP wire form: a second access domain (NSD has no NAPTR there).
const SUB_EXAMPLE_NET_HEX: &str = "03:73:75:62:07:65:78:61:6d:70:6c:65:03:6e:65:74:00";

fn state(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("state file does not parse: {e}\n{text}")),
    )
}

/// Waits until the state file's IPv4 pair satisfies `want`, at most `within`.
fn wait_state(path: &Path, within: Duration, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(v) = state(path)
            && v["pairs"].as_array().is_some_and(|p| p.iter().any(&want))
        {
            return v;
        }
        assert!(
            start.elapsed() < within,
            "no {what} in the state file within {within:?}: {:?}",
            state(path)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn domain_is(d: &'static str) -> impl Fn(&Value) -> bool {
    move |p: &Value| p["family"] == "ipv4" && p["domain"] == d
}

#[test]
fn agent_follows_address_changes_option_213_sighup_and_stops_on_sigterm() {
    let test = "agent_follows_address_changes_option_213_sighup_and_stops_on_sigterm";
    if !netns::can_run(test, &["dnsmasq", "nsd"]) {
        return;
    }
    let mut lab = Lab::new(false);
    lab.client_up(true);
    // TTL 1: the agent re-runs when it expires, no earlier than --min-interval (5 s).
    lab.start_nsd(
        "example.net.",
        &netns::naptr_zone("example.net.", "https://alto.example.net/directory")
            .replace("$TTL 300", "$TTL 1"),
    );
    lab.start_dnsmasq("dnsmasq", &dnsmasq_access_domain(EXAMPLE_NET_HEX));
    let state_file = lab.dir.join("discovery.json");
    let state_arg = state_file.display().to_string();
    let (cli, cli_if) = (lab.cli.clone(), lab.cli_if.clone());
    let agent = lab.spawn(
        "agent",
        &cli,
        &[
            env!("CARGO_BIN_EXE_altodisc"),
            "discover",
            "--watch",
            "-i",
            &cli_if,
            "--family",
            "ipv4",
            "--server",
            netns::SRV_V4,
            "--no-recursion",
            "--dhcp-timeout",
            "3",
            "--settle",
            "300ms",
            "--min-interval",
            "5s",
            "--state-file",
            &state_arg,
        ],
        &[],
    );
    // A reader checks that every version of the file it sees is complete JSON (atomic rename).
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (stop, seen, path) = (Arc::clone(&stop), Arc::clone(&seen), state_file.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    serde_json::from_str::<Value>(&text)
                        .unwrap_or_else(|e| panic!("torn state file: {e}: {text:?}"));
                    seen.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Start: option 213 gives example.net., whose NAPTR gives the URI.
    let v = wait_state(
        &state_file,
        Duration::from_secs(15),
        "example.net.",
        domain_is("example.net."),
    );
    let p = &v["pairs"][0];
    assert_eq!(p["status"], "found", "{p}");
    assert_eq!(
        p["candidates"][0]["uri"],
        "https://alto.example.net/directory"
    );
    assert_eq!(v["next_run_in_s"], 5, "{v}");
    // The smallest TTL (1 s, raised to --min-interval) expires: discovery runs again.
    let first_generation = v["generation"].as_u64().unwrap();
    let start = Instant::now();
    let v = loop {
        let v = state(&state_file).unwrap();
        if v["generation"].as_u64().unwrap() > first_generation {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(9),
            "no re-run on TTL expiry: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(v["reason"], "TTL expired", "{v}");
    assert_eq!(v["pairs"][0]["candidates"][0]["ttl"], 1, "{v}");
    let first_generation = v["generation"].as_u64().unwrap();

    // dnsmasq restarts with another option 213; adding an address (a netlink event) re-runs
    // discovery within --settle plus one DHCP exchange.
    lab.stop("dnsmasq");
    lab.start_dnsmasq("dnsmasq2", &dnsmasq_access_domain(SUB_EXAMPLE_NET_HEX));
    let changed = Instant::now();
    let out = lab.run(
        &cli,
        &["ip", "addr", "add", "192.0.2.20/24", "dev", &cli_if],
    );
    assert!(out.status.success(), "{out:?}");
    let v = wait_state(
        &state_file,
        Duration::from_secs(10),
        "sub.example.net.",
        domain_is("sub.example.net."),
    );
    assert!(changed.elapsed() < Duration::from_secs(10));
    assert_eq!(v["reason"], "network change", "{v}");
    assert_eq!(v["pairs"][0]["status"], "not_found", "{v}");
    assert!(v["generation"].as_u64().unwrap() > first_generation);

    // SIGHUP re-runs too: back to example.net.
    lab.stop("dnsmasq2");
    lab.start_dnsmasq("dnsmasq3", &dnsmasq_access_domain(EXAMPLE_NET_HEX));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(agent).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let v = wait_state(
        &state_file,
        Duration::from_secs(10),
        "example.net. again",
        domain_is("example.net."),
    );
    assert_eq!(v["reason"], "SIGHUP", "{v}");

    // A new route is a network change too: another run, same answer.
    let generation = v["generation"].as_u64().unwrap();
    let out = lab.run(
        &cli,
        &[
            "ip",
            "route",
            "add",
            "198.51.100.0/24",
            "via",
            netns::SRV_V4,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let start = Instant::now();
    let v = loop {
        let v = state(&state_file).unwrap();
        if v["generation"].as_u64().unwrap() > generation {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no re-run after a route change: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(v["reason"], "network change", "{v}");
    assert_eq!(v["pairs"][0]["domain"], "example.net.", "{v}");

    // SIGTERM stops it cleanly (exit 0), leaving a complete file.
    lab.stop("agent");
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert!(seen.load(Ordering::Relaxed) > 0);
    assert!(state(&state_file).is_some());
    let log = std::fs::read_to_string(lab.dir.join("agent.out")).unwrap();
    assert!(log.contains("result changed (network change)"), "{log}");
    assert!(log.contains("SIGTERM, stopping"), "{log}");
}

#[test]
fn write_alto_conf_needs_verify_and_keeps_the_file_when_nothing_verifies() {
    let tmp = TempDir::new("altoconf");
    let conf = tmp.0.join("alto.conf");
    std::fs::write(&conf, "[client]\ndefault_ird = https://old.example/ird\n").unwrap();
    let c = conf.to_str().unwrap();
    let out = crate::altodisc(&[
        "discover",
        "--domain",
        "example.net",
        "--write-alto-conf",
        c,
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--verify"));
    // A configured domain on loopback, a DNS server that refuses (nothing listens): no candidate,
    // nothing verified, the file is unchanged and the exit code says not found.
    let out = crate::altodisc(&[
        "discover",
        "-i",
        "lo",
        "--family",
        "ipv4",
        "--domain",
        "example.net",
        "--no-dhcp",
        "--server",
        "127.0.0.1:9",
        "--timeout-ms",
        "200",
        "--attempts",
        "1",
        "--verify",
        "--write-alto-conf",
        c,
    ]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unchanged"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "[client]\ndefault_ird = https://old.example/ird\n"
    );
}

fn unit_under_test(tmp: &TempDir) -> PathBuf {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/altodisc-discover.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/altodisc discover --watch"));
    let unit = unit.replace("/usr/bin/altodisc", env!("CARGO_BIN_EXE_altodisc"));
    let path = tmp.0.join("altodisc-discover.service");
    std::fs::write(&path, unit).unwrap();
    let man = tmp.0.join("man");
    let out = crate::altodisc(&["man", "--out", man.join("man1").to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    path
}

#[test]
fn discovery_agent_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = require("systemd-analyze", "systemd unit verification") else {
        return;
    };
    let tmp = TempDir::new("agent-unit");
    let unit = unit_under_test(&tmp);
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", tmp.0.join("man"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // verify exits 0 on unknown keys and bad values too ("..., ignoring"): any output is a finding.
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}

/// One run with `--verify --write-alto-conf`: NSD serves a NAPTR set whose first URI is not
/// served (404 from nginx) and whose second is the RFC 7285 §9.2.3 IRD over TLS; the second
/// becomes `default_ird` and every other line of the file stays.
#[test]
fn write_alto_conf_writes_the_first_verified_candidate() {
    use altodisc_testpeers::nginx::{Nginx, Route};
    use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip, require_tool_or_skip};
    if !require_tool_or_skip("nginx", "nginx")
        || !require_tool_or_skip("openssl", "openssl")
        || !require_or_skip(PeerKind::Nsd)
    {
        return;
    }
    let ird = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ird/rfc7285-9.2.3.json"),
    )
    .unwrap();
    let nginx = Nginx::start(&[Route::body("/ird", "application/alto-directory+json", ird)])
        .expect("nginx starts");
    let zone = format!(
        "$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 127.0.0.1\n\
         @ IN NAPTR 100 10 \"u\" \"ALTO:https\" \"!.*!{}!\" .\n\
         @ IN NAPTR 100 20 \"u\" \"ALTO:https\" \"!.*!{}!\" .\n",
        nginx.https_url("/missing"),
        nginx.https_url("/ird")
    );
    let peer = Peer::start(PeerKind::Nsd, &[Zone::text("isp.test.", zone)]).unwrap();
    let tmp = TempDir::new("altoconf-ok");
    let conf = tmp.0.join("alto.conf");
    std::fs::write(
        &conf,
        "# site\n[client]\nauth_type = userpass\ndefault_ird = https://old.example/ird\n  old continuation\nstatic_ird = {\n    \"a\": \"b\"\n  }\n",
    )
    .unwrap();
    let server = peer.addr().to_string();
    let out = crate::altodisc(&[
        "discover",
        "-i",
        "lo",
        "--family",
        "ipv4",
        "--domain",
        "isp.test",
        "--no-dhcp",
        "--server",
        &server,
        "--no-recursion",
        "--verify",
        "--ca-file",
        nginx.ca_file().to_str().unwrap(),
        "--write-alto-conf",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        format!(
            "# site\n[client]\nauth_type = userpass\ndefault_ird = {}\nstatic_ird = {{\n    \"a\": \"b\"\n  }}\n",
            nginx.https_url("/ird")
        )
    );
}

/// A state file that cannot be written stops the agent at once with an error naming it and
/// what to fix, and leaves what is at that path as it was (no partial file, no temporary file).
#[test]
fn unwritable_state_file_is_a_clear_error_and_leaves_the_path_intact() {
    let tmp = TempDir::new("statefile");
    // Root ignores permission bits, so the unwritable places here are a missing directory and
    // a path that is a directory with content.
    let missing = tmp.0.join("no-such-dir/discovery.json");
    let occupied = tmp.0.join("discovery.json");
    std::fs::create_dir(&occupied).unwrap();
    std::fs::write(occupied.join("keep"), "keep\n").unwrap();
    for path in [&missing, &occupied] {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_altodisc"))
            .args([
                "discover",
                "--watch",
                "--domain",
                "example.net",
                "--server",
                "127.0.0.1:1",
                "--no-recursion",
                "--state-file",
                path.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("--state-file {}:", path.display())),
            "{err}"
        );
        assert!(err.contains("must exist and be writable"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    }
    assert!(!missing.parent().unwrap().exists());
    assert_eq!(
        std::fs::read_to_string(occupied.join("keep")).unwrap(),
        "keep\n"
    );
    let left: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["discovery.json"], "no temporary file left");
}
