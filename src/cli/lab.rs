//! `keyward lab`: the envelope-encryption mini-lab, run end to end in a
//! temporary data directory — break it, harden it, observe it — printing
//! each step: the policy in force, the request, the decision with keyward's
//! explanation, the audit records it wrote. Exit 0 only when every step
//! behaved as the lesson says.

use std::fmt::Write as _;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::audit::query::{self, Query};
use keyward::compile::{PolicyKind, compile_policy};
use keyward::eval::Caller;
use keyward::policy::Source;
use keyward::service::{DataDir, Identity, KeyService, decide_again};
use serde_json::{Value, json};

use super::ExitCode;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum LabFormat {
    Text,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub(super) struct LabArgs {
    /// `markdown` writes the walkthrough as a report, with the lesson's
    /// diagrams as Mermaid.
    #[arg(long, value_enum, default_value_t = LabFormat::Text)]
    format: LabFormat,
    /// Keep the lab's data directory (printed) instead of removing it.
    #[arg(long)]
    keep: bool,
}

const ACCOUNT: &str = "111122223333";
const TENANT_A: &str = "arn:aws:iam::111122223333:role/tenant-a-worker";
const TENANT_B: &str = "arn:aws:iam::111122223333:role/tenant-b-worker";

/// The first key policy: both workers may use the key, nothing binds a
/// tenant to its own encryption context.
fn unsafe_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "TenantWorkersUseTheKey", "Effect": "Allow",
         "Principal": {"AWS": [TENANT_A, TENANT_B]},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]})
}

/// The hardened key policy: a worker unwraps only data keys whose
/// encryption context names its own tenant (its principal tag) and a
/// record; anything else is denied outright.
fn hardened_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "TenantWorkersUseTheirOwnContext", "Effect": "Allow",
         "Principal": {"AWS": [TENANT_A, TENANT_B]},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
         "Condition": {
            "StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"},
            "Null": {"kms:EncryptionContext:record": "false"}}},
        {"Sid": "DenyOtherTenantsContext", "Effect": "Deny",
         "Principal": {"AWS": [TENANT_A, TENANT_B]},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/tenant}"}}}]})
}

fn worker(arn: &str, tenant: &str) -> miette::Result<Identity> {
    let iam = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]})
    .to_string();
    let policy = compile_policy(
        &Source::new("worker-iam.json", iam.as_str()),
        PolicyKind::IamPolicy,
    )?;
    let mut id = Identity::new(Caller::parse(arn)?).with_iam_policy(policy);
    id.tags.insert("tenant".into(), tenant.into());
    Ok(id)
}

/// The lab's state and the report it writes.
struct Lab {
    svc: KeyService,
    dir: DataDir,
    report: String,
    markdown: bool,
    failures: Vec<String>,
}

impl Lab {
    fn heading(&mut self, title: &str) {
        if self.markdown {
            let _ = write!(self.report, "\n## {title}\n\n");
        } else {
            let _ = write!(self.report, "\n== {title}\n");
        }
    }

    fn say(&mut self, text: &str) {
        let _ = writeln!(self.report, "{text}");
    }

    fn block(&mut self, lang: &str, text: &str) {
        if self.markdown {
            let _ = write!(self.report, "\n```{lang}\n{}\n```\n\n", text.trim_end());
        } else {
            for line in text.trim_end().lines() {
                let _ = writeln!(self.report, "    {line}");
            }
        }
    }

    fn expect(&mut self, ok: bool, what: &str) {
        let mark = if ok {
            "as the lesson says"
        } else {
            "NOT as the lesson says"
        };
        self.say(&format!("-> {what}: {mark}"));
        if !ok {
            self.failures.push(what.to_owned());
        }
    }

