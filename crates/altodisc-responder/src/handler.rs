//! The hickory-server [`RequestHandler`] around the [`ZoneIndex`]: header flags, EDNS(0), UDP
//! size limits and truncation. The index decides what to answer; this decides how it goes out.
//!
//! Message-level rules (the UDP fast path in [`crate::fastpath`] declines every one of these
//! cases, so they hold on both paths):
//! * QDCOUNT other than 1: FORMERR without a question section (RFC 9619 §4);
//! * a compression pointer (or a reserved label type) in QNAME: the question is the first name
//!   of the message, so a pointer can only point into the header or forward, and the name is
//!   not a name (RFC 1035 §4.1.4): FORMERR without a question section;
//! * a message hickory cannot decode at all (e.g. a malformed EDNS client-subnet option, RFC 7871
//!   §6): FORMERR from [`formerr`], with the question when it is readable and an OPT record when
//!   the query had one (RFC 6891 §6.1.1, §7);
//! * every response is encoded by [`encode_response`], whose names compress against the
//!   question too (RFC 1035 §4.1.4), as NSD, Knot and BIND do.

use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::ProtoError;
use hickory_proto::op::{Edns, Message, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncoder};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tracing::{debug, warn};

use crate::index::{Answer, ZoneIndex};

/// Largest UDP response we send, whatever the client offers: the DNS Flag Day 2020 value, which
/// avoids IP fragmentation (RFC 9715 recommends staying below the path MTU).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Without EDNS a UDP response is limited to 512 octets (RFC 1035 §4.2.1).
pub const CLASSIC_UDP_PAYLOAD: u16 = 512;

/// Header (12) + OPT RR without options (11) (RFC 6891 §6.1.2).
const HEADER_LEN: usize = 12;
const OPT_LEN: usize = 11;

/// Answers DNS requests from a swappable [`ZoneIndex`].
#[derive(Debug, Clone)]
pub struct ZoneRequestHandler {
    index: Arc<ArcSwap<ZoneIndex>>,
}

impl ZoneRequestHandler {
    /// A handler serving `index`.
    #[must_use]
    pub fn new(index: Arc<ArcSwap<ZoneIndex>>) -> Self {
        Self { index }
    }

    /// The shared index; `store` a new one to reload (in-flight requests keep the old one).
    #[must_use]
    pub fn index(&self) -> &Arc<ArcSwap<ZoneIndex>> {
        &self.index
    }
}

#[async_trait::async_trait]
impl RequestHandler for ZoneRequestHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let index = self.index.load_full();
        let mut metadata = Metadata::response_from_request(&request.metadata);
        // We never recurse (RFC 1035 §4.1.1 RA=0); RD is copied back as the RFC requires.
        metadata.recursion_available = false;

        // EDNS(0): answer with an OPT record iff the query had one (RFC 6891 §7).
        let mut response_edns = None;
        let mut udp_limit = usize::from(CLASSIC_UDP_PAYLOAD);
        if let Some(req_edns) = &request.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(MAX_UDP_PAYLOAD);
            edns.set_version(0);
            edns.set_dnssec_ok(req_edns.flags().dnssec_ok);
            udp_limit = usize::from(
                req_edns
                    .max_payload()
                    .clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            );
            if req_edns.version() > 0 {
                // RFC 6891 §6.1.3: unknown version → BADVERS.
                response_edns = Some(edns);
                return send_error(
                    request,
                    &metadata,
                    response_edns.as_ref(),
                    ResponseCode::BADVERS,
                    &mut response_handle,
                )
                .await;
            }
            response_edns = Some(edns);
        }
        let edns = response_edns.as_ref();

        if request.metadata.op_code != OpCode::Query {
            return send_error(
                request,
                &metadata,
                edns,
                ResponseCode::NotImp,
                &mut response_handle,
            )
            .await;
        }
        let queries = request.queries.queries();
        // RFC 9619 §4: QDCOUNT must be 1; the FORMERR repeats no question. A pointer in QNAME
        // (RFC 1035 §4.1.4) can only point into the header: not a name, and not to be echoed.
        let [query] = queries else {
            return send_formerr_without_question(&metadata, edns, &mut response_handle).await;
        };
        if !question_is_uncompressed(request.queries.as_bytes()) {
            return send_formerr_without_question(&metadata, edns, &mut response_handle).await;
        }
        let qtype = query.query_type();
        let refuse = query.query_class() != DNSClass::IN
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT);
        if refuse {
            return send_error(
                request,
                &metadata,
                edns,
                ResponseCode::Refused,
                &mut response_handle,
            )
            .await;
        }

        let qname = query.original().name();
        // DO=1 (RFC 3225 §3): signed zones add RRSIGs and NSEC proofs (RFC 4035 §3.1); the
        // larger answer goes through the same size check and TC logic below.
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        let answer = index.lookup_dnssec(qname, qtype, dnssec_ok);
        if let Some(zone) = answer.zone {
            zone.stats()
                .queries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        debug!(%qname, %qtype, kind = ?answer.kind, "answer");
        metadata.response_code = answer.rcode;
        metadata.authoritative = answer.authoritative;

        let mut send_additionals = true;
        if request.protocol() == Protocol::Udp {
            let fixed = HEADER_LEN + qname.len() + 4 + if edns.is_some() { OPT_LEN } else { 0 };
            if fixed + answer.size_bound > udp_limit {
                match fits(request, &metadata, edns, &answer, udp_limit) {
                    Fit::All => {}
                    Fit::WithoutAdditionals => send_additionals = false,
                    Fit::Nothing => {
                        // RFC 2181 §9: the answer does not fit, so set TC and send no partial
                        // RRset (NSD and Knot send an empty answer section too); the client
                        // retries over TCP (RFC 7766 §5).
                        metadata.truncation = true;
                        let builder = response_builder(request, edns);
                        let response = builder.build(metadata, [], [], [], []);
                        return send(response_handle, response).await;
                    }
                }
            }
        }
        let builder = response_builder(request, edns);
        let answers = answer.answers.iter();
        let authorities = answer.authorities.iter().map(AsRef::as_ref);
        let additionals = answer.additionals.iter().filter(|_| send_additionals);
        let response = builder.build(metadata, answers, authorities, [], additionals);
        send(response_handle, response).await
    }
}

