// Fuzz-target body for the responder: one whole query datagram through the UDP fast path
// (`altodisc_responder::fastpath`) and through the hickory path (`ZoneRequestHandler`), both in
// process, without sockets. `include!`d by the fuzz target (fuzz/fuzz_targets/) and by the
// replay test (crates/altodisc-responder/tests/integration/fuzz_replay.rs).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use altodisc_responder::fastpath::FastPath;
use altodisc_responder::load::load_zone_dir;
use altodisc_responder::server::CollectResponse;
use altodisc_responder::{ZoneIndex, ZoneRequestHandler};
use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler};

/// The bundled zones served by both paths.
pub(crate) struct Harness {
    shared: Arc<ArcSwap<ZoneIndex>>,
    handler: ZoneRequestHandler,
    runtime: tokio::runtime::Runtime,
    fast: FastPath,
    out: Vec<u8>,
    peer: SocketAddr,
    /// Queries both paths answered (so the differential assertion ran).
    pub(crate) compared: usize,
}

impl Harness {
    /// Loads the zones of `zones` (the repository's `zones/`). Panics if they do not load: the
    /// harness is built from the project's own files, never from fuzzer input.
    pub(crate) fn new(zones: &Path) -> Self {
        let loaded = match load_zone_dir(zones) {
            Ok(loaded) => loaded,
            Err(e) => panic!("{}: {e}", zones.display()),
        };
        let index = match ZoneIndex::build(&loaded.zones) {
            Ok(index) => index,
            Err(e) => panic!("{}: {e}", zones.display()),
        };
        let shared = Arc::new(ArcSwap::from_pointee(index));
        let runtime = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(e) => panic!("tokio runtime: {e}"),
        };
        Self {
            handler: ZoneRequestHandler::new(shared.clone()),
            shared,
            runtime,
            fast: FastPath::new(),
            out: Vec::with_capacity(1232),
            peer: SocketAddr::from(([127, 0, 0, 1], 5353)),
            compared: 0,
        }
    }

    /// What the hickory path sends for `data` over UDP, as the server's receive loop runs it:
    /// `None` for a datagram hickory cannot decode (the loop answers FORMERR itself from the
    /// header) or for a response (never answered).
    fn hickory(&self, data: &[u8]) -> Option<Vec<u8>> {
        let request = Request::from_bytes(data.to_vec(), self.peer, Protocol::Udp).ok()?;
        if request.metadata.message_type == MessageType::Response {
            return None;
        }
        let slot = CollectResponse::default();
        self.runtime.block_on(
            self.handler
                .handle_request::<_, TokioTime>(&request, slot.clone()),
        );
        slot.take()
    }

    /// Target `responder_query`: neither path panics; every response is a DNS message that
    /// hickory can decode and that fits the client's UDP limit; and where the fast path answers,
    /// the hickory path answers the same octets (the fast path is only an accelerator).
    pub(crate) fn query(&mut self, data: &[u8]) {
        let slow = self.hickory(data);
        if let Some(slow) = &slow {
            if let Err(e) = Message::from_vec(slow) {
                panic!("hickory path sent an undecodable response ({e}): {slow:02x?}");
            }
            assert!(slow.len() <= 65_535);
        }
        let Some(done) = self.fast.answer(&self.shared, data, &mut self.out) else {
            return;
        };
        match &slow {
            Some(slow) => assert!(
                *slow == self.out,
                "fast path differs from the hickory path ({done:?})\nquery:   {data:02x?}\nfast:    {:02x?}\nhickory: {slow:02x?}",
                self.out
            ),
            None => panic!(
                "the fast path answered a query the hickory path does not ({done:?}): {data:02x?}"
            ),
        }
        self.compared += 1;
        let parsed = match Message::from_vec(&self.out) {
            Ok(parsed) => parsed,
            Err(e) => panic!("fast path sent an undecodable response: {e}"),
        };
        assert_eq!(parsed.metadata.response_code, done.rcode);
        // RFC 1035 §4.2.1 / RFC 6891 §6.2.5: a UDP answer stays within 512 octets, or within the
        // advertised payload size (never below 512) when the query has an OPT record. The fast
        // path only answers queries whose OPT, if any, is the last 11 octets (payload at 3..5).
        let limit = match data.get(10..12) {
            Some([0, 1]) => data
                .len()
                .checked_sub(8)
                .and_then(|at| data.get(at..at + 2))
                .map_or(512, |p| {
                    usize::from(u16::from_be_bytes([p[0], p[1]])).max(512)
                }),
            _ => 512,
        };
        assert!(
            self.out.len() <= limit,
            "{} octets over a limit of {limit}",
            self.out.len()
        );
    }
}
