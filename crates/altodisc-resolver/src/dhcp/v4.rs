//! DHCPINFORM client (RFC 2131 §3.4, §4.4.3) for option 213 and, failing that, option 15.
//!
//! The request is built with dhcproto 0.15 (its option order, by code, gives exactly the options
//! area of our wire test vector). Replies are read from the raw bytes: the BOOTP header by offset and the
//! options with `altodisc_proto::access_domain::v4_option`, which applies RFC 3396 concatenation
//! and option overload (52) — dhcproto's typed decoder does neither for `file`/`sname` and would
//! reject a whole message for one odd option we do not care about.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use altodisc_proto::access_domain::{
    DHCPV4_ACCESS_DOMAIN, DHCPV4_DOMAIN_NAME, V4OptionAreas, decode_access_domain,
    parse_domain_name_option, v4_option,
};
use altodisc_proto::name::DomainName;
use dhcproto::Encodable as _;
use dhcproto::v4;
use socket2::{Domain, Protocol, Socket, Type};

use super::exchange::{bind_or_privilege, io_error, receive_until, register};
use super::iface::Interface;
use super::retransmit::{uniform, v4_wait};
use super::{ClientOptions, DhcpError, DomainSource, LearnedDomain, Trace, hex};

/// DHCP server port (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// DHCP client port (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;
/// BOOTP's minimum message size (RFC 1542 §2.1); some relays drop shorter messages.
const BOOTP_MIN_LEN: usize = 300;
/// Fixed BOOTP header plus magic cookie (RFC 2131 §2, §3).
const HEADER_LEN: usize = 240;
const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// DHCP message type option (RFC 2132 §9.6) and its values.
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const DHCPACK: u8 = 5;
const DHCPNAK: u8 = 6;

/// What goes into one DHCPINFORM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformRequest {
    /// Transaction id, random per exchange (RFC 2131 §4.4.3).
    pub xid: u32,
    /// The client's own address (RFC 2131 §4.4.3: `ciaddr` MUST be filled in).
    pub ciaddr: Ipv4Addr,
    /// Hardware address for `chaddr` (Ethernet), if the interface has one.
    pub mac: Option<[u8; 6]>,
    /// Include a client identifier (option 61, type 1 + MAC, RFC 2132 §9.14) when a MAC is known.
    pub client_id: bool,
    /// Seconds since the exchange began (`secs`).
    pub secs: u16,
}

/// The Parameter Request List (RFC 2132 §9.8), in preference order as our wire test vector fixes it:
/// subnet mask, Domain Name (15, the IPv4 fallback) and OPTION_V4_ACCESS_DOMAIN (213). Servers such
/// as dnsmasq send 213 only when it is requested (DHCP-LAB-NOTES §2.1).
pub const PARAMETER_REQUEST_LIST: [u8; 3] = [1, DHCPV4_DOMAIN_NAME, DHCPV4_ACCESS_DOMAIN];

/// Encodes a DHCPINFORM: `op` = BOOTREQUEST, `ciaddr` set, option 53 = 8, PRL, optional client
/// identifier, END, padded to 300 octets.
///
/// # Errors
/// [`DhcpError::Encode`] if dhcproto cannot encode the message.
pub fn encode_inform(req: &InformRequest) -> Result<Vec<u8>, DhcpError> {
    let chaddr: &[u8] = req.mac.as_ref().map_or(&[], |m| m.as_slice());
    let mut m = v4::Message::new_with_id(
        req.xid,
        req.ciaddr,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        chaddr,
    );
    m.set_opcode(v4::Opcode::BootRequest);
    m.set_secs(req.secs);
    if req.mac.is_none() {
        // No link-layer address to put in chaddr: RFC 2131 §2 "htype" 0 is not assigned; keep
        // Ethernet with hlen 0, as dhcproto does, and rely on ciaddr (INFORM is unicast back).
        m.set_htype(v4::HType::Eth);
    }
    m.opts_mut()
        .insert(v4::DhcpOption::MessageType(v4::MessageType::Inform));
    m.opts_mut().insert(v4::DhcpOption::ParameterRequestList(
        PARAMETER_REQUEST_LIST
            .iter()
            .map(|&c| v4::OptionCode::from(c))
            .collect(),
    ));
    if let (true, Some(mac)) = (req.client_id, req.mac) {
        let mut id = vec![1u8]; // hardware type 1 = Ethernet (RFC 2132 §9.14)
        id.extend_from_slice(&mac);
        m.opts_mut().insert(v4::DhcpOption::ClientIdentifier(id));
    }
    let mut wire = m.to_vec().map_err(|e| DhcpError::Encode(e.to_string()))?;
    if wire.len() < BOOTP_MIN_LEN {
        wire.resize(BOOTP_MIN_LEN, 0); // pad octets (RFC 2132 §3.1) after END
    }
    Ok(wire)
}

