//! altodisc-proto against vectors taken from the RFCs' rules and examples (reverse ladder,
//! U-NAPTR walk, publishing owners), plus property tests and the fuzz corpus replay.
//! One test binary; one module per vector family.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod fuzz_replay;
mod properties;
mod tv_p;
mod tv_r;
mod tv_w;
mod walk_props;

/// Decodes a hex string that may contain spaces.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length in {s:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
