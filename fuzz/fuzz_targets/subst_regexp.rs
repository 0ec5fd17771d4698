//! Fuzz target `subst_regexp`: see `bodies/proto.rs`, `subst_regexp`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/proto.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::subst_regexp(data));