/// The parts of a DHCPv4 reply that discovery uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Reply {
    /// Transaction id.
    pub xid: u32,
    /// DHCP message type (53).
    pub message_type: u8,
    /// Server identifier (54), if present.
    pub server_id: Option<Ipv4Addr>,
    /// Option 213 payload after RFC 3396 concatenation, if present.
    pub access_domain: Option<Vec<u8>>,
    /// Option 15 payload after concatenation, if present.
    pub domain_name: Option<Vec<u8>>,
}

/// Why a received datagram was not taken as the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum V4Rejected {
    /// Shorter than the BOOTP header plus cookie.
    #[error("{0} octets, shorter than the 240-octet BOOTP header and magic cookie")]
    TooShort(usize),
    /// `op` is not BOOTREPLY (2).
    #[error("op {0} is not BOOTREPLY")]
    NotReply(u8),
    /// Another exchange's reply.
    #[error("xid 0x{got:08x} does not match ours (0x{want:08x})")]
    XidMismatch {
        /// Received.
        got: u32,
        /// Expected.
        want: u32,
    },
    /// The magic cookie is wrong (RFC 2131 §3).
    #[error("bad magic cookie {0}")]
    BadCookie(String),
    /// The options cannot be walked.
    #[error("malformed options: {0}")]
    Options(#[from] altodisc_proto::access_domain::DhcpOptionsError),
    /// No message type option.
    #[error("no DHCP message type (option 53)")]
    NoMessageType,
    /// A message type other than DHCPACK.
    #[error("message type {0} is not DHCPACK (5)")]
    NotAck(u8),
}

/// Reads a DHCPv4 reply. `want_xid` is checked when given (lease files have no exchange).
///
/// # Errors
/// [`V4Rejected`] with the reason.
pub fn parse_reply(bytes: &[u8], want_xid: Option<u32>) -> Result<V4Reply, V4Rejected> {
    if bytes.len() < HEADER_LEN {
        return Err(V4Rejected::TooShort(bytes.len()));
    }
    if bytes[0] != 2 {
        return Err(V4Rejected::NotReply(bytes[0]));
    }
    let xid = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if let Some(want) = want_xid
        && xid != want
    {
        return Err(V4Rejected::XidMismatch { got: xid, want });
    }
    if bytes[236..240] != MAGIC_COOKIE {
        return Err(V4Rejected::BadCookie(hex(&bytes[236..240])));
    }
    let areas = V4OptionAreas {
        options: &bytes[HEADER_LEN..],
        file: &bytes[108..236],
        sname: &bytes[44..108],
    };
    let message_type = match v4_option(&areas, OPT_MESSAGE_TYPE)? {
        Some(v) if v.len() == 1 => v[0],
        _ => return Err(V4Rejected::NoMessageType),
    };
    if message_type != DHCPACK {
        return Err(V4Rejected::NotAck(message_type));
    }
    let server_id = v4_option(&areas, OPT_SERVER_ID)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok())
        .map(Ipv4Addr::from);
    Ok(V4Reply {
        xid,
        message_type,
        server_id,
        access_domain: v4_option(&areas, DHCPV4_ACCESS_DOMAIN)?,
        domain_name: v4_option(&areas, DHCPV4_DOMAIN_NAME)?,
    })
}

/// Chooses the domain from an accepted reply: option 213 if present (RFC 7286 §3.1.2 MUST), option
/// 15 only when 213 is absent (SHOULD; RFC 5986 §3.4). A malformed 213 is an error, not a reason to
/// fall back: the server did send the access-domain option, and it is broken. A root-only 213
/// names nothing and counts as absent (an interpretation: RFC 2132 §3.17 gives no meaning to an empty domain name).
///
/// # Errors
/// [`DhcpError::InvalidOption`] or [`DhcpError::NoDomain`] with the reason.
pub fn domain_from_reply(
    reply: &V4Reply,
    from: &str,
) -> Result<(DomainName, DomainSource), DhcpError> {
    let mut note = String::new();
    if let Some(payload) = &reply.access_domain {
        match decode_access_domain(payload) {
            Ok(Some(name)) => return Ok((name, DomainSource::Dhcpv4)),
            Ok(None) => note = "; option 213 held only the root name".to_owned(),
            Err(e) => {
                return Err(DhcpError::InvalidOption(format!(
                    "option 213 from {from} rejected: {e} (payload {}){}",
                    hex(payload),
                    ascii_hint(payload)
                )));
            }
        }
    }
    match &reply.domain_name {
        Some(payload) => match parse_domain_name_option(payload) {
            Ok(Some(name)) => Ok((name, DomainSource::Dhcpv4Option15)),
            Ok(None) => Err(DhcpError::NoDomain(format!(
                "the DHCPACK from {from} has no option 213 and an empty option 15{note}"
            ))),
            Err(e) => Err(DhcpError::InvalidOption(format!(
                "option 15 from {from} rejected: {e}{note}"
            ))),
        },
        None => Err(DhcpError::NoDomain(format!(
            "the DHCPACK from {from} carries neither option 213 nor option 15{note} \
             (RFC 7286 §3.1.2: discovery fails for this interface)"
        ))),
    }
}

