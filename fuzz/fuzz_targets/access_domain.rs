//! Fuzz target `access_domain`: see `bodies/proto.rs`, `access_domain`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/proto.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::access_domain(data));
