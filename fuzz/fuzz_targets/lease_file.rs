//! Fuzz target `lease_file`: see `bodies/resolver.rs`, `lease_file`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/resolver.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::lease_file(data));
