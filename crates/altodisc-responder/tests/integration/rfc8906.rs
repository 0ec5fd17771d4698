//! RFC 8906 §8 compliance checks, run with `dig` exactly as ISC's EDNS compliance tester
//! (genreport) and RFC 8906 §8.1–§8.2 give them, against the responder serving the bundled zones.
//! Each check asserts what RFC 8906 says to expect: RCODE, the AA flag, the SOA in the answer,
//! the OPT record and its version, and that unknown header flags, EDNS flags and options are not
//! echoed.

use std::process::Command;

use altodisc_testpeers::require_tool_or_skip;

use crate::common::Running;

const ZONE: &str = "example.net.";

/// What one `dig` run showed.
#[derive(Debug)]
struct Dig {
    status: String,
    flags: Vec<String>,
    /// EDNS version of the response's OPT record, `None` without one.
    edns_version: Option<u8>,
    edns_do: bool,
    /// dig's "MBZ" note: a header Z bit or an unknown EDNS flag was set in the response.
    mbz: bool,
    /// An EDNS option with code 100 came back.
    option_100: bool,
    soa_in_answer: bool,
    text: String,
}

fn dig(addr: std::net::SocketAddr, args: &str) -> Dig {
    let mut argv: Vec<String> = vec![
        format!("@{}", addr.ip()),
        "-p".to_owned(),
        addr.port().to_string(),
        "+tries=1".to_owned(),
        "+time=3".to_owned(),
    ];
    argv.extend(args.split_whitespace().map(|a| a.replace("$zone", ZONE)));
    let out = Command::new("dig").args(&argv).output().expect("dig runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "dig {argv:?} failed:\n{text}");
    let header = text
        .lines()
        .find(|l| l.contains("->>HEADER<<-"))
        .unwrap_or_else(|| panic!("no header in dig {argv:?}:\n{text}"));
    let status = header
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_default()
        .to_owned();
    let flag_line = text
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_default();
    let flags = flag_line
        .trim_start_matches(";; flags:")
        .split(';')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let edns_line = text.lines().find(|l| l.starts_with("; EDNS: version:"));
    let edns_version = edns_line.and_then(|l| {
        l.trim_start_matches("; EDNS: version:")
            .split(',')
            .next()
            .and_then(|v| v.trim().parse().ok())
    });
    let edns_do = edns_line.is_some_and(|l| {
        l.split("flags:")
            .nth(1)
            .and_then(|f| f.split(';').next())
            .is_some_and(|f| f.split_whitespace().any(|x| x == "do"))
    });
    let mut in_answer = false;
    let mut soa_in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ") && line.ends_with("SECTION:") {
            in_answer = line == ";; ANSWER SECTION:";
        } else if in_answer && line.split_whitespace().nth(3) == Some("SOA") {
            soa_in_answer = true;
        }
    }
    Dig {
        status,
        flags,
        edns_version,
        edns_do,
        mbz: flag_line.contains("MBZ") || edns_line.is_some_and(|l| l.contains("MBZ")),
        option_100: text.lines().any(|l| l.starts_with("; OPT=100")),
        soa_in_answer,
        text,
    }
}

/// One RFC 8906 §8 check: the dig flags and what to expect.
struct Check {
    section: &'static str,
    args: &'static str,
    status: &'static str,
    aa: bool,
    soa: Option<bool>,
    /// `Some(v)`: an OPT record with version v; `None`: no OPT record.
    edns: Option<u8>,
}

const fn check(
    section: &'static str,
    args: &'static str,
    status: &'static str,
    aa: bool,
    soa: Option<bool>,
    edns: Option<u8>,
) -> Check {
    Check {
        section,
        args,
        status,
        aa,
        soa,
        edns,
    }
}

