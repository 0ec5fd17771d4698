//! Scale-out through standard DNS: altodisc as a (hidden) primary for NSD, Knot or BIND
//! secondaries.
//!
//! * AXFR (RFC 5936) over TCP only, to an allow-list of client prefixes ([`TransferAcl`]), each
//!   entry optionally bound to a TSIG key (RFC 8945, [`crate::tsig`]); everyone else gets
//!   REFUSED (RFC 5936 §6). IXFR (RFC 1995) is answered from [`crate::journal`]: one SOA when
//!   the client is current, the differences when the journal reaches its serial, the whole zone
//!   otherwise; over UDP too (RFC 1995 §2).
//! * Signed requests are verified before anything else ([`tsig_gate`]) and every message of the
//!   answer is signed ([`sign_all`], RFC 8945 §5.3.1).
//! * NOTIFY (RFC 1996) to configured secondaries after every accepted change of a zone's serial,
//!   signed when the target has a key, retransmitted until acknowledged or [`NOTIFY_TRIES`] is
//!   reached (RFC 1996 §3.6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::server::Request;
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::index::{ZoneData, ZoneIndex};
use crate::journal::{Diff, Journal, serial_lt};
use crate::metrics::Metrics;
use crate::tsig::{ResponseSigner, TsigConfigError, TsigKey, TsigKeyring, Verdict};

/// Aim for transfer messages about this big: well under the 65535-octet TCP limit, and large
/// enough that a big zone needs few messages (RFC 5936 §2.2 leaves the split to the server).
const XFR_MESSAGE_TARGET: usize = 16 * 1024;

/// How often a NOTIFY is sent before giving up (RFC 1996 §3.6: "a few" retransmissions).
pub const NOTIFY_TRIES: u32 = 5;

/// Wait for a NOTIFY answer this long, doubled after each try.
const NOTIFY_FIRST_WAIT: Duration = Duration::from_millis(500);

/// An IP prefix of the transfer allow-list, and the TSIG key its clients must sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    addr: IpAddr,
    len: u8,
    key: Option<Name>,
}

/// Why an allow-list entry does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad entry {0:?} (expected an address or prefix such as 192.0.2.1, 192.0.2.0/24 or \
     2001:db8::/32, optionally followed by `key NAME`, e.g. \"192.0.2.53 key xfr-key\")"
)]
pub struct AclParseError(pub String);

impl FromStr for AclEntry {
    type Err = AclParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AclParseError(s.to_owned());
        let mut words = s.split_whitespace();
        let prefix = words.next().ok_or_else(bad)?;
        let key = match (words.next(), words.next(), words.next()) {
            (None, _, _) => None,
            (Some(k), Some(name), None) if k.eq_ignore_ascii_case("key") => {
                let mut n = Name::from_ascii(name).map_err(|_| bad())?;
                n.set_fqdn(true);
                Some(n)
            }
            _ => return Err(bad()),
        };
        let s = prefix;
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(bad());
        }
        Ok(Self { addr, len, key })
    }
}

impl AclEntry {
    /// The TSIG key this entry asks for, if any.
    #[must_use]
    pub fn key(&self) -> Option<&Name> {
        self.key.as_ref()
    }

    /// Whether `ip` is inside this prefix.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.len,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), 128, self.len)
            }
            _ => false,
        }
    }
}

/// Whether the first `len` of `width` bits agree.
fn prefix_eq(a: u128, b: u128, width: u32, len: u8) -> bool {
    let len = u32::from(len);
    if len == 0 {
        return true;
    }
    let shift = width - len.min(width);
    (a >> shift) == (b >> shift)
}

/// The prefixes allowed to transfer zones; empty = nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferAcl(pub Vec<AclEntry>);

