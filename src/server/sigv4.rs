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

/// Lowercase hex of 32 bytes, on the stack.
fn hex32(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // INVARIANT: 32 bytes fill exactly 64 hex digits.
    let _ = hex::encode_to_slice(bytes, &mut out);
    out
}

/// Feeds `parts` to the hash with `sep` between them.
fn update_joined<'a>(h: &mut Sha256, sep: &[u8], parts: impl Iterator<Item = &'a str>) {
    for (i, part) in parts.enumerate() {
        if i > 0 {
            h.update(sep);
        }
        h.update(part);
    }
}

/// SHA-256 of the canonical request, hashed as it is written — method,
/// path, sorted query, the signed headers with their values' whitespace
/// collapsed, the signed header list, the body's hash — with no
/// intermediate strings; as lowercase hex.
fn canonical_request_hash(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    body_hash: &[u8; 64],
) -> Result<[u8; 64], SigError> {
    let mut h = Sha256::new();
    h.update(req.method);
    h.update(b"\n");
    h.update(if req.path.is_empty() { "/" } else { req.path });
    h.update(b"\n");
    if !req.query.is_empty() {
        let mut pairs: Vec<(&str, &str)> = req
            .query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        pairs.sort_unstable();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                h.update(b"&");
            }
            update_joined(&mut h, b"=", [*k, *v].into_iter());
        }
    }
    h.update(b"\n");
    for name in signed_headers {
        h.update(name);
        h.update(b":");
        let mut values = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .peekable();
        if values.peek().is_none() {
            return Err(SigError::Malformed(format!(
                "signed header `{name}` is missing"
            )));
        }
        for (i, (_, v)) in values.enumerate() {
            if i > 0 {
                h.update(b",");
            }
            // Runs of spaces collapse to one, and the value is trimmed.
            update_joined(&mut h, b" ", v.split_whitespace());
        }
        h.update(b"\n");
    }
    h.update(b"\n");
    update_joined(&mut h, b";", signed_headers.iter().copied());
    h.update(b"\n");
    h.update(body_hash);
    Ok(hex32(&h.finalize()))
}

/// The signature: HMAC-SHA256 under the signing key of the string to
/// sign, fed to the MAC piece by piece; as lowercase hex.
fn signature(
    key: &[u8],
    amz_date: &str,
    date: &str,
    region: &str,
    service: &str,
    canonical_hash: &[u8; 64],
) -> [u8; 64] {
    // INVARIANT: HMAC accepts keys of any length.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in [
        "AWS4-HMAC-SHA256\n".as_bytes(),
        amz_date.as_bytes(),
        b"\n",
        date.as_bytes(),
        b"/",
        region.as_bytes(),
        b"/",
        service.as_bytes(),
        b"/aws4_request\n",
        canonical_hash,
    ] {
        mac.update(part);
    }
    hex32(&mac.finalize().into_bytes())
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
    let mut parts = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
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
    keys: std::sync::Mutex<std::collections::HashMap<String, CachedKey>>,
}

struct CachedKey {
    secret: zeroize::Zeroizing<Vec<u8>>,
    key: zeroize::Zeroizing<Vec<u8>>,
}

/// How many signing keys [`SigningKeys`] keeps (one per access key, day,
/// Region and service in use); past it, the cache starts over.
const MAX_SIGNING_KEYS: usize = 4096;

impl SigningKeys {
    fn get(&self, scope: &str, secret: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let c = keys.get(scope)?;
        bool::from(c.secret.as_slice().ct_eq(secret)).then(|| c.key.clone())
    }

    fn put(&self, scope: String, secret: &[u8], key: &[u8]) {
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

/// What a signing key is cached under: access key, date, Region and
/// service (none of which holds a NUL).
fn scope_key(access_key_id: &str, date: &str, region: &str, service: &str) -> String {
    let mut k =
        String::with_capacity(access_key_id.len() + date.len() + region.len() + service.len() + 3);
    for (i, part) in [access_key_id, date, region, service].iter().enumerate() {
        if i > 0 {
            k.push('\0');
        }
        k.push_str(part);
    }
    k
}

/// Verifies a request's SigV4 signature. `secret_for` looks up the secret
/// of an access key id (borrowed where the caller holds it, so the secret
/// is not copied per request); `now` is Unix seconds.
pub fn verify<S: AsRef<[u8]>>(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<S>,
    now: i64,
) -> Result<Verified, SigError> {
    verify_with(req, secret_for, now, None)
}

/// [`verify`], deriving signing keys through `cache`.
pub fn verify_cached<S: AsRef<[u8]>>(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<S>,
    now: i64,
    cache: &SigningKeys,
) -> Result<Verified, SigError> {
    verify_with(req, secret_for, now, Some(cache))
}

fn verify_with<S: AsRef<[u8]>>(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<S>,
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
    let secret = secret.as_ref();
    if let Some(name) = unsigned_header(req.headers, &a.signed_headers) {
        return Err(SigError::Unsigned(name));
    }
    let body_hash = hex32(&Sha256::digest(req.body));
    if header(req.headers, "x-amz-content-sha256")
        .is_some_and(|claimed| claimed.as_bytes() != body_hash.as_slice())
    {
        return Err(SigError::BadSignature);
    }
    let canonical_hash = canonical_request_hash(req, &a.signed_headers, &body_hash)?;
    let scope_key = scope_key(a.access_key_id, a.date, a.region, a.service);
    let cached = cache.and_then(|c| c.get(&scope_key, secret));
    let fresh = cached.is_none();
    let key = match cached {
        Some(k) => k,
        None => zeroize::Zeroizing::new(signing_key(secret, a.date, a.region, a.service)),
    };
    let expected = signature(&key, amz_date, a.date, a.region, a.service, &canonical_hash);
    if expected.as_slice().ct_eq(a.signature.as_bytes()).into() {
        if let (Some(c), true) = (cache, fresh) {
            c.put(scope_key, secret, &key);
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
    let signed: Vec<&str> = names.iter().map(String::as_str).collect();
    let amz_date = header(headers, "x-amz-date").unwrap_or("");
    let date = amz_date.get(..8).unwrap_or("");
    let req = SignedRequest {
        method,
        path,
        query: "",
        headers,
        body,
    };
    let body_hash = hex32(&Sha256::digest(body));
    // Every header given is signed, so none is missing.
    let canonical_hash = canonical_request_hash(&req, &signed, &body_hash).unwrap_or([b'0'; 64]);
    let key = signing_key(secret, date, region, service);
    let sig = signature(&key, amz_date, date, region, service, &canonical_hash);
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={}",
        signed.join(";"),
        String::from_utf8_lossy(&sig)
    )
}
