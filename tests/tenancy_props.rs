//! Property: for random sequences of operations by administrators of two
//! accounts in two Regions, no operation reads, lists, resolves or uses a
//! record of another account or Region unless the owner's key policy (and
//! the caller's IAM policy, here `kms:*`) allow that exact cross-account
//! operation. A model of what each caller owns predicts every outcome;
//! every response is also scanned for key ids the caller may not see.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::service::{ErrorKind, Identity, KeyService, KmsError};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::tenancy::{admin_of, key_id_of};

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const NAMES: [&str; 2] = ["alias/x", "alias/y"];
/// What a shared key's policy allows the other account.
const SHARED_OPS: [&str; 5] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
];

/// A caller: an account (0, 1) in a Region (0, 1).
type Who = (usize, usize);

#[derive(Debug, Clone)]
enum Target {
    KeyId(usize),
    KeyArn(usize),
    Alias(usize),
    AliasArn(Who, usize),
}

#[derive(Debug, Clone)]
enum Op {
    CreateKey(Who, bool),
    CreateAlias(Who, usize, usize),
    Encrypt(Who, Target),
    Describe(Who, Target),
    Decrypt(Who, usize),
    ListKeys(Who),
    ListAliases(Who),
    CreateGrant(Who, usize, usize),
    ListRetirable(Who, usize),
    ListGrants(Who, usize),
    Tag(Who, usize),
}

fn who() -> impl Strategy<Value = Who> {
    (0..2usize, 0..2usize)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (0..8usize).prop_map(Target::KeyId),
        (0..8usize).prop_map(Target::KeyArn),
        (0..2usize).prop_map(Target::Alias),
        (who(), 0..2usize).prop_map(|(w, n)| Target::AliasArn(w, n)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (who(), any::<bool>()).prop_map(|(w, s)| Op::CreateKey(w, s)),
        2 => (who(), 0..2usize, 0..8usize).prop_map(|(w, n, k)| Op::CreateAlias(w, n, k)),
        3 => (who(), target()).prop_map(|(w, t)| Op::Encrypt(w, t)),
        2 => (who(), target()).prop_map(|(w, t)| Op::Describe(w, t)),
        2 => (who(), 0..8usize).prop_map(|(w, b)| Op::Decrypt(w, b)),
        1 => who().prop_map(Op::ListKeys),
        1 => who().prop_map(Op::ListAliases),
        2 => (who(), 0..8usize, 0..2usize).prop_map(|(w, k, r)| Op::CreateGrant(w, k, r)),
        1 => (who(), 0..2usize).prop_map(|(w, a)| Op::ListRetirable(w, a)),
        1 => (who(), 0..8usize).prop_map(|(w, k)| Op::ListGrants(w, k)),
        1 => (who(), 0..8usize).prop_map(|(w, k)| Op::Tag(w, k)),
    ]
}

struct Key {
    arn: String,
    owner: Who,
    shared: bool,
}

#[derive(Default)]
struct Model {
    keys: Vec<Key>,
    aliases: BTreeMap<(Who, usize), usize>,
    /// Ciphertexts and the key they are under.
    blobs: Vec<(usize, String)>,
    /// Grants: key and the account of their retiring principal.
    grants: Vec<(usize, usize)>,
}

/// What the model expects of one call.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Success on this key (or with no key).
    Ok(Option<usize>),
    Err(ErrorKind),
}

impl Expect {
    /// The same outcome for a call whose response names no key.
    fn without_key(self) -> Expect {
        match self {
            Expect::Ok(_) => Expect::Ok(None),
            e => e,
        }
    }
}

fn worker(account: usize) -> String {
    format!("arn:aws:iam::{}:role/worker", ACCOUNTS[account])
}

fn alias_arn(w: Who, n: usize) -> String {
    format!(
        "arn:aws:kms:{}:{}:{}",
        REGIONS[w.1], ACCOUNTS[w.0], NAMES[n]
    )
}

impl Model {
    /// The outcome of using key `k` from `w`, named so that it may cross
    /// accounts (a key ARN, an alias ARN, a ciphertext), for a shared op.
    fn reach(&self, w: Who, k: usize, shared_op: bool) -> Expect {
        let key = &self.keys[k];
        if key.owner.1 != w.1 {
            Expect::Err(ErrorKind::NotFound)
        } else if key.owner.0 == w.0 || (key.shared && shared_op) {
            Expect::Ok(Some(k))
        } else {
            Expect::Err(ErrorKind::AccessDenied)
        }
    }

