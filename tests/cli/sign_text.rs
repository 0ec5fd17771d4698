//! `altodisc sign` writes zone text that BIND, NSD, Knot and ldns read back to the same data:
//! TXT character-strings quoted (`"apex text"` is one string, not two), label octets outside
//! printable ASCII as decimal `\DDD` (`\255`; the octal `\377` is refused by BIND and read by NSD
//! as another name). Each peer's view of the signed file, without the DNSSEC records, must equal
//! its view of the unsigned input.

use std::process::Command;

use altodisc_testpeers::require_tool_or_skip;

use crate::altodisc;

const ZONE: &str = "$ORIGIN example.net.\n$TTL 300\n\
@ SOA ns hostmaster 1 3600 900 604800 60\n\
@ NS ns\n\
ns A 192.0.2.53\n\
@ TXT \"apex text\"\n\
@ TXT \"two\" \"strings, a \\\"quote\\\", a \\\\ and \\255\"\n\
\\255 TXT \"label with the octet 0xff\"\n\
a\\032b A 192.0.2.1\n\
@ NAPTR 10 10 \"u\" \"ALTO:https\" \"!.*!https://alto.example.net/ird!\" .\n\
@ CAA 0 issue \"ca.example.net\"\n\
@ MX 10 mail\n\
_alto._tcp SRV 0 0 443 alto\n";

const DNSSEC_TYPES: &[&str] = &["RRSIG", "NSEC", "DNSKEY"];

/// The data lines of a peer's dump, sorted, without DNSSEC records.
fn data_lines(dump: &str) -> Vec<String> {
    let mut v: Vec<String> = dump
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';') && !l.starts_with('$'))
        .filter(|l| {
            !l.split_whitespace()
                .take(5)
                .any(|t| DNSSEC_TYPES.contains(&t))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd).args(args).output().unwrap()
}

#[test]
fn signed_text_reads_back_identically_in_bind_nsd_knot_and_ldns() {
    let dir = std::env::temp_dir().join(format!("altodisc-sign-text-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("example.net.zone");
    std::fs::write(&input, ZONE).unwrap();
    let signed = dir.join("example.net.signed");
    let (input, signed) = (
        input.to_string_lossy().into_owned(),
        signed.to_string_lossy().into_owned(),
    );
    let keys = dir.join("keys").to_string_lossy().into_owned();
    let out = altodisc(&["sign", "--keys", &keys, "--out", &signed, &input]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = std::fs::read_to_string(&signed).unwrap();
    assert!(text.contains(" TXT \"apex text\"\n"), "{text}");
    assert!(text.contains("\n\\255.example.net. 300 IN TXT "), "{text}");
    assert!(text.contains("\na\\032b.example.net. 300 IN A "), "{text}");
    assert!(!text.contains("\\377"), "{text}");

    let mut peers = 0;
    if require_tool_or_skip("named-checkzone", "bind9-utils") {
        let dump = |f: &str| {
            let o = run(
                "named-checkzone",
                &["-q", "-D", "-o", "-", "example.net.", f],
            );
            assert!(o.status.success(), "named-checkzone {f}: {o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (a, b) = (dump(&input), dump(&signed));
        assert_eq!(data_lines(&b), data_lines(&a), "BIND\n{text}");
        assert!(b.contains("RRSIG"), "{b}");
        peers += 1;
    }
    if require_tool_or_skip("nsd-checkzone", "nsd") {
        let dump = |f: &str| {
            let o = run("nsd-checkzone", &["-p", "example.net.", f]);
            assert!(o.status.success(), "nsd-checkzone {f}: {o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (a, b) = (dump(&input), dump(&signed));
        assert_eq!(data_lines(&b), data_lines(&a), "NSD\n{text}");
        peers += 1;
    }
    if require_tool_or_skip("ldns-read-zone", "ldnsutils") {
        let dump = |f: &str| {
            let o = run("ldns-read-zone", &[f]);
            assert!(o.status.success(), "ldns-read-zone {f}: {o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (a, b) = (dump(&input), dump(&signed));
        assert_eq!(data_lines(&b), data_lines(&a), "ldns\n{text}");
        peers += 1;
    }
    if require_tool_or_skip("kzonecheck", "knot-dnssecutils") {
        // Knot prints no dump: it must load the file and validate its signatures (-d on).
        let o = run("kzonecheck", &["-o", "example.net.", "-d", "on", &signed]);
        assert!(o.status.success(), "kzonecheck: {o:?}\n{text}");
        peers += 1;
    }
    eprintln!("signed zone text read back by {peers} peers");
    let _ = std::fs::remove_dir_all(&dir);
}
