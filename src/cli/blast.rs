//! `keyward check blast-radius`: what one principal can do with the keys of
//! a data directory, and the plan to contain it.

use std::io::Write;
use std::path::PathBuf;

use keyward::service::{DataDir, Identity};

use super::{DEFAULT_DATA, ExitCode, LintFormat, pretty};

#[derive(Debug, clap::Args)]
pub(super) struct BlastArgs {
    /// The principal: an IAM role or user ARN (its IAM policies and tags
    /// come from the identities file), an account id or an STS session ARN.
    #[arg(long)]
    principal: String,
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The identities file (default: DATA/identities.json).
    #[arg(long)]
    identities: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    format: LintFormat,
}

pub(super) fn run(a: BlastArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let dir = DataDir::new(&a.data);
    let ids = a
        .identities
        .unwrap_or_else(|| a.data.join("identities.json"));
    let known = keyward::server::identities::Identities::load(&ids)
        .ok()
        .and_then(|i| i.by_principal(&a.principal).map(|e| e.identity.clone()));
    let identity = match known {
        Some(i) => i,
        None => Identity::new(keyward::eval::Caller::parse(&a.principal)?),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let radius =
        keyward::service::blast_radius(&dir, &identity, now).map_err(|e| miette::miette!("{e}"))?;
    let findings: usize = radius.reports.iter().map(|r| r.findings.len()).sum();
    let text = match a.format {
        LintFormat::Human => {
            let mut t = keyward::lint::output::human(&radius.reports, false);
            t.push_str(&format!(
                "\nblast radius of {}: {} keys reached\n",
                a.principal,
                radius
                    .reports
                    .iter()
                    .filter(|r| r.path.ends_with("(key policy)"))
                    .count()
            ));
            if radius.plan.is_empty() {
                t.push_str("nothing to contain\n");
            } else {
                t.push_str("plan:\n");
                for (i, p) in radius.plan.iter().enumerate() {
                    t.push_str(&format!("  {}. {p}\n", i + 1));
                }
            }
            t
        }
        LintFormat::Json => {
            let mut v = keyward::lint::output::json(&radius.reports);
            if let Some(o) = v.as_object_mut() {
                o.insert("principal".into(), serde_json::json!(a.principal));
                o.insert("plan".into(), serde_json::json!(radius.plan));
            }
            pretty(&v)?
        }
        LintFormat::Sarif => pretty(&keyward::lint::output::sarif(&radius.reports))?,
        LintFormat::Github => keyward::lint::output::github(&radius.reports),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(if findings == 0 {
        ExitCode::Ok
    } else {
        ExitCode::Denied
    })
}
