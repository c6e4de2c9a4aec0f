//! SigV4 verification against the AWS signing test suite, and the ways a
//! request is refused.

use keyward::server::sigv4::{self, SigError, SignedRequest};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z, the suite's signing time.
const SUITE_TIME: i64 = 1_440_938_160;

struct Parsed {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse(text: &str) -> Parsed {
    let (head, body) = text.split_once("\n\n").expect("blank line after headers");
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let mut parts = request_line.split(' ');
    let method = parts.next().expect("method").to_owned();
    let target = parts.next().expect("target");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    Parsed {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn signed(p: &Parsed) -> SignedRequest<'_> {
    SignedRequest {
        method: &p.method,
        path: &p.path,
        query: &p.query,
        headers: &p.headers,
        body: &p.body,
    }
}

fn check(p: &Parsed, now: i64) -> Result<sigv4::Verified, SigError> {
    let req = signed(p);
    sigv4::verify(
        &req,
        |k| (k == "AKIDEXAMPLE").then(|| SECRET.as_bytes().to_vec()),
        now,
    )
}

const CASES: &[&str] = &[
    "post-vanilla",
    "post-header-key-sort",
    "post-header-value-case",
    "post-x-www-form-urlencoded",
    "get-header-value-trim",
    "get-header-key-duplicate",
    "get-vanilla-with-session-token",
];

fn vector(name: &str) -> Parsed {
    let path = format!("{}/tests/data/sigv4/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    parse(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

#[test]
fn aws_test_suite_signatures_verify() {
    for name in CASES {
        let v = check(&vector(name), SUITE_TIME).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (v.region.as_str(), v.service.as_str()),
            ("us-east-1", "service"),
            "{name}"
        );
    }
    let token = check(&vector("get-vanilla-with-session-token"), SUITE_TIME).expect("token");
    assert!(token.security_token.is_some());
}

#[test]
fn any_change_breaks_the_signature() {
    for name in CASES {
        let mut p = vector(name);
        // Change a signed header's value.
        if let Some(h) = p
            .headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            h.1 = "evil.example.com".into();
        }
        assert_eq!(
            check(&p, SUITE_TIME).err(),
            Some(SigError::BadSignature),
            "{name}"
        );
    }
    let mut p = vector("post-x-www-form-urlencoded");
    p.body = b"Param1=value2".to_vec();
    assert_eq!(
        check(&p, SUITE_TIME).err(),
        Some(SigError::BadSignature),
        "body changed"
    );
    let mut p = vector("post-vanilla");
    p.method = "PUT".into();
    assert_eq!(
        check(&p, SUITE_TIME).err(),
        Some(SigError::BadSignature),
        "method changed"
    );
}

#[test]
fn refusals() {
    let p = vector("post-vanilla");
    // Clock skew beyond five minutes, either way.
    assert!(matches!(
        check(&p, SUITE_TIME + 301),
        Err(SigError::Skew(_))
    ));
    assert!(matches!(
        check(&p, SUITE_TIME - 301),
        Err(SigError::Skew(_))
    ));
    assert!(check(&p, SUITE_TIME + 299).is_ok());
    // Unknown access key.
    let mut unknown = vector("post-vanilla");
    for h in &mut unknown.headers {
        if h.0 == "Authorization" {
            h.1 = h.1.replace("AKIDEXAMPLE", "AKIDOTHER");
        }
    }
    assert!(
        matches!(check(&unknown, SUITE_TIME), Err(SigError::UnknownKey(k)) if k == "AKIDOTHER")
    );
    // Credential scope date that differs from X-Amz-Date.
    let mut scope = vector("post-vanilla");
    for h in &mut scope.headers {
        if h.0 == "Authorization" {
            h.1 = h.1.replace("/20150830/", "/20150831/");
        }
    }
    assert!(matches!(
        check(&scope, SUITE_TIME),
        Err(SigError::DateMismatch { .. })
    ));
    // No Authorization at all.
    let mut none = vector("post-vanilla");
    none.headers.retain(|(k, _)| k != "Authorization");
    assert_eq!(check(&none, SUITE_TIME).err(), Some(SigError::Missing));
    assert_eq!(
        SigError::BadSignature.aws_type(),
        "InvalidSignatureException"
    );
    assert_eq!(
        SigError::UnknownKey(String::new()).aws_type(),
        "UnrecognizedClientException"
    );
}

#[test]
fn signing_reproduces_the_suite_and_verifies() {
    // post-vanilla, signed by our signer, gives the suite's signature.
    let headers = vec![
        ("Host".to_owned(), "example.amazonaws.com".to_owned()),
        ("X-Amz-Date".to_owned(), "20150830T123600Z".to_owned()),
    ];
    let auth = sigv4::authorization(
        "POST",
        "/",
        &headers,
        b"",
        "AKIDEXAMPLE",
        SECRET.as_bytes(),
        "us-east-1",
        "service",
    );
    assert!(
        auth.ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ),
        "{auth}"
    );
    let mut signed = headers.clone();
    signed.push(("Authorization".into(), auth));
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &signed,
        body: b"",
    };
    assert!(sigv4::verify(&req, |_| Some(SECRET.as_bytes().to_vec()), SUITE_TIME).is_ok());
}