impl TransferAcl {
    /// Parses `allow_transfer` entries.
    ///
    /// # Errors
    /// The first entry that does not parse.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AclParseError> {
        entries
            .iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` may transfer zones, having signed the request with `key` (`None`:
    /// unsigned). An entry with a key admits only requests verified with that key; one without
    /// admits any request from its prefix.
    #[must_use]
    pub fn allows(&self, ip: IpAddr, key: Option<&Name>) -> bool {
        self.0
            .iter()
            .any(|e| e.contains(ip) && e.key.as_ref().is_none_or(|want| Some(want) == key))
    }

    /// Checks that every key named in the list is in `keys`.
    ///
    /// # Errors
    /// The first unknown key.
    pub fn check_keys(&self, keys: &TsigKeyring) -> Result<(), TsigConfigError> {
        for k in self.0.iter().filter_map(|e| e.key.as_ref()) {
            if keys.find(k).is_none() {
                return Err(TsigConfigError::UnknownKey {
                    place: "[serve] allow_transfer".to_owned(),
                    key: k.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The keyring of a `[serve]` section for [`crate::ServeOptions::tsig`], after checking that
/// every key named in `acl` exists; hmac-sha1 keys are logged as a warning.
///
/// # Errors
/// A key that cannot be read, or an unknown key in `allow_transfer`.
pub fn tsig_options(
    serve: &crate::load::ServeSection,
    acl: &TransferAcl,
) -> Result<TsigKeyring, crate::ResponderError> {
    let err = |e: TsigConfigError| crate::ResponderError::Config(e.to_string());
    let (keys, warnings) =
        TsigKeyring::from_config(&serve.tsig_keys, serve.tsig_fudge, &serve.base_dir)
            .map_err(err)?;
    for w in warnings {
        warn!("{w}");
    }
    acl.check_keys(&keys).map_err(err)?;
    Ok(keys)
}

/// The TSIG check of a query (RFC 8945 §5.2) before it is answered: `Ok(None)` for an unsigned
/// query, `Ok(Some(signer))` for a verified one (sign every response message with it), and
/// `Err(reply)` for a refused one: the NOTAUTH (or FORMERR) reply to send instead of an answer,
/// counted in `altodisc_tsig_failures_total`.
///
/// # Errors
/// The reply for a refused signature (`None` when it could not be encoded).
pub fn tsig_gate(
    keys: &TsigKeyring,
    metrics: &Metrics,
    wire: &[u8],
    peer: SocketAddr,
) -> Result<Option<ResponseSigner>, Option<Vec<u8>>> {
    match keys.verify(wire, crate::tsig::now()) {
        Verdict::Unsigned => Ok(None),
        Verdict::Valid(signer) => Ok(Some(signer)),
        Verdict::Rejected { why, response } => {
            metrics.tsig_failures.count(why);
            info!(%peer, reason = why.label(), "TSIG check failed");
            Err(response)
        }
    }
}

/// Signs every message of an answer with `signer` (RFC 8945 §5.3.1: the first with the
/// request's MAC, each later one chained to the one before). A message that cannot be signed is
/// dropped with the rest, since the chain would break there anyway.
#[must_use]
pub fn sign_all(signer: Option<&mut ResponseSigner>, messages: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let Some(signer) = signer else {
        return messages;
    };
    let now = crate::tsig::now();
    let mut out = Vec::with_capacity(messages.len());
    for mut m in messages {
        if let Err(error) = signer.sign(&mut m, now) {
            warn!(%error, "cannot sign a response with TSIG");
            break;
        }
        out.push(m);
    }
    out
}

/// The size a UDP answer may have for a query with `edns` (RFC 1035 §4.2.1: 512 without EDNS;
/// RFC 6891 §6.2.3: the client's payload size, here at most [`crate::handler::MAX_UDP_PAYLOAD`]).
#[must_use]
pub fn udp_limit(edns: Option<&Edns>) -> usize {
    usize::from(edns.map_or(crate::handler::CLASSIC_UDP_PAYLOAD, |e| {
        e.max_payload().clamp(
            crate::handler::CLASSIC_UDP_PAYLOAD,
            crate::handler::MAX_UDP_PAYLOAD,
        )
    }))
}

/// What a zone transfer needs from the server.
#[derive(Debug, Clone, Copy)]
pub struct TransferCtx<'a> {
    /// Who may transfer.
    pub acl: &'a TransferAcl,
    /// The zones served now.
    pub index: &'a ZoneIndex,
    /// Differences between accepted versions, for IXFR.
    pub journal: &'a Journal,
    /// Counters.
    pub metrics: &'a Metrics,
    /// Anyone can ask for a transfer: refusals are logged one line per interval at most.
    pub(crate) refusal_log: &'a crate::server::LogLimiter,
}

/// The AXFR or IXFR query of `request`, if it is one (OPCODE QUERY, one question, class IN,
/// EDNS version 0 or none): the server answers those here rather than in the handler.
#[must_use]
pub fn transfer_query(request: &Request) -> Option<&Query> {
    if request.metadata.op_code != OpCode::Query
        || request.edns.as_ref().is_some_and(|e| e.version() != 0)
    {
        return None;
    }
    let [q] = request.queries.queries() else {
        return None;
    };
    (matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR)
        && q.query_class() == DNSClass::IN)
        .then(|| q.original())
}

/// The client's serial of an IXFR query: the one SOA record in the authority section, owned by
/// the zone (RFC 1995 §3). `Err` when the section holds anything else (FORMERR).
fn ixfr_client_serial(wire: &[u8], zone: &Name) -> Result<u32, ()> {
    let message = Message::from_vec(wire).map_err(|_| ())?;
    match message.authorities.as_slice() {
        [r] if r.record_type() == RecordType::SOA && &r.name == zone => match &r.data {
            RData::SOA(soa) => Ok(soa.serial),
            _ => Err(()),
        },
        _ => Err(()),
    }
}

/// A zone transfer (RFC 5936, RFC 1995): REFUSED unless the client is on the allow-list (RFC 5936
/// §6), with the key its entry names; NOTAUTH for a name that is not the apex of a served zone
/// (§2.2.1); else
/// * AXFR: the whole zone;
/// * IXFR (RFC 1995 §4): one SOA when the client's serial is current or newer, the differences
///   from the journal when it reaches back to the client's serial, the whole zone otherwise;
///   FORMERR when the authority section is not exactly the zone's SOA (RFC 1995 §3);
/// * over UDP (`udp_limit` set; IXFR only, RFC 1995 §2): the same answer when it fits in one
///   datagram of that size, else one SOA, which tells the client to retry over TCP.
///
/// `wire` is the query as received; `key` the TSIG key it was verified with.
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn serve_transfer(
    c: &TransferCtx<'_>,
    request: &Request,
    wire: &[u8],
    query: &Query,
    peer: SocketAddr,
    key: Option<&Name>,
    udp_limit: Option<usize>,
) -> (ResponseCode, Vec<Vec<u8>>) {
    let id = request.metadata.id;
    let error = |rcode| {
        let refusal = transfer_error(&request.metadata, request.edns.as_ref(), query, rcode);
        (rcode, refusal.ok().into_iter().collect())
    };
    let zone_name = query.name();
    if udp_limit.is_some() && query.query_type() == RecordType::AXFR {
        // AXFR is not defined over UDP (RFC 5936 §4.2).
        return error(ResponseCode::Refused);
    }
    if !c.acl.allows(peer.ip(), key) {
        if key.is_none() && c.acl.0.iter().any(|e| e.contains(peer.ip())) {
            c.metrics
                .tsig_failures
                .count(crate::tsig::TsigFailure::Unsigned);
        }
        c.metrics.transfer(false);
        // One line per interval at most, with the count of those not logged (all of them are
        // in `altodisc_transfers_total`).
        if let Some(suppressed) = c.refusal_log.admit() {
            info!(%peer, zone = %zone_name, suppressed,
                "zone transfer refused: client not in allow_transfer, or without the key its \
                 entry names (suppressed: refusals not logged since the previous line)");
        }
        return error(ResponseCode::Refused);
    }
    let Some(zone) = c.index.zone(zone_name) else {
        return error(ResponseCode::NotAuth);
    };
    let current = zone.serial();
    let single_soa = || transfer_message(id, query, vec![zone.soa().clone()]).map(|m| vec![m]);
    let (kind, built) = if query.query_type() == RecordType::IXFR {
        let Ok(theirs) = ixfr_client_serial(wire, zone.origin()) else {
            return error(ResponseCode::FormErr);
        };
        if !serial_lt(theirs, current) {
            ("ixfr-current", single_soa())
        } else if let Some(diffs) = c.journal.since(zone.origin(), theirs, current) {
            ("ixfr", ixfr_messages(zone.soa(), &diffs, id, query))
        } else {
            ("ixfr-as-axfr", transfer_messages(zone, id, query))
        }
    } else {
        ("axfr", transfer_messages(zone, id, query))
    };
    let built = match (udp_limit, built) {
        (Some(limit), Ok(m)) if !(m.len() == 1 && m.iter().all(|w| w.len() <= limit)) => {
            single_soa()
        }
        (_, b) => b,
    };
    match built {
        Ok(messages) => {
            c.metrics.transfer(true);
            info!(%peer, zone = %zone_name, serial = current, kind, messages = messages.len(), "zone transfer");
            (ResponseCode::NoError, messages)
        }
        Err(e) => {
            warn!(%peer, zone = %zone_name, error = %e, "zone transfer failed to encode");
            error(ResponseCode::ServFail)
        }
    }
}

/// An incremental transfer (RFC 1995 §4): the current SOA, then for each difference the old
/// SOA, the removed records, the new SOA and the added records, then the current SOA again.
///
/// # Errors
/// When hickory cannot encode a message.
pub fn ixfr_messages(
    current: &Record,
    diffs: &[Diff],
    id: u16,
    query: &Query,
) -> Result<Vec<Vec<u8>>, hickory_proto::ProtoError> {
    let body = diffs.iter().flat_map(|d| {
        std::iter::once(d.old_soa.clone())
            .chain(d.removed.iter().cloned())
            .chain(std::iter::once(d.new_soa.clone()))
            .chain(d.added.iter().cloned())
    });
    let records = std::iter::once(current.clone())
        .chain(body)
        .chain(std::iter::once(current.clone()));
    split_messages(records, id, query)
}

/// Signs a UDP response with `signer` (if any) so that it stays within `limit` octets: when
/// the signed response would not fit, it is replaced by a header-and-question response with TC
/// set and only the TSIG record (RFC 8945 §5.3: the client retries over TCP).
#[must_use]
pub fn sign_udp(
    signer: Option<&mut ResponseSigner>,
    reply: Vec<u8>,
    limit: usize,
) -> Option<Vec<u8>> {
    let Some(signer) = signer else {
        return Some(reply);
    };
    let now = crate::tsig::now();
    let mut signed = reply.clone();
    signer.sign_first_of_many(&mut signed, now).ok()?;
    if signed.len() <= limit {
        return Some(signed);
    }
    let mut m = Message::from_vec(&reply).ok()?;
    m.answers.clear();
    m.authorities.clear();
    m.additionals.clear();
    m.metadata.truncation = true;
    let mut truncated = m.to_vec().ok()?;
    signer.sign_first_of_many(&mut truncated, now).ok()?;
    Some(truncated)
}

/// The messages of a zone transfer of `zone` answering a query with `id` and `query`: SOA first
/// and last, every other record in between (RFC 5936 §2.2), split into messages of about
/// 16 KiB. Each message repeats the question (RFC 5936 §2.2.1 allows it).
///
/// # Errors
/// When hickory cannot encode a message (a record over 64 KiB).
pub fn transfer_messages(
    zone: &ZoneData,
    id: u16,
    query: &Query,
) -> Result<Vec<Vec<u8>>, hickory_proto::ProtoError> {
    let soa = zone.soa().clone();
    let records = std::iter::once(soa.clone())
        .chain(zone.transfer_records())
        .chain(std::iter::once(soa));
    split_messages(records, id, query)
}

/// `records` in messages of about [`XFR_MESSAGE_TARGET`] octets.
fn split_messages(
    records: impl Iterator<Item = Record>,
    id: u16,
    query: &Query,
) -> Result<Vec<Vec<u8>>, hickory_proto::ProtoError> {
    let mut out = Vec::new();
    let mut batch: Vec<Record> = Vec::new();
    let mut size = 0usize;
    let mut scratch = Vec::with_capacity(512);
    for r in records {
        scratch.clear();
        let mut enc = BinEncoder::new(&mut scratch);
        r.emit(&mut enc)?;
        if !batch.is_empty() && size + scratch.len() > XFR_MESSAGE_TARGET {
            out.push(transfer_message(id, query, std::mem::take(&mut batch))?);
            size = 0;
        }
        size += scratch.len();
        batch.push(r);
    }
    out.push(transfer_message(id, query, batch)?);
    Ok(out)
}

fn transfer_message(
    id: u16,
    query: &Query,
    answers: Vec<Record>,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let mut m = Message::response(id, OpCode::Query);
    m.metadata.authoritative = true;
    m.add_query(query.clone());
    m.insert_answers(answers);
    m.to_vec()
}

/// A header-and-question error response (REFUSED, NOTAUTH, ...) to a transfer query with
/// header `request` and OPT record `request_edns`: ID, RD and CD copied (RFC 1035 §4.1.1, RFC
/// 4035 §3.1.6), and an OPT record (version 0, our payload size, DO copied) when the query had
/// one (RFC 6891 §6.1.1, RFC 3225 §3).
///
/// # Errors
/// When hickory cannot encode it.
pub fn transfer_error(
    request: &Metadata,
    request_edns: Option<&Edns>,
    query: &Query,
    rcode: ResponseCode,
) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    let mut m = Message::error_msg(request.id, OpCode::Query, rcode);
    m.metadata.recursion_desired = request.recursion_desired;
    m.metadata.checking_disabled = request.checking_disabled;
    m.add_query(query.clone());
    if let Some(theirs) = request_edns {
        let mut edns = Edns::new();
        edns.set_max_payload(crate::handler::MAX_UDP_PAYLOAD);
        edns.set_version(0);
        edns.set_dnssec_ok(theirs.flags().dnssec_ok);
        m.set_edns(edns);
    }
    m.to_vec()
}

/// The zones of `new` whose serial differs from `old`'s, or that `old` did not serve: what a
/// reload must NOTIFY.
#[must_use]
pub fn changed_zones(old: &ZoneIndex, new: &ZoneIndex) -> Vec<(Name, Record)> {
    new.zones()
        .filter(|z| {
            old.zone(z.origin())
                .is_none_or(|prev| prev.serial() != z.serial())
        })
        .map(|z| (z.origin().clone(), z.soa().clone()))
        .collect()
}

/// A secondary to NOTIFY, and the TSIG key to sign with.
#[derive(Debug, Clone)]
pub struct NotifyTarget {
    /// Address and port.
    pub addr: SocketAddr,
    /// Signs the NOTIFY (RFC 8945 §5.1) when set.
    pub key: Option<Arc<TsigKey>>,
    /// Fudge of the signature in seconds.
    pub fudge: u16,
}

/// The NOTIFY targets of a `[serve]` section: `notify` addresses, with the keys of
/// `notify_keys` (`"192.0.2.53:53" = "xfr-key"`).
///
/// # Errors
/// A bad key config, or a `notify_keys` entry for an address that is not in `notify` or naming
/// an unknown key.
pub fn notify_targets(
    serve: &crate::load::ServeSection,
) -> Result<Vec<NotifyTarget>, crate::ResponderError> {
    let err = |e: TsigConfigError| crate::ResponderError::Config(e.to_string());
    let (keys, _) = TsigKeyring::from_config(&serve.tsig_keys, serve.tsig_fudge, &serve.base_dir)
        .map_err(err)?;
    let mut targets: Vec<NotifyTarget> = serve
        .notify
        .iter()
        .map(|&addr| NotifyTarget {
            addr,
            key: None,
            fudge: keys.fudge(),
        })
        .collect();
    for (addr, key) in &serve.notify_keys {
        let place = format!("[serve] notify_keys {addr:?}");
        let parsed: SocketAddr = addr.parse().map_err(|_| {
            crate::ResponderError::Config(format!(
                "{place}: not an address with a port (e.g. \"192.0.2.53:53\")"
            ))
        })?;
        let key = keys.find_str(key, &place).map_err(err)?;
        let target = targets
            .iter_mut()
            .find(|t| t.addr == parsed)
            .ok_or_else(|| {
                crate::ResponderError::Config(format!(
                    "{place}: the address is not in [serve] notify"
                ))
            })?;
        target.key = Some(key);
    }
    Ok(targets)
}

/// Sends NOTIFY for each zone to each target in the background (one task per pair); results are
/// logged and counted.
pub fn spawn_notify(targets: &[NotifyTarget], zones: Vec<(Name, Record)>, metrics: &Arc<Metrics>) {
    for (zone, soa) in zones {
        for t in targets {
            let metrics = metrics.clone();
            let zone = zone.clone();
            let soa = soa.clone();
            let t = t.clone();
            let target = t.addr;
            tokio::spawn(async move {
                let acked = notify_signed(&t, &zone, &soa).await;
                metrics.notify(acked);
                if acked {
                    info!(%zone, %target, "NOTIFY acknowledged");
                } else {
                    warn!(%zone, %target, tries = NOTIFY_TRIES, "NOTIFY not acknowledged");
                }
            });
        }
    }
}

/// One NOTIFY exchange (RFC 1996 §3.7: QR=0, AA=1, OPCODE=NOTIFY, QTYPE=SOA, the new SOA in the
/// answer section as a hint), retried with a doubling timeout. `true` when the target answered
/// with a NOTIFY response of the same ID (any RCODE: the secondary has seen it).
pub async fn notify(target: SocketAddr, zone: &Name, soa: &Record) -> bool {
    let t = NotifyTarget {
        addr: target,
        key: None,
        fudge: crate::tsig::DEFAULT_FUDGE,
    };
    notify_signed(&t, zone, soa).await
}

/// [`notify`] to a [`NotifyTarget`], signed with its key if it has one (RFC 8945 §5.1; a
/// secondary that requires a key for NOTIFY ignores unsigned ones). Each retransmission is
/// signed anew, so its time stays within the fudge.
pub async fn notify_signed(t: &NotifyTarget, zone: &Name, soa: &Record) -> bool {
    let target = t.addr;
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(socket) = UdpSocket::bind(local).await else {
        return false;
    };
    let id: u16 = rand_id();
    let mut m = Message::new(id, MessageType::Query, OpCode::Notify);
    m.metadata.authoritative = true;
    m.add_query(Query::query(zone.clone(), RecordType::SOA));
    m.add_answer(soa.clone());
    let Ok(unsigned) = m.to_vec() else {
        return false;
    };
    let mut wait = NOTIFY_FIRST_WAIT;
    let mut buf = [0u8; 4096];
    for _ in 0..NOTIFY_TRIES {
        let mut wire = unsigned.clone();
        if let Some(key) = &t.key
            && crate::tsig::sign_request(key, &mut wire, crate::tsig::now(), t.fudge).is_err()
        {
            return false;
        }
        if socket.send_to(&wire, target).await.is_err() {
            tokio::time::sleep(wait).await;
            wait *= 2;
            continue;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(Ok((n, from))) =
                tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
            else {
                break;
            };
            if from != target {
                continue;
            }
            match buf.get(..n).map(Message::from_vec) {
                Some(Ok(r))
                    if r.metadata.id == id
                        && r.metadata.message_type == MessageType::Response
                        && r.metadata.op_code == OpCode::Notify =>
                {
                    debug!(%zone, %target, rcode = %r.metadata.response_code, "NOTIFY answer");
                    return true;
                }
                _ => {}
            }
        }
        wait *= 2;
    }
    false
}

/// A message ID that an off-path attacker cannot guess from the clock alone: the standard
/// library's randomly keyed SipHash over the time (no extra dependency for a 16-bit value).
fn rand_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let [a, b, ..] = h.finish().to_le_bytes();
    u16::from_le_bytes([a, b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_matches_prefixes_and_mapped_addresses() {
        let acl = TransferAcl::parse(&["192.0.2.0/24", "2001:db8::1", "10.0.0.0/0"][..2]).unwrap();
        assert!(acl.allows("192.0.2.200".parse().unwrap(), None));
        assert!(acl.allows("::ffff:192.0.2.1".parse().unwrap(), None));
        assert!(!acl.allows("192.0.3.1".parse().unwrap(), None));
        assert!(acl.allows("2001:db8::1".parse().unwrap(), None));
        assert!(!acl.allows("2001:db8::2".parse().unwrap(), None));
        assert!(TransferAcl::default().0.is_empty());
        assert!(!TransferAcl::default().allows("127.0.0.1".parse().unwrap(), None));
        let all = TransferAcl::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all.allows("203.0.113.9".parse().unwrap(), None));
        assert_eq!(
            "192.0.2.0/33".parse::<AclEntry>(),
            Err(AclParseError("192.0.2.0/33".to_owned()))
        );
        assert!("foo".parse::<AclEntry>().is_err());
    }

    #[test]
    fn acl_entries_with_keys_need_that_key() {
        let acl = TransferAcl::parse(&["127.0.0.1 key xfr-key", "192.0.2.0/24"]).unwrap();
        let xfr = Name::from_ascii("XFR-key.").unwrap();
        let other = Name::from_ascii("other.").unwrap();
        let lo = "127.0.0.1".parse().unwrap();
        assert!(acl.allows(lo, Some(&xfr)));
        assert!(!acl.allows(lo, None));
        assert!(!acl.allows(lo, Some(&other)));
        // An entry without a key admits signed and unsigned requests alike.
        assert!(acl.allows("192.0.2.1".parse().unwrap(), Some(&other)));
        assert!(acl.allows("192.0.2.1".parse().unwrap(), None));
        for bad in [
            "127.0.0.1 key",
            "127.0.0.1 xfr-key",
            "127.0.0.1 key a b",
            "127.0.0.1 key a..b",
        ] {
            assert!(bad.parse::<AclEntry>().is_err(), "{bad}");
        }
        let keys = TsigKeyring::new(
            vec![TsigKey::new("xfr-key", crate::tsig::TsigAlg::HmacSha256, b"k").unwrap()],
            300,
        );
        assert!(acl.check_keys(&keys).is_ok());
        assert!(acl.check_keys(&TsigKeyring::default()).is_err());
    }
}