enum Fit {
    All,
    WithoutAdditionals,
    Nothing,
}

/// Encodes the response (with compression) to learn whether it fits `limit`.
fn fits(
    request: &Request,
    metadata: &Metadata,
    edns: Option<&Edns>,
    answer: &Answer<'_>,
    limit: usize,
) -> Fit {
    let encoded_len = |with_additionals: bool| {
        let builder = response_builder(request, edns);
        let response = builder.build(
            *metadata,
            answer.answers.iter(),
            answer.authorities.iter().map(AsRef::as_ref),
            [],
            answer.additionals.iter().filter(move |_| with_additionals),
        );
        encode_response(response).ok().map(|(_, wire)| wire.len())
    };
    if encoded_len(true).is_some_and(|n| n <= limit) {
        Fit::All
    } else if !answer.additionals.is_empty() && encoded_len(false).is_some_and(|n| n <= limit) {
        Fit::WithoutAdditionals
    } else {
        Fit::Nothing
    }
}

fn response_builder<'q>(
    request: &'q Request,
    edns: Option<&'q Edns>,
) -> MessageResponseBuilder<'q> {
    let mut builder = MessageResponseBuilder::from_message_request(request);
    if let Some(e) = edns {
        builder.edns(e);
    }
    builder
}

/// FORMERR with an empty question section (and the OPT record if the query had one).
async fn send_formerr_without_question<R: ResponseHandler>(
    metadata: &Metadata,
    edns: Option<&Edns>,
    response_handle: &mut R,
) -> ResponseInfo {
    send_without_question(metadata, edns, ResponseCode::FormErr, response_handle).await
}

/// An error reply with an empty question section, for requests whose question section cannot
/// be repeated: not exactly one question (RFC 9619), or a QNAME with a compression pointer,
/// which can only point into the request's header and would point into ours (RFC 1035 §4.1.4).
async fn send_without_question<R: ResponseHandler>(
    metadata: &Metadata,
    edns: Option<&Edns>,
    rcode: ResponseCode,
    response_handle: &mut R,
) -> ResponseInfo {
    let mut meta = *metadata;
    meta.response_code = rcode;
    meta.authoritative = false;
    let Ok(no_question) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
        // Reading zero questions from nothing cannot fail; if it did, send nothing rather than
        // a question that points into our header.
        warn!("could not build an empty question section; no reply sent");
        return ResponseInfo::from(hickory_proto::op::Header {
            metadata: meta,
            counts: hickory_proto::op::HeaderCounts::default(),
        });
    };
    let response = MessageResponseBuilder::new(&no_question, edns).build(meta, [], [], [], []);
    send(response_handle.clone(), response).await
}

