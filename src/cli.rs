//! Command-line parsing and the commands themselves.

mod api;
mod audit;
mod audit_nodes;
mod audit_query;
mod blast;
mod lab;
mod serve;
mod service;

use service::{DebugArgs, InitArgs, KmsArgs, LoadArgs, debug_cmd, init_cmd, kms_cmd, load_cmd};

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use keyward::catalog::Action;
use keyward::compile::{self, CompiledPolicy, DecisionTable, GrantIndex, PolicyKind};
use keyward::eval::{self, Caller, DecisionKind, Request};
use keyward::policy::Source;

/// What the process tells its caller, as an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success; for `explain`, the request is allowed.
    Ok = 0,
    /// `explain`: the request is denied (explicitly or implicitly);
    /// `lint`: findings at or above `--fail-on`.
    Denied = 1,
    /// Bad usage, unreadable input, or a document that does not compile.
    Error = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Compile, enforce and explain AWS KMS key policies and grants"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one request against a key policy, IAM policies and grants, and say why.
    Explain(Box<ExplainArgs>),
    /// Print the decision table a policy (or the grant index a grant document) compiles to.
    Compile(CompileArgs),
    /// Check policy and grant documents for errors and risky grants of access.
    Lint(LintArgs),
    /// Prove properties of key policies: no new access, access not granted, no public access.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run the key service: the AWS KMS API over HTTP, SigV4-authenticated.
    Serve(Box<serve::ServeArgs>),
    /// Create a data directory and its root key.
    Init(InitArgs),
    /// Load-test a KMS endpoint with signed requests over keep-alive connections.
    Load(LoadArgs),
    /// Run one AWS KMS operation against the local key service.
    Kms(KmsArgs),
    /// Work with the audit log.
    Audit(audit::AuditArgs),
    /// List the AWS KMS operations keyward serves and their request models.
    Api(api::ApiArgs),
    /// The envelope-encryption mini-lab: break, harden, observe.
    Lab(lab::LabArgs),
    #[command(hide = true)]
    Debug(DebugArgs),
}

/// Where keys live when no `--data` is given.
const DEFAULT_DATA: &str = "keyward-data";

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// PASS when every request the new policy allows, the old one allows too.
    NoNewAccess {
        #[arg(long)]
        old: PathBuf,
        #[arg(long)]
        new: PathBuf,
        /// Grants on the key (the same for both policies).
        #[arg(long = "grants")]
        grants: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
    },
    /// PASS when no request for these actions (by these principals) is allowed.
    AccessNotGranted {
        policy: PathBuf,
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        #[arg(long = "principal")]
        principals: Vec<String>,
        #[arg(long = "grants")]
        grants: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
    },
    /// Every key a principal can use, for which operations and through
    /// which statement or grant, and the plan to contain it.
    BlastRadius(blast::BlastArgs),
    /// PASS when no principal outside the key's account can reach any action.
    NoPublicAccess {
        policy: PathBuf,
        /// The key's account (12 digits); by default the account of a key
        /// ARN in `Resource`, else the first account the policy names.
        #[arg(long, value_parser = parse_account)]
        account: Option<keyward::policy::ast::AccountId>,
        #[arg(long = "grants")]
        grants: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
    },
}

