//! Fuzz target `ird_json`: see `bodies/resolver.rs`, `ird_json`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/resolver.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::ird_json(data));
