//! Precompiled value matchers: wildcard patterns (globset), ARN patterns,
//! CIDRs (ipnet), numbers, dates, booleans, and templates with policy
//! variables.

use globset::{GlobBuilder, GlobMatcher};

use crate::catalog::ContextKey;
use ipnet::IpNet;

/// One piece of a text value that may hold policy variables.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text; the escapes `${*}`, `${?}`, `${$}` are literal here.
    Lit(String),
    /// `*` in a `Like` pattern.
    Star,
    /// `?` in a `Like` pattern.
    Question,
    /// `${key}` or `${key, 'default'}`; `key` is compared
    /// case-insensitively, `name` is the key as written (for messages).
    Var {
        key: ContextKey,
        default: Option<String>,
        name: String,
    },
}

/// Splits `text` into parts. `variables` enables `${...}` (policy version
/// 2012-10-17 and an operator that takes variables); `wildcards` makes `*`
/// and `?` wildcards (the `Like` operators and resource patterns).
pub fn parts(text: &str, variables: bool, wildcards: bool) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    let flush = |lit: &mut String, out: &mut Vec<Part>| {
        if !lit.is_empty() {
            out.push(Part::Lit(std::mem::take(lit)));
        }
    };
    while let Some(c) = rest.chars().next() {
        if let Some((part, used)) = variables
            .then(|| rest.strip_prefix("${").and(variable(rest)))
            .flatten()
        {
            match part {
                Part::Lit(s) => lit.push_str(&s),
                other => {
                    flush(&mut lit, &mut out);
                    out.push(other);
                }
            }
            rest = rest.get(used..).unwrap_or("");
            continue;
        }
        match c {
            '*' if wildcards => {
                flush(&mut lit, &mut out);
                // `**` means the same as `*`; keep one.
                if out.last() != Some(&Part::Star) {
                    out.push(Part::Star);
                }
            }
            '?' if wildcards => {
                flush(&mut lit, &mut out);
                out.push(Part::Question);
            }
            c => lit.push(c),
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    flush(&mut lit, &mut out);
    out
}

/// Parses `${...}` at the start of `s`: the part and the bytes it used.
fn variable(s: &str) -> Option<(Part, usize)> {
    let body_end = s.find('}')?;
    let body = s.get(2..body_end)?;
    let used = body_end + 1;
    match body {
        "*" => return Some((Part::Lit("*".into()), used)),
        "?" => return Some((Part::Lit("?".into()), used)),
        "$" => return Some((Part::Lit("$".into()), used)),
        _ => {}
    }
    let (key, default) = match body.split_once(',') {
        Some((key, default)) => {
            let d = default.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(d.to_owned()))
        }
        None => (body.trim(), None),
    };
    if key.is_empty() || key.contains('{') {
        return None;
    }
    Some((
        Part::Var {
            key: ContextKey::new(key),
            default,
            name: key.to_owned(),
        },
        used,
    ))
}

/// Text that may hold variables: a literal, or parts resolved per request.
#[derive(Debug, Clone)]
pub enum Template {
    Literal(String),
    Dynamic(Vec<Part>),
}