/// Whether the first QNAME in `question` (the question section as received) is written out
/// label by label: no compression pointer, no reserved label type (RFC 1035 §4.1.4, RFC 6891
/// §5), within 255 octets.
fn question_is_uncompressed(question: &[u8]) -> bool {
    let mut at = 0usize;
    while let Some(&len) = question.get(at) {
        if len & 0xC0 != 0 || at > 255 {
            return false;
        }
        if len == 0 {
            return true;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// Encodes a response like hickory's UDP/TCP encoder, with one difference: names compress
/// against the question too. hickory-server copies the question octets from the request without
/// remembering their labels, so every later name (the answer's owner, the SOA's owner in a
/// negative answer) would be written in full: 15 octets more than NSD for a typical NXDOMAIN,
/// and more answers truncated. The response is decoded once and re-encoded by hickory-proto's
/// `Message` encoder, which remembers every name it writes (RFC 1035 §4.1.4); if that fails or
/// would not be shorter, the first encoding is kept.
///
/// # Errors
/// hickory's encoding error (e.g. a name over 255 octets).
pub fn encode_response<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> Result<(ResponseInfo, Vec<u8>), ProtoError> {
    let mut buf = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut buf);
    let info = response.destructive_emit(&mut encoder)?;
    let compressed = Message::from_vec(&buf)
        .ok()
        .and_then(|m| m.to_vec().ok())
        .filter(|c| c.len() <= buf.len());
    Ok((info, compressed.unwrap_or(buf)))
}

/// FORMERR for a message hickory could not decode (RFC 1035 §4.1.1); `None` when nothing may be
/// sent: no readable header, or the message is itself a response. The reply keeps the ID, the
/// OPCODE, RD and CD; it repeats the question when the message has exactly one readable,
/// uncompressed question (RFC 9619), and carries an OPT record (version 0, our payload size,
/// DO copied) when the query had one (RFC 6891 §6.1.1: a responder MUST include an OPT record
/// in responses to requests that had one; a malformed option is no reason to drop it).
#[must_use]
pub fn formerr(message: &[u8]) -> Option<Vec<u8>> {
    let id = message.get(..2)?;
    let (b2, b3) = (*message.get(2)?, *message.get(3)?);
    if b2 & 0x80 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(id);
    // QR=1, the query's OPCODE and RD; CD copied (RFC 4035 §3.1.6); RCODE FORMERR.
    out.push(0x80 | (b2 & 0x79));
    out.push((b3 & 0x10) | 1);
    let question = read_question(message);
    let opt = question.and_then(|q| find_opt(message, q.len()));
    let qdcount = u16::from(question.is_some());
    let arcount = u16::from(opt.is_some());
    for count in [qdcount, 0, 0, arcount] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    if let Some(q) = question {
        out.extend_from_slice(q);
    }
    if let Some(dnssec_ok) = opt {
        // OPT: root owner, TYPE 41, CLASS = our payload, extended RCODE 0, version 0, DO
        // copied (RFC 3225 §3), RDLENGTH 0 (RFC 6891 §6.1.2).
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    Some(out)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// The question section's octets when QDCOUNT is 1 and QNAME is uncompressed and well formed.
fn read_question(message: &[u8]) -> Option<&[u8]> {
    if be16(message, 4)? != 1 {
        return None;
    }
    let rest = message.get(HEADER_LEN..)?;
    let mut at = 0usize;
    loop {
        let len = *rest.get(at)?;
        if len & 0xC0 != 0 || at > 254 {
            return None;
        }
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    rest.get(..at.checked_add(4)?)
}

/// The DO bit of the OPT record in the additional section, if there is one and the sections
/// before it can be walked (`question_len` octets of question after the header).
fn find_opt(message: &[u8], question_len: usize) -> Option<bool> {
    let mut at = HEADER_LEN.checked_add(question_len)?;
    let records = usize::from(be16(message, 6)?)
        .checked_add(usize::from(be16(message, 8)?))?
        .checked_add(usize::from(be16(message, 10)?))?;
    let additional_from = records.checked_sub(usize::from(be16(message, 10)?))?;
    for i in 0..records {
        let owner_at = at;
        // Owner: labels up to the root, or up to a compression pointer (2 octets).
        loop {
            let len = *message.get(at)?;
            if len & 0xC0 == 0xC0 {
                at = at.checked_add(2)?;
                break;
            }
            if len & 0xC0 != 0 {
                return None;
            }
            at = at.checked_add(1 + usize::from(len))?;
            if len == 0 {
                break;
            }
        }
        let rtype = be16(message, at)?;
        if i >= additional_from && rtype == 41 && message.get(owner_at) == Some(&0) {
            let flags = *message.get(at.checked_add(6)?)?;
            return Some(flags & 0x80 != 0);
        }
        let rdlength = usize::from(be16(message, at.checked_add(8)?)?);
        at = at.checked_add(10)?.checked_add(rdlength)?;
    }
    None
}

async fn send_error<R: ResponseHandler>(
    request: &Request,
    metadata: &Metadata,
    edns: Option<&Edns>,
    rcode: ResponseCode,
    response_handle: &mut R,
) -> ResponseInfo {
    if request.queries.queries().len() != 1 || !question_is_uncompressed(request.queries.as_bytes())
    {
        return send_without_question(metadata, edns, rcode, response_handle).await;
    }
    let builder = response_builder(request, edns);
    let mut meta = *metadata;
    meta.response_code = rcode;
    meta.authoritative = false;
    let response = builder.build(meta, [], [], [], []);
    send(response_handle.clone(), response).await
}

async fn send<'a, R: ResponseHandler>(
    mut response_handle: R,
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let header = *response.metadata();
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, "sending the response failed");
            ResponseInfo::from(hickory_proto::op::Header {
                metadata: header,
                counts: hickory_proto::op::HeaderCounts::default(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: &[u8] = b"\x07example\x03net\x00\x00\x23\x00\x01";

    fn message(qdcount: u16, arcount: u16, body: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0xAB, 0xCD, 0x01, 0x10];
        for c in [qdcount, 0, 0, arcount] {
            m.extend_from_slice(&c.to_be_bytes());
        }
        for part in body {
            m.extend_from_slice(part);
        }
        m
    }

    #[test]
    fn formerr_keeps_question_and_opt() {
        // A malformed client-subnet option (3 octets) after a readable question, with DO=1.
        let opt = [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 7, 0, 8, 0, 3, 0, 1, 24];
        let got = formerr(&message(1, 1, &[QUESTION, &opt])).unwrap();
        let mut want = vec![0xAB, 0xCD, 0x81, 0x11, 0, 1, 0, 0, 0, 0, 0, 1];
        want.extend_from_slice(QUESTION);
        want.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0]);
        assert_eq!(got, want);
        let parsed = Message::from_vec(&got).unwrap();
        assert_eq!(parsed.metadata.response_code, ResponseCode::FormErr);
        assert!(parsed.edns.unwrap().flags().dnssec_ok);
    }

    #[test]
    fn formerr_leaves_out_what_it_cannot_read() {
        // No EDNS: header and question only.
        let got = formerr(&message(1, 0, &[QUESTION, b"\xFF"])).unwrap();
        assert_eq!(got.len(), 12 + QUESTION.len());
        // A pointer in QNAME, two questions, a truncated name: header only.
        for body in [
            message(1, 0, &[b"\x03abc\xC0\x04\x00\x01\x00\x01"]),
            message(2, 0, &[QUESTION, QUESTION]),
            message(1, 0, &[b"\x07exam"]),
        ] {
            let got = formerr(&body).unwrap();
            assert_eq!(got, [0xAB, 0xCD, 0x81, 0x11, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
        // An OPT record whose owner is not the root is not our OPT.
        let bad_owner = [1, b'x', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
        let got = formerr(&message(1, 1, &[QUESTION, &bad_owner])).unwrap();
        assert_eq!(&got[10..12], &[0, 0]);
        // Responses and stubs get nothing.
        assert_eq!(formerr(&[0xAB]), None);
        assert_eq!(formerr(&[0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn only_plain_qnames_pass() {
        assert!(question_is_uncompressed(QUESTION));
        assert!(question_is_uncompressed(b"\x00\x00\x01\x00\x01"));
        assert!(!question_is_uncompressed(
            b"\x03abc\xC0\x04\x00\x01\x00\x01"
        ));
        assert!(!question_is_uncompressed(b"\x41abc\x00"));
        assert!(!question_is_uncompressed(b"\x03ab"));
        assert!(!question_is_uncompressed(b""));
    }
}
