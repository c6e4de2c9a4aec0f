//! The key service's commands: `keyward init`, `keyward kms`, `keyward load`
//! and the hidden `keyward debug`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use keyward::compile::{self, PolicyKind};
use keyward::eval::Caller;

use super::{DEFAULT_DATA, ExitCode, pretty, read};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The endpoint, e.g. http://127.0.0.1:4599.
    #[arg(long, default_value = "http://127.0.0.1:4599")]
    endpoint: String,
    /// Access key id (default: $AWS_ACCESS_KEY_ID).
    #[arg(long)]
    access_key_id: Option<String>,
    /// Secret access key (default: $AWS_SECRET_ACCESS_KEY).
    #[arg(long)]
    secret_access_key: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// decrypt, encrypt, generate-data-key; repeatable.
    #[arg(long = "operation", default_values = ["decrypt", "encrypt", "generate-data-key"])]
    operations: Vec<String>,
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per operation.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The data directory (created if missing).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Keep the root key in a PKCS#11 token, named by an RFC 7512 URI:
    /// `pkcs11:token=LABEL;object=LABEL?module-path=PATH&pin-source=file:PATH`
    /// (or `pin-value=`, or the PIN in KEYWARD_PKCS11_PIN). A key is
    /// generated in the token unless it holds one with that object label;
    /// a data directory sealed under a root key file is resealed under it.
    #[arg(long, value_name = "PKCS11-URI")]
    root_key: Option<String>,
    /// The PostgreSQL store nodes share (as `serve --store`): with
    /// --root-key, every node's records move to the token (stop the nodes
    /// first; each then opens the token).
    #[arg(long, value_name = "URL", requires = "root_key")]
    store: Option<String>,
    /// This node's name in the shared store (as `serve --node-id`).
    #[arg(long, requires = "store")]
    node_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct KmsArgs {
    /// The API operation, e.g. CreateKey, Encrypt, Decrypt.
    operation: String,
    /// The request as JSON (AWS KMS field names, blobs base64); `-` reads stdin.
    #[arg(default_value = "{}")]
    request: String,
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The caller (default: the account root of 111122223333).
    #[arg(long, default_value = "arn:aws:iam::111122223333:root")]
    principal: String,
    /// IAM identity policies attached to the caller.
    #[arg(long = "iam-policy")]
    iam_policies: Vec<PathBuf>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

#[derive(Debug, clap::Args)]
pub struct DebugArgs {
    #[command(subcommand)]
    command: DebugCommand,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// CreateKey + Encrypt in a loop, printing `ACK i key-arn ciphertext
    /// plaintext` after each acknowledged call (for the crash test). With
    /// `--imports`, each round imports key material into a new key and
    /// replicates a new multi-Region key to us-west-2 instead, printing
    /// `ACK …` for the imported key and `REPLICA i replica-arn ciphertext
    /// plaintext` for the replica.
    CrashLoop {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        imports: bool,
    },
}

pub fn init_cmd(a: InitArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let mut dir = keyward::service::DataDir::new(&a.data);
    if let Some(url) = &a.store {
        dir = dir.with_store(url.clone());
    }
    if let Some(node) = &a.node_id {
        dir = dir.with_node(node.clone());
    }
    if let Some(text) = &a.root_key {
        let uri =
            keyward::hsm::Pkcs11Uri::parse(text).map_err(|e| miette::miette!("--root-key: {e}"))?;
        let done = dir
            .init_in_token(&uri)
            .map_err(|e| miette::miette!("{e}"))?;
        let shown = uri.without_pin();
        let text = match (done.generated, done.moved) {
            (_, true) => format!(
                "{}: moved to the root key in {shown}{}; resealed {} records; the root key file is removed\n",
                a.data.display(),
                if done.generated {
                    " (generated in the token)"
                } else {
                    ""
                },
                done.resealed
            ),
            (true, false) => format!(
                "{}: the root key is generated in the token {shown} (sensitive, never extractable)\n",
                a.data.display()
            ),
            (false, false) => format!(
                "{}: the root key is in the token {shown}\n",
                a.data.display()
            ),
        };
        out.write_all(text.as_bytes())
            .map_err(|e| miette::miette!("{e}"))?;
        return Ok(ExitCode::Ok);
    }
    let created = dir.init().map_err(|e| miette::miette!("{e}"))?;
    let text = if created {
        format!(
            "created {} with a new root key ({}, mode 0600)\n",
            a.data.display(),
            dir.root_key().display()
        )
    } else {
        format!(
            "{} already has a root key; nothing changed\n",
            a.data.display()
        )
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::Ok)
}

fn open_service(data: &Path, region: &str) -> miette::Result<keyward::service::KeyService> {
    let dir = keyward::service::DataDir::new(data);
    dir.init().map_err(|e| miette::miette!("{e}"))?;
    keyward::service::KeyService::open(&dir, region).map_err(|e| miette::miette!("{e}"))
}

pub fn kms_cmd(a: KmsArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let caller = Caller::parse(&a.principal)?;
    let mut identity = keyward::service::Identity::new(caller);
    for p in &a.iam_policies {
        identity =
            identity.with_iam_policy(compile::compile_policy(&read(p)?, PolicyKind::IamPolicy)?);
    }
    let text = if a.request == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
            .map_err(|e| miette::miette!("stdin: {e}"))?;
        t
    } else {
        a.request.clone()
    };
    let input: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| miette::miette!(code = "keyward::usage", "the request is not JSON: {e}"))?;
    let service = open_service(&a.data, &a.region)?;
    match service.call(&identity, &a.operation, &input) {
        Ok(v) => {
            out.write_all(pretty(&v)?.as_bytes())
                .map_err(|e| miette::miette!("{e}"))?;
            Ok(ExitCode::Ok)
        }
        Err(e) => {
            eprintln!(
                "{}",
                serde_json::json!({"__type": e.kind.aws_type(), "message": e.message})
            );
            Ok(ExitCode::Denied)
        }
    }
}

