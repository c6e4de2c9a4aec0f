//! KW129: `aws:VpcSourceIp` without the VPC it is an address in.

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW129",
    name: "paired-condition-key",
    category: Category::Security,
    kinds: kind::POLICIES,
    summary: "`aws:VpcSourceIp` is tested without `aws:SourceVpc` or `aws:SourceVpce`.",
    what: "Reports statements that test `aws:VpcSourceIp` with no condition on \
           `aws:SourceVpc` or `aws:SourceVpce`. IAM Access Analyzer calls this \"Missing \
           paired condition keys\".",
    why: "A private address means something only within one VPC: `10.0.0.5` exists in every \
          VPC of every account. Without the VPC, the condition admits any VPC's host with that \
          address.",
    example: include_str!("../../../policies/lint/KW129-paired-condition-key.json"),
};

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        let keys: Vec<String> = conditions(&s.node)
            .map(|c| c.node.key.node.lowercase())
            .collect();
        if keys
            .iter()
            .any(|k| k == "aws:sourcevpc" || k == "aws:sourcevpce")
        {
            continue;
        }
        for c in conditions(&s.node) {
            if c.node.key.node.lowercase() == "aws:vpcsourceip" {
                out.push(
                    Finding::new(&RULE, c.node.key.loc, "`aws:VpcSourceIp` names an address in any VPC: pair it with `aws:SourceVpc` or `aws:SourceVpce`")
                        .label("which VPC?"),
                );
            }
        }
    }
}
