//! The request decoder: SigV4 headers and the JSON body of any operation,
//! through the service: any bytes, no panic.
#![no_main]

use std::sync::LazyLock;

use keyward::fuzzing::Harness;

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("fuzz harness"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| HARNESS.request(data));
