//! Fuzz target `publish_config`: see `bodies/zone.rs`, `publish_config`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/zone.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::publish_config(data));
