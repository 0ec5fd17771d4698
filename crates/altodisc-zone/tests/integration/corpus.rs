//! The checker corpus: every `tests/checker/*.zone` file has a fixture `<name>.expected` listing the
//! diagnostics it must produce, one per line: `RULE SEVERITY [FILE:]LINE:COL` (FILE when the finding
//! is in another file, e.g. an `$INCLUDE`d one or the intent file; `-` for no position). An optional
//! `<name>.intent.toml` is replayed (Z24/Z21); an optional `<name>.origin` holds the origin given to
//! the checker (as `--origin` does; without it the origin comes from `$ORIGIN`). One `#[test]` per file, so a failure names the file;
//! `every_corpus_file_has_a_test` keeps the list and the directory in step.
//!
//! `ALTODISC_BLESS=1 cargo test -p altodisc-zone --test integration corpus` rewrites the fixtures
//! from the current output (review the diff before keeping it).

use std::path::{Path, PathBuf};

use altodisc_zone::Diagnostic;
use altodisc_zone::check::{CheckOptions, Checker};
use altodisc_zone::replay::{Intent, replay};

/// "Now" for RRSIG validity: 2027-01-15.
pub(crate) const NOW: u64 = 1_800_000_000;

pub(crate) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/checker")
        .canonicalize()
        .unwrap()
}

/// Checks one corpus file as `altodisc check` does (`--origin` only from a `.origin` file).
pub(crate) fn check_file(stem: &str) -> Vec<Diagnostic> {
    let dir = corpus_dir();
    let zone = dir.join(format!("{stem}.zone"));
    // An optional `<stem>.origin` gives the origin, as `altodisc check --origin` does.
    let origin = std::fs::read_to_string(dir.join(format!("{stem}.origin")))
        .ok()
        .map(|o| altodisc_proto::DomainName::parse(o.trim()).unwrap());
    let mut checker = Checker::new(CheckOptions { now_unix: NOW });
    // Z20b verifies signatures and the NSEC/NSEC3 chain, as `altodisc check` does by default.
    checker.set_verify_dnssec(true);
    checker.load_file(&zone, origin.as_ref()).unwrap();
    checker.index();
    let intent = dir.join(format!("{stem}.intent.toml"));
    if intent.exists() {
        let i = Intent::from_file(&intent).unwrap();
        let found = replay(checker.zones(), &i);
        checker.extend(found);
    }
    checker.finish()
}

fn render(stem: &str, diags: &[Diagnostic]) -> String {
    let dir = corpus_dir();
    let dir = dir.to_string_lossy();
    let own = format!("{stem}.zone");
    let mut out = String::new();
    for d in diags {
        let place = match &d.position {
            None => "-".to_owned(),
            Some(p) => {
                let file = p
                    .file
                    .strip_prefix(dir.as_ref())
                    .unwrap_or(&p.file)
                    .trim_start_matches('/');
                if file == own {
                    format!("{}:{}", p.line, p.column)
                } else {
                    format!("{file}:{}:{}", p.line, p.column)
                }
            }
        };
        out.push_str(&format!("{} {} {place}\n", d.rule.id(), d.severity));
    }
    out
}

fn strip(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn run(stem: &str) {
    let diags = check_file(stem);
    let got = render(stem, &diags);
    let fixture = corpus_dir().join(format!("{stem}.expected"));
    if std::env::var_os("ALTODISC_BLESS").is_some() {
        // Each expected line, preceded by the message as a comment for the reader of the fixture.
        let blessed: String = diags
            .iter()
            .zip(got.lines())
            .map(|(d, line)| format!("# {}\n{line}\n", d.message.replace('\n', " ")))
            .collect();
        std::fs::write(&fixture, blessed).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&fixture)
        .unwrap_or_else(|e| panic!("{stem}: fixture {} unreadable: {e}", fixture.display()));
    let listing: String = diags.iter().map(|d| format!("  {d}\n")).collect();
    assert_eq!(
        got,
        strip(&want),
        "corpus file tests/checker/{stem}.zone: diagnostics differ from {stem}.expected\nfull output:\n{listing}"
    );
}

macro_rules! corpus {
    ($($name:ident => $stem:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run($stem);
            }
        )*
        const STEMS: &[&str] = &[$($stem),*];
    };
}

