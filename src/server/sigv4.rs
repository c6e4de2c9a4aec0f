//! AWS Signature Version 4, verified: canonical request, string to sign,
//! signing key, constant-time comparison.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far a request's `X-Amz-Date` may be from the server's clock (KMS
/// accepts five minutes either way).
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The parts of an HTTP request that SigV4 signs.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path, as sent (already URI-encoded).
    pub path: &'a str,
    /// The query string without `?`, as sent.
    pub query: &'a str,
    /// Every header, names in any case, in arrival order.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    pub security_token: Option<String>,
}

/// Why a request was refused, with the AWS error it maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Malformed(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey(String),
    #[error(
        "Signature expired: {0} is now earlier or later than the server time by more than 5 minutes"
    )]
    Skew(String),
    #[error(
        "Credential should be scoped to a valid date: the credential date {scope} does not match X-Amz-Date {date}"
    )]
    DateMismatch { scope: String, date: String },
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    BadSignature,
    /// A header that changes the request's meaning is present but not
    /// signed (its display name, e.g. `X-Amz-Target`).
    #[error("{}", unsigned_message(.0))]
    Unsigned(String),
}

fn unsigned_message(name: &str) -> String {
    if name == "Host" {
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned()
    } else {
        format!("'{name}' must be a 'SignedHeader' in the AWS Authorization.")
    }
}

/// The first header that changes what a request means and is not among the
/// signed headers: `host`; `x-amz-date` (or `date` without it);
/// `content-type`; and every `x-amz-*` and `x-keyward-*` header present
/// (`x-amz-target` names the operation, `x-keyward-on-behalf-of` the
/// principal a service acts for). An unsigned one could be changed in
/// flight without breaking the signature.
fn unsigned_header(headers: &[(String, String)], signed: &[&str]) -> Option<String> {
    let is_signed = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
    let present = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    // A fixed order, so the error names the same header whatever order the
    // headers arrived in.
    let mut required: Vec<String> = vec!["host".into()];
    if !present("x-amz-date") {
        required.push("date".into());
    }
    let mut others: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| k == "content-type" || k.starts_with("x-amz-") || k.starts_with("x-keyward-"))
        .collect();
    others.sort_by_key(|k| {
        (
            k != "x-amz-date",
            k != "x-amz-target",
            k != "content-type",
            k.clone(),
        )
    });
    others.dedup();
    required.extend(others);
    required
        .into_iter()
        .find(|name| !is_signed(name))
        .map(|name| display_name(&name))
}

/// `x-amz-target` → `X-Amz-Target`.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

