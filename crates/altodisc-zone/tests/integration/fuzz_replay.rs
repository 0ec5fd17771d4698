//! Replays the fuzz corpora and crash regressions of the `zone` fuzz targets (`fuzz/`) on
//! stable, through the same bodies the targets run (`fuzz/bodies/zone.rs`), so CI checks every
//! input a campaign kept or a crash left without cargo-fuzz or a nightly compiler.

#[allow(dead_code)]
mod bodies {
    include!("../../../../fuzz/bodies/zone.rs");
}

include!("../../../../fuzz/bodies/replay.rs");

#[test]
fn master_file_inputs_replay_cleanly() {
    replay("master_file", bodies::master_file);
    bodies::remove_scratch();
}

#[test]
fn publish_config_inputs_replay_cleanly() {
    replay("publish_config", bodies::publish_config);
}