fn parse_account(s: &str) -> Result<keyward::policy::ast::AccountId, String> {
    keyward::policy::ast::AccountId::parse(s)
        .ok_or_else(|| format!("`{s}` is not an AWS account id (12 digits)"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LintFormat {
    Human,
    Json,
    Sarif,
    Github,
}

#[derive(Debug, clap::Args)]
struct LintArgs {
    /// Files or directories (searched for *.json); `-` reads standard input.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    format: LintFormat,
    /// Categories that fail the run (exit 1): error, security, warning, suggestion.
    #[arg(long = "fail-on", value_delimiter = ',', value_name = "CATEGORY")]
    fail_on: Option<Vec<String>>,
    /// Run only these rules (codes, code prefixes such as KW2, or names).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    select: Option<Vec<String>>,
    /// Skip these rules.
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    ignore: Vec<String>,
    /// Configuration file (default: ./keyward.toml when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Lint every document as this kind: key-policy, identity, scp, rcp,
    /// vpc-endpoint or grants (default: inferred, or `[lint.kinds]`).
    #[arg(long, value_parser = parse_doc_kind, value_name = "KIND")]
    kind: Option<keyward::lint::DocKind>,
    /// Print a rule's documentation and exit.
    #[arg(long, value_name = "RULE")]
    explain: Option<String>,
    /// List the rules and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    /// A Mermaid flowchart of the decision.
    Mermaid,
}

#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The key policy.
    #[arg(long)]
    policy: PathBuf,
    /// A grant document, or a JSON array of grants, on the key.
    #[arg(long = "grants")]
    grants: Vec<PathBuf>,
    /// An IAM identity policy attached to the principal.
    #[arg(long = "iam-policy")]
    iam_policies: Vec<PathBuf>,
    /// The caller: an account id, IAM/STS principal ARN, or service principal.
    #[arg(long)]
    principal: String,
    /// The action, e.g. `kms:Decrypt`.
    #[arg(long)]
    action: String,
    /// The key ARN. Without it the key is taken to be in the caller's account.
    #[arg(long)]
    resource: Option<String>,
    /// An encryption context pair of the request (repeatable).
    #[arg(long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// `kms:ViaService`: the AWS service calling on the principal's behalf.
    #[arg(long = "via-service")]
    via_service: Option<String>,
    /// `aws:SourceIp`.
    #[arg(long = "source-ip")]
    source_ip: Option<IpAddr>,
    /// A tag of the principal, `aws:PrincipalTag/KEY` (repeatable).
    #[arg(long = "principal-tag", value_name = "KEY=VALUE")]
    principal_tags: Vec<String>,
    /// Any other condition key; repeat a key for a multi-valued key.
    #[arg(long = "condition", value_name = "KEY=VALUE")]
    conditions: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct CompileArgs {
    /// A policy or grant document.
    file: PathBuf,
    /// Compile the policy as an IAM identity policy rather than a key policy.
    #[arg(long)]
    iam: bool,
}

pub fn run(args: Args, out: &mut dyn Write) -> ExitCode {
    let result = match args.command {
        Command::Explain(a) => explain(*a, out),
        Command::Compile(a) => compile_cmd(a, out),
        Command::Lint(a) => lint_cmd(a, out),
        Command::Check(c) => check_cmd(c, out),
        Command::Serve(a) => serve::serve_cmd(*a, out),
        Command::Init(a) => init_cmd(a, out),
        Command::Load(a) => load_cmd(a, out),
        Command::Kms(a) => kms_cmd(a, out),
        Command::Audit(a) => audit::run(a, out),
        Command::Api(a) => api::run(&a, out),
        Command::Lab(a) => lab::lab_cmd(a, out),
        Command::Debug(a) => debug_cmd(a, out),
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            ExitCode::Error
        }
    }
}

fn read(path: &Path) -> miette::Result<Source> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        miette::miette!(
            code = "keyward::io",
            "cannot read `{}`: {e}",
            path.display()
        )
    })?;
    Ok(Source::new(path.display().to_string(), text))
}

fn pair(s: &str, flag: &str) -> miette::Result<(String, String)> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| miette::miette!(code = "keyward::usage", "`{flag} {s}`: expected KEY=VALUE"))
}

fn explain(a: ExplainArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let caller = Caller::parse(&a.principal)?;
    let action = Action::parse(&a.action).ok_or_else(|| {
        let names = keyward::catalog::ACTIONS.iter().map(|x| x.name);
        let stripped = a.action.strip_prefix("kms:").unwrap_or(&a.action);
        let hint = keyward::catalog::closest(stripped, names)
            .map(|c| format!("; did you mean `kms:{c}`?"))
            .unwrap_or_default();
        miette::miette!(
            code = "keyward::usage",
            "`{}` is not an AWS KMS action{hint}",
            a.action
        )
    })?;
    let table = load_table(&a.policy, &a.iam_policies, &a.grants)?;
    let mut b = Request::builder(&caller, action).current_time(time::OffsetDateTime::now_utc());
    if let Some(r) = &a.resource {
        b = b.resource(r.as_str());
    }
    for c in &a.context {
        let (k, v) = pair(c, "--context")?;
        b = b.encryption_context(k, v);
    }
    if let Some(s) = &a.via_service {
        b = b.via_service(s.clone());
    }
    if let Some(ip) = a.source_ip {
        b = b.source_ip(ip);
    }
    for t in &a.principal_tags {
        let (k, v) = pair(t, "--principal-tag")?;
        b = b.principal_tag(k, v);
    }
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &a.conditions {
        let (k, v) = pair(c, "--condition")?;
        multi.entry(k).or_default().push(v);
    }
    for (k, mut vs) in multi {
        b = match (
            keyward::catalog::condition_key(&k).map(|i| i.ty.is_multivalued()),
            vs.len(),
        ) {
            (Some(true), _) | (_, 2..) => b.context_values(&k, vs),
            _ => b.context(&k, vs.pop().unwrap_or_default()),
        };
    }
    let req = b.build();
    let explanation = eval::explain(&table, &req);
    let rendered = match a.format {
        Format::Text => explanation.render_text(),
        Format::Mermaid => explanation.render_mermaid(),
        Format::Json => {
            serde_json::to_string_pretty(&explanation)
                .map_err(|e| miette::miette!("cannot render JSON: {e}"))?
                + "\n"
        }
    };
    out.write_all(rendered.as_bytes())
        .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(match explanation.decision {
        DecisionKind::Allow => ExitCode::Ok,
        DecisionKind::ExplicitDeny | DecisionKind::ImplicitDeny => ExitCode::Denied,
    })
}