/// Every header that changes a request's meaning must be signed: one added
/// after signing is refused, naming it, whatever its value.
#[test]
fn meaningful_headers_must_be_signed() {
    for (name, value, shown) in [
        ("X-Amz-Target", "TrentService.DisableKey", "X-Amz-Target"),
        ("Content-Type", "application/x-amz-json-1.1", "Content-Type"),
        (
            "X-Keyward-On-Behalf-Of",
            "arn:aws:iam::111122223333:role/App",
            "X-Keyward-On-Behalf-Of",
        ),
        ("x-amz-security-token", "token", "X-Amz-Security-Token"),
    ] {
        let mut p = vector("post-vanilla");
        p.headers.push((name.to_owned(), value.to_owned()));
        let refused = check(&p, SUITE_TIME).err();
        assert_eq!(
            refused,
            Some(SigError::Unsigned(shown.to_owned())),
            "{name}"
        );
        let e = SigError::Unsigned(shown.to_owned());
        assert_eq!(e.aws_type(), "InvalidSignatureException");
        assert_eq!(
            e.to_string(),
            format!("'{shown}' must be a 'SignedHeader' in the AWS Authorization.")
        );
    }
    // Host must always be signed.
    let mut p = vector("post-vanilla");
    for h in &mut p.headers {
        if h.0 == "Authorization" {
            h.1 =
                h.1.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
        }
    }
    assert_eq!(
        check(&p, SUITE_TIME).err().map(|e| e.to_string()),
        Some("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into())
    );
    // Headers that change nothing (User-Agent) may stay unsigned.
    let mut p = vector("post-vanilla");
    p.headers.push(("User-Agent".into(), "boto3".into()));
    assert!(check(&p, SUITE_TIME).is_ok());
}

/// The signing-key cache: filled only by requests that verified, never
/// answers for a secret other than the one its key came from, and gives
/// the same answers as deriving the key every time.
#[test]
fn signing_keys_are_cached_only_after_a_signature_verifies() {
    let cache = sigv4::SigningKeys::default();
    let secret_of =
        |s: &'static str| move |k: &str| (k == "AKIDEXAMPLE").then(|| s.as_bytes().to_vec());
    let cached = |p: &Parsed, secret: &'static str| {
        sigv4::verify_cached(&signed(p), secret_of(secret), SUITE_TIME, &cache)
    };
    let mut tampered = vector("post-vanilla");
    tampered.body = b"changed".to_vec();
    assert!(cached(&tampered, SECRET).is_err());
    assert!(cached(&vector("post-vanilla"), "not-the-secret").is_err());
    assert!(cache.is_empty(), "failed verifications add nothing");
    for name in CASES {
        assert_eq!(
            cached(&vector(name), SECRET).map(|v| v.access_key_id),
            check(&vector(name), SUITE_TIME).map(|v| v.access_key_id),
            "{name}"
        );
    }
    assert_eq!(cache.len(), 1, "one access key, day, Region and service");
    // The same access key with another secret (a rotated identity) is not
    // answered from the cache: its signature is checked, and fails.
    assert!(cached(&vector("post-vanilla"), "a-rotated-secret").is_err());
    assert!(cached(&vector("post-vanilla"), SECRET).is_ok());
}
