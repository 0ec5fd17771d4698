//! Fuzz target `naptr_rdata`: see `bodies/proto.rs`, `naptr_rdata`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/proto.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::naptr_rdata(data));