fn load_table(policy: &Path, iam: &[PathBuf], grants: &[PathBuf]) -> miette::Result<DecisionTable> {
    let key_policy = compile::compile_policy(&read(policy)?, PolicyKind::KeyPolicy)?;
    let mut table = DecisionTable::new(key_policy);
    for p in iam {
        table = table.with_iam_policy(compile::compile_policy(&read(p)?, PolicyKind::IamPolicy)?);
    }
    let mut index = GrantIndex::default();
    for g in grants {
        let source = read(g)?;
        let parsed = keyward::policy::parse_grants(&source).map_err(miette::Report::new)?;
        index
            .extend(&parsed, &source)
            .map_err(miette::Report::new)?;
    }
    Ok(table.with_grants(index))
}

fn compile_cmd(a: CompileArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let source = read(&a.file)?;
    let doc = keyward::policy::parse_document(&source).map_err(miette::Report::new)?;
    let text = match doc {
        keyward::policy::Document::Policy(p) => {
            let kind = if a.iam {
                PolicyKind::IamPolicy
            } else {
                PolicyKind::KeyPolicy
            };
            let compiled =
                CompiledPolicy::compile(&p, kind, &source).map_err(miette::Report::new)?;
            compile::render_table(&compiled)
        }
        keyward::policy::Document::Grants(g) => {
            let index = GrantIndex::compile(&g, &source).map_err(miette::Report::new)?;
            render_grants(&index)
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(ExitCode::Ok)
}

fn render_grants(index: &GrantIndex) -> String {
    let mut by_grantee: BTreeMap<&str, Vec<&compile::CompiledGrant>> = BTreeMap::new();
    for g in index.iter() {
        by_grantee.entry(&g.grantee).or_default().push(g);
    }
    let mut out = format!(
        "grant index: {} grants, {} grantees\n",
        index.len(),
        by_grantee.len()
    );
    for (grantee, grants) in by_grantee {
        out.push_str(&format!("\n{grantee}\n"));
        for g in grants {
            let ops: Vec<&str> = g.operations.iter().map(|a| a.name()).collect();
            out.push_str(&format!(
                "  grant {} {}\n    operations: {}\n",
                g.grant_id,
                g.origin,
                ops.join(", ")
            ));
            if let Some(c) = &g.constraints {
                if let Some(e) = &c.encryption_context_equals {
                    out.push_str(&format!("    encryption context equals {e:?}\n"));
                }
                if let Some(s) = &c.encryption_context_subset {
                    out.push_str(&format!("    encryption context includes {s:?}\n"));
                }
            }
            if let Some(r) = &g.retiring {
                out.push_str(&format!("    retiring principal: {r}\n"));
            }
        }
    }
    out
}

fn parse_doc_kind(s: &str) -> Result<keyward::lint::DocKind, String> {
    keyward::lint::DocKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = keyward::lint::DocKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        format!("`{s}` is not a document kind ({})", names.join(", "))
    })
}