    /// How `w` names a target, what the call should do, and the key the
    /// name stands for (which the caller may then see named in an error).
    fn resolve(&self, w: Who, t: &Target) -> (String, Expect, Option<usize>) {
        let n = self.keys.len();
        match t {
            Target::KeyId(_) | Target::KeyArn(_) if n == 0 => (
                "00000000-0000-0000-0000-000000000000".into(),
                Expect::Err(ErrorKind::NotFound),
                None,
            ),
            Target::KeyId(i) => {
                let k = i % n;
                let want = if self.keys[k].owner == w {
                    Expect::Ok(Some(k))
                } else {
                    Expect::Err(ErrorKind::NotFound)
                };
                (key_id_of(&self.keys[k].arn).to_owned(), want, Some(k))
            }
            Target::KeyArn(i) => {
                let k = i % n;
                (self.keys[k].arn.clone(), self.reach(w, k, true), Some(k))
            }
            Target::Alias(a) => match self.aliases.get(&(w, *a)) {
                Some(k) => (NAMES[*a].to_owned(), Expect::Ok(Some(*k)), Some(*k)),
                None => (NAMES[*a].to_owned(), Expect::Err(ErrorKind::NotFound), None),
            },
            Target::AliasArn(owner, a) => {
                let arn = alias_arn(*owner, *a);
                match self.aliases.get(&(*owner, *a)) {
                    _ if owner.1 != w.1 => (arn, Expect::Err(ErrorKind::NotFound), None),
                    Some(k) => (arn, self.reach(w, *k, true), Some(*k)),
                    None => (arn, Expect::Err(ErrorKind::NotFound), None),
                }
            }
        }
    }
}

fn identity(w: Who) -> Identity {
    admin_of(ACCOUNTS[w.0], REGIONS[w.1])
}

fn shared_policy(owner: usize) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", ACCOUNTS[owner])}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{}:root", ACCOUNTS[1 - owner])}, "Action": SHARED_OPS, "Resource": "*"}
    ]})
    .to_string()
}

/// Checks one result against the model's expectation, and that no key id
/// the caller may not see appears in it.
fn check(
    model: &Model,
    op: &Op,
    w: Who,
    got: &Result<Value, KmsError>,
    want: &Expect,
    may_see: &[usize],
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(v), Expect::Ok(Some(k))) => {
            let named = v["KeyId"]
                .as_str()
                .or(v["KeyMetadata"]["Arn"].as_str())
                .unwrap_or("");
            if !named.is_empty() {
                prop_assert_eq!(named, model.keys[*k].arn.as_str(), "{:?}", op);
            }
        }
        (Ok(_), Expect::Ok(None)) => {}
        (Err(e), Expect::Err(kind)) => prop_assert_eq!(e.kind, *kind, "{:?}: {}", op, e),
        _ => prop_assert!(
            false,
            "{:?} by {:?}: got {:?}, expected {:?}",
            op,
            w,
            got,
            want
        ),
    }
    let text = match got {
        Ok(v) => v.to_string(),
        Err(e) => e.message.clone(),
    };
    for (i, key) in model.keys.iter().enumerate() {
        let foreign = key.owner != w;
        if foreign && !may_see.contains(&i) {
            prop_assert!(
                !text.contains(key_id_of(&key.arn)),
                "{:?} by {:?} shows key {} of {:?}: {}",
                op,
                w,
                key.arn,
                key.owner,
                text
            );
        }
    }
    Ok(())
}

