//! Fuzz target `dhcp_reply`: see `bodies/resolver.rs`, `dhcp_reply`.
#![no_main]

#[allow(dead_code)]
mod bodies {
    include!("../bodies/resolver.rs");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| bodies::dhcp_reply(data));
