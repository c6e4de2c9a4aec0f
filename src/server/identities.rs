//! The identities file: who may call the server, with what secret, as which
//! principal, under which IAM policies.
//!
//! ```json
//! {"identities": [
//!   {"access_key_id": "AKIA...", "secret_access_key": "...",
//!    "principal": "arn:aws:iam::111122223333:user/alice",
//!    "tags": {"tenant": "acme"},
//!    "iam_policies": [{"Version": "2012-10-17", "Statement": [...]}]},
//!   {"access_key_id": "AKIA...", "secret_access_key": "...",
//!    "principal": "arn:aws:iam::111122223333:role/ebs-service",
//!    "service": "ec2.us-east-1.amazonaws.com",
//!    "may_act_for": ["arn:aws:iam::111122223333:role/AppServer"]}
//! ]}
//! ```
//!
//! A service identity may send `X-Keyward-On-Behalf-Of: PRINCIPAL-ARN`
//! naming one of `may_act_for`; the request is then evaluated as that
//! principal (with its own IAM policies and tags, if it is listed here) with
//! `kms:ViaService` set to the service. No other caller can set
//! `kms:ViaService`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::PolicyKind;
use crate::crypto::Secret;
use crate::eval::Caller;
use crate::policy::Source;
use crate::service::Identity;

/// One caller the server knows.
pub struct Entry {
    pub access_key_id: String,
    secret: Secret,
    pub identity: Identity,
    /// For a service identity: its `kms:ViaService` name.
    pub service: Option<String>,
    pub may_act_for: Vec<String>,
}

impl Entry {
    pub fn secret(&self) -> &[u8] {
        self.secret.expose()
    }
}

/// Every identity, by access key id and by principal ARN.
pub struct Identities {
    by_key: HashMap<String, Arc<Entry>>,
    by_principal: HashMap<String, Arc<Entry>>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("identities file {path}: {message}")]
#[diagnostic(code(keyward::identities))]
pub struct IdentitiesError {
    pub path: String,
    pub message: String,
}

impl Identities {
    pub fn load(path: &Path) -> Result<Identities, IdentitiesError> {
        let err = |m: String| IdentitiesError {
            path: path.display().to_string(),
            message: m,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        let list = doc
            .get("identities")
            .and_then(Value::as_array)
            .ok_or_else(|| err("expected {\"identities\": [...]}".into()))?;
        let mut by_key = HashMap::new();
        let mut by_principal = HashMap::new();
        for (i, item) in list.iter().enumerate() {
            let field = |name: &str| {
                item.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("identity #{i} needs `{name}`")))
            };
            let access_key_id = field("access_key_id")?;
            let secret = field("secret_access_key")?;
            let principal = field("principal")?;
            let caller =
                Caller::parse(&principal).map_err(|e| err(format!("identity #{i}: {e}")))?;
            let mut identity = Identity::new(caller);
            if let Some(tags) = item.get("tags").and_then(Value::as_object) {
                identity.tags = tags
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect::<BTreeMap<_, _>>();
            }
            for (j, p) in item
                .get("iam_policies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let text = match p {
                    Value::String(file) => {
                        let base = path.parent().unwrap_or(Path::new("."));
                        std::fs::read_to_string(base.join(file))
                            .map_err(|e| err(format!("{file}: {e}")))?
                    }
                    other => other.to_string(),
                };
                let source = Source::new(format!("{principal} IAM policy #{j}"), text);
                let compiled = crate::compile::compile_policy(&source, PolicyKind::IamPolicy)
                    .map_err(|e| err(format!("identity #{i} IAM policy #{j}: {e}")))?;
                identity.iam_policies.push(Arc::new(compiled));
            }
            let service = item
                .get("service")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let may_act_for = item
                .get("may_act_for")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let entry = Arc::new(Entry {
                access_key_id: access_key_id.clone(),
                secret: Secret::new(secret.into_bytes()),
                identity,
                service,
                may_act_for,
            });
            if by_key
                .insert(access_key_id.clone(), entry.clone())
                .is_some()
            {
                return Err(err(format!("access key {access_key_id} appears twice")));
            }
            by_principal.insert(principal, entry);
        }
        Ok(Identities {
            by_key,
            by_principal,
        })
    }

    pub fn by_access_key(&self, id: &str) -> Option<&Arc<Entry>> {
        self.by_key.get(id)
    }

    pub fn by_principal(&self, arn: &str) -> Option<&Arc<Entry>> {
        self.by_principal.get(arn)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// A development identity for a first start: an administrator whose IAM
/// policy allows `kms:*`. Returns the file's JSON and the credentials.
pub fn development_identity() -> (Value, String, String) {
    use rand::Rng;
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rngs::OsRng;
    let key_id: String = std::iter::once("AKIA".to_owned())
        .chain((0..16).map(|_| (UPPER[rng.gen_range(0..UPPER.len())] as char).to_string()))
        .collect();
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let secret: String = (0..40)
        .map(|_| SECRET[rng.gen_range(0..SECRET.len())] as char)
        .collect();
    let doc = serde_json::json!({"identities": [{
        "access_key_id": key_id,
        "secret_access_key": secret,
        "principal": "arn:aws:iam::111122223333:user/keyward-admin",
        "iam_policies": [{"Version": "2012-10-17", "Statement": [
            {"Sid": "Administrator", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}
        ]}]
    }]});
    (doc, key_id, secret)
}
