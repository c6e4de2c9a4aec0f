//! The quota check on the hot path: one account's bucket found and one
//! token taken (the rate set so high that nothing is throttled), next to
//! an uncontended atomic increment in the same run.
//!
//! Run: `cargo bench --bench quota`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::service::quota::{Limits, Quotas, family_of};

fn quota(c: &mut Criterion) {
    let mut limits = Limits::scaled(1.0);
    limits
        .set("CryptographicOperationsSymmetric", 1e12)
        .expect("rate");
    let quotas = Quotas::new(Some(limits));
    let decrypt = family_of("Decrypt", Some("SYMMETRIC_DEFAULT")).expect("family");
    for account in 0..100 {
        quotas
            .take(&format!("1111222233{account:02}"), "us-east-1", decrypt)
            .expect("within quota");
    }
    let mut g = c.benchmark_group("quota");
    // The check as a request makes it, with the time the request arrived
    // (read once per call), and with a clock read of its own.
    let arrived = std::time::Instant::now();
    g.bench_function("take_decrypt", |b| {
        b.iter(|| {
            quotas
                .take_at(
                    black_box("111122223342"),
                    black_box("us-east-1"),
                    decrypt,
                    arrived,
                )
                .expect("within quota")
        })
    });
    g.bench_function("take_decrypt_reading_the_clock", |b| {
        b.iter(|| {
            quotas
                .take(black_box("111122223342"), black_box("us-east-1"), decrypt)
                .expect("within quota")
        })
    });
    g.bench_function("family_of_decrypt", |b| {
        b.iter(|| family_of(black_box("Decrypt"), black_box(Some("SYMMETRIC_DEFAULT"))))
    });
    g.bench_function("baseline_instant_now", |b| b.iter(std::time::Instant::now));
    let counter = AtomicU64::new(0);
    g.bench_function("baseline_atomic_increment", |b| {
        b.iter(|| counter.fetch_add(1, Ordering::Relaxed))
    });
    g.finish();
}

criterion_group!(benches, quota);
criterion_main!(benches);
