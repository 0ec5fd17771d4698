//! DHCPv6 Information-request client (RFC 8415 §18.2.6) for option 57 (RFC 5986 §3.3).
//!
//! The request is encoded here rather than with dhcproto: dhcproto keeps v6 options sorted by
//! code, while our wire test vector fixes the order Client Identifier, Elapsed Time, ORO (the order dhcpcd
//! uses); the tests check that dhcproto decodes our bytes to the same typed options. Replies are
//! walked with `altodisc_proto::access_domain::v6_options`, the decoder the lease-file path uses.
//!
//! There is no fallback for IPv6: without option 57 discovery fails for the interface
//! (RFC 7286 §3.1.2).

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use altodisc_proto::access_domain::{
    DHCPV6_ACCESS_DOMAIN, DHCPV6_INFORMATION_REFRESH_TIME, decode_access_domain, v6_options,
};
use altodisc_proto::name::DomainName;
use socket2::{Domain, Protocol, Socket, Type};

use super::exchange::{bind_or_privilege, io_error, receive_until, register};
use super::iface::Interface;
use super::retransmit::{INF_MAX_DELAY, uniform, v6_next_rt};
use super::v4::ascii_hint;
use super::{ClientOptions, DhcpError, DomainSource, LearnedDomain, Trace, hex};

/// DHCPv6 client port (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// DHCPv6 server/relay port (RFC 8415 §7.2).
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

const MSG_INFORMATION_REQUEST: u8 = 11;
const MSG_REPLY: u8 = 7;
const OPT_CLIENTID: u16 = 1;
const OPT_SERVERID: u16 = 2;
const OPT_ORO: u16 = 6;
const OPT_ELAPSED_TIME: u16 = 8;
const OPT_STATUS_CODE: u16 = 13;
const OPT_INF_MAX_RT: u16 = 83;
/// The ORO: option 57, plus Information Refresh Time (32) and INF_MAX_RT (83), which RFC 8415
/// §18.2.6 requires in every Information-request's ORO.
pub const ORO: [u16; 3] = [
    DHCPV6_ACCESS_DOMAIN,
    DHCPV6_INFORMATION_REFRESH_TIME,
    OPT_INF_MAX_RT,
];

/// A DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the link-layer address.
#[must_use]
pub fn duid_ll(mac: [u8; 6]) -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&mac);
    d
}

/// A DUID-UUID (RFC 8415 §11.5, type 4) with random bits, for interfaces without a MAC.
#[must_use]
pub fn duid_random_uuid() -> Vec<u8> {
    let mut d = vec![0, 4];
    for _ in 0..4 {
        d.extend_from_slice(&rand::random::<u32>().to_be_bytes());
    }
    d
}

fn push_option(out: &mut Vec<u8>, code: u16, data: &[u8]) {
    out.extend_from_slice(&code.to_be_bytes());
    // Our own options are a few octets long; a DUID is at most 130 (RFC 8415 §11.1).
    out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(data);
}

/// Encodes an Information-request: type 11, the 3-octet transaction id, Client Identifier,
/// Elapsed Time (hundredths of a second, RFC 8415 §21.9) and the ORO.
#[must_use]
pub fn encode_information_request(xid: [u8; 3], duid: &[u8], elapsed_centis: u16) -> Vec<u8> {
    let mut m = vec![MSG_INFORMATION_REQUEST, xid[0], xid[1], xid[2]];
    push_option(&mut m, OPT_CLIENTID, duid);
    push_option(&mut m, OPT_ELAPSED_TIME, &elapsed_centis.to_be_bytes());
    let oro: Vec<u8> = ORO.iter().flat_map(|c| c.to_be_bytes()).collect();
    push_option(&mut m, OPT_ORO, &oro);
    m
}

/// The parts of a DHCPv6 Reply that discovery uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V6Reply {
    /// Transaction id.
    pub xid: [u8; 3],
    /// Server DUID, if present.
    pub server_id: Option<Vec<u8>>,
    /// Payloads of every option 57 instance, in order.
    pub access_domain: Vec<Vec<u8>>,
    /// Information Refresh Time (option 32) in seconds, if present.
    pub refresh_time: Option<u32>,
    /// Status code (option 13) if present and not Success (0), with its message.
    pub status: Option<(u16, String)>,
}

