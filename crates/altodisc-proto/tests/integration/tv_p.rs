//! Parser and validator vectors: service fields, the U-NAPTR regexp, the RFC 3402
//! validator, zone-file escaping as it arrives on the wire, and flags. Negative vectors assert the
//! exact error variant.

use altodisc_proto::regexp::{RegexpMode, UnaptrRegexpError, extract_unaptr_uri};
use altodisc_proto::select::{NextStep, SelectionOptions, SkipReason, classify, select};
use altodisc_proto::service::{ServiceParamError, ServiceParameter, WantedService};
use altodisc_proto::subst::{SubstErrorKind, validate_substitution};
use altodisc_proto::uri::UriError;
use altodisc_proto::{DomainName, NaptrRecord};

// ---- Service field (RFC 4848 §4.5) ----

#[test]
fn service_alto_https() {
    let sp: ServiceParameter = "ALTO:https".parse().unwrap();
    assert_eq!(sp.service(), Some("ALTO"));
    assert_eq!(sp.protocols(), ["https"]);
}

#[test]
fn service_accepted_forms() {
    let ci: ServiceParameter = "alto:HTTPS".parse().unwrap();
    assert!(ci.matches("ALTO", "https"), "case-insensitive");
    assert_eq!(ci, "ALTO:https".parse().unwrap());

    let both: ServiceParameter = "ALTO:http:https".parse().unwrap();
    assert!(both.matches("ALTO", "http") && both.matches("ALTO", "https"));

    let exp: ServiceParameter = "x-foo:x-bar".parse().unwrap();
    assert!(exp.matches("x-foo", "x-bar"));

    let lis: ServiceParameter = "LIS:HELD".parse().unwrap();
    assert!(!lis.matches("ALTO", "https") && lis.matches("LIS", "HELD"));

    let bare: ServiceParameter = "ALTO".parse().unwrap();
    assert_eq!(bare.service(), Some("ALTO"));
    assert!(
        bare.protocols().is_empty(),
        "service only (docs/decisions.md, A8)"
    );
    assert!(!bare.matches("ALTO", "https"));
}

#[test]
fn service_rejected_forms() {
    assert_eq!(
        "ALTO:".parse::<ServiceParameter>(),
        Err(ServiceParamError::EmptyProtocol { offset: 5 })
    );
    assert_eq!(
        "1ALTO:https".parse::<ServiceParameter>(),
        Err(ServiceParamError::TagMustStartWithLetter {
            offset: 0,
            found: '1'
        })
    );
    let long = format!("A{}", "b".repeat(32));
    assert_eq!(long.len(), 33);
    assert_eq!(
        format!("{long}:https").parse::<ServiceParameter>(),
        Err(ServiceParamError::TagTooLong { offset: 0, len: 33 })
    );
    assert_eq!(
        format!("ALTO:{long}").parse::<ServiceParameter>(),
        Err(ServiceParamError::TagTooLong { offset: 5, len: 33 })
    );
    assert_eq!(
        "ALTO https".parse::<ServiceParameter>(),
        Err(ServiceParamError::InvalidCharacter {
            offset: 4,
            found: ' '
        })
    );
    // 32 characters is the limit, not an error.
    let max = format!("A{}", "b".repeat(31));
    assert!(format!("{max}:https").parse::<ServiceParameter>().is_ok());
}

#[test]
fn service_without_service_tag_never_matches_alto() {
    let sp: ServiceParameter = ":https".parse().unwrap();
    assert_eq!(sp.service(), None);
    assert_eq!(sp.protocols(), ["https"]);
    assert!(!sp.matches("ALTO", "https"));
    let empty: ServiceParameter = "".parse().unwrap();
    assert_eq!((empty.service(), empty.protocols().len()), (None, 0));
}

// ---- U-NAPTR regexp (RFC 4848 §2.2) ----

#[test]
fn unaptr_regexp_accepted() {
    assert_eq!(
        extract_unaptr_uri(b"!.*!https://alto1.example.net/ird!", RegexpMode::Strict).unwrap(),
        "https://alto1.example.net/ird"
    );
}

#[test]
fn unaptr_regexp_rejected() {
    let strict = |r: &str| extract_unaptr_uri(r.as_bytes(), RegexpMode::Strict);
    assert_eq!(
        strict("!^.*$!https://a/!"),
        Err(UnaptrRegexpError::AnchoredForm)
    );
    assert_eq!(
        strict("!.*!https://a/!i"),
        Err(UnaptrRegexpError::FlagsNotAllowed { flags: "i".into() })
    );
    assert_eq!(
        strict("#.*#https://a/#"),
        Err(UnaptrRegexpError::WrongDelimiter { found: '#' })
    );
    assert_eq!(strict("!.*!!"), Err(UnaptrRegexpError::EmptyUri));
    assert_eq!(
        strict("!.*!https://a!b!"),
        Err(UnaptrRegexpError::RawDelimiter { offset: 13 })
    );
    assert_eq!(
        strict(r"!(.*)!\1!"),
        Err(UnaptrRegexpError::Backreference { offset: 6 })
    );
}

