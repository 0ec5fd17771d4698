//! `altodisc names` against the reverse-name table derived from RFC 8686 Table 1.

use serde_json::Value;

use crate::altodisc;

const R64: &str = "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const R56: &str = "0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const R48: &str = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const R40: &str = "0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const R32: &str = "8.b.d.0.1.0.0.2.ip6.arpa.";

/// TV-R derived table: input → (name, prefix_len) in query order.
fn derived_table() -> Vec<(&'static str, Vec<(&'static str, u64)>)> {
    let v4_full = vec![
        ("34.2.0.192.in-addr.arpa.", 32),
        ("2.0.192.in-addr.arpa.", 24),
        ("0.192.in-addr.arpa.", 16),
        ("192.in-addr.arpa.", 8),
    ];
    let v4_24 = vec![
        ("100.51.198.in-addr.arpa.", 24),
        ("51.198.in-addr.arpa.", 16),
        ("198.in-addr.arpa.", 8),
    ];
    let from_r64 = vec![(R64, 64), (R56, 56), (R48, 48), (R40, 40), (R32, 32)];
    let r56_60 = "2.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    let from_r56 = vec![(r56_60, 56), (R48, 48), (R40, 40), (R32, 32)];
    let mut full_v6 = vec![(
        "3.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
        128,
    )];
    full_v6.extend(from_r64.iter().copied());
    vec![
        ("192.0.2.34", v4_full.clone()),
        ("192.0.2.34/32", v4_full.clone()),
        ("198.51.100.0/24", v4_24.clone()),
        ("198.51.100.34/24", v4_24.clone()),
        ("198.51.100.128/25", v4_24),
        (
            "198.51.100.0/22",
            vec![("51.198.in-addr.arpa.", 16), ("198.in-addr.arpa.", 8)],
        ),
        ("203.0.113.7/8", vec![("203.in-addr.arpa.", 8)]),
        ("2001:db8:1:2::33", full_v6),
        ("2001:db8:1:2::/64", from_r64.clone()),
        ("2001:db8:1:2::33/127", from_r64),
        ("2001:db8:1:2a0::/60", from_r56.clone()),
        ("2001:db8:1:200::/56", from_r56),
        ("2001:db8:1::/48", vec![(R48, 48), (R40, 40), (R32, 32)]),
        (
            "2001:db8:100::/40",
            vec![("1.0.8.b.d.0.1.0.0.2.ip6.arpa.", 40), (R32, 32)],
        ),
        ("2001:db8::/32", vec![(R32, 32)]),
        ("::ffff:192.0.2.34", v4_full),
    ]
}

#[test]
fn json_matches_the_tv_r_derived_table() {
    let table = derived_table();
    let inputs: Vec<&str> = table.iter().map(|(i, _)| *i).collect();
    let mut args = vec!["names", "--json"];
    args.extend(&inputs);
    let out = altodisc(&args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), table.len(), "one JSON object per input");
    for (line, (input, expected)) in lines.iter().zip(&table) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["input"], *input);
        let got: Vec<(String, u64)> = v["query_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (
                    q["name"].as_str().unwrap().to_owned(),
                    q["prefix_len"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = expected
            .iter()
            .map(|(n, l)| ((*n).to_owned(), *l))
            .collect();
        assert_eq!(got, want, "query names for {input}");
        assert!(
            v["publish_names"].as_array().is_some_and(|a| !a.is_empty()),
            "{input}"
        );
    }
}

#[test]
fn publish_names_for_aligned_and_unaligned_prefixes() {
    let out = altodisc(&[
        "names",
        "--json",
        "198.51.100.0/22",
        "2001:db8:1::/48",
        "2001:db8:1:2::33",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        v[0]["publish_names"],
        serde_json::json!([
            "100.51.198.in-addr.arpa.",
            "101.51.198.in-addr.arpa.",
            "102.51.198.in-addr.arpa.",
            "103.51.198.in-addr.arpa."
        ])
    );
    assert!(
        v[0]["warnings"][0].as_str().unwrap().contains("A12"),
        "A12 warning for /22"
    );
    assert_eq!(v[1]["publish_names"], serde_json::json!([R48]));
    assert_eq!(v[2]["publish_names"][0], v[2]["query_names"][0]["name"]);
}

#[test]
fn invalid_inputs_exit_2_with_one_line_naming_input_and_rule() {
    for (input, rule) in [
        ("10.0.0.0/7", "RFC 8686 §3.2"),
        ("0.0.0.0/0", "RFC 8686 §3.2"),
        ("2001:db8::/31", "RFC 8686 §3.2"),
        ("198.51.100.0/33", "RFC 8686 §3.1"),
        ("2001:db8::/129", "RFC 8686 §3.1"),
        ("300.1.1.1", "RFC 8686 §3.1"),
        ("2001:db8::g", "RFC 8686 §3.1"),
        ("fe80::1%eth0", "A10"),
    ] {
        let out = altodisc(&["names", input]);
        assert_eq!(out.status.code(), Some(2), "{input}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line for {input}: {stderr}");
        assert!(
            stderr.contains(input) && stderr.contains(rule),
            "{input}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn valid_inputs_still_print_when_one_is_invalid() {
    let out = altodisc(&["names", "192.0.2.1", "bogus", "198.51.100.0/24"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("1.2.0.192.in-addr.arpa.") && stdout.contains("100.51.198.in-addr.arpa.")
    );
}

#[test]
fn help_and_version() {
    let help = altodisc(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("names") && text.contains("Exit codes"));
    let version = altodisc(&["--version"]);
    assert!(
        String::from_utf8(version.stdout)
            .unwrap()
            .starts_with("altodisc ")
    );
}
