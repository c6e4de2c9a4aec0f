//! The ciphertext blob parser, alone and through Decrypt: any bytes, no panic.
#![no_main]

use std::sync::LazyLock;

use keyward::fuzzing::Harness;

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("fuzz harness"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| HARNESS.blob(data));
