//! Sign and Verify per key spec through the whole service path (JSON
//! request, authorization, key unsealing, signature, audit append), next
//! to the bare aws-lc-rs call on the same message in the same run.
//!
//! Run: `cargo bench --bench signing`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::json;

const MESSAGE: &[u8] = b"release v1.2.3 sha256:0123456789abcdef0123456789abcdef";

fn signing(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("keyward-bench-sign-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));
    let mut g = c.benchmark_group("signing");
    g.sample_size(30);
    for (spec, algorithm) in [
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ("ML_DSA_65", "ML_DSA_SHAKE_256"),
    ] {
        let key = svc
            .call(
                &admin,
                "CreateKey",
                &json!({"KeySpec": spec, "KeyUsage": "SIGN_VERIFY"}),
            )
            .expect("key")["KeyMetadata"]["KeyId"]
            .clone();
        let sign =
            json!({"KeyId": key, "Message": B64.encode(MESSAGE), "SigningAlgorithm": algorithm});
        let sig = svc.call(&admin, "Sign", &sign).expect("sign")["Signature"].clone();
        let verify = json!({"KeyId": key, "Message": B64.encode(MESSAGE), "Signature": sig, "SigningAlgorithm": algorithm});
        g.bench_function(format!("{spec}/service_sign"), |b| {
            b.iter(|| svc.call(&admin, "Sign", black_box(&sign)).expect("ok"))
        });
        g.bench_function(format!("{spec}/service_verify"), |b| {
            b.iter(|| svc.call(&admin, "Verify", black_box(&verify)).expect("ok"))
        });
        raw(&mut g, spec);
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bare library: a key pair in memory, sign and verify.
fn raw(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, spec: &str) {
    let rng = SystemRandom::new();
    match spec {
        "ECC_NIST_P256" => {
            let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
            let sig = pair.sign(&rng, MESSAGE).unwrap();
            let public = signature::UnparsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_ASN1,
                pair.public_key().as_ref().to_vec(),
            );
            g.bench_function(format!("{spec}/library_sign"), |b| {
                b.iter(|| pair.sign(&rng, black_box(MESSAGE)).unwrap())
            });
            g.bench_function(format!("{spec}/library_verify"), |b| {
                b.iter(|| public.verify(black_box(MESSAGE), sig.as_ref()).unwrap())
            });
        }
        "RSA_2048" => {
            let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(&signature::RSA_PSS_SHA256, &rng, MESSAGE, &mut sig)
                .unwrap();
            let public = signature::UnparsedPublicKey::new(
                &signature::RSA_PSS_2048_8192_SHA256,
                pair.public_key().as_ref().to_vec(),
            );
            g.bench_function(format!("{spec}/library_sign"), |b| {
                let mut out = vec![0u8; pair.public_modulus_len()];
                b.iter(|| {
                    pair.sign(
                        &signature::RSA_PSS_SHA256,
                        &rng,
                        black_box(MESSAGE),
                        &mut out,
                    )
                    .unwrap()
                })
            });
            g.bench_function(format!("{spec}/library_verify"), |b| {
                b.iter(|| public.verify(black_box(MESSAGE), &sig).unwrap())
            });
        }
        "ECC_NIST_EDWARDS25519" => {
            let pair = Ed25519KeyPair::generate().unwrap();
            let sig = pair.sign(MESSAGE);
            let public = signature::UnparsedPublicKey::new(
                &signature::ED25519,
                pair.public_key().as_ref().to_vec(),
            );
            g.bench_function(format!("{spec}/library_sign"), |b| {
                b.iter(|| pair.sign(black_box(MESSAGE)))
            });
            g.bench_function(format!("{spec}/library_verify"), |b| {
                b.iter(|| public.verify(black_box(MESSAGE), sig.as_ref()).unwrap())
            });
        }
        _ => {
            let pair = signature::PqdsaKeyPair::generate(&signature::ML_DSA_65_SIGNING).unwrap();
            let mut sig = vec![0u8; pair.algorithm().signature_len()];
            pair.sign(MESSAGE, &mut sig).unwrap();
            let public = signature::UnparsedPublicKey::new(
                &signature::ML_DSA_65,
                pair.public_key().as_ref().to_vec(),
            );
            g.bench_function(format!("{spec}/library_sign"), |b| {
                let mut out = vec![0u8; pair.algorithm().signature_len()];
                b.iter(|| pair.sign(black_box(MESSAGE), &mut out).unwrap())
            });
            g.bench_function(format!("{spec}/library_verify"), |b| {
                b.iter(|| public.verify(black_box(MESSAGE), &sig).unwrap())
            });
        }
    }
}

criterion_group!(benches, signing);
criterion_main!(benches);
