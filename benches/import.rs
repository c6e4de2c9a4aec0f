//! Importing key material through the service, next to the cryptography
//! it cannot avoid, in the same run:
//! - GetParametersForImport per wrapping key spec, against generating an
//!   RSA key pair of that size with aws-lc-rs alone (the wrapping key is
//!   fresh for every call);
//! - ImportKeyMaterial (token opened, RSA-OAEP unwrap, commitment, sealing,
//!   a durable store commit and its audit record), against the RSA-OAEP
//!   decryption alone.
//!
//! Run: `cargo bench --bench import`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

/// The allocator the `keyward` binary ships with, so figures are the
/// product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::RsaKeyPair;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::json;

fn import(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("keyward-bench-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));
    let key = svc
        .call(&admin, "CreateKey", &json!({"Origin": "EXTERNAL"}))
        .expect("key")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();

    let mut g = c.benchmark_group("import");
    g.sample_size(10);
    for (spec, size) in [
        ("RSA_2048", KeySize::Rsa2048),
        ("RSA_4096", KeySize::Rsa4096),
    ] {
        let req = json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": spec});
        g.bench_function(format!("get_parameters_for_import/{spec}"), |b| {
            b.iter(|| {
                svc.call(&admin, "GetParametersForImport", black_box(&req))
                    .expect("ok")
            })
        });
        g.bench_function(format!("baseline_rsa_generate/{spec}"), |b| {
            b.iter(|| RsaKeyPair::generate(black_box(size)).expect("ok"))
        });
    }

    // One token and wrapped material, imported again and again (the same
    // material: each call replaces it durably).
    let params = svc
        .call(
            &admin,
            "GetParametersForImport",
            &json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
        )
        .expect("params");
    let public = B64
        .decode(params["PublicKey"].as_str().expect("public"))
        .expect("b64");
    let wrapping =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&public).expect("spki"))
            .expect("oaep");
    let mut wrapped = vec![0u8; wrapping.ciphertext_size()];
    let n = wrapping
        .encrypt(&OAEP_SHA256_MGF1SHA256, &[5u8; 32], &mut wrapped, None)
        .expect("wrap")
        .len();
    wrapped.truncate(n);
    let req = json!({
        "KeyId": key,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": B64.encode(&wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    g.sample_size(30);
    g.bench_function("import_key_material/RSAES_OAEP_SHA_256", |b| {
        b.iter(|| {
            svc.call(&admin, "ImportKeyMaterial", black_box(&req))
                .expect("ok")
        })
    });
    // Baseline: the RSA-OAEP decryption of the same size, alone.
    let pair = PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("rsa");
    let public = OaepPublicEncryptingKey::new(pair.public_key()).expect("oaep");
    let private = OaepPrivateDecryptingKey::new(pair).expect("oaep");
    let mut ct = vec![0u8; public.ciphertext_size()];
    let n = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &[5u8; 32], &mut ct, None)
        .expect("enc")
        .len();
    ct.truncate(n);
    g.bench_function("baseline_rsa_oaep_decrypt/RSA_2048", |b| {
        b.iter(|| {
            let mut out = [0u8; 256];
            private
                .decrypt(&OAEP_SHA256_MGF1SHA256, black_box(&ct), &mut out, None)
                .map(|p| p.len())
                .expect("ok")
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, import);
criterion_main!(benches);
