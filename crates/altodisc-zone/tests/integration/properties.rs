//! Properties of the reader: it never panics on arbitrary input, and the master-file form printed
//! by `altodisc_proto::NaptrRecord` (Display) reads back to exactly the record's wire RDATA, with
//! one position per field.

use altodisc_proto::{DomainName, NaptrRecord};
use altodisc_zone::reader::read_zone_str;
use proptest::prelude::*;

fn origin() -> DomainName {
    DomainName::parse("example.net.").unwrap()
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
        let _ = read_zone_str(&text, "fuzz.zone", Some(&origin()));
    }

    #[test]
    fn arbitrary_lines_of_zone_tokens_never_panic(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just("@".to_owned()), Just("(".to_owned()), Just(")".to_owned()),
                    Just("\"".to_owned()), Just("\\".to_owned()), Just("NAPTR".to_owned()),
                    Just("IN".to_owned()), Just("$INCLUDE".to_owned()), Just("$ORIGIN".to_owned()),
                    Just("\\#".to_owned()), Just(";".to_owned()), Just("TYPE35".to_owned()),
                    "[0-9]{1,6}", "[a-z.]{1,12}", "\"[ -~]{0,20}\"", "\\\\[0-9]{1,3}",
                ],
                0..10,
            ),
            0..8,
        )
    ) {
        let text: String = lines.iter().map(|l| format!("{}\n", l.join(" "))).collect();
        let _ = read_zone_str(&text, "fuzz.zone", Some(&origin()));
    }

    #[test]
    fn naptr_presentation_reads_back_to_the_same_wire(
        order in any::<u16>(),
        preference in any::<u16>(),
        flags in proptest::collection::vec(any::<u8>(), 0..4),
        services in proptest::collection::vec(any::<u8>(), 0..40),
        regexp in proptest::collection::vec(any::<u8>(), 0..120),
        target in prop_oneof![Just(".".to_owned()), "[a-z0-9-]{1,20}(\\.[a-z]{1,10}){0,3}\\."],
    ) {
        let record = NaptrRecord {
            order,
            preference,
            flags,
            services,
            regexp,
            replacement: DomainName::parse(&target).unwrap(),
        };
        let line = format!("@ 3600 IN NAPTR {record}\n");
        let outcome = read_zone_str(&line, "p.zone", Some(&origin()));
        prop_assert!(outcome.diagnostics.iter().all(|d| d.rule != altodisc_zone::Rule::Z1), "{line}: {:?}", outcome.diagnostics);
        prop_assert_eq!(outcome.zone.records.len(), 1);
        let r = &outcome.zone.records[0];
        prop_assert_eq!(&r.rdata, &record.to_rdata().unwrap());
        prop_assert_eq!(r.rdata_positions.len(), 6);
    }
}