corpus! {
    c01_valid_rfc7286 => "01-valid-rfc7286",
    c02_z20_unsigned_rfc8686 => "02-z20-unsigned-rfc8686",
    c03_valid_signed_reverse => "03-valid-signed-reverse",
    c04_z20_rfc8686_c4_ipv6 => "04-z20-rfc8686-c4-ipv6",
    c05_z2_rfc7286_as_printed => "05-z2-rfc7286-as-printed",
    c06_z2_rfc8686_as_printed => "06-z2-rfc8686-as-printed",
    c07_z1_order_70000 => "07-z1-order-70000",
    c08_z1_unterminated_quote => "08-z1-unterminated-quote",
    c09_z1_string_too_long => "09-z1-string-too-long",
    c10_z1_rfc4848_unbalanced_paren => "10-z1-rfc4848-unbalanced-paren",
    c11_z1_bad_escape => "11-z1-bad-escape",
    c12_z1_unknown_type => "12-z1-unknown-type",
    c13_z1_preference_out_of_range => "13-z1-preference-out-of-range",
    c14_z3_flags_not_alphanumeric => "14-z3-flags-not-alphanumeric",
    c15_z3b_unknown_flag => "15-z3b-unknown-flag",
    c16_z4_bad_services => "16-z4-bad-services",
    c17_z5_other_protocol => "17-z5-other-protocol",
    c18_z5b_http => "18-z5b-http",
    c19_z6_anchored_regexp => "19-z6-anchored-regexp",
    c20_z6_flag_i => "20-z6-flag-i",
    c21_z6_other_delimiter => "21-z6-other-delimiter",
    c22_z7_u_with_replacement => "22-z7-u-with-replacement",
    c23_z8_regexp_and_replacement => "23-z8-regexp-and-replacement",
    c24_z9_empty_uri => "24-z9-empty-uri",
    c25_z9_raw_bang => "25-z9-raw-bang",
    c26_z9_unsupported_scheme => "26-z9-unsupported-scheme",
    c27_z10_scheme_mismatch => "27-z10-scheme-mismatch",
    c28_z11_non_terminal_errors => "28-z11-non-terminal-errors",
    c29_z12_target_missing => "29-z12-target-missing",
    c30_z12_target_no_match => "30-z12-target-no-match",
    c31_z13_loop => "31-z13-loop",
    c32_z13_too_deep => "32-z13-too-deep",
    c33_z14_ipv6_60_owner => "33-z14-ipv6-60-owner",
    c34_z14_ipv4_rfc2317_owner => "34-z14-ipv4-rfc2317-owner",
    c35_z15_cname_and_naptr => "35-z15-cname-and-naptr",
    c36_z16_rfc2317_cname => "36-z16-rfc2317-cname",
    c37_z16_dangling_cname => "37-z16-dangling-cname",
    c38_z17_wildcard_siblings => "38-z17-wildcard-siblings",
    c39_z18_large_rrset => "39-z18-large-rrset",
    c40_z19_duplicate_order_pref => "40-z19-duplicate-order-pref",
    c41_z20b_missing_rrsig => "41-z20b-missing-rrsig",
    c42_z20b_expired_rrsig => "42-z20b-expired-rrsig",
    c43_z22_http_only_domain => "43-z22-http-only-domain",
    c44_z23_backslashes => "44-z23-backslashes",
    c45_include_with_origin => "45-include-with-origin",
    c46_include_cycle => "46-include-cycle",
    c47_include_missing => "47-include-missing",
    c48_include_nested_error => "48-include-nested-error",
    c49_syntax_traps_valid => "49-syntax-traps-valid",
    c50_z1_generic_bad_length => "50-z1-generic-bad-length",
    c51_z1_missing_fields => "51-z1-missing-fields",
    c52_intent_ok => "52-intent-ok",
    c53_intent_mismatch => "53-intent-mismatch",
    c54_z1_no_origin_relative => "54-z1-no-origin-relative",
    c55_z1_bad_ttl_and_class => "55-z1-bad-ttl-and-class",
    c56_z16_cname_loop_without_alto => "56-z16-cname-loop-without-alto",
    c57_z25_several_cnames => "57-z25-several-cnames",
    c58_z26_dname_singleton_and_ns => "58-z26-dname-singleton-and-ns",
    c59_z27_below_dname => "59-z27-below-dname",
    c60_z28_soa_twice_and_below_apex => "60-z28-soa-twice-and-below-apex",
    c61_z28_no_soa => "61-z28-no-soa",
    c62_z29_class_not_in => "62-z29-class-not-in",
    c63_z30_outside_the_zone => "63-z30-outside-the-zone",
}

#[test]
fn every_corpus_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".zone").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = STEMS.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "add new corpus files to the corpus! list");
    assert!(
        listed.len() >= 40,
        "the corpus must hold at least 40 zone files"
    );
}

#[test]
fn every_rule_is_exercised_by_the_corpus() {
    use std::collections::BTreeSet;
    let mut seen = BTreeSet::new();
    for stem in STEMS {
        for d in check_file(stem) {
            seen.insert(d.rule);
        }
    }
    let missing: Vec<&str> = altodisc_zone::Rule::ALL
        .iter()
        .filter(|r| !seen.contains(r))
        .map(|r| r.id())
        .collect();
    assert!(
        missing.is_empty(),
        "rules no corpus file triggers: {missing:?}"
    );
}
