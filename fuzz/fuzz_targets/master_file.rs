//! Fuzz target `master_file`: see `bodies/zone.rs`, `master_file`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/zone.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::master_file(data));