/// Why a datagram was not taken as the Reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum V6Rejected {
    /// Shorter than the 4-octet header.
    #[error("{0} octets, shorter than the DHCPv6 header")]
    TooShort(usize),
    /// Not a Reply (7).
    #[error("message type {0} is not Reply (7)")]
    NotReply(u8),
    /// Another exchange's Reply.
    #[error("transaction id {got} does not match ours ({want})")]
    XidMismatch {
        /// Received (hex).
        got: String,
        /// Expected (hex).
        want: String,
    },
    /// The options cannot be walked.
    #[error("malformed options: {0}")]
    Options(#[from] altodisc_proto::access_domain::DhcpOptionsError),
    /// RFC 8415 §16.10: a Reply MUST carry a Server Identifier.
    #[error("no Server Identifier (RFC 8415 §16.10)")]
    NoServerId,
    /// RFC 8415 §16.10: the Client Identifier must echo ours.
    #[error("Client Identifier {0} is not ours (RFC 8415 §16.10)")]
    ClientIdMismatch(String),
}

/// Reads a DHCPv6 Reply. With `want` = (xid, our DUID) the transaction id and Client Identifier
/// are checked (RFC 8415 §16.10); lease files pass `None`.
///
/// # Errors
/// [`V6Rejected`] with the reason.
pub fn parse_reply(bytes: &[u8], want: Option<([u8; 3], &[u8])>) -> Result<V6Reply, V6Rejected> {
    let Some((&[msg_type, x0, x1, x2], area)) = bytes.split_first_chunk::<4>() else {
        return Err(V6Rejected::TooShort(bytes.len()));
    };
    if msg_type != MSG_REPLY {
        return Err(V6Rejected::NotReply(msg_type));
    }
    let xid = [x0, x1, x2];
    // Walk once for structure: any length error rejects the whole message.
    v6_options(area, 0)?;
    let server_id = v6_options(area, OPT_SERVERID)?.first().map(|d| d.to_vec());
    if let Some((want_xid, duid)) = want {
        if xid != want_xid {
            return Err(V6Rejected::XidMismatch {
                got: hex(&xid),
                want: hex(&want_xid),
            });
        }
        if server_id.is_none() {
            return Err(V6Rejected::NoServerId);
        }
        match v6_options(area, OPT_CLIENTID)?.first() {
            Some(c) if *c == duid => {}
            Some(c) => return Err(V6Rejected::ClientIdMismatch(hex(c))),
            // RFC 8415 §16.10 also requires the echo; Kea and dnsmasq both send it.
            None => return Err(V6Rejected::ClientIdMismatch("(absent)".to_owned())),
        }
    }
    let refresh_time = v6_options(area, DHCPV6_INFORMATION_REFRESH_TIME)?
        .first()
        .and_then(|d| <[u8; 4]>::try_from(*d).ok())
        .map(u32::from_be_bytes);
    let status = v6_options(area, OPT_STATUS_CODE)?
        .first()
        .and_then(|d| {
            let (code, msg) = d.split_first_chunk::<2>()?;
            Some((
                u16::from_be_bytes(*code),
                String::from_utf8_lossy(msg).into_owned(),
            ))
        })
        .filter(|(code, _)| *code != 0);
    Ok(V6Reply {
        xid,
        server_id,
        access_domain: v6_options(area, DHCPV6_ACCESS_DOMAIN)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect(),
        refresh_time,
        status,
    })
}

/// Chooses the domain from an accepted Reply: exactly one option 57 (RFC 5986 §3.3), no fallback
/// (RFC 7286 §3.1.2).
///
/// # Errors
/// [`DhcpError::NoDomain`] or [`DhcpError::InvalidOption`].
pub fn domain_from_reply(reply: &V6Reply, from: &str) -> Result<DomainName, DhcpError> {
    let status = reply
        .status
        .as_ref()
        .map(|(c, m)| format!(" (status code {c}: {m})"))
        .unwrap_or_default();
    match reply.access_domain.as_slice() {
        [] => Err(DhcpError::NoDomain(format!(
            "the Reply from {from} has no option 57{status}; RFC 7286 §3.1.2 has no IPv6 fallback, \
             so discovery fails for this interface"
        ))),
        [payload] => match decode_access_domain(payload) {
            Ok(Some(name)) => Ok(name),
            Ok(None) => Err(DhcpError::NoDomain(format!(
                "option 57 from {from} holds only the root name"
            ))),
            Err(e) => Err(DhcpError::InvalidOption(format!(
                "option 57 from {from} rejected: {e} (payload {}){}",
                hex(payload),
                ascii_hint(payload)
            ))),
        },
        many => Err(DhcpError::InvalidOption(format!(
            "the Reply from {from} has {} instances of option 57; RFC 5986 §3.3 allows exactly one",
            many.len()
        ))),
    }
}

