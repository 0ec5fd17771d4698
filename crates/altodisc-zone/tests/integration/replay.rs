//! Intent replay against zones generated from the bundled publishing config: what the responder
//! would serve must be what the config declares (Z24 clean), and a record removed from the
//! generated zone is caught with the names the client walked.

use std::path::Path;

use altodisc_zone::Rule;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::publish_config::PublishConfig;
use altodisc_zone::record::rtype;
use altodisc_zone::replay::{Intent, replay};

fn config_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones/publish.toml"))
        .unwrap()
}

#[test]
fn generated_zones_match_the_declared_intent() {
    let text = config_text();
    let published = PublishConfig::from_toml(&text, "publish.toml")
        .unwrap()
        .build(None, 1_800_000_000)
        .unwrap();
    let intent = Intent::from_publish_config(&text, "publish.toml").unwrap();
    assert!(!intent.entries.is_empty());
    let mut checker = Checker::new(CheckOptions {
        now_unix: 1_800_000_000,
    });
    for z in &published.zones {
        checker.load_zone(z);
    }
    checker.index();
    let found = replay(checker.zones(), &intent);
    let listing = found
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    // Every sampled address reaches its URIs (no Z24). The only findings allowed are docs/decisions.md, A12
    // notes (Z21) for unaligned prefixes (the bundled config has a /22, published at four /24
    // names that the prefix-form query XDOMDISC(p/22) never reaches).
    assert!(!found.iter().any(|d| d.rule == Rule::Z24), "{listing}");
    assert!(
        found
            .iter()
            .all(|d| d.rule == Rule::Z21 && d.message.contains("not a supported length")),
        "{listing}"
    );
}

#[test]
fn a_missing_record_is_a_z24_mismatch_with_the_walk() {
    let text = config_text();
    let mut published = PublishConfig::from_toml(&text, "publish.toml")
        .unwrap()
        .build(None, 1_800_000_000)
        .unwrap();
    // Drop the NAPTR records of the first zone that has any.
    let zone = published
        .zones
        .iter_mut()
        .find(|z| z.records.iter().any(|r| r.rtype == rtype::NAPTR))
        .unwrap();
    let removed_owner = zone
        .records
        .iter()
        .find(|r| r.rtype == rtype::NAPTR)
        .unwrap()
        .owner
        .clone();
    zone.records
        .retain(|r| !(r.rtype == rtype::NAPTR && r.owner == removed_owner));
    let intent = Intent::from_publish_config(&text, "publish.toml").unwrap();
    let mut checker = Checker::new(CheckOptions {
        now_unix: 1_800_000_000,
    });
    for z in &published.zones {
        checker.load_zone(z);
    }
    checker.index();
    let found = replay(checker.zones(), &intent);
    let z24: Vec<String> = found
        .iter()
        .filter(|d| d.rule == Rule::Z24)
        .map(ToString::to_string)
        .collect();
    assert!(!z24.is_empty(), "removing {removed_owner} went unnoticed");
    assert!(
        z24.iter().any(|m| m.contains(&removed_owner.to_string())),
        "{z24:?}"
    );
}
