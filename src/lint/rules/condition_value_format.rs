//! KW120: condition values that cannot be what their key holds: a VPC or
//! VPC endpoint id, or a Region name, of the wrong shape.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::OperatorFamily;

pub const RULE: RuleInfo = RuleInfo {
    code: "KW120",
    name: "condition-value-format",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "A condition value cannot be a VPC id, VPC endpoint id or Region, which its key holds.",
    what: "Checks the values of `aws:SourceVpc` (`vpc-` and 8 or 17 letters and digits), \
           `aws:SourceVpce` (`vpce-` likewise) and the Region keys `aws:RequestedRegion`, \
           `kms:ReplicaRegion` and `kms:PrimaryRegion` (a Region of an AWS partition, such as \
           `eu-west-1`) and keys naming a KMS key (`s3:x-amz-server-side-encryption-aws-kms-key-id`: \
           a key ARN), when compared \
           with exact string operators. IAM Access Analyzer calls these \"Invalid vpc \
           format\", \"Invalid vpce format\", \"Invalid Region\" and \"Invalid kms key value\".",
    why: "A value that no request can carry makes the condition constant: never true for a \
          positive operator, always true for a negated one.",
    example: include_str!("../../../policies/lint/KW120-condition-value-format.json"),
};

fn kms_key_arn(v: &str) -> bool {
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "kms", region, account, resource]
        if !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty()))
}

fn id_shape(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        matches!(rest.len(), 8 | 17) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node.base;
            // Like operators take patterns; other families are KW103's.
            if op.family() != OperatorFamily::String || op.name().contains("Like") {
                continue;
            }
            let key = c.node.key.node.lowercase();
            let (what, ok): (&str, fn(&str) -> bool) = match key.as_str() {
                "aws:sourcevpc" => ("a VPC id (vpc-…)", |v| id_shape(v, "vpc-")),
                "aws:sourcevpce" => ("a VPC endpoint id (vpce-…)", |v| id_shape(v, "vpce-")),
                "aws:requestedregion" | "kms:replicaregion" | "kms:primaryregion" => {
                    ("a Region", crate::lint::kind::known_region)
                }
                k if k.ends_with("kms-key-id")
                    || k.ends_with("kmskeyid")
                    || k.ends_with("kmskeyarn") =>
                {
                    (
                        "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
                        kms_key_arn,
                    )
                }
                _ => continue,
            };
            for v in &c.node.values {
                if v.node.contains("${") || ok(&v.node) {
                    continue;
                }
                out.push(
                    Finding::new(
                        &RULE,
                        v.loc,
                        format!(
                            "`{}` is not {what}, which `{}` holds",
                            v.node, c.node.key.node
                        ),
                    )
                    .label("never a value of this key"),
                );
            }
        }
    }
}
