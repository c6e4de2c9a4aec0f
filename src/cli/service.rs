//! The key service's commands: `keyward init`, `keyward kms`, `keyward load`
//! and the hidden `keyward debug`.

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
    /// CreateKey + Encrypt in a loop, printing `ACK key-arn ciphertext plaintext`
    /// after each acknowledged call (for the crash test).
    CrashLoop {
        #[arg(long)]
        data: PathBuf,
    },
}

pub fn init_cmd(a: InitArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let dir = keyward::service::DataDir::new(&a.data);
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
    use base64::Engine;
    let DebugCommand::CrashLoop { data } = a.command;
    let service = open_service(&data, "us-east-1")?;
    let admin = keyward::service::Identity::new(Caller::parse("111122223333")?);
    for i in 0u64.. {
        let key = service
            .call(
                &admin,
                "CreateKey",
                &serde_json::json!({"Description": format!("crash {i}")}),
            )
            .map_err(|e| miette::miette!("{e}"))?;
        let arn = key["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let plaintext = base64::engine::general_purpose::STANDARD.encode(format!("message {i}"));
        let ct = service
            .call(&admin, "Encrypt", &serde_json::json!({"KeyId": arn, "Plaintext": plaintext, "EncryptionContext": {"i": i.to_string()}}))
            .map_err(|e| miette::miette!("{e}"))?;
        let line = format!(
            "ACK {i} {arn} {} {plaintext}\n",
            ct["CiphertextBlob"].as_str().unwrap_or_default()
        );
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| miette::miette!("{e}"))?;
    }
    Ok(ExitCode::Ok)
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
