//! Wire encodings: NAPTR RDATA, names, DHCP options 213 / 57 / 15, the split
//! 213 (RFC 3396), the DHCPv6 Reply fragment, and the negative DHCP vectors.

use altodisc_proto::access_domain::{
    AccessDomainError, DHCPV4_ACCESS_DOMAIN, DHCPV4_DOMAIN_NAME, DHCPV6_ACCESS_DOMAIN,
    DHCPV6_INFORMATION_REFRESH_TIME, DhcpOptionsError, V4OptionAreas, decode_access_domain,
    encode_v4_access_domain_option, encode_v6_access_domain_option, parse_domain_name_option,
    v4_option, v6_options,
};
use altodisc_proto::{DomainName, NaptrRecord};

use crate::hex;

fn example_net() -> DomainName {
    DomainName::parse("example.net.").unwrap()
}

/// Each RDATA vector decodes to the record, and the record encodes back to the same octets.
#[test]
fn naptr_rdata_vectors() {
    let cases: [(&str, NaptrRecord); 4] = [
        (
            "0064000A01750A414C544F3A687474707325212E2A2168747470733A2F2F616C746F2D6973702E6578616D706C652E6E65742F6972642100",
            NaptrRecord::terminal(
                100,
                10,
                "ALTO:https",
                "!.*!https://alto-isp.example.net/ird!",
            ),
        ),
        (
            "00640014017509414C544F3A6874747024212E2A21687474703A2F2F616C746F2D6973702E6578616D706C652E6E65742F6972642100",
            NaptrRecord::terminal(100, 20, "ALTO:http", "!.*!http://alto-isp.example.net/ird!"),
        ),
        (
            "0032000A000A414C544F3A6874747073000A616C746F2D64656C6567076578616D706C65036F726700",
            NaptrRecord::non_terminal(
                50,
                10,
                "ALTO:https",
                DomainName::parse("alto-deleg.example.org.").unwrap(),
            ),
        ),
        (
            "00 64 00 0a 01 75 0a 41 4c 54 4f 3a 68 74 74 70 73 22 21 2e 2a 21 68 74 74 70 73 3a 2f 2f 61 6c 74 6f 31 2e 65 78 61 6d 70 6c 65 2e 6e 65 74 2f 69 72 64 21 00",
            NaptrRecord::terminal(100, 10, "ALTO:https", "!.*!https://alto1.example.net/ird!"),
        ),
    ];
    let lengths = [56, 54, 41, 53];
    for ((wire, record), len) in cases.iter().zip(lengths) {
        let bytes = hex(wire);
        assert_eq!(bytes.len(), len, "vector length for {record}");
        assert_eq!(&NaptrRecord::from_rdata(&bytes).unwrap(), record);
        assert_eq!(record.to_rdata().unwrap(), bytes, "encoding of {record}");
    }
}

#[test]
fn name_example_net() {
    assert_eq!(
        example_net().as_wire(),
        hex("07 65 78 61 6d 70 6c 65 03 6e 65 74 00")
    );
    assert_eq!(example_net().as_wire().len(), 13);
}

#[test]
fn dhcpv4_option_213() {
    let wire = hex("d5 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00");
    assert_eq!(encode_v4_access_domain_option(&example_net()), wire);
    let areas = V4OptionAreas {
        options: &wire,
        ..Default::default()
    };
    let payload = v4_option(&areas, DHCPV4_ACCESS_DOMAIN).unwrap().unwrap();
    assert_eq!(decode_access_domain(&payload), Ok(Some(example_net())));
}

#[test]
fn dhcpv4_option_213_split_is_concatenated() {
    // RFC 3396: two instances, concatenated in order, give the unsplit payload.
    let split = hex("d5 05 07 65 78 61 6d d5 08 70 6c 65 03 6e 65 74 00");
    let unsplit = hex("d5 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00");
    let got = v4_option(
        &V4OptionAreas {
            options: &split,
            ..Default::default()
        },
        DHCPV4_ACCESS_DOMAIN,
    )
    .unwrap()
    .unwrap();
    assert_eq!(got, unsplit[2..]);
    assert_eq!(decode_access_domain(&got), Ok(Some(example_net())));
}

#[test]
fn dhcpv4_option_15_is_ascii() {
    let wire = hex("0f 0b 65 78 61 6d 70 6c 65 2e 6e 65 74");
    let payload = v4_option(
        &V4OptionAreas {
            options: &wire,
            ..Default::default()
        },
        DHCPV4_DOMAIN_NAME,
    )
    .unwrap()
    .unwrap();
    assert_eq!(parse_domain_name_option(&payload), Ok(Some(example_net())));
    // The same bytes read as wire format would be nonsense: label length 0x65 is invalid.
    assert!(decode_access_domain(&payload).is_err());
}

#[test]
fn dhcpv6_option_57() {
    let wire = hex("00 39 00 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00");
    assert_eq!(encode_v6_access_domain_option(&example_net()), wire);
    let found = v6_options(&wire, DHCPV6_ACCESS_DOMAIN).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(decode_access_domain(found[0]), Ok(Some(example_net())));
}