fn run(svc: &KeyService, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    for op in ops {
        let plaintext = B64.encode(b"data");
        let (w, got, want, may_see): (Who, _, Expect, Vec<usize>) = match op {
            Op::CreateKey(w, shared) => {
                let input = if *shared {
                    json!({"Policy": shared_policy(w.0)})
                } else {
                    json!({})
                };
                let got = svc.call(&identity(*w), "CreateKey", &input);
                if let Ok(v) = &got {
                    let arn = v["KeyMetadata"]["Arn"].as_str().unwrap_or("").to_owned();
                    let prefix = format!("arn:aws:kms:{}:{}:key/", REGIONS[w.1], ACCOUNTS[w.0]);
                    prop_assert!(arn.starts_with(&prefix), "{}", arn);
                    m.keys.push(Key {
                        arn,
                        owner: *w,
                        shared: *shared,
                    });
                }
                let k = m.keys.len().saturating_sub(1);
                (*w, got, Expect::Ok(Some(k)), vec![])
            }
            Op::CreateAlias(w, n, k) if !m.keys.is_empty() => {
                let k = k % m.keys.len();
                let want = if m.keys[k].owner != *w {
                    Expect::Err(ErrorKind::NotFound)
                } else if m.aliases.contains_key(&(*w, *n)) {
                    Expect::Err(ErrorKind::AlreadyExists)
                } else {
                    Expect::Ok(None)
                };
                let got = svc.call(
                    &identity(*w),
                    "CreateAlias",
                    &json!({"AliasName": NAMES[*n], "TargetKeyId": m.keys[k].arn}),
                );
                if got.is_ok() {
                    m.aliases.insert((*w, *n), k);
                }
                // The caller named the key by its ARN.
                (*w, got, want, vec![k])
            }
            Op::Encrypt(w, t) | Op::Describe(w, t) => {
                let (name, want, named) = m.resolve(*w, t);
                let got = if matches!(op, Op::Encrypt(..)) {
                    svc.call(
                        &identity(*w),
                        "Encrypt",
                        &json!({"KeyId": name, "Plaintext": plaintext}),
                    )
                } else {
                    svc.call(&identity(*w), "DescribeKey", &json!({"KeyId": name}))
                };
                if let (Ok(v), Expect::Ok(Some(k)), Op::Encrypt(..)) = (&got, &want, op) {
                    let blob = v["CiphertextBlob"].as_str().unwrap_or("").to_owned();
                    m.blobs.push((*k, blob));
                }
                (*w, got, want, named.into_iter().collect())
            }
            Op::Decrypt(w, b) if !m.blobs.is_empty() => {
                let (k, blob) = m.blobs[b % m.blobs.len()].clone();
                let want = m.reach(*w, k, true);
                let got = svc.call(&identity(*w), "Decrypt", &json!({"CiphertextBlob": blob}));
                // The ciphertext names its key.
                (*w, got, want, vec![k])
            }
            Op::ListKeys(w) => {
                let got = svc.call(&identity(*w), "ListKeys", &json!({"Limit": 1000}));
                let mut want: Vec<&str> = m
                    .keys
                    .iter()
                    .filter(|k| k.owner == *w)
                    .map(|k| k.arn.as_str())
                    .collect();
                want.sort_unstable();
                if let Ok(v) = &got {
                    let mut listed: Vec<&str> = v["Keys"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|k| k["KeyArn"].as_str()).collect())
                        .unwrap_or_default();
                    listed.sort_unstable();
                    prop_assert_eq!(listed, want);
                }
                (*w, got, Expect::Ok(None), vec![])
            }
            Op::ListAliases(w) => {
                let got = svc.call(&identity(*w), "ListAliases", &json!({"Limit": 1000}));
                let want: Vec<(String, &str)> = m
                    .aliases
                    .iter()
                    .filter(|((owner, _), _)| owner == w)
                    .map(|((owner, n), k)| (alias_arn(*owner, *n), key_id_of(&m.keys[*k].arn)))
                    .collect();
                if let Ok(v) = &got {
                    let listed: Vec<(String, &str)> = v["Aliases"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| {
                                    (
                                        x["AliasArn"].as_str().unwrap_or("").to_owned(),
                                        x["TargetKeyId"].as_str().unwrap_or(""),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    prop_assert_eq!(listed, want);
                }
                (*w, got, Expect::Ok(None), vec![])
            }
            Op::CreateGrant(w, k, r) if !m.keys.is_empty() => {
                let k = k % m.keys.len();
                let want = m.reach(*w, k, true).without_key();
                let got = svc.call(
                    &identity(*w),
                    "CreateGrant",
                    &json!({"KeyId": m.keys[k].arn, "GranteePrincipal": worker(*r), "RetiringPrincipal": worker(*r), "Operations": ["Decrypt"]}),
                );
                if got.is_ok() {
                    m.grants.push((k, *r));
                }
                (*w, got, want, vec![k])
            }
            Op::ListRetirable(w, a) => {
                let got = svc.call(
                    &identity(*w),
                    "ListRetirableGrants",
                    &json!({"RetiringPrincipal": worker(*a), "Limit": 1000}),
                );
                let visible: Vec<usize> = m
                    .grants
                    .iter()
                    .filter(|(k, r)| *r == w.0 && m.keys[*k].owner.1 == w.1)
                    .map(|(k, _)| *k)
                    .collect();
                let want = if *a == w.0 {
                    Expect::Ok(None)
                } else {
                    Expect::Err(ErrorKind::AccessDenied)
                };
                if let Ok(v) = &got {
                    let mut listed: Vec<&str> = v["Grants"]
                        .as_array()
                        .map(|g| g.iter().filter_map(|x| x["KeyId"].as_str()).collect())
                        .unwrap_or_default();
                    listed.sort_unstable();
                    let mut expected: Vec<&str> =
                        visible.iter().map(|k| m.keys[*k].arn.as_str()).collect();
                    expected.sort_unstable();
                    prop_assert_eq!(listed, expected);
                }
                (*w, got, want, visible)
            }
            Op::ListGrants(w, k) if !m.keys.is_empty() => {
                let k = k % m.keys.len();
                let want = m.reach(*w, k, true).without_key();
                let got = svc.call(
                    &identity(*w),
                    "ListGrants",
                    &json!({"KeyId": m.keys[k].arn, "Limit": 1000}),
                );
                (*w, got, want, vec![k])
            }
            Op::Tag(w, k) if !m.keys.is_empty() => {
                let k = k % m.keys.len();
                // TagResource is not in the shared key's policy.
                let want = m.reach(*w, k, false).without_key();
                let got = svc.call(
                    &identity(*w),
                    "TagResource",
                    &json!({"KeyId": m.keys[k].arn, "Tags": [{"TagKey": "t", "TagValue": "v"}]}),
                );
                (*w, got, want, vec![k])
            }
            _ => continue,
        };
        check(&m, op, w, &got, &want, &may_see)?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn no_operation_crosses_an_account_or_region_unless_allowed(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        let e = crate::service::env();
        run(&e.svc, &ops)?;
    }
}
