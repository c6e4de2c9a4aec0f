//! KW119: `aws:SourceIp` ranges that cannot do what they say: private
//! addresses (never seen in `aws:SourceIp`) and ranges with host bits set.

use std::net::IpAddr;

use super::{conditions, statements};
use crate::lint::{Category, Context, Finding, RuleInfo, kind};
use crate::policy::ast::{BaseOperator, Effect};

pub const RULE: RuleInfo = RuleInfo {
    code: "KW119",
    name: "source-ip-range",
    category: Category::Error,
    kinds: kind::POLICIES,
    summary: "An `aws:SourceIp` condition holds private addresses, or a range with host bits set.",
    what: "Checks the values of `IpAddress` and `NotIpAddress` conditions on `aws:SourceIp`: \
           only private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) is an error, some \
           private ranges among public ones a suggestion, and a CIDR whose address has bits \
           past its prefix (`10.1.2.3/16`) a suggestion to write the network address. IAM \
           Access Analyzer calls these \"Private IP address\", \"Private NotIpAddress\", their \
           \"subset\" suggestions, and \"Improve IP range\".",
    why: "`aws:SourceIp` is the public address a request came from; a request through a VPC \
          endpoint carries `aws:VpcSourceIp` instead. A condition on private addresses never \
          matches: an `Allow` allows nothing, an `IpAddress` `Deny` denies nothing, a \
          `NotIpAddress` `Deny` denies everything.",
    example: include_str!("../../../policies/lint/KW119-source-ip-range.json"),
};

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The address and prefix of a CIDR (a bare address is a /32 or /128).
fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
        None => {
            let a = text.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    Some((addr, prefix))
}

fn host_bits_set(addr: IpAddr, prefix: u8) -> bool {
    match addr {
        IpAddr::V4(v) if prefix < 32 => u32::from(v) & (u32::MAX >> prefix) != 0,
        IpAddr::V6(v) if prefix < 128 => u128::from(v) & (u128::MAX >> prefix) != 0,
        _ => false,
    }
}

pub fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for s in statements(ctx) {
        for c in conditions(&s.node) {
            let op = c.node.operator.node.base;
            let key = c.node.key.node.lowercase();
            if !matches!(op, BaseOperator::IpAddress | BaseOperator::NotIpAddress)
                || !matches!(key.as_str(), "aws:sourceip" | "aws:vpcsourceip")
            {
                continue;
            }
            // Private addresses are what `aws:VpcSourceIp` holds.
            let source_ip = key == "aws:sourceip";
            let parsed: Vec<_> = c
                .node
                .values
                .iter()
                .filter_map(|v| cidr(&v.node).map(|p| (v, p)))
                .collect();
            let privates = if source_ip {
                parsed.iter().filter(|(_, (a, _))| private(*a)).count()
            } else {
                0
            };
            if privates > 0 && privates == parsed.len() {
                // `IpAddress` on private ranges is never true;
                // `NotIpAddress` on them always is.
                let effect = match (s.node.effect.node, op) {
                    (Effect::Allow, BaseOperator::IpAddress) => "this Allow allows nothing",
                    (Effect::Allow, _) => "the condition is always true, so it restricts nothing",
                    (Effect::Deny, BaseOperator::IpAddress) => "this Deny denies nothing",
                    (Effect::Deny, _) => "this Deny denies every request",
                };
                out.push(
                    Finding::new(
                        &RULE,
                        c.node.key.loc,
                        format!("`aws:SourceIp` is never a private address: {effect}"),
                    )
                    .label("only private ranges")
                    .help("for requests through a VPC endpoint, test `aws:VpcSourceIp` (with `aws:SourceVpc` or `aws:SourceVpce`)"),
                );
            } else if privates > 0 {
                for (v, _) in parsed.iter().filter(|(_, (a, _))| private(*a)) {
                    out.push(
                        Finding::new(
                            &RULE,
                            v.loc,
                            format!("`{}` is private and never matches `aws:SourceIp`", v.node),
                        )
                        .with_category(Category::Suggestion)
                        .label("private range"),
                    );
                }
            }
            for (v, (addr, prefix)) in &parsed {
                if host_bits_set(*addr, *prefix) {
                    out.push(
                        Finding::new(
                            &RULE,
                            v.loc,
                            format!("`{}` has bits set past its /{prefix} prefix", v.node),
                        )
                        .with_category(Category::Suggestion)
                        .label("not a network address")
                        .help("write the range's network address, so it reads as what it matches"),
                    );
                }
            }
        }
    }
}
