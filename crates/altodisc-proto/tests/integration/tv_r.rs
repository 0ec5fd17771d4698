//! Reverse names, from the RFCs (RFC 8686 §3.2–3.3, Table 1) and the derived Table 1 cases.

use altodisc_proto::ladder::{AddressFamily, LadderError, LadderWarning, ReverseLadder};

fn names(input: &str) -> Vec<(String, u8)> {
    ReverseLadder::parse(input)
        .unwrap_or_else(|e| panic!("{input}: {e}"))
        .steps
        .into_iter()
        .map(|s| (s.name, s.prefix_len))
        .collect()
}

fn only_names(input: &str) -> Vec<String> {
    names(input).into_iter().map(|(n, _)| n).collect()
}

const V6_2001_DB8_1_2_R64: &str = "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const V6_R56: &str = "0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const V6_R48: &str = "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const V6_R40: &str = "0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
const V6_R32: &str = "8.b.d.0.1.0.0.2.ip6.arpa.";

#[test]
fn rfc8686_section_3_ipv4_example() {
    assert_eq!(
        names("198.51.100.3"),
        vec![
            ("3.100.51.198.in-addr.arpa.".to_owned(), 32),
            ("100.51.198.in-addr.arpa.".to_owned(), 24),
            ("51.198.in-addr.arpa.".to_owned(), 16),
            ("198.in-addr.arpa.".to_owned(), 8),
        ]
    );
}

#[test]
fn rfc8686_section_3_ipv6_example() {
    assert_eq!(
        names("2001:0DB8::20"),
        vec![
            (
                "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
                    .to_owned(),
                128
            ),
            ("0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(), 64),
            ("0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(), 56),
            ("0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(), 48),
            ("0.0.8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(), 40),
            ("8.b.d.0.1.0.0.2.ip6.arpa.".to_owned(), 32),
        ]
    );
}

#[test]
fn rfc8686_appendix_c4() {
    assert_eq!(
        only_names("2001:DB8:1:2:227:eff:fe6a:de42"),
        vec![
            "2.4.e.d.a.6.e.f.f.f.e.0.7.2.2.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
            V6_2001_DB8_1_2_R64,
            V6_R56,
            V6_R48,
            V6_R40,
            V6_R32,
        ]
    );
}

#[test]
fn derived_table_ipv4() {
    let full = [
        "34.2.0.192.in-addr.arpa.",
        "2.0.192.in-addr.arpa.",
        "0.192.in-addr.arpa.",
        "192.in-addr.arpa.",
    ];
    assert_eq!(only_names("192.0.2.34"), full);
    assert_eq!(only_names("192.0.2.34/32"), full);
    let slash24 = [
        "100.51.198.in-addr.arpa.",
        "51.198.in-addr.arpa.",
        "198.in-addr.arpa.",
    ];
    assert_eq!(only_names("198.51.100.0/24"), slash24);
    assert_eq!(only_names("198.51.100.34/24"), slash24, "host bits set");
    assert_eq!(
        only_names("198.51.100.128/25"),
        slash24,
        "a /25 starts at R24"
    );
    assert_eq!(
        only_names("198.51.100.0/22"),
        ["51.198.in-addr.arpa.", "198.in-addr.arpa."]
    );
    assert_eq!(only_names("203.0.113.7/8"), ["203.in-addr.arpa."]);
}

#[test]
fn derived_table_ipv6() {
    let r128 = "3.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    assert_eq!(
        names("2001:db8:1:2::33"),
        vec![
            (r128.to_owned(), 128),
            (V6_2001_DB8_1_2_R64.to_owned(), 64),
            (V6_R56.to_owned(), 56),
            (V6_R48.to_owned(), 48),
            (V6_R40.to_owned(), 40),
            (V6_R32.to_owned(), 32),
        ]
    );
    let from_r64 = [V6_2001_DB8_1_2_R64, V6_R56, V6_R48, V6_R40, V6_R32];
    assert_eq!(only_names("2001:db8:1:2::/64"), from_r64);
    assert_eq!(
        only_names("2001:db8:1:2::33/127"),
        from_r64,
        "no nibble-precise name"
    );
    let r56 = "2.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
    assert_eq!(
        only_names("2001:db8:1:2a0::/60"),
        [r56, V6_R48, V6_R40, V6_R32],
        "/60 starts at R56"
    );
    assert_eq!(
        only_names("2001:db8:1:200::/56"),
        [r56, V6_R48, V6_R40, V6_R32]
    );
    assert_eq!(only_names("2001:db8:1::/48"), [V6_R48, V6_R40, V6_R32]);
    assert_eq!(
        only_names("2001:db8:100::/40"),
        ["1.0.8.b.d.0.1.0.0.2.ip6.arpa.", V6_R32]
    );
    assert_eq!(only_names("2001:db8::/32"), [V6_R32]);
}

#[test]
fn ipv4_mapped_is_treated_as_ipv4() {
    // docs/decisions.md, A10 [interp]: the recommended behaviour, not the literal (useless) ip6.arpa names.
    let ladder = ReverseLadder::parse("::ffff:192.0.2.34").unwrap();
    assert_eq!(
        ladder
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        only_names("192.0.2.34")
    );
    assert_eq!(
        ladder.input.warnings,
        vec![LadderWarning::MappedToIpv4 {
            original: "::ffff:192.0.2.34".parse().unwrap()
        }]
    );
}

#[test]
fn unsupported_prefix_lengths() {
    assert_eq!(
        ReverseLadder::parse("10.0.0.0/7"),
        Err(LadderError::UnsupportedPrefixLength {
            family: AddressFamily::Ipv4,
            len: 7,
            min: 8
        })
    );
    assert_eq!(
        ReverseLadder::parse("0.0.0.0/0"),
        Err(LadderError::UnsupportedPrefixLength {
            family: AddressFamily::Ipv4,
            len: 0,
            min: 8
        })
    );
    assert_eq!(
        ReverseLadder::parse("2001:db8::/31"),
        Err(LadderError::UnsupportedPrefixLength {
            family: AddressFamily::Ipv6,
            len: 31,
            min: 32
        })
    );
}

#[test]
fn parse_errors() {
    assert_eq!(
        ReverseLadder::parse("198.51.100.0/33"),
        Err(LadderError::PrefixLengthOutOfRange {
            family: AddressFamily::Ipv4,
            len: 33,
            max: 32
        })
    );
    assert_eq!(
        ReverseLadder::parse("2001:db8::/129"),
        Err(LadderError::PrefixLengthOutOfRange {
            family: AddressFamily::Ipv6,
            len: 129,
            max: 128
        })
    );
    assert_eq!(
        ReverseLadder::parse("300.1.1.1"),
        Err(LadderError::InvalidSyntax)
    );
    assert_eq!(
        ReverseLadder::parse("2001:db8::g"),
        Err(LadderError::InvalidSyntax)
    );
}
