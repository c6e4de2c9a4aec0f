//! `keyward audit`: check the audit log, sign digests of it, and export the
//! public key that checks those digests offline.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use keyward::audit::{self, AuditError, Checks, PublicKey, Report, SignedDigest};
use keyward::service::{AuditKeys, DataDir};

use super::{DEFAULT_DATA, ExitCode};

#[derive(Debug, clap::Args)]
pub(super) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the audit log: every record's hash and MAC, that it reaches the
    /// store's anchor and, with --digest, a signed digest. With
    /// --public-key, check a copy offline (no data directory): hashes and
    /// the digest only.
    Verify {
        /// The log (default: the data directory's audit.jsonl).
        file: Option<PathBuf>,
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// A digest from `keyward audit digest` the log must still reach.
        #[arg(long)]
        digest: Option<PathBuf>,
        /// The public key from `keyward audit public-key`: check offline.
        #[arg(long, requires = "digest")]
        public_key: Option<PathBuf>,
        /// The PostgreSQL store the node of DATA shares (as `serve
        /// --store`): its log is checked against its own anchor there.
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// Check every node of the shared store: `NODE=LOG` for each node
        /// (repeatable); a node that anchored records in the store but is
        /// not given fails the check.
        #[arg(long = "node", value_name = "NODE=LOG", requires = "store")]
        nodes: Vec<String>,
    },
    /// Sign the head of the (verified) log: a digest to keep elsewhere.
    Digest {
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The PostgreSQL store of a node of a shared store (as `serve --store`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Print the public key that checks digests.
    PublicKey {
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The PostgreSQL store of a node of a shared store (as `serve --store`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// The records that match every filter given (after the chain checks).
    Query {
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The PostgreSQL store of a node of a shared store (as `serve --store`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        #[command(flatten)]
        filters: super::audit_query::QueryArgs,
        #[arg(long, value_enum, default_value_t = super::audit_query::QueryFormat::Text)]
        format: super::audit_query::QueryFormat,
    },
    /// One request's recorded decision, and what today's key policy, grants
    /// and IAM policies decide for the same request.
    Explain {
        /// The record's requestID (or eventID).
        request_id: String,
        #[arg(long, default_value = DEFAULT_DATA)]
        data: PathBuf,
        /// The identities file with the caller's IAM policies (default:
        /// DATA/identities.json).
        #[arg(long)]
        identities: Option<PathBuf>,
        /// The PostgreSQL store of a node of a shared store (as `serve --store`).
        #[arg(long, value_name = "URL")]
        store: Option<String>,

        #[arg(long, value_enum, default_value_t = super::audit_query::QueryFormat::Text)]
        format: super::audit_query::QueryFormat,
    },
}

pub(super) fn run(a: AuditArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let write = |out: &mut dyn Write, text: String| {
        out.write_all(text.as_bytes())
            .map_err(|e| miette::miette!("{e}"))
    };
    match a.command {
        AuditCommand::Verify {
            file,
            data,
            digest,
            public_key,
            store,
            nodes,
        } => {
            let dir = data_dir(&data, store);
            if !nodes.is_empty() {
                return super::audit_nodes::verify_nodes(&dir, &nodes, out);
            }
            let path = file.unwrap_or_else(|| dir.audit_log());
            let digest = digest.map(|p| read_digest(&p)).transpose()?;
            let outcome = match public_key {
                Some(pk) => {
                    let pk = read_public_key(&pk)?;
                    verify_offline(&path, digest.as_ref(), &pk)
                }
                None => verify_with_keys(&dir, &path, digest.as_ref())?,
            };
            match outcome {
                Ok(report) => {
                    write(out, describe(&path, &report, digest.as_ref()))?;
                    Ok(ExitCode::Ok)
                }
                Err(AuditError::Io(e)) => Err(miette::miette!("{e}")),
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new(e));
                    Ok(ExitCode::Denied)
                }
            }
        }
        AuditCommand::Digest { data, store } => {
            let dir = data_dir(&data, store);
            let (keys, anchor) = AuditKeys::open(&dir).map_err(|e| miette::miette!("{e}"))?;
            let report = audit::verify(
                &dir.audit_log(),
                &Checks {
                    key: Some(&keys.chain),
                    anchor: anchor.as_ref(),
                    digest: None,
                },
            )
            .map_err(|e| miette::miette!("not signing a digest of a damaged log: {e}"))?;
            let now = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| miette::miette!("{e}"))?;
            let digest = keys
                .signer
                .sign(&report.head, &now)
                .map_err(|e| miette::miette!("{e}"))?;
            let json = serde_json::to_string_pretty(&digest).map_err(|e| miette::miette!("{e}"))?;
            write(out, format!("{json}\n"))?;
            Ok(ExitCode::Ok)
        }
        AuditCommand::Query {
            data,
            store,
            filters,
            format,
        } => super::audit_query::query_cmd(&data_dir(&data, store), filters, format, out),
        AuditCommand::Explain {
            request_id,
            data,
            identities,
            store,
            format,
        } => super::audit_query::explain_cmd(
            &data_dir(&data, store),
            &request_id,
            identities,
            format,
            out,
        ),
        AuditCommand::PublicKey { data, store } => {
            let (keys, _) =
                AuditKeys::open(&data_dir(&data, store)).map_err(|e| miette::miette!("{e}"))?;
            let pk = keys
                .signer
                .public_key()
                .map_err(|e| miette::miette!("{e}"))?;
            write(out, format!("{pk}\n"))?;
            Ok(ExitCode::Ok)
        }
    }
}

/// A data directory, of a node of the shared store `store` if given.
fn data_dir(data: &Path, store: Option<String>) -> DataDir {
    match store {
        Some(url) => DataDir::new(data).with_store(url),
        None => DataDir::new(data),
    }
}

fn read_digest(path: &Path) -> miette::Result<SignedDigest> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| miette::miette!("{} is not a keyward audit digest: {e}", path.display()))
}

