//! Replays the fuzz corpora and crash regressions of the `proto` fuzz targets (`fuzz/`) on
//! stable, through the same bodies the targets run (`fuzz/bodies/proto.rs`), so CI checks every
//! input a campaign kept or a crash left without cargo-fuzz or a nightly compiler.

#[allow(dead_code)]
mod bodies {
    include!("../../../../fuzz/bodies/proto.rs");
}

include!("../../../../fuzz/bodies/replay.rs");

#[test]
fn dns_name_inputs_replay_cleanly() {
    replay("dns_name", bodies::dns_name);
}

#[test]
fn naptr_rdata_inputs_replay_cleanly() {
    replay("naptr_rdata", bodies::naptr_rdata);
}

#[test]
fn subst_regexp_inputs_replay_cleanly() {
    replay("subst_regexp", bodies::subst_regexp);
}

#[test]
fn access_domain_inputs_replay_cleanly() {
    replay("access_domain", bodies::access_domain);
}
