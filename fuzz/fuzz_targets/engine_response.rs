//! Fuzz target `engine_response`: see `bodies/resolver.rs`, `engine_response`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/resolver.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::engine_response(data));
