//! Replays the fuzz corpus and crash regressions of the `responder_query` fuzz target (`fuzz/`)
//! on stable, through the same body the target runs (`fuzz/bodies/responder.rs`): both the fast
//! path and the hickory path, with the differential assertion, without cargo-fuzz or nightly.

#[allow(dead_code)]
mod bodies {
    include!("../../../../fuzz/bodies/responder.rs");
}

include!("../../../../fuzz/bodies/replay.rs");

#[test]
fn responder_query_inputs_replay_cleanly() {
    let mut harness = bodies::Harness::new(&crate::common::zones_dir());
    let cell = std::cell::RefCell::new(&mut harness);
    replay("responder_query", |data| cell.borrow_mut().query(data));
    // The corpus must reach the fast path, or the differential assertion never ran.
    assert!(
        harness.compared > 0,
        "no corpus input was answered by both paths"
    );
    eprintln!(
        "responder_query: {} inputs answered by both paths, identically",
        harness.compared
    );
}
