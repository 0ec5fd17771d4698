//! Property test for the U-NAPTR walk ([`altodisc_proto::walk`]): on arbitrary record sets,
//! CNAMEs and failures it never panics, ends, asks each name at most once, stays within the
//! lookup budget and never mixes protocols. At least 10,000 cases, like `properties`.

use std::collections::HashSet;

use altodisc_proto::walk::{NameAnswer, UnaptrWalk, WalkOptions, WalkStatus, WalkStep};
use altodisc_proto::{DomainName, NaptrRecord, WantedService};
use proptest::prelude::*;

/// Names the records point at; small so that loops and shared targets are common.
const NAMES: usize = 6;

fn name(i: usize) -> DomainName {
    DomainName::parse(&format!("n{i}.example.")).unwrap()
}

fn record() -> impl Strategy<Value = NaptrRecord> {
    let flags = prop::sample::select(vec!["u", "U", "", "s", "a", "p", "u2", "!"]);
    let services = prop::sample::select(vec![
        "ALTO:https",
        "ALTO:http",
        "alto:HTTPS:http",
        "ALTO",
        "LIS:HELD",
        "bad service",
        "",
    ]);
    let regexp = prop::sample::select(vec![
        "",
        "!.*!https://a.example/ird!",
        "!.*!http://b.example/ird!",
        "!^.*$!https://c.example/!",
        "!.*!not a uri!",
    ]);
    // NAMES means the root (no REPLACEMENT).
    (0u16..4, 0u16..4, flags, services, regexp, 0..=NAMES).prop_map(
        |(order, preference, flags, services, regexp, target)| NaptrRecord {
            order,
            preference,
            flags: flags.as_bytes().to_vec(),
            services: services.as_bytes().to_vec(),
            regexp: regexp.as_bytes().to_vec(),
            replacement: if target == NAMES {
                DomainName::root()
            } else {
                name(target)
            },
        },
    )
}

/// What a lookup at one name gives: `Some(i)` = a CNAME to name `i` owning the records.
fn answer() -> impl Strategy<Value = (u8, Option<usize>, Vec<NaptrRecord>, u32)> {
    (
        0u8..8,
        prop::option::weighted(0.2, 0..NAMES),
        prop::collection::vec(record(), 0..6),
        any::<u32>(),
    )
}

fn to_answer(
    queried: &DomainName,
    (kind, cname, records, ttl): &(u8, Option<usize>, Vec<NaptrRecord>, u32),
) -> NameAnswer<u8> {
    match kind {
        0 => NameAnswer::NxDomain,
        1 => NameAnswer::NoData,
        2 => NameAnswer::Temporary(*kind),
        _ => {
            let owner = cname.map_or_else(|| queried.clone(), name);
            let cname_chain = if owner == *queried {
                Vec::new()
            } else {
                vec![queried.clone()]
            };
            NameAnswer::Records {
                owner,
                cname_chain,
                records: records.clone(),
                ttl: *ttl,
                malformed: Vec::new(),
            }
        }
    }
}

fn wanted() -> impl Strategy<Value = Vec<WantedService>> {
    prop::collection::vec(
        prop::sample::select(vec![
            WantedService::alto_https(),
            WantedService::alto_http(),
            WantedService {
                service: "LIS".to_owned(),
                protocol: "HELD".to_owned(),
            },
        ]),
        0..4,
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 10_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn walk_ends_within_budget_and_never_mixes_protocols(
        zone in prop::collection::vec(answer(), NAMES),
        start in 0..NAMES,
        wanted in wanted(),
        max_depth in 0usize..8,
        max_lookups in 0usize..12,
        first_order_only in any::<bool>(),
        stray in any::<bool>(),
    ) {
        let options = WalkOptions { max_depth, max_lookups, first_order_only, ..WalkOptions::default() };
        let mut walk = UnaptrWalk::new(name(start), &wanted, options);
        let mut asked = HashSet::new();
        let mut steps = 0usize;
        // Every step but the last asks a new name, and at most max_lookups of them.
        let bound = max_lookups + 1;
        let outcome = loop {
            steps += 1;
            prop_assert!(steps <= bound, "walk did not end within {} steps", bound);
            match walk.next_step() {
                WalkStep::Query(q) => {
                    prop_assert!(asked.insert(q.clone()), "{} asked twice", q);
                    let i = (0..NAMES).find(|&i| name(i) == q).unwrap();
                    if stray {
                        // Answers for names not asked are ignored.
                        prop_assert!(!walk.answer(&name((i + 1) % NAMES), NameAnswer::NxDomain));
                    }
                    prop_assert!(walk.answer(&q, to_answer(&q, &zone[i])));
                }
                WalkStep::Done(o) => break o,
            }
        };
        prop_assert!(asked.len() <= max_lookups);
        prop_assert_eq!(outcome.lookups, asked.len());
        prop_assert_eq!(outcome.found(), outcome.status == WalkStatus::Found);
        prop_assert!(outcome.protocols_tried.len() <= wanted.len());
        if let Some(last) = outcome.protocols_tried.last() {
            for c in &outcome.candidates {
                prop_assert_eq!(&c.protocol, last);
                prop_assert_eq!(c.chain.first(), Some(&name(start)));
                prop_assert_eq!(c.chain.last(), Some(&c.owner));
            }
        } else {
            prop_assert!(outcome.candidates.is_empty());
        }
        for v in &outcome.visits {
            prop_assert!(v.depth <= max_depth + 1);
        }
    }
}