pub fn debug_cmd(a: DebugArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let DebugCommand::CrashLoop { data, imports } = a.command;
    let service = open_service(&data, "us-east-1")?;
    let admin = keyward::service::Identity::new(Caller::parse("111122223333")?);
    let call = |op: &str, input: serde_json::Value| {
        service
            .call(&admin, op, &input)
            .map_err(|e| miette::miette!("{op}: {e}"))
    };
    let mut ack = |line: String| {
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| miette::miette!("{e}"))
    };
    for i in 0u64.. {
        let context = serde_json::json!({"i": i.to_string()});
        let plaintext = B64.encode(format!("message {i}"));
        let create = if imports {
            serde_json::json!({"Origin": "EXTERNAL"})
        } else {
            serde_json::json!({"Description": format!("crash {i}")})
        };
        let key = call("CreateKey", create)?;
        let arn = key["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if imports {
            import_random_material(&call, &arn)?;
        }
        let ct = call(
            "Encrypt",
            serde_json::json!({"KeyId": arn, "Plaintext": plaintext, "EncryptionContext": context}),
        )?;
        let ct = ct["CiphertextBlob"].as_str().unwrap_or_default().to_owned();
        ack(format!("ACK {i} {arn} {ct} {plaintext}\n"))?;
        if imports {
            let key = call("CreateKey", serde_json::json!({"MultiRegion": true}))?;
            let arn = key["KeyMetadata"]["Arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let ct = call(
                "Encrypt",
                serde_json::json!({"KeyId": arn, "Plaintext": plaintext, "EncryptionContext": context}),
            )?;
            let ct = ct["CiphertextBlob"].as_str().unwrap_or_default().to_owned();
            let replica = call(
                "ReplicateKey",
                serde_json::json!({"KeyId": arn, "ReplicaRegion": "us-west-2"}),
            )?;
            let replica = replica["ReplicaKeyMetadata"]["Arn"]
                .as_str()
                .unwrap_or_default();
            ack(format!("REPLICA {i} {replica} {ct} {plaintext}\n"))?;
        }
    }
    Ok(ExitCode::Ok)
}

/// Imports 32 random bytes into key `arn`, wrapped as a client would wrap
/// them (RSA-OAEP with SHA-256 under the wrapping public key).
fn import_random_material(
    call: &dyn Fn(&str, serde_json::Value) -> miette::Result<serde_json::Value>,
    arn: &str,
) -> miette::Result<()> {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
    let params = call(
        "GetParametersForImport",
        serde_json::json!({"KeyId": arn, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    )?;
    let public = B64
        .decode(params["PublicKey"].as_str().unwrap_or_default())
        .map_err(|e| miette::miette!("{e}"))?;
    let key = PublicEncryptingKey::from_der(&public)
        .map_err(|e| miette::miette!("wrapping key: {e}"))
        .and_then(|k| {
            OaepPublicEncryptingKey::new(k).map_err(|e| miette::miette!("wrapping key: {e}"))
        })?;
    let material = keyward::crypto::random_bytes(32);
    let mut wrapped = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            material.expose(),
            &mut wrapped,
            None,
        )
        .map_err(|e| miette::miette!("wrapping: {e}"))?
        .len();
    wrapped.truncate(n);
    call(
        "ImportKeyMaterial",
        serde_json::json!({
            "KeyId": arn,
            "ImportToken": params["ImportToken"],
            "EncryptedKeyMaterial": B64.encode(&wrapped),
            "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }),
    )?;
    Ok(())
}

pub fn load_cmd(a: LoadArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let rest = a.endpoint.strip_prefix("http://").ok_or_else(|| {
        miette::miette!(
            code = "keyward::usage",
            "--endpoint must be http://HOST:PORT"
        )
    })?;
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_owned(), p)))
        .ok_or_else(|| {
            miette::miette!(
                code = "keyward::usage",
                "--endpoint must be http://HOST:PORT"
            )
        })?;
    let env = |name: &str| std::env::var(name).ok();
    let settings = crate::load::Settings {
        host,
        port,
        access_key_id: a
            .access_key_id
            .or_else(|| env("AWS_ACCESS_KEY_ID"))
            .ok_or_else(|| {
                miette::miette!("no access key: --access-key-id or AWS_ACCESS_KEY_ID")
            })?,
        secret: a
            .secret_access_key
            .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
            .ok_or_else(|| {
                miette::miette!("no secret: --secret-access-key or AWS_SECRET_ACCESS_KEY")
            })?,
        region: a.region,
        clients: a.clients.max(1),
        duration: std::time::Duration::from_secs(a.seconds.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("{e}"))?;
    let header = format!(
        "{} clients, {} s per operation, against {}\n",
        settings.clients, a.seconds, a.endpoint
    );
    out.write_all(header.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    for op in &a.operations {
        let report = runtime
            .block_on(crate::load::run(&settings, op))
            .map_err(|e| miette::miette!("{e}"))?;
        out.write_all(format!("{}\n", report.line()).as_bytes())
            .map_err(|e| miette::miette!("{e}"))?;
        let _ = out.flush();
    }
    Ok(ExitCode::Ok)
}
