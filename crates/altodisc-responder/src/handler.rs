//! The hickory-server [`RequestHandler`] around the [`ZoneIndex`]: header flags, EDNS(0), UDP
//! size limits and truncation. The index decides what to answer; this decides how it goes out.

use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
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
        let [query] = queries else {
            return send_error(
                request,
                &metadata,
                edns,
                ResponseCode::FormErr,
                &mut response_handle,
            )
            .await;
        };
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
        let mut buf = Vec::with_capacity(limit + 64);
        let mut encoder = BinEncoder::new(&mut buf);
        match response.destructive_emit(&mut encoder) {
            Ok(_) => Some(buf.len()),
            Err(_) => None,
        }
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

async fn send_error<R: ResponseHandler>(
    request: &Request,
    metadata: &Metadata,
    edns: Option<&Edns>,
    rcode: ResponseCode,
    response_handle: &mut R,
) -> ResponseInfo {
    let builder = response_builder(request, edns);
    let mut meta = *metadata;
    meta.response_code = rcode;
    meta.authoritative = false;
    let response = builder.build(meta, [], [], [], []);
    send(response_handle.clone(), response).await
}

async fn send<'a, R: ResponseHandler>(
    mut response_handle: R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
        impl Iterator<Item = &'a hickory_proto::rr::Record> + Send + 'a,
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