/// A frequent server misconfiguration sends the name as ASCII text instead of wire format
/// (DHCP-LAB-NOTES §2.1: dnsmasq's `dhcp-option=213,example.net`). Say so.
pub(crate) fn ascii_hint(payload: &[u8]) -> &'static str {
    if payload.len() > 1 && payload.iter().all(u8::is_ascii_graphic) && payload.contains(&b'.') {
        "; it looks like plain ASCII text: the server must send RFC 1035 wire format \
         (for dnsmasq give the option as hex)"
    } else {
        ""
    }
}

/// Runs one DHCPINFORM exchange on `iface` and returns the access-network domain.
///
/// Binds UDP 68 (or `opts.client_port`) with `SO_REUSEADDR` and `SO_BINDTODEVICE`, so it coexists
/// with a running dhclient (DHCP-LAB-NOTES §5), broadcasts to 255.255.255.255:67 (or unicasts to
/// `opts.server`), and retransmits per RFC 2131 §4.1 until `opts.timeout`. Replies with another
/// xid, or that are not well-formed DHCPACKs, are ignored (and listed in the error if nothing
/// better arrives); the first well-formed DHCPACK decides (RFC 2131 §4.4.3).
///
/// # Errors
/// [`DhcpError`]: no IPv4 address, bind failure (with the privilege hint), timeout, or a reply
/// without a usable domain.
pub async fn inform(
    iface: &Interface,
    opts: &ClientOptions,
    trace: &mut Trace,
) -> Result<LearnedDomain, DhcpError> {
    let ciaddr = iface.primary_ipv4().ok_or_else(|| {
        DhcpError::Interface(format!(
            "{} has no IPv4 address; DHCPINFORM needs one in ciaddr (RFC 2131 §4.4.3)",
            iface.name
        ))
    })?;
    let client_port = opts.client_port.unwrap_or(CLIENT_PORT);
    let server_port = opts.server_port.unwrap_or(SERVER_PORT);
    let dest = match opts.server {
        Some(IpAddr::V4(s)) => SocketAddr::V4(SocketAddrV4::new(s, server_port)),
        Some(IpAddr::V6(s)) => {
            return Err(DhcpError::Interface(format!(
                "DHCPv4 server {s} is an IPv6 address"
            )));
        }
        None => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, server_port)),
    };
    let sock = v4_socket(iface, client_port)?;
    let xid: u32 = rand::random();
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let mut sent = 0u32;
    let mut ignored = Vec::new();
    let mut buf = vec![0u8; 65_536];
    trace.push(format!(
        "DHCPv4 {}: INFORM xid 0x{xid:08x} ciaddr {ciaddr} → {dest} (PRL 1,15,213; deadline {:?})",
        iface.name, opts.timeout
    ));
    while tokio::time::Instant::now() < deadline {
        let secs = u16::try_from(start.elapsed().as_secs()).unwrap_or(u16::MAX);
        let wire = encode_inform(&InformRequest {
            xid,
            ciaddr,
            mac: iface.mac,
            client_id: true,
            secs,
        })?;
        sock.send_to(&wire, dest).await.map_err(|e| DhcpError::Io {
            context: format!("sending DHCPINFORM to {dest}"),
            interface: iface.name.clone(),
            source: e,
        })?;
        sent += 1;
        trace.push(format!(
            "DHCPv4 {}: sent INFORM #{sent} ({} octets)",
            iface.name,
            wire.len()
        ));
        let wait_until =
            (tokio::time::Instant::now() + v4_wait(sent, uniform(-1.0, 1.0))).min(deadline);
        let received = receive_until(
            &sock,
            &mut buf,
            wait_until,
            iface,
            "DHCPv4",
            trace,
            &mut ignored,
            |data| {
                let r = parse_reply(data, Some(xid));
                if matches!(r, Err(V4Rejected::NotAck(DHCPNAK))) {
                    tracing::warn!("DHCPNAK in answer to DHCPINFORM on {}", iface.name);
                }
                r
            },
        )
        .await?;
        let Some((reply, n, from)) = received else {
            continue; // retransmit (or give up at the deadline)
        };
        let server = reply
            .server_id
            .map_or_else(|| from.ip().to_string(), |s| s.to_string());
        trace.push(format!(
            "DHCPv4 {}: DHCPACK from {from} (server id {server}), {n} octets; \
             option 213 {}, option 15 {}",
            iface.name,
            reply.access_domain.as_deref().map_or("absent".into(), hex),
            reply.domain_name.as_deref().map_or("absent".into(), hex),
        ));
        let (domain, source) = domain_from_reply(&reply, &server)?;
        trace.push(format!("DHCPv4 {}: domain {domain} ({source})", iface.name));
        return Ok(LearnedDomain {
            domain,
            source,
            detail: format!("DHCPACK from {server} on {}", iface.name),
        });
    }
    Err(DhcpError::Timeout {
        timeout: opts.timeout,
        sent,
        ignored,
    })
}

