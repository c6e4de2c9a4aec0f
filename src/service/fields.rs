//! Reading members of a JSON request and shaping paged responses, with AWS's error types.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use super::{ErrorKind, KmsError};

pub(super) fn s<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v)),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a string"),
        )),
    }
}

pub(super) fn required<'a>(input: &'a Value, field: &str) -> Result<&'a str, KmsError> {
    s(input, field)?.ok_or_else(|| {
        KmsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(field)
        ))
    })
}

pub(super) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

pub(super) fn int(input: &Value, field: &str) -> Result<Option<i64>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            KmsError::new(
                ErrorKind::Serialization,
                format!("`{field}` must be an integer"),
            )
        }),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a number"),
        )),
    }
}

pub(super) fn boolean(input: &Value, field: &str) -> Result<bool, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be a boolean"),
        )),
    }
}

pub(super) fn blob_field(input: &Value, field: &str) -> Result<Option<Vec<u8>>, KmsError> {
    s(input, field)?
        .map(|text| {
            B64.decode(text).map_err(|_| {
                KmsError::new(ErrorKind::Serialization, format!("`{field}` is not base64"))
            })
        })
        .transpose()
}

pub(super) fn context_field(
    input: &Value,
    field: &str,
) -> Result<BTreeMap<String, String>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                _ => Err(KmsError::new(
                    ErrorKind::Serialization,
                    format!("`{field}` values must be strings"),
                )),
            })
            .collect(),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be an object of strings"),
        )),
    }
}

pub(super) fn strings(input: &Value, field: &str) -> Result<Vec<String>, KmsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::Serialization,
                        format!("`{field}` must hold strings"),
                    )
                })
            })
            .collect(),
        Some(_) => Err(KmsError::new(
            ErrorKind::Serialization,
            format!("`{field}` must be an array"),
        )),
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// AWS's ValidationException for a number outside its range.
pub(super) fn in_range(value: i64, lo: i64, hi: i64, member: &str) -> Result<(), KmsError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(KmsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value between {lo} and {hi}"
        )))
    }
}

pub(super) fn paginate(
    items: Vec<Value>,
    input: &Value,
) -> Result<(Vec<Value>, Option<String>), KmsError> {
    let limit = int(input, "Limit")?.unwrap_or(100);
    in_range(limit, 1, 1000, "limit")?;
    let start = match s(input, "Marker")? {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "The marker is not valid"))?,
        None => 0,
    };
    let limit = usize::try_from(limit).unwrap_or(100);
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

pub(super) fn page_response(field: &str, page: Vec<Value>, next: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert(field.into(), Value::Array(page));
    out.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        out.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(out)
}

/// The KMS API model's length limits on string members, checked before
/// anything else reads the request (so an oversized member is neither
/// looked up nor echoed): member, minimum, maximum.
const LENGTHS: &[(&str, usize, usize)] = &[
    ("KeyId", 1, 2048),
    ("TargetKeyId", 1, 2048),
    ("SourceKeyId", 1, 2048),
    ("DestinationKeyId", 1, 2048),
    ("AliasName", 1, 256),
    ("GrantId", 1, 128),
    ("GrantToken", 1, 8192),
    ("GranteePrincipal", 1, 256),
    ("RetiringPrincipal", 1, 256),
    ("Name", 1, 256),
    ("Description", 0, 8192),
    ("PolicyName", 1, 128),
    ("Policy", 1, 131_072),
    ("Marker", 1, 1024),
];

/// AWS's ValidationException for a string member outside its length range.
pub(super) fn check_lengths(input: &Value) -> Result<(), KmsError> {
    for (member, min, max) in LENGTHS {
        let Some(Value::String(v)) = input.get(*member) else {
            continue;
        };
        let n = v.chars().count();
        if n < *min || n > *max {
            let bound = if n > *max {
                format!("less than or equal to {max}")
            } else {
                format!("greater than or equal to {min}")
            };
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length {bound}",
                lower_first(member)
            )));
        }
    }
    Ok(())
}
