//! Property tests: codecs round-trip, and no decoder or validator panics on arbitrary input.
//! At least 10,000 cases each in the default run (issue "Workspace foundation").

use altodisc_proto::access_domain::{
    V4OptionAreas, decode_access_domain, encode_access_domain, parse_domain_name_option, v4_option,
    v6_options,
};
use altodisc_proto::ladder::{IpPrefix, ReverseLadder};
use altodisc_proto::regexp::{RegexpMode, extract_unaptr_uri};
use altodisc_proto::select::{SelectionOptions, select};
use altodisc_proto::service::{ServiceParameter, WantedService};
use altodisc_proto::subst::validate_substitution;
use altodisc_proto::uri::check_uri;
use altodisc_proto::{DomainName, NaptrRecord};
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    }
}

/// Valid names: 1–6 labels of 1–63 arbitrary octets, total ≤ 255 octets encoded.
fn valid_name() -> impl Strategy<Value = DomainName> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=63), 1..=6)
        .prop_filter_map("encoded name over 255 octets", |labels| {
            DomainName::from_labels(labels.iter().map(Vec::as_slice)).ok()
        })
}

/// Strings biased towards the characters the parsers care about.
fn regexp_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec!['!', '.', '*', '\\', '(', ')', '[', ']', '{', '}', '^', '$', '|', '+', '?', ':', '=', '1', '2', '0', 'i', 'I', '#', ',', '-']),
            2 => any::<char>(),
            3 => prop::char::range('a', 'z'),
        ],
        0..48,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn access_domain_round_trips(name in valid_name()) {
        let encoded = encode_access_domain(&name);
        prop_assert_eq!(decode_access_domain(&encoded), Ok(Some(name)));
    }

    #[test]
    fn presentation_round_trips(name in valid_name()) {
        let text = name.to_string();
        prop_assert_eq!(DomainName::parse(&text), Ok(name));
    }

    #[test]
    fn naptr_rdata_round_trips(
        order in any::<u16>(), preference in any::<u16>(),
        flags in prop::collection::vec(any::<u8>(), 0..4),
        services in prop::collection::vec(any::<u8>(), 0..40),
        regexp in prop::collection::vec(any::<u8>(), 0..255),
        replacement in prop_oneof![Just(DomainName::root()), valid_name()],
    ) {
        let rec = NaptrRecord { order, preference, flags, services, regexp, replacement };
        let rdata = rec.to_rdata().unwrap();
        prop_assert_eq!(NaptrRecord::from_rdata(&rdata), Ok(rec));
    }

    #[test]
    fn byte_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), start in 0usize..600) {
        let _ = decode_access_domain(&bytes);
        let _ = parse_domain_name_option(&bytes);
        let _ = DomainName::from_wire(&bytes);
        let _ = DomainName::from_message(&bytes, start);
        let _ = NaptrRecord::from_rdata(&bytes);
        let len = bytes.len().saturating_sub(start);
        let _ = NaptrRecord::from_message_rdata(&bytes, start, len);
        let _ = NaptrRecord::from_message_rdata(&bytes, start, 600);
        let areas = V4OptionAreas { options: &bytes, file: &bytes, sname: &bytes };
        let _ = v4_option(&areas, 213);
        let _ = v6_options(&bytes, 57);
        let _ = ServiceParameter::parse_bytes(&bytes);
        let _ = extract_unaptr_uri(&bytes, RegexpMode::Strict);
        let _ = extract_unaptr_uri(&bytes, RegexpMode::Lenient);
        let _ = validate_substitution(&bytes);
    }

    #[test]
    fn regexp_validators_never_panic(s in regexp_like()) {
        let _ = validate_substitution(s.as_bytes());
        let _ = extract_unaptr_uri(s.as_bytes(), RegexpMode::Strict);
        let _ = extract_unaptr_uri(s.as_bytes(), RegexpMode::Lenient);
        let _ = check_uri(&s);
        let _ = s.parse::<ServiceParameter>();
        let _ = DomainName::parse(&s);
    }

    #[test]
    fn ladder_never_panics_and_is_bounded(s in "[0-9a-fA-F:.%/]{0,48}") {
        if let Ok(ladder) = ReverseLadder::parse(&s) {
            prop_assert!(!ladder.steps.is_empty() && ladder.steps.len() <= 6);
        }
        let _ = IpPrefix::parse(&s);
    }

    #[test]
    fn selection_output_is_ordered_and_independent_of_input_order(
        recs in prop::collection::vec(
            (0u16..4, 0u16..4, prop::sample::select(vec!["u", "U", "", "s", "x"]),
             prop::sample::select(vec!["ALTO:https", "alto:HTTPS", "ALTO:http", "LIS:HELD", "ALTO"]),
             prop::sample::select(vec!["!.*!https://a.example/!", "!.*!https://b.example/!", "!.*!http://c.example/!", ""]),
             prop::sample::select(vec![".", "t.example."])),
            0..8),
    ) {
        let records: Vec<NaptrRecord> = recs.iter().map(|(o, p, f, s, r, t)| NaptrRecord {
            order: *o, preference: *p, flags: f.as_bytes().to_vec(), services: s.as_bytes().to_vec(),
            regexp: r.as_bytes().to_vec(), replacement: DomainName::parse(t).unwrap(),
        }).collect();
        let w = WantedService::alto_https();
        let o = SelectionOptions::default();
        let a = select(&records, &w, &o);
        prop_assert_eq!(a.usable.len() + a.skipped.len(), records.len());
        prop_assert!(a.usable.windows(2).all(|p| (p[0].order, p[0].preference) <= (p[1].order, p[1].preference)));
        let mut reversed = records.clone();
        reversed.reverse();
        let b = select(&reversed, &w, &o);
        let steps = |s: &altodisc_proto::Selection| s.usable.iter().map(|u| (u.order, u.preference, u.next.clone())).collect::<Vec<_>>();
        prop_assert_eq!(steps(&a), steps(&b));
    }
}