fn v4_socket(iface: &Interface, port: u16) -> Result<tokio::net::UdpSocket, DhcpError> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(io_error(iface, "creating a UDP socket"))?;
    s.set_reuse_address(true)
        .map_err(io_error(iface, "SO_REUSEADDR"))?;
    s.set_broadcast(true)
        .map_err(io_error(iface, "SO_BROADCAST"))?;
    // SO_BINDTODEVICE: the broadcast leaves through this interface, not the default route's
    // (DHCP-LAB-NOTES §5: without it, ENETUNREACH on multi-homed hosts).
    s.bind_device(Some(iface.name.as_bytes()))
        .map_err(io_error(iface, "SO_BINDTODEVICE"))?;
    bind_or_privilege(&s, SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), iface)?;
    register(s, iface)
}

#[cfg(test)]
mod tests {
    use dhcproto::Decodable as _;

    use super::*;
    use crate::dhcp::unhex;

    fn req() -> InformRequest {
        InformRequest {
            xid: 0xdead_beef,
            ciaddr: Ipv4Addr::new(192, 0, 2, 10),
            mac: Some([2, 0, 0, 0, 0, 1]),
            client_id: false,
            secs: 0,
        }
    }

    /// Wire test vector: options area of a DHCPINFORM, and the header rules.
    #[test]
    fn tv_w_inform_options_area() {
        let wire = encode_inform(&req()).unwrap();
        assert_eq!(wire.len(), 300);
        assert_eq!(
            wire[236..249],
            unhex("63 82 53 63 35 01 08 37 03 01 0f d5 ff")[..]
        );
        assert!(wire[249..].iter().all(|&b| b == 0), "padding after END");
        assert_eq!(wire[0], 1, "op = BOOTREQUEST");
        assert_eq!(wire[4..8], [0xde, 0xad, 0xbe, 0xef], "xid");
        assert_eq!(wire[12..16], [192, 0, 2, 10], "ciaddr");
        assert_eq!(wire[16..28], [0; 12], "yiaddr, siaddr, giaddr zero");
        assert_eq!(wire[28..34], [2, 0, 0, 0, 0, 1], "chaddr");
        // dhcproto reads it back as an INFORM.
        let m = v4::Message::from_bytes(&wire).unwrap();
        assert_eq!(m.opts().msg_type(), Some(v4::MessageType::Inform));
    }

    #[test]
    fn client_identifier_is_type_1_plus_mac() {
        let wire = encode_inform(&InformRequest {
            client_id: true,
            ..req()
        })
        .unwrap();
        assert_eq!(
            wire[236..258],
            unhex("63825363 350108 3703010fd5 3d07 01 020000000001 ff")[..]
        );
    }

