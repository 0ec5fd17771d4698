//! Fuzz target `responder_query`: see `bodies/responder.rs`, `Harness::query`.
#![no_main]

use std::sync::{LazyLock, Mutex};

#[allow(dead_code)]
mod bodies {
    include!("../bodies/responder.rs");
}

/// The bundled zones, loaded once per process.
static HARNESS: LazyLock<Mutex<bodies::Harness>> = LazyLock::new(|| {
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../zones");
    Mutex::new(bodies::Harness::new(&zones))
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // A panic inside poisons the lock, but libFuzzer stops at the first panic anyway.
    if let Ok(mut harness) = HARNESS.lock() {
        harness.query(data);
    }
});