impl Template {
    pub fn new(text: &str, variables: bool) -> Template {
        let p = parts(text, variables, false);
        if p.iter().all(|p| matches!(p, Part::Lit(_))) {
            Template::Literal(
                p.into_iter()
                    .filter_map(|p| match p {
                        Part::Lit(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            )
        } else {
            Template::Dynamic(p)
        }
    }
}

/// A `*`/`?` wildcard pattern, with fast paths for the common shapes and
/// globset for the rest.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// `*`
    Any,
    Exact(String),
    /// `prefix*`
    Prefix(String),
    Glob(GlobMatcher),
    /// Holds policy variables: resolved, then matched, per request.
    Dynamic(Vec<Part>),
}

impl Pattern {
    pub fn new(text: &str, variables: bool) -> Result<Pattern, String> {
        Pattern::from_parts(parts(text, variables, true), false)
    }

    pub fn from_parts(parts: Vec<Part>, case_insensitive: bool) -> Result<Pattern, String> {
        if parts.iter().any(|p| matches!(p, Part::Var { .. })) {
            return Ok(Pattern::Dynamic(parts));
        }
        if !case_insensitive {
            match parts.as_slice() {
                [Part::Star] => return Ok(Pattern::Any),
                [] => return Ok(Pattern::Exact(String::new())),
                [Part::Lit(s)] => return Ok(Pattern::Exact(s.clone())),
                [Part::Lit(s), Part::Star] => return Ok(Pattern::Prefix(s.clone())),
                _ => {}
            }
        }
        glob(&parts, case_insensitive).map(Pattern::Glob)
    }
}

/// Builds a glob where only `*` and `?` are special: every other globset
/// metacharacter (`[`, `{`, `\`...) in literal text is escaped.
pub fn glob(parts: &[Part], case_insensitive: bool) -> Result<GlobMatcher, String> {
    let mut text = String::new();
    for p in parts {
        match p {
            Part::Lit(s) => text.push_str(&globset::escape(s)),
            Part::Star => text.push('*'),
            Part::Question => text.push('?'),
            Part::Var { .. } => return Err("unresolved variable".into()),
        }
    }
    GlobBuilder::new(&text)
        .literal_separator(false)
        .backslash_escape(true)
        .case_insensitive(case_insensitive)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.kind().to_string())
}

/// An ARN pattern, matched segment by segment: partition, service, region,
/// account, then the rest. A wildcard never crosses a colon in the first
/// five segments.
#[derive(Debug, Clone)]
pub enum ArnPattern {
    /// `*`: every value.
    Any,
    Segments(Vec<Pattern>),
}

impl ArnPattern {
    /// `variables` applies only after the fifth colon, as AWS allows policy
    /// variables in an ARN only in its resource part.
    pub fn new(text: &str, variables: bool) -> Result<ArnPattern, String> {
        if text == "*" {
            return Ok(ArnPattern::Any);
        }
        let segments: Vec<&str> = text.splitn(6, ':').collect();
        let last = segments.len() - 1;
        segments
            .iter()
            .enumerate()
            .map(|(i, s)| Pattern::new(s, variables && i == 5 && last == 5))
            .collect::<Result<Vec<_>, _>>()
            .map(ArnPattern::Segments)
    }
}

/// A compiled policy value, typed by its operator's family.
#[derive(Debug, Clone)]
pub enum ValueMatcher {
    Text(Template),
    TextIgnoreCase(Template),
    Like(Pattern),
    Arn(ArnPattern),
    Number(f64),
    /// Nanoseconds since the Unix epoch.
    Date(i128),
    /// `Bool` value, lowercased; may hold a variable.
    Bool(Template),
    /// `BinaryEquals`: base64 text compared as written.
    Binary(String),
    Cidr(IpNet),
    /// `Null`: `true` matches an absent key, `false` a present one.
    Null(bool),
}

pub fn parse_number(s: &str) -> Option<f64> {
    let n: f64 = s.trim().parse().ok()?;
    n.is_finite().then_some(n)
}

/// ISO 8601 dates as AWS accepts them (`2024-01-31`, `2024-01-31T12:00:00Z`,
/// with fraction or offset) or epoch seconds; nanoseconds since the epoch.
pub fn parse_date(s: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let s = s.trim();
    if !s.is_empty()
        && s.trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return s
            .parse::<i64>()
            .ok()
            .map(|secs| i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
    if let Ok(t) = time::PrimitiveDateTime::parse(s, minutes) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = time::PrimitiveDateTime::parse(s, seconds) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let date = format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp_nanos())
}

/// A CIDR, or a bare address meaning /32 (IPv4) or /128 (IPv6).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_escapes() {
        assert_eq!(
            parts("a${aws:username}b", true, false),
            vec![
                Part::Lit("a".into()),
                Part::Var {
                    key: ContextKey::new("aws:username"),
                    default: None,
                    name: "aws:username".into(),
                },
                Part::Lit("b".into())
            ]
        );
        assert_eq!(
            parts("${*}${?}${$}", true, true),
            vec![Part::Lit("*?$".into())]
        );
        assert_eq!(
            parts("${aws:username}", false, false),
            vec![Part::Lit("${aws:username}".into())]
        );
        assert_eq!(
            parts("${aws:PrincipalTag/team, 'none'}", true, false),
            vec![Part::Var {
                key: ContextKey::Named("aws:principaltag/team".into()),
                default: Some("none".into()),
                name: "aws:PrincipalTag/team".into(),
            }]
        );
    }

    #[test]
    fn glob_escapes_metacharacters() {
        let Ok(Pattern::Glob(g)) = Pattern::new("a.b[c]{d,e}?*", false) else {
            unreachable!("not a glob")
        };
        assert!(g.is_match("a.b[c]{d,e}xyz"));
        assert!(!g.is_match("aXb[c]{d,e}xyz"));
        assert!(!g.is_match("a.bc{d,e}xyz"));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(parse_date("86400"), Some(86_400_000_000_000));
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400_000_000_000));
        assert_eq!(
            parse_date("1970-01-02T01:00:00+01:00"),
            Some(86_400_000_000_000)
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn cidrs() {
        assert!(parse_cidr("10.0.0.0/8").is_some());
        assert_eq!(parse_cidr("10.1.2.3").map(|n| n.prefix_len()), Some(32));
        assert_eq!(parse_cidr("2001:db8::1").map(|n| n.prefix_len()), Some(128));
        assert!(parse_cidr("300.0.0.0/8").is_none());
    }
}