#[test]
fn dhcpv6_reply_fragment_with_57_and_irt() {
    let reply = hex(
        "07 a1 b2 c3 00 39 00 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00 00 20 00 04 00 01 51 80",
    );
    assert_eq!(reply[0], 7, "message type Reply");
    let options = &reply[4..];
    let domain = v6_options(options, DHCPV6_ACCESS_DOMAIN).unwrap();
    assert_eq!(decode_access_domain(domain[0]), Ok(Some(example_net())));
    let irt = v6_options(options, DHCPV6_INFORMATION_REFRESH_TIME).unwrap();
    assert_eq!(irt, vec![&[0x00, 0x01, 0x51, 0x80][..]]);
    assert_eq!(
        u32::from_be_bytes([irt[0][0], irt[0][1], irt[0][2], irt[0][3]]),
        86_400
    );
}

#[test]
fn negative_213_compression_pointer() {
    let wire = hex("d5 04 c0 0c 00 00");
    let payload = v4_option(
        &V4OptionAreas {
            options: &wire,
            ..Default::default()
        },
        DHCPV4_ACCESS_DOMAIN,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        decode_access_domain(&payload),
        Err(AccessDomainError::CompressionPointer { offset: 0 })
    );
    // A pointer after a label is refused too.
    assert_eq!(
        decode_access_domain(&hex("03 66 6f 6f c0 0c")),
        Err(AccessDomainError::CompressionPointer { offset: 4 })
    );
}

#[test]
fn negative_213_two_names() {
    let mut payload = example_net().as_wire().to_vec();
    payload.extend_from_slice(&hex("03 66 6f 6f 00"));
    assert_eq!(
        decode_access_domain(&payload),
        Err(AccessDomainError::MultipleNames { offset: 13 })
    );
    // Trailing bytes that are not a name are reported as such.
    let mut junk = example_net().as_wire().to_vec();
    junk.push(0x05);
    assert_eq!(
        decode_access_domain(&junk),
        Err(AccessDomainError::TrailingBytes {
            offset: 13,
            count: 1
        })
    );
}

#[test]
fn negative_213_label_over_63() {
    let mut payload = vec![0x40];
    payload.extend(std::iter::repeat_n(b'a', 64));
    payload.push(0);
    assert_eq!(
        decode_access_domain(&payload),
        Err(AccessDomainError::LabelTooLong { offset: 0, len: 64 })
    );
    // Internal, not first: "ab" then a 0x41 length.
    let mut internal = hex("02 61 62 41");
    internal.extend(std::iter::repeat_n(b'a', 65));
    internal.push(0);
    assert_eq!(
        decode_access_domain(&internal),
        Err(AccessDomainError::LabelTooLong { offset: 3, len: 65 })
    );
}

#[test]
fn negative_213_over_255_after_concatenation() {
    // Five 63-octet labels: 5 * 64 + 1 = 321 octets, split over two option instances.
    let mut name = Vec::new();
    for _ in 0..5 {
        name.push(63u8);
        name.extend(std::iter::repeat_n(b'x', 63));
    }
    name.push(0);
    let (first, second) = name.split_at(200);
    let mut options = vec![213, u8::try_from(first.len()).unwrap()];
    options.extend_from_slice(first);
    options.push(213);
    options.push(u8::try_from(second.len()).unwrap());
    options.extend_from_slice(second);
    let payload = v4_option(
        &V4OptionAreas {
            options: &options,
            ..Default::default()
        },
        213,
    )
    .unwrap()
    .unwrap();
    assert_eq!(payload.len(), 321);
    assert_eq!(
        decode_access_domain(&payload),
        Err(AccessDomainError::NameTooLong { len: 256 })
    );
}

#[test]
fn negative_57_length_beyond_message() {
    // Option 57 declares 13 octets, but only 5 follow.
    let options = hex("00 39 00 0d 07 65 78 61 6d");
    assert_eq!(
        v6_options(&options, DHCPV6_ACCESS_DOMAIN),
        Err(DhcpOptionsError::LengthExceedsData {
            code: 57,
            offset: 0,
            declared: 13,
            remaining: 5
        })
    );
    // The same in DHCPv4 for 213.
    let v4 = hex("d5 0d 07 65 78");
    assert_eq!(
        v4_option(
            &V4OptionAreas {
                options: &v4,
                ..Default::default()
            },
            213
        ),
        Err(DhcpOptionsError::LengthExceedsData {
            code: 213,
            offset: 0,
            declared: 13,
            remaining: 3
        })
    );
}

#[test]
fn negative_empty_and_truncated() {
    assert_eq!(decode_access_domain(&[]), Err(AccessDomainError::Empty));
    assert_eq!(
        decode_access_domain(&hex("07 65 78")),
        Err(AccessDomainError::Truncated { offset: 3 })
    );
    assert_eq!(
        decode_access_domain(&hex("07 65 78 61 6d 70 6c 65")),
        Err(AccessDomainError::Truncated { offset: 8 })
    );
}