fn lint_cmd(a: LintArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    use keyward::lint::{self, Config, output};
    let write = |out: &mut dyn Write, text: &str| {
        out.write_all(text.as_bytes())
            .map_err(|e| miette::miette!("cannot write output: {e}"))
    };
    if let Some(code) = &a.explain {
        let rule = lint::rule(code).ok_or_else(|| {
            miette::miette!(
                code = "keyward::usage",
                "`{code}` names no lint rule; `keyward lint --list` lists them"
            )
        })?;
        write(out, &rule.explain())?;
        return Ok(ExitCode::Ok);
    }
    if a.list {
        let mut text = String::new();
        for (r, _) in lint::RULES {
            text.push_str(&format!(
                "{:<6} {:<10} {:<30} {}\n",
                r.code,
                r.category.name(),
                r.name,
                r.summary
            ));
        }
        write(out, &text)?;
        return Ok(ExitCode::Ok);
    }
    let mut config = match &a.config {
        Some(path) => Config::load(path, true)?,
        None => Config::load(Path::new("keyward.toml"), false)?,
    };
    if let Some(select) = a.select {
        config = config.select(select)?;
    }
    config = config.ignore(a.ignore)?;
    if let Some(fail_on) = &a.fail_on {
        config = config.fail_on(fail_on)?;
    }
    if let Some(kind) = a.kind {
        config = config.kind(kind);
    }
    let (reports, errors) = lint::lint_paths(&a.paths, &config);
    let unreadable = !errors.is_empty();
    for e in errors {
        eprintln!("{:?}", miette::Report::new(e));
    }
    let text = match a.format {
        LintFormat::Human => {
            let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::IsTerminal::is_terminal(&std::io::stdout());
            output::human(&reports, color)
        }
        LintFormat::Json => pretty(&output::json(&reports))?,
        LintFormat::Sarif => pretty(&output::sarif(&reports))?,
        LintFormat::Github => output::github(&reports),
    };
    write(out, &text)?;
    if unreadable {
        return Ok(ExitCode::Error);
    }
    let failed = reports
        .iter()
        .flat_map(|r| &r.findings)
        .any(|f| config.fails(f));
    Ok(if failed {
        ExitCode::Denied
    } else {
        ExitCode::Ok
    })
}

fn pretty(v: &serde_json::Value) -> miette::Result<String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| miette::miette!("cannot render JSON: {e}"))
}

fn subject(policy: &Path, grants: &[PathBuf]) -> miette::Result<(keyward::check::Subject, Source)> {
    let source = read(policy)?;
    let compiled = compile::compile_policy(&source, PolicyKind::KeyPolicy)?;
    let mut index = GrantIndex::default();
    for g in grants {
        let gs = read(g)?;
        let parsed = keyward::policy::parse_grants(&gs).map_err(miette::Report::new)?;
        index.extend(&parsed, &gs).map_err(miette::Report::new)?;
    }
    Ok((keyward::check::Subject::new(compiled, index), source))
}

fn check_cmd(c: CheckCommand, out: &mut dyn Write) -> miette::Result<ExitCode> {
    use keyward::check;
    let (report, source, format) = match c {
        CheckCommand::BlastRadius(a) => return blast::run(a, out),
        CheckCommand::NoNewAccess {
            old,
            new,
            grants,
            format,
        } => {
            let (o, _) = subject(&old, &grants)?;
            let (n, source) = subject(&new, &grants)?;
            (check::no_new_access(&o, &n), source, format)
        }
        CheckCommand::AccessNotGranted {
            policy,
            actions,
            principals,
            grants,
            format,
        } => {
            let actions = actions
                .iter()
                .map(|a| {
                    Action::parse(a).ok_or_else(|| {
                        miette::miette!(code = "keyward::usage", "`{a}` is not an AWS KMS action")
                    })
                })
                .collect::<miette::Result<Vec<_>>>()?;
            let principals = principals
                .iter()
                .map(|p| Caller::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            let (s, source) = subject(&policy, &grants)?;
            (
                check::access_not_granted(&s, &actions, &principals),
                source,
                format,
            )
        }
        CheckCommand::NoPublicAccess {
            policy,
            account,
            grants,
            format,
        } => {
            let (s, source) = subject(&policy, &grants)?;
            (
                check::no_public_access(&s, account.as_ref()),
                source,
                format,
            )
        }
    };
    let findings = report.findings(&source.name);
    let reports = vec![keyward::lint::FileReport {
        path: source.name.clone(),
        source,
        findings,
    }];
    let text = match format {
        LintFormat::Human => report.render_text(),
        LintFormat::Json => {
            let mut v = serde_json::to_value(&report).map_err(|e| miette::miette!("{e}"))?;
            if let Some(o) = v.as_object_mut() {
                o.insert("result".into(), serde_json::json!(report.result()));
            }
            pretty(&v)?
        }
        LintFormat::Sarif => pretty(&keyward::lint::output::sarif(&reports))?,
        LintFormat::Github => keyward::lint::output::github(&reports),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(if report.pass {
        ExitCode::Ok
    } else {
        ExitCode::Denied
    })
}
