//! Grants at scale: CreateGrant (with a RevokeGrant after it, so the count
//! stays put) and the first Decrypt after a grant change, on a key holding
//! 1,000 grants and on one holding 50,000 (AWS's limit), in the same run.
//! Both should cost the same at either size: a grant change updates the
//! key's cached grants in O(log n) instead of rebuilding them.
//!
//! The data directory is in /dev/shm when there is one, so the setup's
//! 51,000 committed CreateGrants take seconds, not minutes; the baseline
//! is the same Decrypt with no grant change before it.
//!
//! Run: `cargo bench --bench grants`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::{Value, json};

const GRANTEE: &str = "arn:aws:iam::111122223333:role/Reader";

/// A key with `n` grants (to other principals, and one to the reader),
/// and a ciphertext under it.
fn key_with_grants(svc: &KeyService, admin: &Identity, n: usize) -> (String, Value) {
    let key = svc.call(admin, "CreateKey", &json!({})).expect("key")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    for i in 0..n - 1 {
        svc.call(
            admin,
            "CreateGrant",
            &json!({"KeyId": key, "GranteePrincipal": format!("arn:aws:iam::111122223333:role/Worker{i}"),
                    "Operations": ["Decrypt", "Encrypt"]}),
        )
        .expect("grant");
    }
    svc.call(
        admin,
        "CreateGrant",
        &json!({"KeyId": key, "GranteePrincipal": GRANTEE, "Operations": ["Decrypt"]}),
    )
    .expect("grant");
    let blob = svc
        .call(
            admin,
            "Encrypt",
            &json!({"KeyId": key, "Plaintext": "aGk="}),
        )
        .expect("encrypt")["CiphertextBlob"]
        .clone();
    (key, json!({"CiphertextBlob": blob}))
}

fn grants(c: &mut Criterion) {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("keyward-bench-grants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = DataDir::new(&dir);
    data.init().expect("init");
    let svc = KeyService::open(&data, "us-east-1").expect("open");
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));
    let reader = Identity::new(Caller::parse(GRANTEE).expect("caller"));
    let mut g = c.benchmark_group("grants");
    g.sample_size(30);
    // The churning grant brings the key to n: 50,000 is AWS's limit.
    for n in [1_000, 50_000] {
        let (key, decrypt) = key_with_grants(&svc, &admin, n - 1);
        let create = json!({"KeyId": key, "GranteePrincipal": "arn:aws:iam::111122223333:role/Churn",
                            "Operations": ["Decrypt"]});
        let change = || {
            let id = svc.call(&admin, "CreateGrant", &create).expect("grant")["GrantId"].clone();
            svc.call(&admin, "RevokeGrant", &json!({"KeyId": key, "GrantId": id}))
                .expect("revoke");
        };
        g.bench_function(format!("create_and_revoke_grant/{n}"), |b| b.iter(change));
        g.bench_function(format!("decrypt_after_grant_change/{n}"), |b| {
            b.iter_batched(
                change,
                |()| {
                    svc.call(&reader, "Decrypt", black_box(&decrypt))
                        .expect("ok")
                },
                criterion::BatchSize::PerIteration,
            )
        });
        g.bench_function(format!("decrypt_no_change/{n}"), |b| {
            b.iter(|| {
                svc.call(&reader, "Decrypt", black_box(&decrypt))
                    .expect("ok")
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, grants);
criterion_main!(benches);