#[test]
fn unaptr_regexp_lenient_mode_accepts_the_anchored_variant() {
    assert_eq!(
        extract_unaptr_uri(b"!^.*$!https://a/!", RegexpMode::Lenient).unwrap(),
        "https://a/"
    );
}

// ---- RFC 3402 substitution-expression validator ----

#[test]
fn rfc3402_accepted() {
    for expr in ["!.*!x!i", "!.*!x!ii", "#.*#https://a.example/#"] {
        assert!(
            validate_substitution(expr.as_bytes()).is_ok(),
            "{expr} should be valid"
        );
    }
    // BIND does not check backreference numbers; we do, but a valid one passes.
    assert!(validate_substitution(br"!(.*)!\1!").is_ok());
}

#[test]
fn rfc3402_rejected_with_offsets() {
    let k = |e: &str| {
        let err = validate_substitution(e.as_bytes()).unwrap_err();
        (err.kind, err.offset)
    };
    assert_eq!(
        k("!.*!https://a"),
        (SubstErrorKind::MissingDelimiter { found: 2 }, 13)
    );
    assert_eq!(k("1.*1x1"), (SubstErrorKind::DigitDelimiter('1'), 0));
    assert_eq!(k("0.*0x0"), (SubstErrorKind::DigitDelimiter('0'), 0));
    assert_eq!(k("i.*ixi"), (SubstErrorKind::FlagDelimiter('i'), 0));
    assert_eq!(k("!.*!x!q"), (SubstErrorKind::UnknownFlag('q'), 6));
    assert_eq!(k("!.*!x!I"), (SubstErrorKind::UppercaseFlag, 6));
    assert_eq!(k("!!x!"), (SubstErrorKind::EmptyEre, 1));
    // BIND accepts `\2` with one group; RFC 3402 makes it an error, and we report it.
    assert_eq!(
        k(r"!(.*)!\2!"),
        (
            SubstErrorKind::BackrefOutOfRange {
                number: 2,
                groups: 1
            },
            6
        )
    );
}

// ---- Zone-file escaping (RFC 3403 §6.1/§7): the wire strings after master-file decoding ----

#[test]
fn doubled_backslashes_arrive_single_on_the_wire() {
    // Master file "!^urn:cid:.+@([^\\.]+\\.)(.*)$!\\2!i" → wire string below.
    let wire = br"!^urn:cid:.+@([^\.]+\.)(.*)$!\2!i";
    let s = validate_substitution(wire).unwrap();
    assert_eq!(
        (s.capture_groups, s.max_backreference, s.case_insensitive),
        (2, 2, true)
    );
}

#[test]
fn escaped_delimiter_in_the_uri() {
    // Master file "!.*!https://x.example/a\\!b!" → wire `!.*!https://x.example/a\!b!` (docs/decisions.md, A3).
    let wire = br"!.*!https://x.example/a\!b!";
    assert!(
        validate_substitution(wire).is_ok(),
        "valid RFC 3402 (escapeddelim)"
    );
    assert_eq!(
        extract_unaptr_uri(wire, RegexpMode::Strict),
        Err(UnaptrRegexpError::EscapedDelimiter { offset: 23 })
    );
    assert_eq!(
        extract_unaptr_uri(wire, RegexpMode::Lenient).unwrap(),
        "https://x.example/a!b"
    );
}

// ---- Flags (RFC 4848 §4.4) and selection ----

fn record(flags: &str, services: &str, regexp: &str, replacement: &str) -> NaptrRecord {
    NaptrRecord {
        order: 100,
        preference: 10,
        flags: flags.as_bytes().to_vec(),
        services: services.as_bytes().to_vec(),
        regexp: regexp.as_bytes().to_vec(),
        replacement: DomainName::parse(replacement).unwrap(),
    }
}

#[test]
fn flags_u_and_lowercase_u_are_equivalent() {
    let w = WantedService::alto_https();
    let o = SelectionOptions::default();
    let uri = NextStep::Uri("https://a.example/ird".into());
    assert_eq!(
        classify(
            &record("u", "ALTO:https", "!.*!https://a.example/ird!", "."),
            &w,
            &o
        ),
        Ok(uri.clone())
    );
    assert_eq!(
        classify(
            &record("U", "ALTO:https", "!.*!https://a.example/ird!", "."),
            &w,
            &o
        ),
        Ok(uri)
    );
}