    fn ack(xid: u32, options: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 236];
        m[0] = 2;
        m[1] = 1;
        m[2] = 6;
        m[4..8].copy_from_slice(&xid.to_be_bytes());
        m[12..16].copy_from_slice(&[192, 0, 2, 10]);
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[53, 1, 5, 54, 4, 192, 0, 2, 1]);
        m.extend_from_slice(options);
        m.push(255);
        m
    }

    fn domain(options: &[u8]) -> Result<(DomainName, DomainSource), DhcpError> {
        let r = parse_reply(&ack(7, options), Some(7)).unwrap();
        assert_eq!(r.server_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
        domain_from_reply(&r, "192.0.2.1")
    }

    #[test]
    fn tv_w_213_single_and_split() {
        let single = unhex("d5 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00");
        let split = unhex("d5 05 07 65 78 61 6d d5 08 70 6c 65 03 6e 65 74 00");
        for opts in [single, split] {
            let (name, src) = domain(&opts).unwrap();
            assert_eq!(name.to_string(), "example.net.");
            assert_eq!(src, DomainSource::Dhcpv4);
        }
    }

    #[test]
    fn tv_w_option_15_only_when_213_absent() {
        let o15 = unhex("0f 0b 65 78 61 6d 70 6c 65 2e 6e 65 74");
        let (name, src) = domain(&o15).unwrap();
        assert_eq!(name.to_string(), "example.net.");
        assert_eq!(src, DomainSource::Dhcpv4Option15);
        // Both present: 213 wins.
        let mut both = unhex("0f 07 6f 74 68 65 72 2e 78");
        both.extend(unhex("d5 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00"));
        let (name, src) = domain(&both).unwrap();
        assert_eq!(
            (name.to_string().as_str(), src),
            ("example.net.", DomainSource::Dhcpv4)
        );
        // Root-only 213 counts as absent.
        let mut root = unhex("d5 01 00");
        root.extend(unhex("0f 0b 65 78 61 6d 70 6c 65 2e 6e 65 74"));
        assert_eq!(domain(&root).unwrap().1, DomainSource::Dhcpv4Option15);
        // Neither.
        assert!(matches!(domain(&[]), Err(DhcpError::NoDomain(_))));
    }

    #[test]
    fn overload_puts_213_in_file() {
        let mut m = ack(9, &[52, 1, 1]);
        // file field at 108..236: 213 there.
        let opt = unhex("d5 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00 ff");
        m[108..108 + opt.len()].copy_from_slice(&opt);
        let r = parse_reply(&m, Some(9)).unwrap();
        let (name, _) = domain_from_reply(&r, "x").unwrap();
        assert_eq!(name.to_string(), "example.net.");
    }

    #[test]
    fn tv_w_negative_vectors() {
        let bad: [(&str, &str); 4] = [
            ("d5 04 c0 0c 00 00", "compression"),
            (
                "d5 12 07 65 78 61 6d 70 6c 65 03 6e 65 74 00 03 66 6f 6f 00",
                "second domain name",
            ),
            ("d5 03 41 61 00", "exceeds 63"),
            ("d5 0b 65 78 61 6d 70 6c 65 2e 6e 65 74", "plain ASCII"),
        ];
        for (opts, why) in bad {
            let err = domain(&unhex(opts)).unwrap_err().to_string();
            assert!(err.contains(why), "{opts}: {err}");
        }
        // Over 255 octets after concatenation: 5 instances of 4 labels of 63 = 256+ octets.
        let mut long = Vec::new();
        for _ in 0..2 {
            let mut part = vec![213u8, 192];
            for _ in 0..3 {
                part.push(63);
                part.extend([b'a'; 63]);
            }
            long.extend(part);
        }
        long.extend([213, 1, 0]);
        let err = domain(&long).unwrap_err().to_string();
        assert!(err.contains("exceeds 255"), "{err}");
    }

    #[test]
    fn malformed_messages_are_rejected_with_reasons() {
        assert_eq!(parse_reply(&[2; 10], None), Err(V4Rejected::TooShort(10)));
        let good = ack(1, &[]);
        assert!(matches!(
            parse_reply(&good, Some(2)),
            Err(V4Rejected::XidMismatch { got: 1, want: 2 })
        ));
        let mut req = good.clone();
        req[0] = 1;
        assert_eq!(parse_reply(&req, Some(1)), Err(V4Rejected::NotReply(1)));
        // Option length beyond the packet.
        let mut cut = ack(1, &[213, 200, 7]);
        cut.pop();
        assert!(matches!(
            parse_reply(&cut, Some(1)),
            Err(V4Rejected::Options(_))
        ));
        let mut nak = good.clone();
        nak[242] = DHCPNAK;
        assert_eq!(parse_reply(&nak, Some(1)), Err(V4Rejected::NotAck(6)));
        let mut cookie = good;
        cookie[236] = 0;
        assert!(matches!(
            parse_reply(&cookie, Some(1)),
            Err(V4Rejected::BadCookie(_))
        ));
        // 300 junk bytes never panic.
        let junk: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3).to_le_bytes()[0]).collect();
        assert!(parse_reply(&junk, Some(1)).is_err());
    }
}