impl SigError {
    /// The `__type` AWS KMS answers with.
    pub fn aws_type(&self) -> &'static str {
        match self {
            SigError::Missing => "MissingAuthenticationTokenException",
            SigError::UnknownKey(_) => "UnrecognizedClientException",
            SigError::Malformed(_) => "IncompleteSignatureException",
            SigError::Skew(_)
            | SigError::DateMismatch { .. }
            | SigError::BadSignature
            | SigError::Unsigned(_) => "InvalidSignatureException",
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // INVARIANT: HMAC accepts keys of any length.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signing key for a secret, date (YYYYMMDD), region and service.
pub fn signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> Vec<u8> {
    let mut k = b"AWS4".to_vec();
    k.extend_from_slice(secret);
    let k = hmac(&k, date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// Collapses runs of spaces and trims, as SigV4 canonicalizes header values.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigError> {
    let malformed = |m: &str| SigError::Malformed(m.to_owned());
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| malformed("only AWS4-HMAC-SHA256 is supported"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential
        .ok_or_else(|| malformed("Authorization header requires 'Credential' parameter."))?;
    let signed = signed
        .ok_or_else(|| malformed("Authorization header requires 'SignedHeaders' parameter."))?;
    let signature = signature
        .ok_or_else(|| malformed("Authorization header requires 'Signature' parameter."))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(malformed(
            "Credential must be ACCESS_KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// SigV4 signing keys (four HMACs each) by access key, date, Region and
/// service, derived once and kept: only after a request signed with them
/// verified, so no unauthenticated request adds an entry; bounded, and
/// each entry holds the secret it came from, so a changed secret is never
/// answered from the cache. Keys and secrets are wiped on drop and never
/// printed.
#[derive(Default)]
pub struct SigningKeys {
    keys: std::sync::Mutex<std::collections::HashMap<(String, String, String, String), CachedKey>>,
}

struct CachedKey {
    secret: zeroize::Zeroizing<Vec<u8>>,
    key: zeroize::Zeroizing<Vec<u8>>,
}

/// How many signing keys [`SigningKeys`] keeps (one per access key, day,
/// Region and service in use); past it, the cache starts over.
const MAX_SIGNING_KEYS: usize = 4096;

impl SigningKeys {
    fn get(
        &self,
        scope: &(String, String, String, String),
        secret: &[u8],
    ) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let c = keys.get(scope)?;
        bool::from(c.secret.as_slice().ct_eq(secret)).then(|| c.key.clone())
    }

    fn put(&self, scope: (String, String, String, String), secret: &[u8], key: &[u8]) {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_SIGNING_KEYS {
            keys.clear();
        }
        keys.insert(
            scope,
            CachedKey {
                secret: zeroize::Zeroizing::new(secret.to_vec()),
                key: zeroize::Zeroizing::new(key.to_vec()),
            },
        );
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Verifies a request's SigV4 signature. `secret_for` looks up the secret
/// of an access key id; `now` is Unix seconds.
pub fn verify(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<Vec<u8>>,
    now: i64,
) -> Result<Verified, SigError> {
    verify_with(req, secret_for, now, None)
}

/// [`verify`], deriving signing keys through `cache`.
pub fn verify_cached(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<Vec<u8>>,
    now: i64,
    cache: &SigningKeys,
) -> Result<Verified, SigError> {
    verify_with(req, secret_for, now, Some(cache))
}

fn verify_with(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<Vec<u8>>,
    now: i64,
    cache: Option<&SigningKeys>,
) -> Result<Verified, SigError> {
    let auth = header(req.headers, "authorization").ok_or(SigError::Missing)?;
    let a = parse_authorization(auth)?;
    let amz_date = header(req.headers, "x-amz-date")
        .ok_or_else(|| SigError::Malformed("X-Amz-Date is required".into()))?;
    let when = time::PrimitiveDateTime::parse(
        amz_date,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    )
    .map_err(|_| {
        SigError::Malformed(format!(
            "X-Amz-Date `{amz_date}` is not YYYYMMDD'T'HHMMSS'Z'"
        ))
    })?
    .assume_utc()
    .unix_timestamp();
    if !amz_date.starts_with(a.date) || a.date.len() != 8 {
        return Err(SigError::DateMismatch {
            scope: a.date.to_owned(),
            date: amz_date.to_owned(),
        });
    }
    if (now - when).abs() > MAX_SKEW_SECONDS {
        return Err(SigError::Skew(amz_date.to_owned()));
    }
    let secret = secret_for(a.access_key_id)
        .ok_or_else(|| SigError::UnknownKey(a.access_key_id.to_owned()))?;
    if let Some(name) = unsigned_header(req.headers, &a.signed_headers) {
        return Err(SigError::Unsigned(name));
    }
    let mut canonical_headers = String::new();
    for name in &a.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_value(v))
            .collect();
        if values.is_empty() {
            return Err(SigError::Malformed(format!(
                "signed header `{name}` is missing"
            )));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let body_hash = sha256_hex(req.body);
    if header(req.headers, "x-amz-content-sha256").is_some_and(|claimed| claimed != body_hash) {
        return Err(SigError::BadSignature);
    }
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        if req.path.is_empty() { "/" } else { req.path },
        canonical_query(req.query),
        canonical_headers,
        a.signed_headers.join(";"),
        body_hash
    );
    let scope = format!("{}/{}/{}/aws4_request", a.date, a.region, a.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let scope_key = (
        a.access_key_id.to_owned(),
        a.date.to_owned(),
        a.region.to_owned(),
        a.service.to_owned(),
    );
    let cached = cache.and_then(|c| c.get(&scope_key, &secret));
    let fresh = cached.is_none();
    let key = match cached {
        Some(k) => k,
        None => zeroize::Zeroizing::new(signing_key(&secret, a.date, a.region, a.service)),
    };
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    if expected.as_bytes().ct_eq(a.signature.as_bytes()).into() {
        if let (Some(c), true) = (cache, fresh) {
            c.put(scope_key, &secret, &key);
        }
        Ok(Verified {
            access_key_id: a.access_key_id.to_owned(),
            region: a.region.to_owned(),
            service: a.service.to_owned(),
            security_token: header(req.headers, "x-amz-security-token").map(str::to_owned),
        })
    } else {
        Err(SigError::BadSignature)
    }
}

/// Signs a request (for clients and load tools): the `Authorization` header
/// value over every header given, which must include `host` and
/// `x-amz-date`.
#[allow(clippy::too_many_arguments)]
pub fn authorization(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key_id: &str,
    secret: &[u8],
    region: &str,
    service: &str,
) -> String {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    let amz_date = header(headers, "x-amz-date").unwrap_or("");
    let date = amz_date.get(..8).unwrap_or("");
    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_value(v))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = format!(
        "{method}\n{path}\n\n{canonical_headers}\n{}\n{}",
        names.join(";"),
        sha256_hex(body)
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(secret, date, region, service);
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={}",
        names.join(";"),
        hex::encode(hmac(&key, string_to_sign.as_bytes()))
    )
}