#[test]
fn empty_flag_is_non_terminal() {
    let w = WantedService::alto_https();
    let r = record("", "ALTO:https", "", "alto-deleg.example.org.");
    assert_eq!(
        classify(&r, &w, &SelectionOptions::default()),
        Ok(NextStep::Follow(
            DomainName::parse("alto-deleg.example.org.").unwrap()
        ))
    );
}

#[test]
fn unknown_flags_are_skipped() {
    let w = WantedService::alto_https();
    let o = SelectionOptions::default();
    for flags in ["P", "X", "UA"] {
        assert_eq!(
            classify(&record(flags, "ALTO:https", "!.*!https://a/!", "."), &w, &o),
            Err(SkipReason::UnknownFlag(flags.into())),
            "flags {flags}"
        );
    }
    assert_eq!(
        classify(
            &record("S", "ALTO:https", "", "_alto._tcp.example."),
            &w,
            &o
        ),
        Err(SkipReason::HostFlag('S'))
    );
    assert_eq!(
        classify(&record("u!", "ALTO:https", "!.*!https://a/!", "."), &w, &o),
        Err(SkipReason::InvalidFlags("u!".into()))
    );
}

#[test]
fn skip_reasons_for_bad_records() {
    let w = WantedService::alto_https();
    let o = SelectionOptions::default();
    let skip = |r: NaptrRecord| classify(&r, &w, &o).unwrap_err();
    assert_eq!(
        skip(record(
            "u",
            "ALTO:https",
            "!.*!https://a/!",
            "other.example."
        )),
        SkipReason::RegexpAndReplacement
    );
    assert_eq!(
        skip(record("u", "ALTO:https", "!.*!http://a/!", ".")),
        SkipReason::BadUri(UriError::SchemeMismatch {
            scheme: "http".into(),
            protocol: "https".into()
        }),
        "http:// under ALTO:https (docs/decisions.md, A2)"
    );
    assert_eq!(
        skip(record("u", "LIS:HELD", "!.*!https://lis.example/!", ".")),
        SkipReason::ServiceMismatch {
            found: "LIS:HELD".into()
        }
    );
    assert_eq!(
        skip(record("u", "ALTO:http", "!.*!http://a/!", ".")),
        SkipReason::ProtocolMismatch {
            found: "ALTO:http".into()
        }
    );
    assert_eq!(
        skip(record("u", "ALTO:https", "", "host.example.")),
        SkipReason::TerminalWithReplacement
    );
    assert_eq!(
        skip(record("", "ALTO:https", "", ".")),
        SkipReason::NonTerminalWithoutTarget
    );
    assert_eq!(
        skip(record("u", "ALTO:https", "!^.*$!https://a/!", ".")),
        SkipReason::BadRegexp(UnaptrRegexpError::AnchoredForm)
    );
}

#[test]
fn mixed_case_service_fields_match() {
    let recs = [
        record("U", "alto:HTTPS", "!.*!https://a.example/ird!", "."),
        record("u", "Alto:Https", "!.*!https://b.example/ird!", "."),
    ];
    let sel = select(
        &recs,
        &WantedService::alto_https(),
        &SelectionOptions::default(),
    );
    assert_eq!(sel.usable.len(), 2);
    assert!(sel.skipped.is_empty());
}

/// TV-Z1 / RFC 7286 §3.2 example as selection: two records, reverse wire order (as BIND sent them).
#[test]
fn rfc7286_example_selection_ignores_wire_order() {
    let recs = [
        NaptrRecord::terminal(100, 20, "ALTO:https", "!.*!https://alto2.example.net/ird!"),
        NaptrRecord::terminal(100, 10, "ALTO:https", "!.*!https://alto1.example.net/ird!"),
    ];
    let sel = select(
        &recs,
        &WantedService::alto_https(),
        &SelectionOptions::default(),
    );
    let got: Vec<_> = sel
        .usable
        .iter()
        .map(|u| (u.next.clone(), u.order, u.preference))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                NextStep::Uri("https://alto1.example.net/ird".into()),
                100,
                10
            ),
            (
                NextStep::Uri("https://alto2.example.net/ird".into()),
                100,
                20
            ),
        ]
    );
    // The same records asked for over http: nothing usable (NODATA-equivalent).
    let http = select(
        &recs,
        &WantedService::alto_http(),
        &SelectionOptions::default(),
    );
    assert!(http.nothing_usable());
}
