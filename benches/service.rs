//! Encrypt, Decrypt and GenerateDataKey through the whole path: JSON
//! request, key resolution, authorization (explained, for the audit
//! record), key material unsealing, AES-GCM, and the hash-chained audit
//! append. The baseline in the same run is the blob encryption alone.
//!
//! Run: `cargo bench --bench service`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

/// The allocator the `keyward` binary ships with, so figures are the
/// product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::json;

fn service(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("keyward-bench-svc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));
    let key = svc.call(&admin, "CreateKey", &json!({})).expect("key")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let ctx = json!({"tenant": "acme", "record": "42"});
    let enc = json!({"KeyId": key, "Plaintext": "c2VjcmV0IGRhdGEga2V5IG1hdGVyaWFsIDMyIGJ5dGVzIQ==", "EncryptionContext": ctx});
    let blob = svc.call(&admin, "Encrypt", &enc).expect("encrypt")["CiphertextBlob"].clone();
    let dec = json!({"CiphertextBlob": blob, "EncryptionContext": ctx});
    let gdk = json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": ctx});
    let mut g = c.benchmark_group("service");
    g.bench_function("encrypt", |b| {
        b.iter(|| svc.call(&admin, "Encrypt", black_box(&enc)).expect("ok"))
    });
    g.bench_function("decrypt", |b| {
        b.iter(|| svc.call(&admin, "Decrypt", black_box(&dec)).expect("ok"))
    });
    g.bench_function("generate_data_key", |b| {
        b.iter(|| {
            svc.call(&admin, "GenerateDataKey", black_box(&gdk))
                .expect("ok")
        })
    });
    // Baseline: AES-256-GCM of the same 32 bytes with a fresh HKDF key,
    // no authorization, storage or audit.
    let key_bytes = [7u8; 32];
    let nonce = [1u8; 12];
    g.bench_function("baseline_aes_gcm_seal_32_bytes", |b| {
        b.iter(|| {
            keyward::crypto::seal(
                black_box(&key_bytes),
                &nonce,
                b"aad",
                b"secret data key material 32 bytes!",
            )
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, service);
criterion_main!(benches);
