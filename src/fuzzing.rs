//! Entry points for fuzzing. Each takes arbitrary bytes and must return
//! without panicking, whatever they are. `fuzz/` runs them under libFuzzer
//! (`cargo fuzz run policy|blob|request`); their seed corpora, and every
//! input a fuzzer ever found, live in `fuzz/corpus/` and run on stable in
//! `cargo test` (tests/fuzz_corpora.rs).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::compile::{CompiledPolicy, PolicyKind};
use crate::crypto::blob;
use crate::eval::Caller;
use crate::policy::{Source, parse_document, parse_grants, parse_policy};
use crate::server::sigv4::{self, SignedRequest};
use crate::service::{DataDir, Identity, KeyService, OPERATIONS};

/// The policy and grant parsers, and the compiler behind them.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let source = Source::new("fuzz.json", text.as_ref());
    if let Ok(p) = parse_policy(&source) {
        let _ = CompiledPolicy::compile(&p, PolicyKind::KeyPolicy, &source);
        let _ = CompiledPolicy::compile(&p, PolicyKind::IamPolicy, &source);
    }
    let _ = parse_grants(&source);
    let _ = parse_document(&source);
}

/// A key service over a throwaway data directory, for the targets that
/// need one. Its audit records go to `/dev/null`: a fuzzer makes millions.
pub struct Harness {
    dir: PathBuf,
    service: KeyService,
    admin: Identity,
    key_id: String,
}

impl Harness {
    pub fn new() -> Result<Harness, String> {
        let dir = std::env::temp_dir().join(format!(
            "keyward-fuzz-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let data = DataDir::new(&dir).with_audit_log("/dev/null");
        data.init().map_err(|e| e.to_string())?;
        let service = KeyService::open(&data, "us-east-1").map_err(|e| e.to_string())?;
        let admin = Identity::new(
            Caller::parse("arn:aws:iam::111122223333:root").map_err(|e| e.to_string())?,
        );
        let key = service
            .call(&admin, "CreateKey", &json!({}))
            .map_err(|e| e.to_string())?;
        let key_id = key["KeyMetadata"]["KeyId"]
            .as_str()
            .ok_or("CreateKey answered no KeyId")?
            .to_owned();
        Ok(Harness {
            dir,
            service,
            admin,
            key_id,
        })
    }

    /// The ciphertext blob: its header, and Decrypt of it through the
    /// service. A blob that starts `KWB\x01` and names the key id `@` is
    /// re-pointed at the harness's key, so the fuzzer reaches the
    /// decryption itself, not only the key lookup.
    pub fn blob(&self, data: &[u8]) {
        let _ = blob::header(data);
        let mut bytes = data.to_vec();
        if data.starts_with(b"KWB\x01\x01@") {
            let mut framed = b"KWB\x01".to_vec();
            framed.push(u8::try_from(self.key_id.len()).unwrap_or(36));
            framed.extend_from_slice(self.key_id.as_bytes());
            framed.extend_from_slice(&data[6..]);
            bytes = framed;
        }
        let _ = blob::header(&bytes);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = self.service.call(
            &self.admin,
            "Decrypt",
            &json!({"CiphertextBlob": b64, "EncryptionContext": {"k": "v"}}),
        );
    }

    /// What the server decodes from a request: the SigV4 `Authorization`
    /// and `X-Amz-Date` headers (the first two lines) and the JSON body
    /// (the rest) of the operation the first byte picks, run through the
    /// service.
    pub fn request(&self, data: &[u8]) {
        let Some((&pick, rest)) = data.split_first() else {
            return;
        };
        let operation = OPERATIONS[usize::from(pick) % OPERATIONS.len()];
        let mut parts = rest.splitn(3, |b| *b == b'\n');
        let auth = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let date = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let body = parts.next().unwrap_or_default();
        let headers = vec![
            ("authorization".to_owned(), auth),
            ("x-amz-date".to_owned(), date),
            ("host".to_owned(), "127.0.0.1:4599".to_owned()),
            (
                "x-amz-target".to_owned(),
                format!("TrentService.{operation}"),
            ),
        ];
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let _ = sigv4::verify(&request, |_| Some(b"secret".to_vec()), 1_700_000_000);
        let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let _ = self.service.call(&self.admin, operation, &input);
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
