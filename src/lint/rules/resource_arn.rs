//! KW125: a `Resource` that is not a KMS ARN of the right shape.

use super::statements;
use crate::lint::{Category, Context, DocKind, Finding, RuleInfo};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW125",
    name: "invalid-resource-arn",
    category: Category::Error,
    kinds: &[
        DocKind::KeyPolicy,
        DocKind::Identity,
        DocKind::Scp,
        DocKind::VpcEndpoint,
    ],
    summary: "A `Resource` entry is not an ARN, or a KMS ARN with a malformed field.",
    what: "Checks every `Resource`/`NotResource` entry: it is `*` or starts with `arn:`, has \
           six fields, a lowercase service; a KMS ARN (`arn:PARTITION:kms:REGION:ACCOUNT:…`) \
           has a Region, a 12-digit account (or a wildcard or variable there) and a \
           `key/…` or `alias/…` resource; in a key policy every entry is a KMS ARN. IAM \
           Access Analyzer calls these \"Invalid ARN prefix\", \"Invalid partition\", \
           \"Unsupported resource ARN in policy\", \"Missing ARN field\", \"Invalid ARN service case\", \"Missing ARN \
           Region\", \"Invalid ARN Region\", \"Invalid ARN account\", \"Missing ARN account\" \
           and \"Invalid ARN resource\".",
    why: "A resource no request can name makes the statement match nothing: an `Allow` \
          allows nothing, a `Deny` protects nothing.",
    example: include_str!("../../../policies/lint/KW125-invalid-resource-arn.json"),
};

/// AWS's partitions.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// What is wrong with one resource entry, if anything. In a key policy
/// every resource is a KMS key.
fn problem(r: &str, key_policy: bool) -> Option<String> {
    if r == "*" {
        return None;
    }
    if r.contains("${") {
        // A variable's name holds colons: its fields are the request's.
        return None;
    }
    if !r.starts_with("arn:") {
        return Some("does not start with `arn:`".into());
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return Some("has fewer than the six fields of an ARN".into());
    };
    if !partition.contains('*') && !PARTITIONS.contains(partition) {
        return Some(format!(
            "names the partition `{partition}`, which is not an AWS partition"
        ));
    }
    if service.chars().any(|c| c.is_ascii_uppercase()) {
        return Some(format!("names the service `{service}` in upper case"));
    }
    if *service != "kms" {
        return key_policy
            .then(|| format!("is a `{service}` resource: a key policy applies only to its key"));
    }
    let pattern = |s: &str| s.contains('*') || s.contains('?');
    if region.is_empty() {
        return Some("has no Region: KMS ARNs name one".into());
    }
    if !pattern(region) && !crate::lint::kind::known_region(region) {
        return Some(format!("names `{region}`, which is not a Region"));
    }
    if account.is_empty() {
        return Some("has no account: KMS ARNs name one".into());
    }
    let twelve_digits = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if !(pattern(account) || twelve_digits) {
        return Some(format!(
            "names the account `{account}`, which is not 12 digits"
        ));
    }
    if !pattern(resource) && !resource.starts_with("key/") && !resource.starts_with("alias/") {
        return Some(format!("names `{resource}`, neither `key/…` nor `alias/…`"));
    }
    None
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for r in s.node.resource.iter().flat_map(|r| r.node.resources.iter()) {
            if let Some(why) = problem(&r.node, ctx.doc == DocKind::KeyPolicy) {
                out.push(
                    Finding::new(&RULE, r.loc, format!("`{}` {why}", r.node))
                        .label("not a KMS resource")
                        .help("KMS resources are `arn:aws:kms:REGION:ACCOUNT:key/KEY-ID` (or `alias/NAME`), or `*`"),
                );
            }
        }
    }
}
