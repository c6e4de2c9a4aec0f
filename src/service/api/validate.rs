//! Checking a JSON request against its members, as AWS does before an
//! operation runs: a value of the wrong JSON type is a
//! SerializationException; every constraint a value breaks is collected
//! into one ValidationException with AWS's wording ("2 validation errors
//! detected: …; …").

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use regex::Regex;
use serde_json::Value;

use super::{Member, Rule};
use crate::service::{ErrorKind, KmsError};

/// The longest value a message repeats. AWS repeats the value that broke a
/// constraint; keyward does too, up to this many bytes, so a huge member
/// is never sent back (nor recorded) whole.
const MAX_ECHOED: usize = 8192;

/// AWS's ValidationException for a required member the request lacks
/// (for members whose requirement the model cannot state: one of two
/// alternatives, or a member the model marks optional for another case).
pub(in crate::service) fn null_member(path: &str) -> KmsError {
    KmsError::validation(format!(
        "1 validation error detected: {}",
        null_fragment(path)
    ))
}

fn null_fragment(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

/// Checks `input` (a JSON object) against `members`.
pub(in crate::service) fn validate(input: &Value, members: &[Member]) -> Result<(), KmsError> {
    let mut broken = Vec::new();
    check_members(input, members, "", &mut broken)?;
    match broken.len() {
        0 => Ok(()),
        1 => Err(KmsError::validation(format!(
            "1 validation error detected: {}",
            broken[0]
        ))),
        n => Err(KmsError::validation(format!(
            "{n} validation errors detected: {}",
            broken.join("; ")
        ))),
    }
}

fn check_members(
    input: &Value,
    members: &[Member],
    prefix: &str,
    broken: &mut Vec<String>,
) -> Result<(), KmsError> {
    for m in members {
        let path = format!("{prefix}{}", lower_first(m.name));
        match input.get(m.name) {
            None | Some(Value::Null) => {
                if m.required {
                    broken.push(null_fragment(&path));
                }
            }
            Some(v) => check(v, &m.rule, &path, m.sensitive, broken)?,
        }
    }
    Ok(())
}

/// AWS's name for a member in messages: the first letter lowered.
pub(in crate::service) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

fn check(
    v: &Value,
    rule: &Rule,
    path: &str,
    sensitive: bool,
    broken: &mut Vec<String>,
) -> Result<(), KmsError> {
    let shown = |text: &str| {
        if sensitive || text.len() > MAX_ECHOED {
            "Value".to_owned()
        } else {
            format!("Value '{text}'")
        }
    };
    match rule {
        Rule::Text { min, max, pattern } => {
            let text = string(v, "a String")?;
            let n = text.chars().count() as u64;
            if let Some(c) = length(n, *min, *max) {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must have length {c}",
                    shown(text)
                ));
            } else if let Some(p) = pattern.filter(|p| !matches(p, text)) {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {p}",
                    shown(text)
                ));
            }
        }
        Rule::Enum(values) => {
            let text = string(v, "a String")?;
            if !values.contains(&text) {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    shown(text),
                    values.join(", ")
                ));
            }
        }
        Rule::Integer { min, max } => {
            let n = match v {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    serialization(format!("{} can not be converted to an Integer", n))
                })?,
                other => return Err(not_converted(other, "an Integer")),
            };
            let bound = match (min, max) {
                (Some(lo), _) if n < *lo => Some(format!("greater than or equal to {lo}")),
                (_, Some(hi)) if n > *hi => Some(format!("less than or equal to {hi}")),
                _ => None,
            };
            if let Some(b) = bound {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must have value {b}",
                    shown(&n.to_string())
                ));
            }
        }
        Rule::Boolean => {
            if !v.is_boolean() {
                return Err(not_converted(v, "a Boolean"));
            }
        }
        Rule::Timestamp => {
            if !v.as_f64().is_some_and(f64::is_finite) {
                return Err(not_converted(v, "a Timestamp"));
            }
        }
        Rule::Blob { min, max } => {
            let text = string(v, "a Blob")?;
            let n = decoded_len(text)
                .ok_or_else(|| serialization(format!("Value at '{path}' is not valid base64")))?;
            if let Some(c) = length(n, *min, *max) {
                broken.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length {c}"
                ));
            }
        }
        Rule::StringMap => {
            let Value::Object(map) = v else {
                return Err(not_converted(v, "a Map"));
            };
            if let Some(bad) = map.values().find(|x| !x.is_string()) {
                return Err(not_converted(bad, "a String"));
            }
        }
        Rule::List { min, max, item } => {
            let Value::Array(items) = v else {
                return Err(not_converted(v, "a List"));
            };
            if let Some(c) = length(items.len() as u64, *min, *max) {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must have length {c}",
                    shown(&list_text(items))
                ));
            }
            // AWS reports a list whose members break a constraint once,
            // for the whole list.
            let mut inner = Vec::new();
            for (i, x) in items.iter().enumerate() {
                check(
                    x,
                    item,
                    &format!("{path}.{}.member", i + 1),
                    sensitive,
                    &mut inner,
                )?;
            }
            if let (Rule::Enum(values), false) = (item, inner.is_empty()) {
                broken.push(format!(
                    "{} at '{path}' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    shown(&list_text(items)),
                    values.join(", ")
                ));
            } else {
                broken.extend(inner);
            }
        }
        Rule::Structure(members) => {
            if !v.is_object() {
                return Err(not_converted(v, "a Structure"));
            }
            check_members(v, members, &format!("{path}."), broken)?;
        }
    }
    Ok(())
}