/// Runs one Information-request exchange on `iface` and returns the access-network domain.
///
/// Binds `[link-local%if]:546` (or `opts.client_port`) with `SO_BINDTODEVICE`, sends to
/// `[ff02::1:2%ifindex]:547` (or `opts.server`) with hop limit 1, after RFC 8415 §18.2.6's random
/// 0–1 s delay, and retransmits per RFC 8415 §15 until `opts.timeout`. While the link-local
/// address is still tentative (DAD), binding or sending fails with EADDRNOTAVAIL: that is waited
/// out, not reported (DHCP-LAB-NOTES §5).
///
/// # Errors
/// [`DhcpError`]: no link-local address, bind failure, timeout, or a Reply without option 57.
pub async fn information_request(
    iface: &Interface,
    opts: &ClientOptions,
    trace: &mut Trace,
) -> Result<LearnedDomain, DhcpError> {
    let Some(link_local) = iface.link_local_v6() else {
        return Err(DhcpError::Interface(format!(
            "{} has no IPv6 link-local address; an Information-request is sent from one \
             (RFC 8415 §13.1)",
            iface.name
        )));
    };
    let server_port = opts.server_port.unwrap_or(SERVER_PORT);
    let dest = match opts.server {
        Some(IpAddr::V6(s)) => {
            let scope = if super::iface::is_link_local(&s) || s.is_multicast() {
                iface.index
            } else {
                0
            };
            SocketAddrV6::new(s, server_port, 0, scope)
        }
        Some(IpAddr::V4(s)) => {
            return Err(DhcpError::Interface(format!(
                "DHCPv6 server {s} is an IPv4 address"
            )));
        }
        None => SocketAddrV6::new(
            ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            server_port,
            0,
            iface.index,
        ),
    };
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let port = opts.client_port.unwrap_or(CLIENT_PORT);
    // Bind the link-local address itself: the source MUST be link-local (RFC 8415 §13.1), and
    // while it is tentative the kernel would otherwise pick a global source. A tentative address
    // cannot be bound (EADDRNOTAVAIL): wait for DAD to finish (DHCP-LAB-NOTES §5).
    let mut tentative_logged = false;
    let sock = loop {
        match v6_socket(iface, link_local, port) {
            Ok(s) => break s,
            Err(DhcpError::Io { source, .. })
                if source.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL)
                    && tokio::time::Instant::now() < deadline =>
            {
                wait_for_dad(iface, link_local, deadline, trace, &mut tentative_logged).await;
            }
            Err(DhcpError::Io { source, .. })
                if source.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) =>
            {
                return Err(DhcpError::Timeout {
                    timeout: opts.timeout,
                    sent: 0,
                    ignored: vec![format!(
                        "{link_local} stayed tentative (DAD) until the deadline"
                    )],
                });
            }
            Err(e) => return Err(e),
        }
    };
    if tentative_logged {
        trace.push(format!("DHCPv6 {}: {link_local} is usable", iface.name));
    }
    let duid = iface.mac.map_or_else(duid_random_uuid, duid_ll);
    let r: u32 = rand::random();
    let [_, x0, x1, x2] = r.to_be_bytes();
    let xid = [x0, x1, x2];
    trace.push(format!(
        "DHCPv6 {}: Information-request xid {} from {link_local} → {dest} (ORO 57,32,83; \
         deadline {:?})",
        iface.name,
        hex(&xid),
        opts.timeout
    ));
    // RFC 8415 §18.2.6: delay the first message by a random 0..INF_MAX_DELAY.
    let delay = INF_MAX_DELAY.mul_f64(uniform(0.0, 1.0));
    trace.push(format!(
        "DHCPv6 {}: random initial delay {} ms (RFC 8415 §18.2.6, INF_MAX_DELAY 1 s)",
        iface.name,
        delay.as_millis()
    ));
    tokio::time::sleep_until((tokio::time::Instant::now() + delay).min(deadline)).await;

    let mut first_sent: Option<Instant> = None;
    let mut rt: Option<Duration> = None;
    let mut sent = 0u32;
    let mut ignored = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while tokio::time::Instant::now() < deadline {
        let elapsed = first_sent.map_or(0, |t| {
            u16::try_from(t.elapsed().as_millis() / 10).unwrap_or(u16::MAX)
        });
        let wire = encode_information_request(xid, &duid, elapsed);
        match sock.send_to(&wire, SocketAddr::V6(dest)).await {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) => {
                // The link-local address is still tentative: wait for DAD, then send.
                wait_for_dad(iface, link_local, deadline, trace, &mut tentative_logged).await;
                continue;
            }
            Err(e) => {
                return Err(DhcpError::Io {
                    context: format!("sending the Information-request to {dest}"),
                    interface: iface.name.clone(),
                    source: e,
                });
            }
        }
        first_sent.get_or_insert_with(Instant::now);
        sent += 1;
        let next = v6_next_rt(rt, uniform(-0.1, 0.1));
        rt = Some(next);
        trace.push(format!(
            "DHCPv6 {}: sent Information-request #{sent} ({} octets, elapsed time {} ms); next \
             retransmission in {next:?}",
            iface.name,
            wire.len(),
            u32::from(elapsed) * 10
        ));
        let wait_until = (tokio::time::Instant::now() + next).min(deadline);
        let received = receive_until(
            &sock,
            &mut buf,
            wait_until,
            iface,
            "DHCPv6",
            trace,
            &mut ignored,
            |data| parse_reply(data, Some((xid, &duid))),
        )
        .await?;
        let Some((reply, n, from)) = received else {
            continue; // retransmit (or give up at the deadline)
        };
        let from_s = from.ip().to_string();
        trace.push(format!(
            "DHCPv6 {}: Reply from {from}, {n} octets; option 57 {}; information \
             refresh time {}",
            iface.name,
            if reply.access_domain.is_empty() {
                "absent".to_owned()
            } else {
                reply
                    .access_domain
                    .iter()
                    .map(|p| hex(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            reply.refresh_time.map_or(
                "absent (86400 s assumed, RFC 8415 §21.23)".to_owned(),
                |t| { format!("{t} s") }
            )
        ));
        let domain = domain_from_reply(&reply, &from_s)?;
        trace.push(format!("DHCPv6 {}: domain {domain} (dhcpv6)", iface.name));
        return Ok(LearnedDomain {
            domain,
            source: DomainSource::Dhcpv6,
            detail: format!("Reply from {from_s} on {}", iface.name),
        });
    }
    if sent == 0 && tentative_logged {
        ignored.push(format!(
            "{link_local} stayed tentative (DAD) until the deadline"
        ));
    }
    Err(DhcpError::Timeout {
        timeout: opts.timeout,
        sent,
        ignored,
    })
}

/// `link_local` is still tentative (EADDRNOTAVAIL: DAD is running, DHCP-LAB-NOTES §5): says so
/// once in the trace, then waits 100 ms (at most until `deadline`) before the caller tries again.
async fn wait_for_dad(
    iface: &Interface,
    link_local: Ipv6Addr,
    deadline: tokio::time::Instant,
    trace: &mut Trace,
    logged: &mut bool,
) {
    if !*logged {
        trace.push(format!(
            "DHCPv6 {}: {link_local} is tentative (EADDRNOTAVAIL); waiting for DAD",
            iface.name
        ));
        *logged = true;
    }
    let until = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
    tokio::time::sleep_until(until).await;
}

fn v6_socket(
    iface: &Interface,
    link_local: Ipv6Addr,
    port: u16,
) -> Result<tokio::net::UdpSocket, DhcpError> {
    let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
        .map_err(io_error(iface, "creating a UDP socket"))?;
    s.set_only_v6(true)
        .map_err(io_error(iface, "IPV6_V6ONLY"))?;
    s.set_reuse_address(true)
        .map_err(io_error(iface, "SO_REUSEADDR"))?;
    s.bind_device(Some(iface.name.as_bytes()))
        .map_err(io_error(iface, "SO_BINDTODEVICE"))?;
    s.set_multicast_if_v6(iface.index)
        .map_err(io_error(iface, "IPV6_MULTICAST_IF"))?;
    // Link-scoped: the server is on the link (RFC 8415 §18.2.6 sends to a link-scoped address).
    s.set_multicast_hops_v6(1)
        .map_err(io_error(iface, "IPV6_MULTICAST_HOPS"))?;
    bind_or_privilege(
        &s,
        SocketAddr::V6(SocketAddrV6::new(link_local, port, 0, iface.index)),
        iface,
    )?;
    register(s, iface)
}

#[cfg(test)]
mod tests {
    use dhcproto::Decodable as _;
    use dhcproto::v6;

    use super::*;
    use crate::dhcp::unhex;

    const DUID: [u8; 10] = [0, 3, 0, 1, 2, 0, 0, 0, 0, 1];

    /// Wire test vector: Information-request bytes.
    #[test]
    fn tv_w_information_request() {
        assert_eq!(duid_ll([2, 0, 0, 0, 0, 1]), DUID);
        let m = encode_information_request([0xa1, 0xb2, 0xc3], &DUID, 0);
        assert_eq!(
            m,
            unhex(
                "0b a1 b2 c3 00 01 00 0a 00 03 00 01 02 00 00 00 00 01 00 08 00 02 00 00 \
                 00 06 00 06 00 39 00 20 00 53"
            )
        );
        // dhcproto reads the same message.
        let d = v6::Message::from_bytes(&m).unwrap();
        assert_eq!(d.msg_type(), v6::MessageType::InformationRequest);
        assert_eq!(d.xid(), [0xa1, 0xb2, 0xc3]);
        assert!(matches!(
            d.opts().get(v6::OptionCode::ElapsedTime),
            Some(v6::DhcpOption::ElapsedTime(0))
        ));
        let Some(v6::DhcpOption::ORO(oro)) = d.opts().get(v6::OptionCode::ORO) else {
            panic!("no ORO");
        };
        assert!(oro.opts.contains(&v6::OptionCode::V6AccessDomain));
    }

    /// Wire test vector: the Reply fragment with 57 and IRT 86400.
    #[test]
    fn tv_w_reply_fragment() {
        let frag = unhex(
            "07 a1 b2 c3 00 39 00 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00 00 20 00 04 00 01 51 80",
        );
        let r = parse_reply(&frag, None).unwrap();
        assert_eq!(r.refresh_time, Some(86_400));
        assert_eq!(
            domain_from_reply(&r, "s").unwrap().to_string(),
            "example.net."
        );
        // With an exchange to match, the fragment lacks Server and Client Identifier.
        assert_eq!(
            parse_reply(&frag, Some(([0xa1, 0xb2, 0xc3], &DUID))),
            Err(V6Rejected::NoServerId)
        );
    }

    fn reply(xid: [u8; 3], opts: &[u8]) -> Vec<u8> {
        let mut m = vec![7, xid[0], xid[1], xid[2]];
        push_option(&mut m, OPT_SERVERID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 2]);
        push_option(&mut m, OPT_CLIENTID, &DUID);
        m.extend_from_slice(opts);
        m
    }

    #[test]
    fn matching_and_rejection() {
        let x = [1, 2, 3];
        let o57 = unhex("00 39 00 0d 07 65 78 61 6d 70 6c 65 03 6e 65 74 00");
        let ok = parse_reply(&reply(x, &o57), Some((x, &DUID))).unwrap();
        assert_eq!(
            domain_from_reply(&ok, "s").unwrap().to_string(),
            "example.net."
        );
        assert!(matches!(
            parse_reply(&reply([9, 9, 9], &o57), Some((x, &DUID))),
            Err(V6Rejected::XidMismatch { .. })
        ));
        assert!(matches!(
            parse_reply(&reply(x, &o57), Some((x, &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9]))),
            Err(V6Rejected::ClientIdMismatch(_))
        ));
        // TV-W negative: 57 whose option-len is longer than the remaining message.
        let long = unhex("00 39 00 20 07 65 78 61");
        assert!(matches!(
            parse_reply(&reply(x, &long), Some((x, &DUID))),
            Err(V6Rejected::Options(_))
        ));
        // No 57: no fallback.
        let none = parse_reply(&reply(x, &[]), Some((x, &DUID))).unwrap();
        let e = domain_from_reply(&none, "s").unwrap_err().to_string();
        assert!(e.contains("no IPv6 fallback"), "{e}");
        // Two instances.
        let mut two = o57.clone();
        two.extend(&o57);
        let r = parse_reply(&reply(x, &two), Some((x, &DUID))).unwrap();
        assert!(
            domain_from_reply(&r, "s")
                .unwrap_err()
                .to_string()
                .contains("2 instances")
        );
        // Compression pointer.
        let ptr = unhex("00 39 00 02 c0 0c");
        let r = parse_reply(&reply(x, &ptr), Some((x, &DUID))).unwrap();
        assert!(
            domain_from_reply(&r, "s")
                .unwrap_err()
                .to_string()
                .contains("compression")
        );
        assert_eq!(parse_reply(&[7, 1], None), Err(V6Rejected::TooShort(2)));
        assert_eq!(
            parse_reply(&[11, 1, 2, 3], None),
            Err(V6Rejected::NotReply(11))
        );
    }
}
