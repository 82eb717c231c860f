//! Any bytes as a request frame: decoding and handling must never panic.
#![no_main]

use std::sync::OnceLock;

use broker::fuzzing::Harness;
use libfuzzer_sys::fuzz_target;

static HARNESS: OnceLock<Harness> = OnceLock::new();

fuzz_target!(|frame: &[u8]| {
    HARNESS.get_or_init(Harness::new).answer(frame);
});
