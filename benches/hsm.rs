//! Decrypt through the whole service path with the root key in a file,
//! with the root key in a PKCS#11 token (key material opened once by the
//! token, then kept), and on a custom key store's key (every call into the
//! token); the baseline is one AES-GCM decryption by the token alone.
//!
//! The tokens are SoftHSM2's, made in a temporary directory: the bench
//! creates them and runs itself again with `SOFTHSM2_CONF` pointing there
//! (a PKCS#11 module reads its configuration when it is loaded).
//!
//! Run: `cargo bench --bench hsm` (needs Debian's softhsm2).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::path::Path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::eval::Caller;
use keyward::hsm::{Pkcs11Uri, Token};
use keyward::service::{Cluster, DataDir, Identity, KeyService};
use serde_json::{Value, json};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "bench-pin-1234";

/// Makes the tokens and runs this bench again with them, once.
fn in_softhsm(base: &Path) {
    if std::env::var_os("KEYWARD_BENCH_SOFTHSM").is_some() {
        return;
    }
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base.join("tokens")).expect("token dir");
    let conf = base.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            base.join("tokens").display()
        ),
    )
    .expect("conf");
    for label in ["keyward", "bench-cluster", "baseline"] {
        let ok = std::process::Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--pin", PIN])
            .args(["--so-pin", "bench-so-pin"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util (Debian package softhsm2)")
            .status
            .success();
        assert!(ok, "softhsm2-util --init-token {label}");
    }
    let status = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env("KEYWARD_BENCH_SOFTHSM", base)
        .status()
        .expect("bench");
    let _ = std::fs::remove_dir_all(base);
    std::process::exit(status.code().unwrap_or(1));
}

fn decrypt_request(svc: &KeyService, who: &Identity, create: Value) -> Value {
    let key = svc.call(who, "CreateKey", &create).expect("key")["KeyMetadata"]["Arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let ctx = json!({"tenant": "acme", "record": "42"});
    let enc = json!({"KeyId": key, "Plaintext": "c2VjcmV0IGRhdGEga2V5IG1hdGVyaWFsIDMyIGJ5dGVzIQ==", "EncryptionContext": ctx});
    let blob = svc.call(who, "Encrypt", &enc).expect("encrypt")["CiphertextBlob"].clone();
    json!({"CiphertextBlob": blob, "EncryptionContext": ctx})
}

fn hsm(c: &mut Criterion) {
    let base = std::env::var_os("KEYWARD_BENCH_SOFTHSM").map_or_else(
        || std::env::temp_dir().join(format!("keyward-bench-hsm-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    in_softhsm(&base);
    let work = base.join("work");
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));

    // The root key in a file, with a custom key store on a token.
    let file_dir = DataDir::new(work.join("file"));
    file_dir.init().expect("init");
    let cluster = Cluster::parse(&format!(
        "cluster-benchabcdefg=pkcs11:token=bench-cluster?module-path={MODULE}"
    ))
    .expect("cluster");
    let file_svc = KeyService::open(&file_dir, "us-east-1")
        .expect("open")
        .with_clusters(vec![cluster]);
    let file_dec = decrypt_request(&file_svc, &admin, json!({}));
    let anchor = "-----BEGIN CERTIFICATE-----\nYmVuY2ggY2VydA==\n-----END CERTIFICATE-----\n";
    let cks = file_svc
        .call(
            &admin,
            "CreateCustomKeyStore",
            &json!({"CustomKeyStoreName": "bench", "CloudHsmClusterId": "cluster-benchabcdefg",
                    "TrustAnchorCertificate": anchor, "KeyStorePassword": PIN}),
        )
        .expect("store")["CustomKeyStoreId"]
        .clone();
    file_svc
        .call(
            &admin,
            "ConnectCustomKeyStore",
            &json!({"CustomKeyStoreId": cks}),
        )
        .expect("connect");
    let cks_dec = decrypt_request(
        &file_svc,
        &admin,
        json!({"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": cks}),
    );

    // The root key in a token; the data directory remembers where its
    // PIN is, never the PIN.
    let pin_file = base.join("pin");
    std::fs::write(&pin_file, PIN).expect("pin");
    let uri = Pkcs11Uri::parse(&format!(
        "pkcs11:token=keyward;object=root?module-path={MODULE}&pin-source=file:{}",
        pin_file.display()
    ))
    .expect("uri");
    let hsm_dir = DataDir::new(work.join("hsm"));
    hsm_dir.init_in_token(&uri).expect("init in token");
    let hsm_svc = KeyService::open(&hsm_dir, "us-east-1").expect("open");
    let hsm_dec = decrypt_request(&hsm_svc, &admin, json!({}));

    // The floor of a token call: AES-GCM of 32 bytes inside the token.
    let token = Token::open(
        &Pkcs11Uri::parse(&format!("pkcs11:token=baseline?module-path={MODULE}")).expect("uri"),
        cryptoki::types::AuthPin::new(PIN.into()),
    )
    .expect("token");
    let handle = token.generate_aes_key("baseline").expect("key");
    let nonce = [3u8; 12];
    let sealed = token
        .gcm_encrypt(handle, &nonce, b"aad", &[9u8; 32])
        .expect("seal");

    let mut g = c.benchmark_group("hsm");
    g.bench_function("decrypt_file_root", |b| {
        b.iter(|| {
            file_svc
                .call(&admin, "Decrypt", black_box(&file_dec))
                .expect("ok")
        })
    });
    g.bench_function("decrypt_hsm_root_cached", |b| {
        b.iter(|| {
            hsm_svc
                .call(&admin, "Decrypt", black_box(&hsm_dec))
                .expect("ok")
        })
    });
    g.bench_function("decrypt_custom_key_store", |b| {
        b.iter(|| {
            file_svc
                .call(&admin, "Decrypt", black_box(&cks_dec))
                .expect("ok")
        })
    });
    g.bench_function("baseline_token_gcm_decrypt_32_bytes", |b| {
        b.iter(|| {
            token
                .gcm_decrypt(handle, &nonce, b"aad", black_box(&sealed))
                .expect("ok")
        })
    });
    g.finish();
}

criterion_group!(benches, hsm);
criterion_main!(benches);
