//! `altodisc serve` with `dnssec = "sign"` / `"presigned"` (RFC 8686 §6.1; docs/decisions.md, responder):
//! altodisc's own responder serves signed zones, and real peers judge it: unbound validates
//! through a stub zone at it (AD on NAPTR and NXDOMAIN), `altodisc xdom`/`resolve` report
//! `secure` directly against it and through unbound, ldns-verify-zone and kzonecheck accept the
//! zone pulled by AXFR, and NSD serving that same pre-signed zone gives the same DO=1 answer and
//! authority sections for hits, NXDOMAIN, NODATA, empty non-terminals, wildcards and CNAMEs.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use altodisc_proto::DomainName;
use altodisc_responder::dnssec::ZoneKeys;
use altodisc_testpeers::dnssec::Unbound;
use altodisc_testpeers::{Peer, PeerKind, Zone, require_or_skip, require_tool_or_skip};

use crate::dnssec::json;

const REVERSE_ORIGIN: &str = "2.0.192.in-addr.arpa.";
/// R24 and R32 NAPTRs, an empty non-terminal (c, b.c), a wildcard (`*.w` TXT beside x.w), a
/// CNAME to a NAPTR owner, and an unsigned delegation (sub).
const REVERSE: &str = "$TTL 300\n\
@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60\n\
@ NS ns.example.net.\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/r24!\" .\n\
34 NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/r32!\" .\n\
12 CNAME 34\n\
a.b.c PTR deep.example.net.\n\
*.w TXT \"wild\"\n\
x.w PTR x.example.net.\n\
sub NS ns.sub\n\
ns.sub A 192.0.2.99\n";
const FORWARD_ORIGIN: &str = "example.net.";
const FORWARD: &str = "$TTL 300\n\
@ SOA ns hostmaster 1 3600 900 604800 60\n\
@ NS ns\n\
ns A 192.0.2.53\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/ird!\" .\n";