fn length(n: u64, min: Option<u64>, max: Option<u64>) -> Option<String> {
    match (min, max) {
        (Some(lo), _) if n < lo => Some(format!("greater than or equal to {lo}")),
        (_, Some(hi)) if n > hi => Some(format!("less than or equal to {hi}")),
        _ => None,
    }
}

fn list_text(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn string<'a>(v: &'a Value, target: &str) -> Result<&'a str, KmsError> {
    v.as_str().ok_or_else(|| not_converted(v, target))
}

/// AWS's SerializationException for a value of the wrong JSON type.
fn not_converted(v: &Value, target: &str) -> KmsError {
    match v {
        Value::Object(_) => serialization("Start of structure or map found where not expected."),
        Value::Array(_) => serialization("Start of list found where not expected"),
        Value::String(_) => serialization(format!("STRING_VALUE can not be converted to {target}")),
        Value::Number(_) => serialization(format!("NUMBER_VALUE can not be converted to {target}")),
        Value::Bool(_) => serialization(format!("BOOLEAN_VALUE can not be converted to {target}")),
        Value::Null => serialization(format!("NULL_VALUE can not be converted to {target}")),
    }
}

fn serialization(message: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::Serialization, message)
}

/// The length of the bytes standard base64 `text` decodes to, if it is
/// well formed.
fn decoded_len(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    let body = &b[..b.len() - pad];
    let valid = pad <= 2
        && body
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/'));
    valid.then(|| (b.len() / 4 * 3 - pad) as u64)
}

/// Whether the whole of `text` matches the model's `pattern` (a Java
/// regular expression, which AWS matches against the whole value).
fn matches(pattern: &'static str, text: &str) -> bool {
    static CACHE: OnceLock<RwLock<HashMap<&'static str, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
    if let Some(r) = cache.read().unwrap_or_else(|p| p.into_inner()).get(pattern) {
        return r.as_ref().is_some_and(|r| r.is_match(text));
    }
    let compiled = Regex::new(&format!("^(?:{})$", java_to_rust(pattern))).ok();
    let ok = compiled.as_ref().is_some_and(|r| r.is_match(text));
    cache
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pattern, compiled);
    ok
}

/// Rewrites the Java regular-expression escapes the KMS model uses into
/// the `regex` crate's syntax: `\uXXXX` becomes `\x{XXXX}`; `\w` and `\d`
/// become their ASCII classes, as in Java.
pub(in crate::service) fn java_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                }
                Some('w') if in_class => out.push_str("0-9A-Za-z_"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_of_the_model_compile_and_match_as_java_would() {
        assert!(matches(r"[\w]+", "default"));
        assert!(!matches(r"[\w]+", "déjà"));
        assert!(!matches(r"[\w]+", "two words"));
        assert!(matches(r"[\u0020-\u00FF]*", "marker 12"));
        assert!(matches("^[a-zA-Z0-9:/_-]+$", "alias/a-b_c"));
        assert!(!matches("^[a-zA-Z0-9:/_-]+$", "alias/a b"));
        assert!(matches(
            r"^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$",
            "ec2.amazonaws.com"
        ));
        assert!(matches("^[a-zA-Z0-9-_.]+$", "key-id_1.2"));
        assert!(!matches("^[a-zA-Z0-9-_.]+$", "a^b"));
        assert!(matches(
            r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            "{\n\t\"Version\": \"2012-10-17\"}"
        ));
    }

    /// Every pattern of the served model compiles: a pattern that did not
    /// would refuse every value.
    #[test]
    fn every_pattern_of_the_model_compiles() {
        fn patterns(rule: &Rule, out: &mut Vec<&'static str>) {
            match rule {
                Rule::Text {
                    pattern: Some(p), ..
                } => out.push(p),
                Rule::List { item, .. } => patterns(item, out),
                Rule::Structure(members) => members.iter().for_each(|m| patterns(&m.rule, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        for op in crate::service::API_MODEL {
            op.members.iter().for_each(|m| patterns(&m.rule, &mut all));
        }
        assert!(all.len() > 10);
        for p in all {
            assert!(
                Regex::new(&format!("^(?:{})$", java_to_rust(p))).is_ok(),
                "{p}"
            );
        }
    }

    #[test]
    fn base64_lengths() {
        assert_eq!(decoded_len("AAAA"), Some(3));
        assert_eq!(decoded_len("AA=="), Some(1));
        assert_eq!(decoded_len(""), Some(0));
        assert_eq!(decoded_len("AA="), None);
        assert_eq!(decoded_len("A*=="), None);
    }
}