    /// Runs one call, shows the request and the outcome with the audit
    /// record's explanation; the response, or the error text.
    fn call(&mut self, who: &Identity, op: &str, input: Value) -> Result<Value, String> {
        let shown = redact(&input);
        self.block(
            "json",
            &format!("{op} by {}\n{}", who.caller.arn, pretty(&shown)),
        );
        let result = self.svc.call(who, op, &input);
        let _ = self.svc.sync();
        let record = last_record(&self.dir);
        match (&result, &record) {
            (Ok(_), _) => self.say("Allowed."),
            (Err(e), _) => self.say(&format!("Refused: {} {}", e.kind.aws_type(), e.message)),
        }
        // The workers' calls are the lesson: show how keyward decided them
        // and what it recorded.
        if let (Some(r), false) = (&record, who.tags.is_empty()) {
            if let Ok(Some(explanation)) = decide_again(&self.dir, who, r) {
                self.block("text", &explanation.render_text());
            }
            self.say("Audit record:");
            self.block("json", &pretty(&audit_view(r)));
        }
        result.map_err(|e| e.message)
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The request as shown: no plaintext, no ciphertext bytes.
fn redact(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for (k, shown) in [
            ("Plaintext", "<…>"),
            ("CiphertextBlob", "<the wrapped data key>"),
            ("Policy", "<the policy above>"),
        ] {
            if o.contains_key(k) {
                o.insert(k.into(), json!(shown));
            }
        }
    }
    v
}

/// What the audit record says of the call, in brief.
fn audit_view(r: &Value) -> Value {
    json!({
        "eventName": r["eventName"],
        "userIdentity": r["userIdentity"]["arn"],
        "encryptionContext": r["requestParameters"]["EncryptionContext"],
        "key": r["resources"][0]["ARN"],
        "errorCode": r.get("errorCode"),
        "requestID": r["requestID"],
    })
}

fn last_record(dir: &DataDir) -> Option<Value> {
    let text = std::fs::read_to_string(dir.audit_log()).ok()?;
    serde_json::from_str(text.lines().last()?).ok()
}

/// The lesson's diagram: who holds what, where it is enforced, what the
/// log cannot see.
fn diagram(hardened: bool) -> String {
    let enforcing = if hardened {
        "key policy: tenant context = principal tag<br/>(the enforcing component)"
    } else {
        "key policy: any worker, any context"
    };
    format!(
        "flowchart LR\n  A[tenant A worker] -- GenerateDataKey / Decrypt<br/>context tenant=a --> KMS\n  B[tenant B worker] -- Decrypt<br/>context tenant=? --> KMS\n  KMS[\"keyward: {enforcing}\"]:::enforce --> LOG[(audit log: every unwrap,<br/>caller, context, key)]\n  A -- data key in memory --> DATA[(records, AES-GCM under data keys)]\n  B -. after unwrap: plaintext use is not logged .-> DATA\n  GAP[visibility gap: what a worker does with an<br/>unwrapped data key]:::gap -.- DATA\n  classDef enforce stroke-width:3px\n  classDef gap stroke-dasharray: 5 5\n"
    )
}

pub(super) fn lab_cmd(a: LabArgs, out: &mut dyn Write) -> miette::Result<ExitCode> {
    let path = std::env::temp_dir().join(format!(
        "keyward-lab-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let dir = DataDir::new(&path);
    dir.init().map_err(|e| miette::miette!("{e}"))?;
    let svc = KeyService::open(&dir, "us-east-1").map_err(|e| miette::miette!("{e}"))?;
    let mut lab = Lab {
        svc,
        dir,
        report: String::new(),
        markdown: matches!(a.format, LabFormat::Markdown),
        failures: Vec::new(),
    };
    let result = run(&mut lab);
    if a.keep {
        lab.say(&format!("\n(data directory kept: {})", path.display()));
    }
    let title = if lab.markdown {
        "# keyward lab: envelope encryption, broken, hardened, observed\n"
    } else {
        "keyward lab: envelope encryption, broken, hardened, observed\n"
    };
    let verdict = match (&result, lab.failures.is_empty()) {
        (Ok(()), true) => "\nEvery step behaved as the lesson says.\n".to_owned(),
        (Ok(()), false) => format!(
            "\nSteps that did not behave as the lesson says: {}\n",
            lab.failures.join("; ")
        ),
        (Err(e), _) => format!("\nThe lab could not finish: {e}\n"),
    };
    out.write_all(format!("{title}{}{verdict}", lab.report).as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    drop(lab);
    if !a.keep {
        let _ = std::fs::remove_dir_all(&path);
    }
    Ok(match (&result, verdict.starts_with("\nEvery")) {
        (Ok(()), true) => ExitCode::Ok,
        _ => ExitCode::Denied,
    })
}

fn run(lab: &mut Lab) -> Result<(), String> {
    let admin = Identity::new(Caller::parse(ACCOUNT).map_err(|e| e.to_string())?);
    let a = worker(TENANT_A, "a").map_err(|e| e.to_string())?;
    let b = worker(TENANT_B, "b").map_err(|e| e.to_string())?;

    lab.heading("1. Setup: one key, two tenants' workers");
    lab.say("Each worker role carries its tenant as a principal tag (`tenant`) and an IAM policy allowing kms:GenerateDataKey and kms:Decrypt. The key policy in force:");
    lab.block("json", &pretty(&unsafe_policy()));
    lab.block("mermaid", &diagram(false));
    let key = lab
        .svc
        .call(&admin, "CreateKey", &json!({"Description": "records of every tenant", "Policy": unsafe_policy().to_string()}))
        .map_err(|e| e.to_string())?["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    lab.heading("2. Envelope encryption: tenant A seals record r-1");
    lab.say("Tenant A's worker asks for a data key bound to its tenant and record, seals the record locally with AES-GCM under it, and keeps only the wrapped data key beside the record.");
    let context = json!({"tenant": "a", "record": "r-1"});
    let dk = lab.call(
        &a,
        "GenerateDataKey",
        json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": context}),
    )?;
    let wrapped = dk["CiphertextBlob"].clone();
    let data_key = B64
        .decode(dk["Plaintext"].as_str().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let nonce = [7u8; 12];
    let sealed = keyward::crypto::seal(
        &data_key,
        &nonce,
        b"record r-1",
        b"tenant A's patient record",
    )
    .map_err(|e| e.to_string())?;
    lab.say(&format!(
        "Record r-1 stored: {} bytes of AES-GCM ciphertext and the wrapped data key.",
        sealed.len()
    ));

    lab.heading("3. Break: tenant B unwraps tenant A's data key");
    lab.say("The encryption context is not a secret: it sits beside the record. Tenant B's worker copies the stolen record's context into its own request.");
    let stolen = json!({"CiphertextBlob": wrapped, "EncryptionContext": context});
    let broke = lab.call(&b, "Decrypt", stolen.clone());
    let opened = broke
        .as_ref()
        .ok()
        .and_then(|r| r["Plaintext"].as_str())
        .and_then(|p| B64.decode(p).ok());
    let read = opened
        .as_deref()
        .and_then(|k| keyward::crypto::open(k, &nonce, b"record r-1", &sealed).ok())
        .map(|p| String::from_utf8_lossy(p.expose()).into_owned());
    lab.expect(
        read.as_deref() == Some("tenant A's patient record"),
        "tenant B reads tenant A's record under the first policy",
    );

    lab.heading("4. Harden: bind the encryption context to the caller's tenant");
    lab.say("The key policy now allows a worker only data keys whose `tenant` context equals its own `tenant` tag and that name a record, and denies any other tenant's context outright:");
    lab.block("json", &pretty(&hardened_policy()));
    lab.call(
        &admin,
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": hardened_policy().to_string()}),
    )?;
    lab.say("The same stolen request from tenant B:");
    let refused = lab.call(&b, "Decrypt", stolen.clone());
    lab.expect(refused.is_err(), "tenant B is refused tenant A's data key");
    lab.say("Tenant A still opens its own record:");
    let own = lab.call(&a, "Decrypt", stolen);
    lab.expect(own.is_ok(), "tenant A still decrypts its own record");
    lab.block("mermaid", &diagram(true));

    lab.heading("5. Observe: every unwrap of the key");
    lab.say("The audit log answers who unwrapped what, under which context, and whether it was allowed:");
    let q = Query {
        key: Some(key.clone()),
        operation: Some("Decrypt".into()),
        ..Query::default()
    };
    let unwraps = query::select(&lab.dir.audit_log(), &q).map_err(|e| e.to_string())?;
    let listing: String = unwraps.iter().map(|r| query::summary(r) + "\n").collect();
    lab.block(
        "text",
        &format!("$ keyward audit query --key {key} --operation Decrypt\n{listing}"),
    );
    let denied = unwraps
        .iter()
        .filter(|r| r.get("errorCode").is_some())
        .count();
    lab.expect(
        unwraps.len() == 3 && denied == 1,
        "three unwraps recorded, the refused one among them",
    );

    lab.heading("6. The stale assumption");
    lab.say("\"Only tenant A's service knows tenant A's encryption context, so only it can unwrap tenant A's data keys.\" The context is metadata stored beside the ciphertext; it authenticates the data, it does not authorize the caller. Authorization has to bind it to who is calling — here, the principal tag — in the key policy, the one component that sees both.");

    lab.heading("7. After a workload role is compromised");
    lab.say("- Revoke: remove the role's grants (`ListGrants`/`ListRetirableGrants`, `RevokeGrant`), disable or delete its access keys, end its sessions.");
    lab.say("- Change policy: deny the role in the key policy until it is rebuilt (an explicit deny outranks every allow and grant).");
    lab.say("- Rotate: `RotateKeyOnDemand` gives new data keys new material — but does not help with data keys the role already unwrapped: re-encrypt the records those keys protect (`keyward audit query --principal ROLE --operation Decrypt` lists them, with their contexts).");
    lab.say("- Rotation of the KMS key alone does not revoke anything: old ciphertexts still decrypt, by design.");

    lab.heading("8. The signal an on-call engineer needs");
    lab.say("Alert on refused unwraps with a foreign tenant context: `AccessDeniedException` on `Decrypt` whose `kms:EncryptionContext:tenant` differs from the caller's tag is an attempt, not a bug. The query behind the alert:");
    lab.block(
        "text",
        "keyward audit query --operation Decrypt --decision deny --since 2026-12-02T00:00:00Z",
    );
    Ok(())
}
