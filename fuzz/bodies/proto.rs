// Fuzz-target bodies for altodisc-proto's wire and text parsers. `include!`d by the fuzz
// targets (fuzz/fuzz_targets/) and by the replay test (crates/altodisc-proto/tests/integration/
// fuzz_replay.rs), so the corpus replayed on stable runs exactly what libFuzzer ran.
// Each body must never panic on any input; the assertions state properties that hold for every
// input a parser accepts.

use altodisc_proto::access_domain::{
    V4OptionAreas, decode_access_domain, encode_access_domain, parse_domain_name_option, v4_option,
    v6_options,
};
use altodisc_proto::name::{DomainName, MAX_NAME_LEN};
use altodisc_proto::naptr::{NaptrRecord, quote_character_string};
use altodisc_proto::regexp::{RegexpMode, extract_unaptr_uri, unaptr_regexp_for};
use altodisc_proto::subst::validate_substitution;

/// A decoded name survives presentation format and back, octet for octet (case kept).
fn name_round_trips(name: &DomainName) {
    assert!(name.as_wire().len() <= MAX_NAME_LEN, "{name:?}");
    let text = name.to_string();
    match DomainName::parse(&text) {
        Ok(again) => assert_eq!(again.as_wire(), name.as_wire(), "{text}"),
        Err(e) => panic!("{name:?} printed as {text:?}, which does not parse: {e}"),
    }
}

/// Target `dns_name`: uncompressed wire names, compressed names inside a message at every
/// offset (RFC 1035 §4.1.4), and presentation format (RFC 1035 §5.1).
pub(crate) fn dns_name(data: &[u8]) {
    if let Ok((name, used)) = DomainName::from_wire(data) {
        assert_eq!(Some(name.as_wire()), data.get(..used));
        assert_eq!(
            DomainName::from_wire_owned(name.as_wire().to_vec()).ok(),
            Some(name.clone())
        );
        name_round_trips(&name);
    }
    // The fuzzer's message, read at the first 64 offsets like an answer section would be.
    for start in 0..data.len().min(64) {
        if let Ok((name, used)) = DomainName::from_message(data, start) {
            assert!(used >= 1 && start.checked_add(used).is_some_and(|end| end <= data.len()));
            name_round_trips(&name);
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(name) = DomainName::parse(text)
    {
        name_round_trips(&name);
    }
}

/// Target `naptr_rdata`: standalone RDATA (RFC 3403 §4.1) and RDATA inside a message with a
/// compressed REPLACEMENT (RFC 3597 §4). The first two octets choose where the RDATA sits.
pub(crate) fn naptr_rdata(data: &[u8]) {
    if let Ok(rec) = NaptrRecord::from_rdata(data) {
        // Standalone RDATA has no compression, so encoding gives the input back.
        assert_eq!(rec.to_rdata().ok().as_deref(), Some(data));
        let _ = quote_character_string(&rec.regexp);
    }
    if let [start, len, message @ ..] = data {
        let (start, len) = (usize::from(*start), usize::from(*len));
        if let Ok(rec) = NaptrRecord::from_message_rdata(message, start, len) {
            let rdata = rec.to_rdata();
            let again = rdata.as_deref().map(NaptrRecord::from_rdata);
            assert!(
                matches!(again, Ok(Ok(ref r)) if *r == rec),
                "{rec:?}: {again:?}"
            );
        }
    }
}

/// Target `subst_regexp`: the RFC 3402 §3.2 substitution-expression validator and the
/// U-NAPTR terminal REGEXP reader (RFC 4848 §2.2) in both modes.
pub(crate) fn subst_regexp(data: &[u8]) {
    let _ = validate_substitution(data);
    let strict = extract_unaptr_uri(data, RegexpMode::Strict);
    let lenient = extract_unaptr_uri(data, RegexpMode::Lenient);
    if let Ok(uri) = &strict {
        // Lenient accepts a superset of Strict, with the same URI for what both accept.
        assert_eq!(lenient.as_ref(), Ok(uri));
        // And the field the publisher writes for that URI reads back as it.
        let field = unaptr_regexp_for(uri);
        assert_eq!(
            extract_unaptr_uri(field.as_bytes(), RegexpMode::Strict).as_ref(),
            Ok(uri)
        );
        assert!(validate_substitution(field.as_bytes()).is_ok(), "{field}");
    }
}

/// Target `access_domain`: DHCP options 213 / 57 payloads (RFC 5986 §3), option 15
/// (RFC 2132 §3.17), and the option areas of DHCPv4 (RFC 3396 overload and concatenation) and
/// DHCPv6 (RFC 8415 §21.1). The first octet splits the rest into options / file / sname.
pub(crate) fn access_domain(data: &[u8]) {
    if let Ok(Some(name)) = decode_access_domain(data) {
        name_round_trips(&name);
        let encoded = encode_access_domain(&name);
        assert_eq!(decode_access_domain(&encoded).ok(), Some(Some(name)));
    }
    if let Ok(Some(name)) = parse_domain_name_option(data) {
        name_round_trips(&name);
    }
    let _ = v6_options(data, 57);
    if let [split, rest @ ..] = data {
        let cut = usize::from(*split).min(rest.len());
        let (options, tail) = rest.split_at(cut);
        let (file, sname) = tail.split_at(tail.len().min(128));
        let areas = V4OptionAreas {
            options,
            file,
            sname,
        };
        for code in [213, 15, 52] {
            if let Ok(Some(payload)) = v4_option(&areas, code) {
                let _ = decode_access_domain(&payload);
            }
        }
    }
}