/// RFC 8906 §8.1 (basic DNS, no EDNS) and §8.2 (EDNS), as genreport runs them.
const CHECKS: &[Check] = &[
    check(
        "8.1.1 plain",
        "+noedns +noad +norec soa $zone",
        "NOERROR",
        true,
        Some(true),
        None,
    ),
    check(
        "8.1.2 unknown type",
        "+noedns +noad +norec type1000 $zone",
        "NOERROR",
        true,
        Some(false),
        None,
    ),
    check(
        "8.1.3.1 CD=1",
        "+noedns +noad +norec +cd soa $zone",
        "NOERROR",
        true,
        Some(true),
        None,
    ),
    check(
        "8.1.3.2 AD=1",
        "+noedns +norec +ad soa $zone",
        "NOERROR",
        true,
        Some(true),
        None,
    ),
    check(
        "8.1.3.3 Z=1",
        "+noedns +noad +norec +zflag soa $zone",
        "NOERROR",
        true,
        Some(true),
        None,
    ),
    check(
        "8.1.4 unknown opcode",
        "+noedns +noad +opcode=15 +norec +header-only",
        "NOTIMP",
        false,
        Some(false),
        None,
    ),
    check(
        "8.1.5 TCP",
        "+noedns +noad +norec +tcp soa $zone",
        "NOERROR",
        true,
        Some(true),
        None,
    ),
    check(
        "8.2.1 EDNS 0",
        "+nocookie +edns=0 +noad +norec soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
    check(
        "8.2.2 EDNS 1",
        "+nocookie +edns=1 +noednsneg +noad +norec soa $zone",
        "BADVERS",
        false,
        Some(false),
        Some(0),
    ),
    check(
        "8.2.3 unknown option",
        "+nocookie +edns=0 +noad +norec +ednsopt=100 soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
    check(
        "8.2.4 unknown EDNS flag",
        "+nocookie +edns=0 +noad +norec +ednsflags=0x40 soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
    check(
        "8.2.5 EDNS 1 + unknown flag",
        "+nocookie +edns=1 +noednsneg +noad +norec +ednsflags=0x40 soa $zone",
        "BADVERS",
        false,
        Some(false),
        Some(0),
    ),
    check(
        "8.2.6 EDNS 1 + unknown option",
        "+nocookie +edns=1 +noednsneg +noad +norec +ednsopt=100 soa $zone",
        "BADVERS",
        false,
        Some(false),
        Some(0),
    ),
    check(
        "8.2.7 DO=1",
        "+nocookie +edns=0 +noad +norec +dnssec soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
    check(
        "8.2.8 EDNS 1 + DO=1",
        "+nocookie +edns=1 +noednsneg +noad +norec +dnssec soa $zone",
        "BADVERS",
        false,
        Some(false),
        Some(0),
    ),
    check(
        "8.2.9 several known options",
        "+edns=0 +noad +norec +cookie +nsid +expire +subnet=0.0.0.0/0 soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
    check(
        "8.2.10 truncated (DNSKEY, bufsize 512)",
        "+nocookie +edns=0 +noad +norec +dnssec +bufsize=512 +ignore dnskey $zone",
        "NOERROR",
        true,
        None,
        Some(0),
    ),
    check(
        "8.2.10 truncated (big NAPTR set, bufsize 512)",
        "+nocookie +edns=0 +noad +norec +dnssec +bufsize=512 +ignore naptr big.$zone",
        "NOERROR",
        true,
        None,
        Some(0),
    ),
    check(
        "8.2.11 EDNS over TCP",
        "+nocookie +edns=0 +noad +norec +tcp soa $zone",
        "NOERROR",
        true,
        Some(true),
        Some(0),
    ),
];

#[test]
fn rfc8906_compliance_checks_pass() {
    if !require_tool_or_skip("dig", "dnsutils") {
        return;
    }
    let ours = Running::bundled();
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for c in CHECKS {
        let d = dig(ours.addr, c.args);
        let mut wrong = Vec::new();
        if d.status != c.status {
            wrong.push(format!("status {} (want {})", d.status, c.status));
        }
        if d.flags.iter().any(|f| f == "aa") != c.aa {
            wrong.push(format!("AA {} (want {})", !c.aa, c.aa));
        }
        // RFC 8906 §8.1.3.2: AD is not set by an authoritative server that does not validate.
        if d.flags.iter().any(|f| f == "ad") {
            wrong.push("AD set".to_owned());
        }
        if let Some(soa) = c.soa
            && d.soa_in_answer != soa
        {
            wrong.push(format!("SOA in answer {} (want {soa})", d.soa_in_answer));
        }
        if d.edns_version != c.edns {
            wrong.push(format!(
                "OPT version {:?} (want {:?})",
                d.edns_version, c.edns
            ));
        }
        if d.mbz {
            wrong.push("MBZ: an unknown flag was copied".to_owned());
        }
        if d.option_100 {
            wrong.push("the unknown option 100 was echoed".to_owned());
        }
        // RFC 3225 §3: DO is copied into the response (version 0 and BADVERS alike).
        if c.args.contains("+dnssec") && !d.edns_do {
            wrong.push("DO not copied".to_owned());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({}): {}\n{}",
                c.section,
                c.args,
                wrong.join(", "),
                d.text
            ));
        }
        results.push((c.section, d));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The truncation checks must really have been truncated at 512 (RFC 8906 §8.2.10: TC is the
    // expected outcome of a too-small buffer, and the response still carries the OPT record).
    let big = results
        .iter()
        .find(|(s, _)| s.contains("big NAPTR"))
        .map(|(_, d)| d)
        .unwrap();
    assert!(big.flags.iter().any(|f| f == "tc"), "{}", big.text);
}
