// Fuzz-target bodies for altodisc-resolver's parsers of outside input: DHCP replies, lease
// files, IRD JSON and the batch UDP engine's DNS responses. `include!`d by the fuzz targets (fuzz/fuzz_targets/) and by the replay
// test (crates/altodisc-resolver/tests/integration/fuzz_replay.rs). Each body must never panic.

use std::path::Path;

use altodisc_resolver::dhcp::lease::parse_lease_bytes;
use altodisc_resolver::dhcp::{AddressFamily, v4, v6};
use altodisc_resolver::verify::ird::{IrdRole, alto_error_code, check_ird, parse_json};

/// Target `dhcp_reply`: a datagram read as a DHCPv4 reply (RFC 2131 §2, options RFC 2132 /
/// RFC 3396) and as a DHCPv6 Reply (RFC 8415 §8), then the access domain taken from it
/// (RFC 7286 §3.1).
pub(crate) fn dhcp_reply(data: &[u8]) {
    if let Ok(reply) = v4::parse_reply(data, None)
        && let Ok((name, _)) = v4::domain_from_reply(&reply, "fuzz")
    {
        assert!(!name.is_root(), "the root is no access domain");
    }
    if let Ok(reply) = v6::parse_reply(data, None)
        && let Ok(name) = v6::domain_from_reply(&reply, "fuzz")
    {
        assert!(!name.is_root(), "the root is no access domain");
    }
}

/// Target `lease_file`: dhclient text leases and dhcpcd binary leases, for both families, with
/// and without an interface filter.
pub(crate) fn lease_file(data: &[u8]) {
    let path = Path::new("fuzz.lease");
    for family in [AddressFamily::Ipv4, AddressFamily::Ipv6] {
        for interface in [None, Some("eth0")] {
            if let Ok(learned) = parse_lease_bytes(data, path, interface, family) {
                assert!(!learned.domain.is_root(), "the root is no access domain");
            }
        }
    }
}

/// Target `ird_json`: strict JSON (RFC 8259) and the IRD checks of RFC 7285 §9.2, as a root and
/// as a nested IRD, with relative URIs resolved against an https base (RFC 3986 §5).
pub(crate) fn ird_json(data: &[u8]) {
    let Ok(value) = parse_json(data) else {
        return;
    };
    let _ = alto_error_code(&value);
    let Ok(base) = url::Url::parse("https://alto.example.net/directory/ird") else {
        panic!("the base URL is a constant and valid");
    };
    for role in [IrdRole::Root, IrdRole::Nested] {
        if let Ok(checked) = check_ird(&value, &base, role) {
            // RFC 7285 §9.2.2: a root IRD names its default network map.
            assert!(role != IrdRole::Root || checked.default_network_map.is_some());
            for entry in &checked.services {
                let _ = entry.kind.label();
                assert!(url::Url::parse(&entry.uri).is_ok(), "{entry:?}");
            }
            let _ = checked.nested().count();
        }
    }
}

/// Target `engine_response`: a datagram read by the batch UDP engine's in-place response reader
/// (RFC 1035 §4.1) as the answer to a `NAPTR` query for its own question's name. Never a panic,
/// and only messages hickory's full decoder accepts too are decided by the engine (anything else
/// goes to the full client, whose results the batch must equal).
pub(crate) fn engine_response(data: &[u8]) {
    if altodisc_resolver::udp_engine::decides_response(data) {
        assert!(
            hickory_resolver::proto::op::Message::from_vec(data).is_ok(),
            "the engine decided a message hickory's decoder rejects"
        );
    }
}
