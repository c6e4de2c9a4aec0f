//! SigV4 verification of a signed Decrypt request: deriving the signing key
//! (four HMACs) on every request, against the key cached per access key,
//! day, Region and service, in the same run. The baseline is the key
//! derivation alone.
//!
//! Run: `cargo bench --bench sigv4`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

/// The allocator the `keyward` binary ships with, so figures are the
/// product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::server::sigv4::{self, SignedRequest, SigningKeys};

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2026-12-02T10:00:00Z.
const NOW: i64 = 1_796_205_600;

fn bench(c: &mut Criterion) {
    let body =
        br#"{"CiphertextBlob":"S1dCAQEkZTJmNGE5ZjAtMWQ2OS00NjE1LWJkOTctZDk5NGEzN2I1ZjJhAAAAAQ=="}"#
            .to_vec();
    let mut headers = vec![
        ("host".to_owned(), "127.0.0.1:4599".to_owned()),
        ("x-amz-date".to_owned(), "20261202T100000Z".to_owned()),
        ("x-amz-target".to_owned(), "TrentService.Decrypt".to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
    ];
    let auth = sigv4::authorization(
        "POST",
        "/",
        &headers,
        &body,
        "AKIAADMIN000000000001",
        SECRET,
        "us-east-1",
        "kms",
    );
    headers.push(("authorization".to_owned(), auth));
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: &body,
    };
    let secret_for = |_: &str| Some(SECRET.to_vec());
    let cache = SigningKeys::default();
    sigv4::verify_cached(&req, secret_for, NOW, &cache).expect("verifies");
    let mut g = c.benchmark_group("sigv4");
    g.bench_function("verify_deriving_the_key", |b| {
        b.iter(|| sigv4::verify(black_box(&req), secret_for, NOW).expect("ok"))
    });
    g.bench_function("verify_cached_key", |b| {
        b.iter(|| sigv4::verify_cached(black_box(&req), secret_for, NOW, &cache).expect("ok"))
    });
    g.bench_function("baseline_signing_key_derivation", |b| {
        b.iter(|| sigv4::signing_key(black_box(SECRET), "20261202", "us-east-1", "kms"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