/// A private directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "altodisc-dnssec-serve-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("zones")).unwrap();
        Self(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    /// Writes `zones/<origin>zone` (the file name `serve` looks for).
    fn write_zone(&self, origin: &str, text: &str) {
        std::fs::write(self.0.join("zones").join(format!("{origin}zone")), text).unwrap();
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `altodisc serve --watch 0 --listen 127.0.0.1:0 --config CONFIG`, stderr to `log`.
fn spawn_serve(config: &Path, stdout: Stdio, log: &Path) -> Child {
    spawn_serve_on(config, "127.0.0.1:0", stdout, log)
}

/// [`spawn_serve`] listening on `listen`.
fn spawn_serve_on(config: &Path, listen: &str, stdout: Stdio, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_altodisc"))
        .args(["serve", "--watch", "0", "--listen", listen, "--config"])
        .arg(config)
        .stdout(stdout)
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

/// A running `altodisc serve`, stopped by its PID on drop.
struct Served {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Served {
    fn start(config: &Path) -> Self {
        Self::start_on(config, "127.0.0.1:0")
    }

    /// [`Self::start`] on a fixed address (a restart keeps it, so unbound's stub still points
    /// at the server); the log is appended to, not replaced.
    fn start_on(config: &Path, listen: &str) -> Self {
        let log = config.with_extension("log");
        let mut child = spawn_serve_on(config, listen, Stdio::piped(), &log);
        let mut addr = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("listening on ") {
                addr.get_or_insert(rest.split(' ').next().unwrap().parse().unwrap());
            }
            if line.starts_with("ready: ") {
                break;
            }
        }
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Self { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits (at most 10 s) for a clean exit.
    fn terminate(&mut self) {
        assert!(
            Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}\n{}", self.log());
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit after SIGTERM\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGHUP: reload.
    fn hup(&self) {
        assert!(
            Command::new("kill")
                .args(["-HUP", &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, mode: &str) -> PathBuf {
    write_config_with(dir, mode, "")
}

/// [`write_config`] with more `[serve]` keys.
fn write_config_with(dir: &Path, mode: &str, extra: &str) -> PathBuf {
    let config = dir.join("publish.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\nzones_dir = \"zones\"\ndnssec = \"{mode}\"\nkey_dir = \"keys\"\n\
             signature_validity_days = 10\nrefresh_before_days = 3\n\
             allow_transfer = [\"127.0.0.1\"]\n{extra}"
        ),
    )
    .unwrap();
    config
}

/// The zone as `dig AXFR` pulls it from `server`.
fn axfr(server: SocketAddr, zone: &str) -> String {
    let out = dig(server, &["+nocmd", "+nostats"], zone, "AXFR");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && text.contains("RRSIG"), "{text}");
    // The SOA starts and ends a transfer (RFC 5936 §2.2): keep one.
    let mut seen_soa = false;
    text.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter(|l| {
            let soa = l.split_whitespace().nth(3) == Some("SOA");
            let keep = !(soa && seen_soa);
            seen_soa |= soa;
            keep
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `dig <flags> -p <port> @<address> <name> <qtype>` against `server`.
fn dig(server: SocketAddr, flags: &[&str], name: &str, qtype: &str) -> std::process::Output {
    let port = server.port().to_string();
    let at = format!("@{}", server.ip());
    Command::new("dig")
        .args(flags)
        .args(["-p", &port, &at, name, qtype])
        .output()
        .unwrap()
}

/// The answer and authority sections of a DO=1, RD=0 query, one normalized record per line,
/// sorted (the order of RRsets within a section is not significant). NSD adds the apex NS
/// RRset (and its RRSIG) to the authority section of positive answers (it does not run with
/// minimal responses); altodisc does not (RFC 2181 §6.1 makes it optional), so that RRset is
/// left out of the comparison; a referral's NS (below the apex) is compared.
fn sections(server: SocketAddr, name: &str, qtype: &str) -> (String, Vec<String>, Vec<String>) {
    let out = dig(
        server,
        &[
            "+dnssec",
            "+norec",
            "+noall",
            "+comments",
            "+answer",
            "+authority",
            "+bufsize=4096",
        ],
        name,
        qtype,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let status = text
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let mut answer = Vec::new();
    let mut authority = Vec::new();
    let mut in_authority = false;
    for l in text.lines() {
        if l.starts_with(";; AUTHORITY SECTION") {
            in_authority = true;
        }
        if l.starts_with(';') || l.trim().is_empty() {
            continue;
        }
        let rec = l
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if in_authority {
            authority.push(rec);
        } else {
            answer.push(rec);
        }
    }
    let apex_ns = |r: &String| {
        let f: Vec<&str> = r.split(' ').collect();
        f.first() == Some(&REVERSE_ORIGIN)
            && (f.get(3) == Some(&"ns") || (f.get(3) == Some(&"rrsig") && f.get(4) == Some(&"ns")))
    };
    if !answer.is_empty() {
        authority.retain(|r| !apex_ns(r));
    }
    answer.sort();
    authority.sort();
    (status, answer, authority)
}

fn dig_flags(server: SocketAddr, name: &str, qtype: &str) -> String {
    let out = dig(server, &["+dnssec"], name, qtype);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DS records of the zones' KSKs in `keys` (the same files `serve` signs with).
fn anchors(keys: &Path) -> String {
    [REVERSE_ORIGIN, FORWARD_ORIGIN]
        .iter()
        .map(|o| {
            let origin = DomainName::parse(o).unwrap();
            ZoneKeys::load_or_create(keys, &origin)
                .unwrap()
                .ds_text(&origin)
                .unwrap()
        })
        .collect()
}

/// The queries of the differential comparison: hits, CNAME, NXDOMAIN (R32 miss, below a leaf,
/// below the wildcard's sibling), NODATA, empty non-terminals, wildcard answer and wildcard
/// NODATA, DNSKEY and SOA at the apex, a referral to an unsigned child.
const QUERIES: &[(&str, &str)] = &[
    ("2.0.192.in-addr.arpa.", "NAPTR"),
    ("34.2.0.192.in-addr.arpa.", "NAPTR"),
    ("12.2.0.192.in-addr.arpa.", "NAPTR"),
    ("10.2.0.192.in-addr.arpa.", "NAPTR"),
    ("99.2.0.192.in-addr.arpa.", "NAPTR"),
    ("z.34.2.0.192.in-addr.arpa.", "NAPTR"),
    ("q.x.w.2.0.192.in-addr.arpa.", "NAPTR"),
    ("34.2.0.192.in-addr.arpa.", "TXT"),
    ("c.2.0.192.in-addr.arpa.", "NAPTR"),
    ("b.c.2.0.192.in-addr.arpa.", "NAPTR"),
    ("w.2.0.192.in-addr.arpa.", "NAPTR"),
    ("y.w.2.0.192.in-addr.arpa.", "TXT"),
    ("y.w.2.0.192.in-addr.arpa.", "NAPTR"),
    ("x.w.2.0.192.in-addr.arpa.", "TXT"),
    ("2.0.192.in-addr.arpa.", "DNSKEY"),
    ("2.0.192.in-addr.arpa.", "SOA"),
    ("h.sub.2.0.192.in-addr.arpa.", "NAPTR"),
    // Minimal ANY (RFC 8482 §4.2): the one RRset at 34 and its RRSIG, as NSD answers.
    ("34.2.0.192.in-addr.arpa.", "ANY"),
];

/// The answer section of a DO=0, RD=0 query (EDNS on), one normalized record per line, sorted.
fn plain_answer(server: SocketAddr, name: &str, qtype: &str) -> Vec<String> {
    let out = dig(server, &["+norec", "+noall", "+answer"], name, qtype);
    let mut answer: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .collect();
    answer.sort();
    answer
}

/// Compares DO=1 answers of altodisc and NSD on [`QUERIES`]; `denial` is the proof record type
/// every negative answer must carry (`"nsec"` or `"nsec3"`).
fn compare_with_nsd(ours: SocketAddr, nsd: SocketAddr, label: &str, denial: &str) {
    for (name, qtype) in QUERIES {
        let a = sections(ours, name, qtype);
        let b = sections(nsd, name, qtype);
        assert_eq!(
            a, b,
            "{label}: {name} {qtype}: altodisc (left) differs from NSD (right)"
        );
        // Every negative answer and the referral carry an NSEC (NSEC3) proof; every answer its
        // RRSIGs.
        let (_, answer, authority) = a;
        let has = |v: &[String], t: &str| v.iter().any(|r| r.split(' ').nth(3) == Some(t));
        if answer.is_empty() {
            assert!(
                has(&authority, denial),
                "{label}: {name} {qtype}: {authority:?}"
            );
        } else {
            assert!(has(&answer, "rrsig"), "{label}: {name} {qtype}: {answer:?}");
        }
    }
    // TC accounts for the signatures: with a 512-octet EDNS buffer a signed NXDOMAIN (SOA, two
    // NSECs, three RRSIGs) does not fit, so it comes back truncated, never cut mid-proof.
    let out = dig(
        ours,
        &["+dnssec", "+norec", "+ignore", "+bufsize=512"],
        "99.2.0.192.in-addr.arpa.",
        "NAPTR",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let size: usize = text
        .lines()
        .find_map(|l| l.split("MSG SIZE  rcvd: ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(usize::MAX);
    let flags = text
        .lines()
        .find_map(|l| l.split(";; flags: ").nth(1))
        .unwrap_or_default();
    assert!(size <= 512, "{label}: {text}");
    assert!(flags.contains("tc"), "{label}: {text}");
}

#[test]
fn signing_responder_validates_through_unbound_and_matches_nsd() {
    for tool in [("dig", "bind9-dnsutils")] {
        if !require_tool_or_skip(tool.0, tool.1) {
            return;
        }
    }
    let dir = Dir::new("sign");
    dir.write_zone(REVERSE_ORIGIN, REVERSE);
    dir.write_zone(FORWARD_ORIGIN, FORWARD);
    let config = write_config(dir.path(), "sign");
    let served = Served::start(&config);
    let server = served.addr.to_string();
    // Keys were created on first start; their DS is the trust anchor.
    let anchor_text = anchors(&dir.path().join("keys"));
    let ta = dir.path().join("anchors.txt");
    std::fs::write(&ta, &anchor_text).unwrap();
    let ta = ta.to_string_lossy().into_owned();

    // (d) altodisc's resolver directly against the responder: NSEC-proven NXDOMAIN at R32 for
    // .10 then a secure R24 NAPTR; a secure R32 NAPTR for .34; the access domain via resolve.
    for (addr, uri, label) in [
        ("192.0.2.10", "https://alto.example.net/r24", "R24"),
        ("192.0.2.34", "https://alto.example.net/r32", "R32"),
        ("192.0.2.12", "https://alto.example.net/r32", "R32"),
    ] {
        let out = crate::dnssec::require_authoritative("xdom", &server, &ta, addr);
        assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", served.log());
        let v = json(&out);
        assert_eq!(v["matched_label"], label, "{v}");
        assert_eq!(v["degraded"], false, "{v}");
        assert_eq!(v["candidates"][0]["uri"], uri, "{v}");
        assert_eq!(v["candidates"][0]["dnssec"], "secure", "{v}");
    }
    let out = crate::dnssec::require_authoritative("resolve", &server, &ta, "example.net");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["candidates"][0]["dnssec"], "secure", "{v}");
    // DO=0: no DNSSEC records in answers (RFC 4035 §3.1: only with DO or asked by type).
    let plain = dig(
        served.addr,
        &["+norec"],
        "10.2.0.192.in-addr.arpa.",
        "NAPTR",
    );
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.contains("NXDOMAIN") && !plain.contains("RRSIG") && !plain.contains("NSEC"));

    // (b) The zone pulled by AXFR verifies.
    let pulled = axfr(served.addr, REVERSE_ORIGIN);
    let pulled_file = dir.path().join("pulled.zone");
    std::fs::write(&pulled_file, &pulled).unwrap();
    let f = pulled_file.to_string_lossy().into_owned();
    let run = |bin: &str, args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}\n{}\n--- zone ---\n{pulled}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if require_tool_or_skip("ldns-verify-zone", "ldnsutils") {
        run("ldns-verify-zone", &[&f]);
    }
    if require_tool_or_skip("kzonecheck", "knot-dnssecutils") {
        run("kzonecheck", &["-o", REVERSE_ORIGIN, "-d", "on", &f]);
    }

    // (a) unbound validating with stub zones at altodisc: AD on the NAPTR answer and on the
    // NXDOMAIN at R32; altodisc xdom through it reports secure.
    if require_tool_or_skip("unbound", "unbound") {
        let unbound = Unbound::start(
            &[(REVERSE_ORIGIN, served.addr), (FORWARD_ORIGIN, served.addr)],
            &anchor_text,
            &[],
        )
        .unwrap();
        let hit = dig_flags(unbound.addr(), "34.2.0.192.in-addr.arpa.", "NAPTR");
        assert!(
            hit.contains("NOERROR") && hit.contains(" ad") && hit.contains("NAPTR"),
            "AD on the NAPTR answer: {hit}\n{}",
            unbound.log_tail()
        );
        let miss = dig_flags(unbound.addr(), "10.2.0.192.in-addr.arpa.", "NAPTR");
        assert!(
            miss.contains("NXDOMAIN") && miss.contains(" ad"),
            "AD on the NXDOMAIN: {miss}\n{}",
            unbound.log_tail()
        );
        crate::dnssec::xdom_secure_through(&unbound, &ta);
    }

    // (c) NSD serving the same signed zone (as pulled) answers DO=1 queries like altodisc.
    if require_or_skip(PeerKind::Nsd) {
        let nsd =
            Peer::start(PeerKind::Nsd, &[Zone::text(REVERSE_ORIGIN, pulled.clone())]).unwrap();
        compare_with_nsd(served.addr, nsd.addr(), "sign", "nsec");
        // ANY with DO=0 on the signed zone: one RRset and no RRSIG or NSEC (RFC 8482 §4.2,
        // RFC 4035 §3.1), like NSD; at the apex NSD picks SOA, altodisc (like Knot) the lowest
        // type, NS.
        for name in ["34.2.0.192.in-addr.arpa.", "12.2.0.192.in-addr.arpa."] {
            let ours = plain_answer(served.addr, name, "ANY");
            assert_eq!(ours, plain_answer(nsd.addr(), name, "ANY"), "{name} ANY");
            assert_eq!(ours.len(), 1, "{name} ANY: {ours:?}");
        }
        let apex = plain_answer(served.addr, REVERSE_ORIGIN, "ANY");
        assert_eq!(
            apex,
            vec![format!("{REVERSE_ORIGIN} 300 in ns ns.example.net.")],
            "apex ANY"
        );

        // And altodisc with dnssec = "presigned" serving that file unchanged.
        let pre = Dir::new("presigned");
        pre.write_zone(REVERSE_ORIGIN, &pulled);
        let config = write_config(pre.path(), "presigned");
        let presigned = Served::start(&config);
        compare_with_nsd(presigned.addr, nsd.addr(), "presigned", "nsec");
        assert!(!pre.path().join("keys").exists(), "presigned makes no keys");
    }

    // An accepted reload signs the new serial: change the R32 URI, SIGHUP, and the new data
    // validates with the same anchor (the keys are reused from key_dir).
    let changed = REVERSE
        .replace(" 1 3600 900", " 2 3600 900")
        .replace("alto.example.net/r32", "alto.example.net/r32-new");
    dir.write_zone(REVERSE_ORIGIN, &changed);
    let (before, _, _) = signed_soa(served.addr);
    let hup = Command::new("kill")
        .args(["-HUP", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // The signed serial is the signer's (zone_signing module docs), above the file's 2.
        let soa = sections(served.addr, REVERSE_ORIGIN, "SOA").1;
        if signed_soa(served.addr).0 > before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reload not seen: {soa:?}\n{}",
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = crate::dnssec::require_authoritative("xdom", &server, &ta, "192.0.2.34");
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", served.log());
    let v = json(&out);
    assert_eq!(
        v["candidates"][0]["uri"], "https://alto.example.net/r32-new",
        "{v}"
    );
    assert_eq!(v["candidates"][0]["dnssec"], "secure", "{v}");
}

/// `denial = "nsec3"` (RFC 5155, RFC 9276 defaults) and then with opt-out and a salt: the zone
/// pulled by AXFR has an NSEC3 chain and passes ldns-verify-zone and kzonecheck -d on; unbound,
/// validating with the zone's DS as trust anchor through a stub zone at altodisc, sets AD on the
/// NXDOMAIN, NODATA, wildcard, wildcard NODATA and empty non-terminal answers (no SERVFAIL); NSD
/// serving the same altodisc-signed text answers DO=1 queries with the same sections.
#[test]
fn nsec3_signing_responder_validates_through_unbound_and_matches_nsd() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") {
        return;
    }
    for (tag, extra) in [
        ("nsec3", "denial = \"nsec3\"\n"),
        (
            "nsec3-optout",
            "[serve.denial_zones]\n\"2.0.192.in-addr.arpa.\" = \"nsec3\"\n\
             \"example.net.\" = \"nsec3\"\n",
        ),
    ] {
        let dir = Dir::new(tag);
        dir.write_zone(REVERSE_ORIGIN, REVERSE);
        dir.write_zone(FORWARD_ORIGIN, FORWARD);
        let opt_out = tag == "nsec3-optout";
        let extra = if opt_out {
            format!("nsec3_opt_out = true\nnsec3_salt = \"ABCD\"\nnsec3_iterations = 1\n{extra}")
        } else {
            extra.to_owned()
        };
        let config = write_config_with(dir.path(), "sign", &extra);
        let served = Served::start(&config);
        let anchor_text = anchors(&dir.path().join("keys"));

        let pulled = axfr(served.addr, REVERSE_ORIGIN);
        let types = |t: &str| {
            pulled
                .lines()
                .filter(|l| l.split_whitespace().nth(3) == Some(t))
                .count()
        };
        assert_eq!(types("NSEC"), 0, "{tag}: {pulled}");
        assert_eq!(types("NSEC3PARAM"), 1, "{tag}: {pulled}");
        // apex, 12, 34, a.b.c, b.c, c, *.w, w, x.w, and sub unless opted out.
        let expected = if tag == "nsec3" { 10 } else { 9 };
        assert_eq!(types("NSEC3"), expected, "{tag}: {pulled}");
        let pulled_file = dir.path().join("pulled.zone");
        std::fs::write(&pulled_file, &pulled).unwrap();
        let f = pulled_file.to_string_lossy().into_owned();
        let run = |bin: &str, args: &[&str]| {
            let out = Command::new(bin).args(args).output().unwrap();
            assert!(
                out.status.success(),
                "{tag}: {bin} {args:?}: {}\n{}\n--- zone ---\n{pulled}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        if require_tool_or_skip("ldns-verify-zone", "ldnsutils") {
            run("ldns-verify-zone", &[&f]);
        }
        if require_tool_or_skip("kzonecheck", "knot-dnssecutils") {
            run("kzonecheck", &["-o", REVERSE_ORIGIN, "-d", "on", &f]);
        }

        if require_tool_or_skip("unbound", "unbound") {
            let unbound = Unbound::start(
                &[(REVERSE_ORIGIN, served.addr), (FORWARD_ORIGIN, served.addr)],
                &anchor_text,
                &[],
            )
            .unwrap();
            // The last field: proven by an NSEC3 that covers a name (next closer, wildcard).
            // With opt-out such a proof shows only that no signed name is there, so a
            // validator answers it as insecure, without AD (RFC 5155 §6, §8.3); the answers
            // proven by a matching NSEC3, and positive answers, stay secure.
            for (name, qtype, status, by_cover) in [
                ("34.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR", false),
                ("10.2.0.192.in-addr.arpa.", "NAPTR", "NXDOMAIN", true),
                ("q.x.w.2.0.192.in-addr.arpa.", "NAPTR", "NXDOMAIN", true),
                ("34.2.0.192.in-addr.arpa.", "TXT", "NOERROR", false),
                ("y.w.2.0.192.in-addr.arpa.", "TXT", "NOERROR", true),
                ("y.w.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR", true),
                ("c.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR", false),
                ("b.c.2.0.192.in-addr.arpa.", "PTR", "NOERROR", false),
                ("12.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR", false),
                ("example.net.", "TXT", "NOERROR", false),
                ("nothere.example.net.", "NAPTR", "NXDOMAIN", true),
            ] {
                let text = dig_flags(unbound.addr(), name, qtype);
                let secure = text.contains(" ad");
                assert!(
                    text.contains(&format!("status: {status}"))
                        && (secure || (opt_out && by_cover)),
                    "{tag}: AD on {name} {qtype} ({status}): {text}\n{}",
                    unbound.log_tail()
                );
                // Opt-out, by cover: insecure, not secure.
                assert!(!(opt_out && by_cover && secure), "{tag}: {text}");
            }
            // Below the delegation: insecure (no DS), never bogus. The child's servers do not
            // exist, so unbound fails to reach them; what matters is that it did not judge the
            // referral's NSEC3 proof bogus.
            let log = unbound.log_tail();
            assert!(!log.contains("bogus"), "{tag}: {log}");
        }

        if require_or_skip(PeerKind::Nsd) {
            let nsd =
                Peer::start(PeerKind::Nsd, &[Zone::text(REVERSE_ORIGIN, pulled.clone())]).unwrap();
            compare_with_nsd(served.addr, nsd.addr(), tag, "nsec3");
            // And altodisc serving that text as presigned.
            let pre = Dir::new(&format!("{tag}-presigned"));
            pre.write_zone(REVERSE_ORIGIN, &pulled);
            let presigned = Served::start(&write_config(pre.path(), "presigned"));
            compare_with_nsd(
                presigned.addr,
                nsd.addr(),
                &format!("{tag} presigned"),
                "nsec3",
            );
        }
    }
}

/// The apex SOA serial of `server`'s reverse zone and the expiration and inception
/// (`YYYYMMDDHHmmSS`, so they compare as text) of the SOA's RRSIG, from a DO=1 query.
fn signed_soa(server: SocketAddr) -> (u32, String, String) {
    let (status, answer, _) = sections(server, REVERSE_ORIGIN, "SOA");
    let field = |t: &str, i: usize| {
        answer
            .iter()
            .map(|r| r.split(' ').collect::<Vec<_>>())
            .find(|f| f.get(3) == Some(&t) && (t == "soa" || f.get(4) == Some(&"soa")))
            .and_then(|f| f.get(i).map(|s| (*s).to_owned()))
            .unwrap_or_else(|| panic!("{server}: no {t} in {status} {answer:?}"))
    };
    (
        field("soa", 6).parse().unwrap(),
        field("rrsig", 8),
        field("rrsig", 9),
    )
}

/// The re-sign timer end to end: signatures valid 20 s and refreshed 15 s before
/// expiry make `serve` re-sign about every 5 s with no SIGHUP and no file polling. Each re-sign
/// publishes a higher SOA serial with fresh RRSIG times, is NOTIFYed to an NSD secondary (the
/// `notify` list is re-read by the timer's reload), NSD transfers it, and both altodisc and the
/// secondary answer `secure` for the trust anchor. The serial survives a restart (serial_file).
#[test]
fn resign_timer_raises_the_serial_and_reaches_an_nsd_secondary() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") || !require_or_skip(PeerKind::Nsd) {
        return;
    }
    let dir = Dir::new("resign");
    for (origin, text) in [(REVERSE_ORIGIN, REVERSE), (FORWARD_ORIGIN, FORWARD)] {
        dir.write_zone(origin, text);
    }
    let config = dir.path().join("publish.toml");
    let write = |notify: &str| {
        std::fs::write(
            &config,
            format!(
                "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
                 signature_validity = \"20s\"\nrefresh_before = \"15s\"\n\
                 serial_file = \"serials\"\nallow_transfer = [\"127.0.0.1\"]\nnotify = [{notify}]\n"
            ),
        )
        .unwrap();
    };
    write("");
    let served = Served::start(&config);
    let anchor = dir.path().join("anchors.txt");
    std::fs::write(&anchor, anchors(&dir.path().join("keys"))).unwrap();
    let ta = anchor.to_string_lossy().into_owned();
    let first = signed_soa(served.addr);

    let nsd = Peer::start_secondary(
        PeerKind::Nsd,
        served.addr,
        &[REVERSE_ORIGIN],
        std::time::Duration::from_secs(20),
    )
    .expect("NSD transfers the signed zone");
    let on_nsd = signed_soa(nsd.addr());
    assert!(on_nsd.0 >= first.0, "{on_nsd:?} {first:?}");
    // No SIGHUP, no polling (--watch 0): only the re-sign timer reloads, and its reload reads
    // the notify list written now.
    write(&format!("\"{}\"", nsd.addr()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let fresh = loop {
        let now = signed_soa(nsd.addr());
        if now.0 > on_nsd.0 {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "NSD stayed at {now:?}\n{}\n{}",
            nsd.log_tail(),
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Fresh signatures came with the higher serial: later inception and expiration.
    assert!(
        fresh.1 > on_nsd.1 && fresh.2 > on_nsd.2,
        "{fresh:?} {on_nsd:?}"
    );
    let log = served.log();
    assert!(log.contains("signature refresh"), "{log}");
    assert!(!log.contains("SIGHUP"), "{log}");
    // The primary has moved on too, and the signer's serial is persisted.
    let ours = signed_soa(served.addr);
    assert!(ours.0 >= fresh.0, "{ours:?} {fresh:?}");
    let state = std::fs::read_to_string(dir.path().join("serials")).unwrap();
    assert!(
        state
            .lines()
            .any(|l| l.starts_with(&format!("signed:{REVERSE_ORIGIN} "))),
        "{state}"
    );

    // Answers stay secure: from altodisc and from the secondary serving the transferred zone
    // (which serves only the reverse zone, so its anchor file holds only that zone's DS).
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    let reverse_ta = dir.path().join("reverse-anchor.txt");
    std::fs::write(
        &reverse_ta,
        ZoneKeys::load_or_create(&dir.path().join("keys"), &reverse)
            .unwrap()
            .ds_text(&reverse)
            .unwrap(),
    )
    .unwrap();
    let reverse_ta = reverse_ta.to_string_lossy().into_owned();
    for (server, ta) in [(served.addr, &ta), (nsd.addr(), &reverse_ta)] {
        let out =
            crate::dnssec::require_authoritative("xdom", &server.to_string(), ta, "192.0.2.34");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{server}: {out:?}\n{}",
            served.log()
        );
        let v = json(&out);
        assert_eq!(v["candidates"][0]["dnssec"], "secure", "{server}: {v}");
    }
    let out = crate::dnssec::require_authoritative(
        "resolve",
        &served.addr.to_string(),
        &ta,
        "example.net",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["candidates"][0]["dnssec"], "secure");

    // A restart continues above the last published serial (from serial_file when within the
    // same second, from the clock otherwise).
    let last = signed_soa(served.addr).0;
    drop(served);
    let again = Served::start(&config);
    let restarted = signed_soa(again.addr).0;
    assert!(
        restarted > last && restarted.wrapping_sub(last) < 1 << 31,
        "{restarted} after {last}"
    );
    drop(again);
    drop(nsd);
}

#[test]
fn presigned_mode_refuses_an_unsigned_zone() {
    let dir = Dir::new("unsigned");
    dir.write_zone(FORWARD_ORIGIN, FORWARD);
    let config = write_config(dir.path(), "presigned");
    let log = dir.path().join("serve.log");
    let mut child = spawn_serve(&config, Stdio::null(), &log);
    // It must refuse to start; bounded wait so a wrong start fails instead of hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = status.expect("serve started with an unsigned zone under dnssec = presigned");
    assert!(!status.success());
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        err.contains("presigned") && err.contains("example.net."),
        "{err}"
    );
}

/// Answers every NOTIFY arriving on `sock` (RFC 1996 §4.7: the response echoes the question)
/// until `quiet` passes without one; returns the zones notified.
fn notified(sock: &std::net::UdpSocket, quiet: std::time::Duration) -> Vec<String> {
    use hickory_proto::op::{Message, MessageType};
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut zones = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        let zone = m.queries[0].name().to_string();
        let mut ack = Message::new(m.metadata.id, MessageType::Response, m.metadata.op_code);
        ack.add_query(m.queries[0].clone());
        sock.send_to(&ack.to_vec().unwrap(), from).unwrap();
        zones.push(zone);
    }
    zones.sort();
    zones.dedup();
    zones
}

/// A SIGHUP with nothing changed re-signs nothing: every SOA serial stays and no secondary is
/// NOTIFYed (otherwise each would transfer every zone again). A changed zone still gets a higher
/// serial and a NOTIFY, and only it.
#[test]
fn a_no_op_sighup_keeps_every_serial_and_notifies_nobody() {
    use hickory_proto::rr::RecordType;
    let dir = Dir::new("noop");
    for (origin, text) in [(REVERSE_ORIGIN, REVERSE), (FORWARD_ORIGIN, FORWARD)] {
        dir.write_zone(origin, text);
    }
    let secondary = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = dir.path().join("publish.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
             notify = [\"{}\"]\n",
            secondary.local_addr().unwrap()
        ),
    )
    .unwrap();
    let served = Served::start(&config);
    let quiet = std::time::Duration::from_secs(2);
    // A started primary NOTIFYs every zone once (sorted: "2.0..." before "example...").
    assert_eq!(
        notified(&secondary, quiet),
        [REVERSE_ORIGIN.to_owned(), FORWARD_ORIGIN.to_owned()]
    );
    let sock = crate::ops::udp_socket("127.0.0.1:0");
    let serial = |zone: &str, id: u16| {
        let m = crate::ops::exchange(&sock, served.addr, zone, RecordType::SOA, id).unwrap();
        match &m.answers[0].data {
            hickory_proto::rr::RData::SOA(soa) => soa.serial,
            other => panic!("not an SOA: {other:?}"),
        }
    };
    let before = (serial(REVERSE_ORIGIN, 1), serial(FORWARD_ORIGIN, 2));
    let reloads = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while served.log().matches("reloaded").count() < n {
            assert!(std::time::Instant::now() < deadline, "{}", served.log());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let hup = || {
        assert!(
            Command::new("kill")
                .args(["-HUP", &served.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    hup();
    reloads(1);
    assert!(served.log().contains("changed=0"), "{}", served.log());
    assert_eq!(
        (serial(REVERSE_ORIGIN, 3), serial(FORWARD_ORIGIN, 4)),
        before
    );
    assert_eq!(notified(&secondary, quiet), Vec::<String>::new());
    // The forward zone changes: only it gets a higher serial and a NOTIFY.
    dir.write_zone(FORWARD_ORIGIN, &FORWARD.replace("192.0.2.53", "192.0.2.54"));
    hup();
    reloads(2);
    assert_eq!(serial(REVERSE_ORIGIN, 5), before.0);
    assert!(serial(FORWARD_ORIGIN, 6) > before.1);
    assert_eq!(notified(&secondary, quiet), [FORWARD_ORIGIN.to_owned()]);
}

/// Bad key material never takes a signed zone down: with its KSK file damaged under a running
/// `serve`, a reload of the changed zone fails with an error naming the key file, and the
/// previous signed version keeps serving (same serial, still validating); restoring the file
/// lets the next reload through. A key directory that cannot be made is named at start.
#[test]
fn a_damaged_key_file_is_named_and_the_old_signed_zone_keeps_serving() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") {
        return;
    }
    let dir = Dir::new("badkey");
    dir.write_zone(REVERSE_ORIGIN, REVERSE);
    let config = write_config_with(dir.path(), "sign", "denial = \"nsec3\"\n");
    let served = Served::start(&config);
    let ta = dir.path().join("anchor.txt");
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    std::fs::write(
        &ta,
        ZoneKeys::load_or_create(&dir.path().join("keys"), &reverse)
            .unwrap()
            .ds_text(&reverse)
            .unwrap(),
    )
    .unwrap();
    let ta = ta.to_string_lossy().into_owned();
    let (before, _, _) = signed_soa(served.addr);
    let ksk = dir.path().join(format!("keys/{REVERSE_ORIGIN}ksk.pk8"));
    let good = std::fs::read(&ksk).unwrap();
    std::fs::write(&ksk, b"not a key").unwrap();
    dir.write_zone(
        REVERSE_ORIGIN,
        &REVERSE.replace("alto.example.net/r32", "alto.example.net/r32-new"),
    );
    let hup = || {
        assert!(
            Command::new("kill")
                .args(["-HUP", &served.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    };
    hup();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !served.log().contains("ksk.pk8") {
        assert!(
            std::time::Instant::now() < deadline,
            "no error naming the key file:\n{}",
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Still the old signed zone, still secure.
    assert_eq!(signed_soa(served.addr).0, before);
    let out =
        crate::dnssec::require_authoritative("xdom", &served.addr.to_string(), &ta, "192.0.2.34");
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", served.log());
    let v = json(&out);
    assert_eq!(
        v["candidates"][0]["uri"], "https://alto.example.net/r32",
        "{v}"
    );
    assert_eq!(v["candidates"][0]["dnssec"], "secure", "{v}");
    assert!(!served.log().contains("panicked"), "{}", served.log());
    // The key restored: the change goes through, signed with the same keys.
    std::fs::write(&ksk, &good).unwrap();
    hup();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while signed_soa(served.addr).0 == before {
        assert!(std::time::Instant::now() < deadline, "{}", served.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out =
        crate::dnssec::require_authoritative("xdom", &served.addr.to_string(), &ta, "192.0.2.34");
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", served.log());
    assert_eq!(
        json(&out)["candidates"][0]["uri"],
        "https://alto.example.net/r32-new"
    );
    drop(served);

    // key_dir below a regular file: the start fails naming it.
    let blocked = Dir::new("blocked");
    blocked.write_zone(REVERSE_ORIGIN, REVERSE);
    std::fs::write(blocked.path().join("notadir"), b"x").unwrap();
    let config = blocked.path().join("publish.toml");
    std::fs::write(
        &config,
        "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"notadir/keys\"\n",
    )
    .unwrap();
    let log = blocked.path().join("serve.log");
    let mut child = spawn_serve(&config, Stdio::null(), &log);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = status.expect("serve started although no zone could be signed");
    assert!(!status.success());
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(err.contains("notadir"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Automatic ZSK rollover by pre-publication (RFC 6781 §4.1.1.1) with lifetimes shortened to
/// seconds (TTLs of 1 s, ZSK lifetime 4 s, propagation delay 1 s): unbound, validating with the
/// KSK's DS as trust anchor, answers with AD every few hundred ms throughout, never SERVFAIL,
/// while altodisc publishes a new ZSK, signs with it and withdraws the old one, more than once.
#[test]
fn zsk_rollover_keeps_unbound_validating_throughout() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") || !require_tool_or_skip("unbound", "unbound")
    {
        return;
    }
    let dir = Dir::new("zskroll");
    let fast = REVERSE.replace("$TTL 300", "$TTL 1").replace(
        "@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60",
        "@ 1 SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 1",
    );
    assert_ne!(fast, REVERSE);
    dir.write_zone(REVERSE_ORIGIN, &fast);
    let config = dir.path().join("publish.toml");
    std::fs::write(
        &config,
        "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
         signature_validity = \"1h\"\nrefresh_before = \"30m\"\n\
         zsk_lifetime = \"4s\"\npropagation_delay = \"1s\"\n",
    )
    .unwrap();
    let served = Served::start(&config);
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    let anchor = ZoneKeys::load_or_create(&dir.path().join("keys"), &reverse)
        .unwrap()
        .ds_text(&reverse)
        .unwrap();
    let unbound = Unbound::start(&[(REVERSE_ORIGIN, served.addr)], &anchor, &[]).unwrap();
    let started = std::time::Instant::now();
    let mut signing_tags = std::collections::BTreeSet::new();
    let mut most_dnskeys = 0;
    let mut checks = 0;
    // At least 16 s (four ZSK lifetimes) and more than 40 checks, whichever takes longer: on a
    // loaded machine each `dig` takes longer, and a fixed 16 s then held fewer checks (30
    // seen), which proved less, not that anything failed. 90 s bounds the wait.
    while started.elapsed() < std::time::Duration::from_secs(16)
        || (checks <= 40 && started.elapsed() < std::time::Duration::from_secs(90))
    {
        for (name, qtype, status) in [
            ("34.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR"),
            ("10.2.0.192.in-addr.arpa.", "NAPTR", "NXDOMAIN"),
        ] {
            let text = dig_flags(unbound.addr(), name, qtype);
            assert!(
                text.contains(&format!("status: {status}")) && text.contains(" ad"),
                "after {:?}: {name} {qtype}: {text}\n{}\n{}",
                started.elapsed(),
                unbound.log_tail(),
                served.log()
            );
            checks += 1;
        }
        // What altodisc publishes: the DNSKEY count and the ZSK signing the NAPTR.
        let (_, answer, _) = sections(served.addr, REVERSE_ORIGIN, "DNSKEY");
        most_dnskeys = most_dnskeys.max(
            answer
                .iter()
                .filter(|r| r.split(' ').nth(3) == Some("dnskey"))
                .count(),
        );
        let (_, answer, _) = sections(served.addr, "34.2.0.192.in-addr.arpa.", "NAPTR");
        if let Some(tag) = answer
            .iter()
            .map(|r| r.split(' ').collect::<Vec<_>>())
            .find(|f| f.get(3) == Some(&"rrsig"))
            .and_then(|f| f.get(10).map(|s| (*s).to_owned()))
        {
            signing_tags.insert(tag);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(checks > 40, "{checks}");
    assert_eq!(
        most_dnskeys, 3,
        "a successor ZSK was pre-published beside the old one"
    );
    assert!(
        signing_tags.len() >= 2,
        "the ZSK changed: {signing_tags:?}\n{}",
        served.log()
    );
    // Stopped: the state no longer moves under the reads below.
    drop(unbound);
    drop(served);
    let state = std::fs::read_to_string(dir.path().join(format!("keys/{REVERSE_ORIGIN}zsk.state")))
        .unwrap();
    assert!(state.contains("active "), "{state}");
    // `altodisc keys status` reads the rollover state: one active ZSK, no key made or moved.
    let keys = dir.path().join("keys").to_string_lossy().into_owned();
    let out = crate::altodisc(&[
        "keys",
        "status",
        "--key-dir",
        &keys,
        "--json",
        REVERSE_ORIGIN,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    let zsks: Vec<&serde_json::Value> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["role"] == "ZSK")
        .collect();
    assert_eq!(
        zsks.iter().filter(|k| k["state"] == "active").count(),
        1,
        "{v}"
    );
    assert!(zsks.iter().all(|k| k["since"].is_u64()), "{v}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(format!("keys/{REVERSE_ORIGIN}zsk.state")))
            .unwrap(),
        state,
        "keys status changed nothing"
    );
}

/// Automatic KSK rollover by double-DS (RFC 6781 §4.1.2) with CDS/CDNSKEY (RFC 7344), lifetimes
/// in seconds: the zone's CDS names the active KSK; after `ksk_lifetime` it names a new KSK too.
/// The "parent" (unbound's trust anchors) takes both DS from the CDS; `altodisc keys ds-seen`
/// confirms it; after the parent's DS TTL the new KSK replaces the old one in the DNSKEY RRset
/// and the CDS names it alone. unbound answers with AD throughout, never SERVFAIL; the old KSK
/// is not retired before `ds-seen`.
#[test]
fn ksk_double_ds_rollover_with_cds_keeps_unbound_validating() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") || !require_tool_or_skip("unbound", "unbound")
    {
        return;
    }
    let dir = Dir::new("kskroll");
    let fast = REVERSE.replace("$TTL 300", "$TTL 1").replace(
        "@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60",
        "@ 1 SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 1",
    );
    dir.write_zone(REVERSE_ORIGIN, &fast);
    let config = dir.path().join("publish.toml");
    std::fs::write(
        &config,
        "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
         signature_validity = \"1h\"\nrefresh_before = \"30m\"\n\
         ksk_lifetime = \"3s\"\nparent_ds_ttl = \"1s\"\npropagation_delay = \"1s\"\n\
         allow_transfer = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let served = Served::start(&config);
    let records = |qtype: &str| -> Vec<Vec<String>> {
        sections(served.addr, REVERSE_ORIGIN, qtype)
            .1
            .iter()
            .map(|r| r.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| f.get(3).map(String::as_str) == Some(&qtype.to_lowercase()))
            .collect()
    };
    let ksk_tags = || -> Vec<String> { records("CDS").iter().map(|f| f[4].clone()).collect() };
    // Before the lifetime: one CDS, the active KSK.
    let first = ksk_tags();
    assert_eq!(first.len(), 1, "{first:?}\n{}", served.log());
    // The successor is made: two CDS (and CDNSKEY).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let both = loop {
        let tags = ksk_tags();
        if tags.len() == 2 {
            break tags;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{tags:?}\n{}",
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(records("CDNSKEY").len(), 2);
    let new_tag = both.iter().find(|t| **t != first[0]).unwrap().clone();
    // The parent publishes the DS the CDS asks for (double-DS): unbound's trust anchors.
    let anchors: String = records("CDS")
        .iter()
        .map(|f| format!("{REVERSE_ORIGIN} 3600 IN DS {}\n", f[4..].join(" ")))
        .collect();
    let unbound = Unbound::start(&[(REVERSE_ORIGIN, served.addr)], &anchors, &[]).unwrap();
    let started = std::time::Instant::now();
    let dnskey_tags = || -> Vec<String> {
        let (_, answer, _) = sections(served.addr, REVERSE_ORIGIN, "DNSKEY");
        answer
            .iter()
            .map(|r| r.split(' ').collect::<Vec<_>>())
            .filter(|f| f.get(3) == Some(&"rrsig") && f.get(4) == Some(&"dnskey"))
            .filter_map(|f| f.get(10).map(|s| (*s).to_owned()))
            .collect()
    };
    let mut confirmed = false;
    let mut swapped_at = None;
    let mut checks = 0;
    while swapped_at
        .is_none_or(|t: std::time::Instant| t.elapsed() < std::time::Duration::from_secs(4))
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "no swap\n{}",
            served.log()
        );
        for (name, qtype, status) in [
            ("34.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR"),
            ("10.2.0.192.in-addr.arpa.", "NAPTR", "NXDOMAIN"),
        ] {
            let text = dig_flags(unbound.addr(), name, qtype);
            assert!(
                text.contains(&format!("status: {status}")) && text.contains(" ad"),
                "after {:?}: {name} {qtype}: {text}\n{}\n{}",
                started.elapsed(),
                unbound.log_tail(),
                served.log()
            );
            checks += 1;
        }
        let signers = dnskey_tags();
        if !confirmed {
            // Without ds-seen the old KSK keeps signing, whatever its age.
            assert_eq!(signers, vec![first[0].clone()], "{}", served.log());
            if started.elapsed() > std::time::Duration::from_secs(3) {
                let keys = dir.path().join("keys").to_string_lossy().into_owned();
                let out = crate::altodisc(&["keys", "ds-seen", "--key-dir", &keys, REVERSE_ORIGIN]);
                assert_eq!(out.status.code(), Some(0), "{out:?}");
                assert!(String::from_utf8_lossy(&out.stdout).contains(&new_tag));
                assert!(
                    Command::new("kill")
                        .args(["-HUP", &served.child.id().to_string()])
                        .status()
                        .unwrap()
                        .success()
                );
                confirmed = true;
            }
        } else if swapped_at.is_none() && signers == vec![new_tag.clone()] {
            swapped_at = Some(std::time::Instant::now());
            // The CDS now names the new KSK alone: the parent may drop the old DS.
            assert_eq!(ksk_tags(), vec![new_tag.clone()]);
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(checks > 20, "{checks}");
    // The zone with its CDS/CDNSKEY, pulled by AXFR, passes ldns-verify-zone and kzonecheck.
    let pulled = axfr(served.addr, REVERSE_ORIGIN);
    assert!(
        pulled.contains("CDS") && pulled.contains("CDNSKEY"),
        "{pulled}"
    );
    let file = dir.path().join("pulled.zone");
    std::fs::write(&file, &pulled).unwrap();
    let f = file.to_string_lossy().into_owned();
    for (bin, args) in [
        ("ldns-verify-zone", vec![f.as_str()]),
        (
            "kzonecheck",
            vec!["-o", REVERSE_ORIGIN, "-d", "on", f.as_str()],
        ),
    ] {
        if require_tool_or_skip(bin, "ldnsutils / knot-dnssecutils") {
            let out = Command::new(bin).args(&args).output().unwrap();
            assert!(out.status.success(), "{bin}: {out:?}\n{pulled}");
        }
    }
    // ds-seen for a zone without a KSK rollover: a clear error.
    let keys = dir.path().join("keys").to_string_lossy().into_owned();
    let out = crate::altodisc(&["keys", "ds-seen", "--key-dir", &keys, "example.org."]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no KSK rollover under way"));
}

/// The fast-TTL reverse zone of the rollover tests: every TTL 1 s, so caches follow the
/// rollover steps within seconds.
fn fast_reverse() -> String {
    let fast = REVERSE.replace("$TTL 300", "$TTL 1").replace(
        "@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 60",
        "@ 1 SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 1",
    );
    assert_ne!(fast, REVERSE);
    fast
}

/// What a validating look through unbound gave.
#[derive(Debug, PartialEq, Eq)]
enum Look {
    /// The expected status with AD.
    Secure,
    /// SERVFAIL.
    ServFail,
    /// No answer within dig's timeout.
    Timeout,
    /// Anything else (the dig text).
    Other(String),
}

/// `dig +dnssec` through unbound for `name qtype`, expecting `status` with AD; `quick` gives
/// dig one try of 1 s (for looks while the authoritative server is down).
fn look(unbound: SocketAddr, name: &str, qtype: &str, status: &str, quick: bool) -> Look {
    let flags: &[&str] = if quick {
        &["+dnssec", "+time=1", "+tries=1"]
    } else {
        &["+dnssec"]
    };
    let text = String::from_utf8_lossy(&dig(unbound, flags, name, qtype).stdout).into_owned();
    if text.contains(&format!("status: {status}")) && text.contains(" ad") {
        Look::Secure
    } else if text.contains("status: SERVFAIL") {
        Look::ServFail
    } else if text.contains("timed out") || text.contains("no servers could be reached") {
        Look::Timeout
    } else {
        Look::Other(text)
    }
}

/// Looks through unbound after a restart until both [`LOOKS`] are secure again (at most 30 s),
/// returning how many failed (SERVFAIL or timeout) meanwhile: unbound holds a server that timed
/// out as down for a while (its infra cache) and answers SERVFAIL until it tries it again, so
/// these belong to the outage, like the looks while the server was down.
fn recovery(unbound: SocketAddr) -> usize {
    let back = std::time::Instant::now();
    let mut failed = 0;
    loop {
        let mut secure = true;
        for (name, qtype, status) in LOOKS {
            match look(unbound, name, qtype, status, true) {
                Look::Secure => {}
                Look::ServFail | Look::Timeout => {
                    secure = false;
                    failed += 1;
                }
                Look::Other(text) => panic!("after the restart: {text}"),
            }
        }
        if secure {
            return failed;
        }
        assert!(
            back.elapsed() < std::time::Duration::from_secs(30),
            "unbound still fails 30 s after the restart ({failed} looks)"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The NAPTR hit and the NXDOMAIN of the reverse zone through unbound.
const LOOKS: [(&str, &str, &str); 2] = [
    ("34.2.0.192.in-addr.arpa.", "NAPTR", "NOERROR"),
    ("10.2.0.192.in-addr.arpa.", "NAPTR", "NXDOMAIN"),
];

/// The records of type `qtype` at `owner` from `server` (DO=1), each split into fields.
fn rrset(server: SocketAddr, owner: &str, qtype: &str) -> Vec<Vec<String>> {
    sections(server, owner, qtype)
        .1
        .iter()
        .map(|r| r.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|f| f.get(3).map(String::as_str) == Some(&qtype.to_lowercase()))
        .collect()
}

/// Key tags of the RRSIGs over `covered` at `owner` (the keys signing it now).
fn signer_tags(server: SocketAddr, owner: &str, qtype: &str, covered: &str) -> Vec<String> {
    let (_, answer, _) = sections(server, owner, qtype);
    answer
        .iter()
        .map(|r| r.split(' ').collect::<Vec<_>>())
        .filter(|f| f.get(3) == Some(&"rrsig") && f.get(4) == Some(&covered))
        .filter_map(|f| f.get(10).map(|s| (*s).to_owned()))
        .collect()
}

/// The key files in `dir`, sorted.
fn key_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pk8"))
        .collect();
    files.sort();
    files
}

/// The rollover state persisted in `key_dir` carries a ZSK pre-publication rollover across a
/// restart (RFC 6781 §4.1.1.1): `serve` is stopped by SIGTERM while a successor ZSK is
/// published but not yet signing, and started again on the same key_dir and address. The
/// successor is taken up from the state file (no new key file, same key tag, same `since`),
/// starts signing when its wait from before the restart is over, and the old ZSK is then
/// withdrawn. unbound, validating with the KSK's DS, answers with AD on every look while
/// `serve` runs; looks while it is down are counted apart (they may SERVFAIL or time out), and
/// so are those right after the restart until unbound tries the server again (see
/// [`recovery`]); from then on every look is secure again.
#[test]
fn a_restart_continues_the_zsk_rollover_where_it_stood() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") || !require_tool_or_skip("unbound", "unbound")
    {
        return;
    }
    let dir = Dir::new("zskrestart");
    dir.write_zone(REVERSE_ORIGIN, &fast_reverse());
    let config = dir.path().join("publish.toml");
    // The successor waits DNSKEY TTL (1 s) + propagation_delay (4 s) before it signs: time
    // enough to stop and restart in between.
    std::fs::write(
        &config,
        "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
         signature_validity = \"1h\"\nrefresh_before = \"30m\"\n\
         zsk_lifetime = \"3s\"\npropagation_delay = \"4s\"\n",
    )
    .unwrap();
    let port = altodisc_testpeers::free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut served = Served::start_on(&config, &listen);
    let keys = dir.path().join("keys");
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    let anchor = ZoneKeys::load_or_create(&keys, &reverse)
        .unwrap()
        .ds_text(&reverse)
        .unwrap();
    let unbound = Unbound::start(&[(REVERSE_ORIGIN, served.addr)], &anchor, &[]).unwrap();
    let started = std::time::Instant::now();
    let mut secure = 0;
    let check_all = |served: &Served, secure: &mut usize| {
        for (name, qtype, status) in LOOKS {
            let got = look(unbound.addr(), name, qtype, status, false);
            assert_eq!(
                got,
                Look::Secure,
                "after {:?}: {name} {qtype}\n{}\n{}",
                started.elapsed(),
                unbound.log_tail(),
                served.log()
            );
            *secure += 1;
        }
    };
    // Until the successor is pre-published.
    let status = || ZoneKeys::rollover_status(&keys, &reverse).unwrap();
    let incoming = loop {
        check_all(&served, &mut secure);
        if let Some(k) = status()
            .unwrap_or_default()
            .into_iter()
            .find(|k| k.state == "incoming")
        {
            break k;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no successor ZSK\n{}",
            served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let old_signer = signer_tags(served.addr, "34.2.0.192.in-addr.arpa.", "NAPTR", "naptr");
    assert_eq!(old_signer.len(), 1, "{old_signer:?}");
    assert_ne!(old_signer[0], incoming.key_tag.to_string());
    let files_before = key_files(&keys);
    // Stop in the middle of the wait, look through unbound while down, start again.
    served.terminate();
    // Down longer than every TTL (1 s): unbound's cache no longer covers the looks.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (mut gap_secure, mut gap_servfail, mut gap_timeout) = (0, 0, 0);
    for (name, qtype, status) in LOOKS {
        match look(unbound.addr(), name, qtype, status, true) {
            Look::Secure => gap_secure += 1,
            Look::ServFail => gap_servfail += 1,
            Look::Timeout => gap_timeout += 1,
            Look::Other(text) => panic!("while down: {text}"),
        }
    }
    drop(served);
    let served = Served::start_on(&config, &listen);
    // The restart took the successor up from the state: same key, same since (or, when the
    // wait already ended, the same key now active); no new key file.
    let now = status().unwrap();
    assert!(
        now.iter().any(|k| k.key_tag == incoming.key_tag
            && k.file == incoming.file
            && (k.state == "incoming" && k.since == incoming.since || k.state == "active")),
        "{now:?} vs {incoming:?}"
    );
    assert_eq!(key_files(&keys), files_before, "no key made by the restart");
    let gap_recovery = recovery(unbound.addr());
    // The successor signs once its wait is over, and the old ZSK is withdrawn after its
    // signatures have left the caches.
    let old_tag: u16 = old_signer[0].parse().unwrap();
    let mut swapped = false;
    let mut withdrawn = false;
    while !withdrawn {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "swapped {swapped}\n{}",
            served.log()
        );
        check_all(&served, &mut secure);
        let signer = signer_tags(served.addr, "34.2.0.192.in-addr.arpa.", "NAPTR", "naptr");
        if !swapped && signer == vec![incoming.key_tag.to_string()] {
            swapped = true;
            let active = status()
                .unwrap()
                .into_iter()
                .find(|k| k.state == "active")
                .unwrap();
            assert_eq!(active.file, incoming.file);
            // Made before the restart, none since: the restart generated nothing.
            assert_eq!(key_files(&keys), files_before);
        }
        if swapped {
            withdrawn = status().unwrap().iter().all(|k| k.key_tag != old_tag);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    eprintln!(
        "ZSK rollover across a restart: {secure} looks secure while serving; while down \
         {gap_secure} secure (cached), {gap_servfail} SERVFAIL, {gap_timeout} timed out; \
         {gap_recovery} failed after the restart before unbound tried the server again"
    );
    assert!(secure > 20, "{secure}");
}

/// The parent of the reverse zone in [`ksk_rollover_waits_for_the_ds_at_the_parent_servers`].
const PARENT_ORIGIN: &str = "0.192.in-addr.arpa.";

/// A zone-file DS line from `ZoneKeys` (`... 3600 IN DS ...`) with TTL 1.
fn fast_ds(line: &str) -> String {
    let fast = line.trim().replacen(" 3600 IN DS ", " 1 IN DS ", 1);
    assert_ne!(fast, line.trim());
    format!("{fast}\n")
}

/// The automatic parent DS check (`parent_ds_check`, RFC 7344 §4.1, RFC 6781 §4.1.2) end to
/// end: the parent zone 0.192.in-addr.arpa. is served, signed, by a second altodisc with the
/// child's DS; unbound's only trust anchor is the parent's DS, so every AD on the child comes
/// through the DS the parent serves. When the child's new KSK is made (CDS names both), the
/// child asks the parent's server every second; while the parent lacks the new DS the old KSK
/// keeps signing, through a SIGTERM restart of the child too (the waiting KSK is taken up from
/// key_dir: same key tags, no new key). Once the parent publishes the new DS beside the old
/// one, the child sees it, and after the parent's DS TTL the new KSK signs the DNSKEY RRset.
/// AD on every look while the child runs; looks during the restart gap, and until unbound tries
/// the restarted child again, are counted apart (see [`recovery`]).
#[test]
fn ksk_rollover_waits_for_the_ds_at_the_parent_servers() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") || !require_tool_or_skip("unbound", "unbound")
    {
        return;
    }
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    let parent = DomainName::parse(PARENT_ORIGIN).unwrap();
    let cdir = Dir::new("dschild");
    let pdir = Dir::new("dsparent");
    let child_keys = cdir.path().join("keys");
    // The child's keys first, so the parent can carry its DS from the start.
    let first_ds = ZoneKeys::load_or_create(&child_keys, &reverse)
        .unwrap()
        .ds_text(&reverse)
        .unwrap();
    let parent_zone = format!(
        "$TTL 1\n@ SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 1\n\
         @ NS ns.example.net.\n2 NS ns.example.net.\n{}",
        fast_ds(&first_ds)
    );
    pdir.write_zone(PARENT_ORIGIN, &parent_zone);
    let parent_served = Served::start(&write_config(pdir.path(), "sign"));
    let anchor = ZoneKeys::load_or_create(&pdir.path().join("keys"), &parent)
        .unwrap()
        .ds_text(&parent)
        .unwrap();
    // The parent serves the child's DS authoritatively.
    let ds_at_parent = || rrset(parent_served.addr, REVERSE_ORIGIN, "DS");
    assert_eq!(ds_at_parent().len(), 1, "{}", parent_served.log());

    cdir.write_zone(REVERSE_ORIGIN, &fast_reverse());
    let config = cdir.path().join("publish.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\nzones_dir = \"zones\"\ndnssec = \"sign\"\nkey_dir = \"keys\"\n\
             signature_validity = \"1h\"\nrefresh_before = \"30m\"\n\
             ksk_lifetime = \"3s\"\nparent_ds_ttl = \"1s\"\npropagation_delay = \"1s\"\n\
             parent_ds_check = [\"{}\"]\nparent_ds_poll = \"1s\"\n",
            parent_served.addr
        ),
    )
    .unwrap();
    let port = altodisc_testpeers::free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Served::start_on(&config, &listen);
    let unbound = Unbound::start(
        &[
            (PARENT_ORIGIN, parent_served.addr),
            (REVERSE_ORIGIN, child.addr),
        ],
        &anchor,
        &[],
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut secure = 0;
    let check_all = |child: &Served, secure: &mut usize| {
        for (name, qtype, status) in LOOKS {
            let got = look(unbound.addr(), name, qtype, status, false);
            assert_eq!(
                got,
                Look::Secure,
                "after {:?}: {name} {qtype}\n{}\n--- child ---\n{}\n--- parent ---\n{}",
                started.elapsed(),
                unbound.log_tail(),
                child.log(),
                parent_served.log()
            );
            *secure += 1;
        }
    };
    let cds_tags = |child: &Served| -> Vec<String> {
        let mut t: Vec<String> = rrset(child.addr, REVERSE_ORIGIN, "CDS")
            .iter()
            .map(|f| f[4].clone())
            .collect();
        t.sort();
        t
    };
    let ksk_signers = |child: &Served| signer_tags(child.addr, REVERSE_ORIGIN, "DNSKEY", "dnskey");
    let old_tag = ksk_signers(&child);
    assert_eq!(old_tag.len(), 1, "{}", child.log());
    // The successor KSK is made: CDS names both.
    let both = loop {
        check_all(&child, &mut secure);
        let tags = cds_tags(&child);
        if tags.len() == 2 {
            break tags;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{tags:?}\n{}",
            child.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let new_tag = both.iter().find(|t| **t != old_tag[0]).unwrap().clone();
    let state_file = child_keys.join(format!("{REVERSE_ORIGIN}ksk.state"));
    // Several polls find only the old DS at the parent: the old KSK keeps signing, and the
    // looks at the parent re-sign nothing (same serial).
    let waiting = std::time::Instant::now();
    let serial = signed_soa(child.addr).0;
    while waiting.elapsed() < std::time::Duration::from_secs(4) {
        check_all(&child, &mut secure);
        assert_eq!(ksk_signers(&child), old_tag, "{}", child.log());
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(signed_soa(child.addr).0, serial, "{}", child.log());
    let state = std::fs::read_to_string(&state_file).unwrap();
    assert!(
        state.contains("ds_checked ") && !state.contains("ds_seen"),
        "{state}"
    );
    assert!(
        child.log().contains("not yet at the parent"),
        "{}",
        child.log()
    );
    // A restart while waiting takes the same successor up again: no new key, same CDS.
    let files_before = key_files(&child_keys);
    child.terminate();
    // Down longer than every TTL (1 s): unbound's cache no longer covers the looks.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (mut gap_secure, mut gap_servfail, mut gap_timeout) = (0, 0, 0);
    for (name, qtype, status) in LOOKS {
        match look(unbound.addr(), name, qtype, status, true) {
            Look::Secure => gap_secure += 1,
            Look::ServFail => gap_servfail += 1,
            Look::Timeout => gap_timeout += 1,
            Look::Other(text) => panic!("while down: {text}"),
        }
    }
    drop(child);
    let child = Served::start_on(&config, &listen);
    assert_eq!(cds_tags(&child), both, "{}", child.log());
    assert_eq!(key_files(&child_keys), files_before);
    let gap_recovery = recovery(unbound.addr());
    let restarted = std::time::Instant::now();
    while restarted.elapsed() < std::time::Duration::from_secs(2) {
        check_all(&child, &mut secure);
        assert_eq!(ksk_signers(&child), old_tag, "{}", child.log());
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // The parent publishes the new DS beside the old one (double-DS).
    let new_ds = ZoneKeys::ksk_status(&child_keys, &reverse)
        .unwrap()
        .unwrap()
        .into_iter()
        .find(|(k, _)| k.state == "incoming")
        .map(|(_, ds)| ds)
        .unwrap();
    assert!(new_ds.contains(&format!(" DS {new_tag} ")), "{new_ds}");
    pdir.write_zone(PARENT_ORIGIN, &format!("{parent_zone}{}", fast_ds(&new_ds)));
    parent_served.hup();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ds_at_parent().len() != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            parent_served.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let published = std::time::Instant::now();
    // The child sees it and, after the DS TTL + delay, the new KSK signs.
    let swapped = loop {
        check_all(&child, &mut secure);
        let signers = ksk_signers(&child);
        if signers == vec![new_tag.clone()] {
            break std::time::Instant::now();
        }
        assert_eq!(signers, old_tag, "{}", child.log());
        assert!(
            published.elapsed() < std::time::Duration::from_secs(20),
            "no swap after the parent published\n{}",
            child.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(swapped > published);
    assert!(
        child.log().contains("seen at every parent server"),
        "{}",
        child.log()
    );
    assert_eq!(cds_tags(&child), vec![new_tag.clone()]);
    while swapped.elapsed() < std::time::Duration::from_secs(3) {
        check_all(&child, &mut secure);
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    eprintln!(
        "KSK rollover with the parent DS check: {secure} looks secure while serving; during \
         the restart {gap_secure} secure (cached), {gap_servfail} SERVFAIL, {gap_timeout} timed \
         out; {gap_recovery} failed after the restart before unbound tried the server again"
    );
    assert!(secure > 30, "{secure}");
}

/// Trouble with the rollover state never takes a signed zone down: with `serve` running a ZSK
/// rollover, (1) a damaged `zsk.state`, (2) a state written "in the future" (the system clock
/// set back behind the last rollover step), and (3) a key_dir that cannot be written when a
/// rollover step is due each make the reload of the changed zone fail with an error naming the
/// state file (and the zone), while the previous signed version keeps serving: same serial,
/// still validating. After each repair the next reload goes through; no panic. (3) makes the
/// key_dir read-only when not run as root; as root, which ignores file modes, it puts a
/// directory where the state's temporary file is written, the same failed write.
#[test]
fn rollover_state_trouble_is_named_and_the_old_signed_zone_keeps_serving() {
    if !require_tool_or_skip("dig", "bind9-dnsutils") {
        return;
    }
    let dir = Dir::new("statetrouble");
    dir.write_zone(REVERSE_ORIGIN, REVERSE);
    let config = write_config_with(
        dir.path(),
        "sign",
        "zsk_lifetime = \"1h\"\npropagation_delay = \"1s\"\n",
    );
    let served = Served::start(&config);
    let keys = dir.path().join("keys");
    let reverse = DomainName::parse(REVERSE_ORIGIN).unwrap();
    let ta = dir.path().join("anchor.txt");
    std::fs::write(
        &ta,
        ZoneKeys::load_or_create(&keys, &reverse)
            .unwrap()
            .ds_text(&reverse)
            .unwrap(),
    )
    .unwrap();
    let ta = ta.to_string_lossy().into_owned();
    let state_path = keys.join(format!("{REVERSE_ORIGIN}zsk.state"));
    let good_state = std::fs::read_to_string(&state_path).unwrap();
    let active_file = good_state
        .lines()
        .find_map(|l| l.strip_prefix("active "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_owned();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let mut version = 0;
    // Changes the zone, SIGHUPs, and waits for `expect` in the log (after what was there).
    let mut reload_expecting = |expect: &[&str]| {
        version += 1;
        let logged = served.log().len();
        dir.write_zone(
            REVERSE_ORIGIN,
            &REVERSE.replace(
                "alto.example.net/r32",
                &format!("alto.example.net/r32-{version}"),
            ),
        );
        served.hup();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let log = served.log();
            let new = log.get(logged..).unwrap_or_default();
            if expect.iter().all(|e| new.contains(e)) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {expect:?} in:\n{new}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let secure_uri = || {
        let out = crate::dnssec::require_authoritative(
            "xdom",
            &served.addr.to_string(),
            &ta,
            "192.0.2.34",
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}\n{}", served.log());
        let v = json(&out);
        assert_eq!(v["candidates"][0]["dnssec"], "secure", "{v}");
        v["candidates"][0]["uri"].as_str().unwrap().to_owned()
    };
    let (serial0, _, _) = signed_soa(served.addr);
    let state_name = format!("{REVERSE_ORIGIN}zsk.state");
    /// Breaks or repairs the key_dir.
    type Step<'a> = Box<dyn Fn() + 'a>;
    let trouble: [(&str, Step<'_>, Step<'_>, &[&str]); 3] = [
        (
            "damaged state",
            Box::new(|| std::fs::write(&state_path, "active\n").unwrap()),
            Box::new(|| std::fs::write(&state_path, &good_state).unwrap()),
            &["line 1"],
        ),
        (
            "clock behind the state",
            Box::new(|| {
                std::fs::write(
                    &state_path,
                    format!("active {active_file} {}\nttls 300 300\n", now() + 86_400),
                )
                .unwrap();
            }),
            Box::new(|| std::fs::write(&state_path, &good_state).unwrap()),
            &["s behind", REVERSE_ORIGIN],
        ),
        (
            "key_dir not writable when a step is due",
            Box::new(|| {
                // The active ZSK is past its lifetime: this reload must write a new key
                // and the state.
                std::fs::write(
                    &state_path,
                    format!("active {active_file} {}\nttls 300 300\n", now() - 7200),
                )
                .unwrap();
                if nix::unistd::geteuid().is_root() {
                    std::fs::create_dir(keys.join(format!("{state_name}.tmp"))).unwrap();
                } else {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o555))
                        .unwrap();
                }
            }),
            Box::new(|| {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
                let _ = std::fs::remove_dir(keys.join(format!("{state_name}.tmp")));
            }),
            &[keys.to_str().unwrap()],
        ),
    ];
    let mut last_uri = secure_uri();
    for (what, break_it, repair, expect) in &trouble {
        let serial = signed_soa(served.addr).0;
        break_it();
        let mut wanted = vec![REVERSE_ORIGIN];
        wanted.extend_from_slice(expect);
        reload_expecting(&wanted);
        // The previous signed version keeps serving, still secure.
        assert_eq!(
            signed_soa(served.addr).0,
            serial,
            "{what}\n{}",
            served.log()
        );
        assert_eq!(secure_uri(), last_uri, "{what}");
        repair();
        reload_expecting(&["reloaded"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while signed_soa(served.addr).0 == serial {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: no re-sign after the repair\n{}",
                served.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let uri = secure_uri();
        assert_ne!(uri, last_uri, "{what}: the change went through");
        last_uri = uri;
    }
    assert!(signed_soa(served.addr).0 > serial0);
    // After the unwritable key_dir was repaired, the due step was taken: a successor ZSK.
    let state = std::fs::read_to_string(&state_path).unwrap();
    assert!(state.contains("incoming "), "{state}");
    assert!(!served.log().contains("panicked"), "{}", served.log());
    assert!(!served.log().contains("panicked"), "{}", served.log());
    // A due step that failed is retried a while later, not in a loop: one failure and at most
    // a few repeats of it were logged.
    let repeats = served.log().matches("zone still fails as before").count();
    assert!(
        repeats <= 3,
        "{repeats} repeated failures\n{}",
        served.log()
    );
}
