//! Replays the fuzz corpora and crash regressions of the `resolver` fuzz targets (`fuzz/`) on
//! stable, through the same bodies the targets run (`fuzz/bodies/resolver.rs`), so CI checks every
//! input a campaign kept or a crash left without cargo-fuzz or a nightly compiler.

#[allow(dead_code)]
mod bodies {
    include!("../../../../fuzz/bodies/resolver.rs");
}

include!("../../../../fuzz/bodies/replay.rs");

#[test]
fn dhcp_reply_inputs_replay_cleanly() {
    replay("dhcp_reply", bodies::dhcp_reply);
}

#[test]
fn lease_file_inputs_replay_cleanly() {
    replay("lease_file", bodies::lease_file);
}

#[test]
fn ird_json_inputs_replay_cleanly() {
    replay("ird_json", bodies::ird_json);
}

#[test]
fn engine_response_inputs_replay_cleanly() {
    replay("engine_response", bodies::engine_response);
}