fn read_public_key(path: &Path) -> miette::Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("cannot read {}: {e}", path.display()))?;
    PublicKey::parse(&text).map_err(|e| miette::miette!("{}: {e}", path.display()))
}

/// Checks with the data directory's keys and anchor (and its own public
/// key for a digest).
pub(super) fn verify_with_keys(
    dir: &DataDir,
    path: &Path,
    digest: Option<&SignedDigest>,
) -> miette::Result<Result<Report, AuditError>> {
    let (keys, anchor) = AuditKeys::open(dir).map_err(|e| miette::miette!("{e}"))?;
    let pk = keys
        .signer
        .public_key()
        .map_err(|e| miette::miette!("{e}"))?;
    let head = match digest.map(|d| d.check(&pk)).transpose() {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    Ok(audit::verify(
        path,
        &Checks {
            key: Some(&keys.chain),
            anchor: anchor.as_ref(),
            digest: head.as_ref(),
        },
    ))
}

/// Checks a copy with only a digest and its public key.
fn verify_offline(
    path: &Path,
    digest: Option<&SignedDigest>,
    pk: &PublicKey,
) -> Result<Report, AuditError> {
    let head = digest.map(|d| d.check(pk)).transpose()?;
    audit::verify(
        path,
        &Checks {
            key: None,
            anchor: None,
            digest: head.as_ref(),
        },
    )
}

fn describe(path: &Path, r: &Report, digest: Option<&SignedDigest>) -> String {
    let mut s = format!(
        "audit log {} intact: {} records\n",
        path.display(),
        r.records
    );
    if r.keyed {
        let _ = writeln!(s, "  every record's MAC checks with the audit key");
    } else {
        let _ = writeln!(
            s,
            "  hashes checked; MACs not checked (no audit key: offline check)"
        );
    }
    if let Some(n) = r.anchored {
        let _ = writeln!(s, "  reaches the store's anchor (record {n})");
    }
    if let (Some(n), Some(d)) = (r.digest, digest) {
        let _ = writeln!(
            s,
            "  reaches the signed digest (record {n}, signed {})",
            d.time
        );
    }
    if r.unkeyed > 0 {
        let _ = writeln!(
            s,
            "  records 1 to {} predate the keyed chain (hashes only)",
            r.unkeyed
        );
    }
    if r.unterminated > 0 {
        let _ = writeln!(
            s,
            "  last line unterminated ({} bytes, not checked): a record being written, or torn by a crash",
            r.unterminated
        );
    }
    s
}
