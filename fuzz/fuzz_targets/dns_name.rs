//! Fuzz target `dns_name`: see `bodies/proto.rs`, `dns_name`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/proto.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::dns_name(data));
