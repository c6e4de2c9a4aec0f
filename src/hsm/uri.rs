//! PKCS#11 URIs (RFC 7512): which module, token and object a key lives in.
//!
//! ```text
//! pkcs11:token=keyward;object=keyward-root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/keyward/pin
//! ```
//!
//! The path names the token and the object; the query names the module and
//! where the PIN comes from. [`Pkcs11Uri`]'s `Display` leaves `pin-value`
//! out, so what keyward writes down never holds a PIN.

use std::fmt;
use std::path::PathBuf;

/// Where the PKCS#11 module of a URI is looked for by `module-name`.
const MODULE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib/pkcs11",
    "/usr/local/lib/softhsm",
];

/// A parsed PKCS#11 URI.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Pkcs11Uri {
    /// Path attributes in the order given (`token`, `object`, `id`, ...).
    path: Vec<(String, String)>,
    /// Query attributes in the order given, `pin-value` included.
    query: Vec<(String, String)>,
}

/// Why a PKCS#11 URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("a PKCS#11 URI starts with `pkcs11:`")]
    Scheme,
    #[error("`{0}` is not an attribute=value pair")]
    Pair(String),
    #[error("the attribute `{0}` appears twice")]
    Repeated(String),
    #[error("`{0}` is not a PKCS#11 URI path attribute (RFC 7512)")]
    UnknownPath(String),
    #[error("`{0}` is not a PKCS#11 URI query attribute (RFC 7512)")]
    UnknownQuery(String),
    #[error("bad percent-encoding in `{0}`")]
    Percent(String),
    #[error("the URI names no {0}")]
    Missing(&'static str),
    #[error("`type={0}`: keyward's keys are AES secret keys (`type=secret-key`)")]
    Type(String),
    #[error("no PKCS#11 module `{0}` in {dirs}", dirs = MODULE_DIRS.join(", "))]
    ModuleName(String),
}

const PATH_ATTRS: &[&str] = &[
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "object",
    "type",
    "id",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
];
const QUERY_ATTRS: &[&str] = &["pin-source", "pin-value", "module-name", "module-path"];

impl Pkcs11Uri {
    pub fn parse(text: &str) -> Result<Pkcs11Uri, UriError> {
        let rest = text
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("pkcs11:"))
            .and_then(|_| text.get(7..))
            .ok_or(UriError::Scheme)?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let uri = Pkcs11Uri {
            path: attributes(path, ';', PATH_ATTRS, UriError::UnknownPath)?,
            query: attributes(query, '&', QUERY_ATTRS, UriError::UnknownQuery)?,
        };
        if let Some(t) = uri.attr("type")
            && t != "secret-key"
        {
            return Err(UriError::Type(t.to_owned()));
        }
        Ok(uri)
    }

    /// A path attribute's decoded value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        find(&self.path, name)
    }

    /// A query attribute's decoded value.
    pub fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    pub fn token(&self) -> Result<&str, UriError> {
        self.attr("token")
            .ok_or(UriError::Missing("token (`token=`)"))
    }

    pub fn object(&self) -> Result<&str, UriError> {
        self.attr("object")
            .ok_or(UriError::Missing("object (`object=`)"))
    }

    /// The module to load: `module-path`, else `module-name` looked up in
    /// the usual directories.
    pub fn module(&self) -> Result<PathBuf, UriError> {
        if let Some(p) = self.query("module-path") {
            return Ok(PathBuf::from(p));
        }
        let name = self.query("module-name").ok_or(UriError::Missing(
            "module (`module-path=` or `module-name=`)",
        ))?;
        let file = if name.ends_with(".so") {
            name.to_owned()
        } else {
            format!("{name}.so")
        };
        MODULE_DIRS
            .iter()
            .flat_map(|d| {
                [
                    PathBuf::from(d).join(&file),
                    PathBuf::from(d).join(format!("lib{file}")),
                ]
            })
            .find(|p| p.exists())
            .ok_or_else(|| UriError::ModuleName(name.to_owned()))
    }

    /// The same URI without its `pin-value`.
    pub fn without_pin(&self) -> Pkcs11Uri {
        let mut u = self.clone();
        u.query.retain(|(k, _)| k != "pin-value");
        u
    }
}

fn find<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn attributes(
    text: &str,
    sep: char,
    known: &[&str],
    unknown: fn(String) -> UriError,
) -> Result<Vec<(String, String)>, UriError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split(sep).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| UriError::Pair(pair.to_owned()))?;
        let k = k.to_ascii_lowercase();
        // Vendor attributes (`x-...`) are allowed and ignored.
        if k.starts_with("x-") {
            continue;
        }
        if !known.contains(&k.as_str()) {
            return Err(unknown(k));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(UriError::Repeated(k));
        }
        let v = decode(v).ok_or_else(|| UriError::Percent(pair.to_owned()))?;
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes what is not an RFC 7512 `pchar`/`qchar` (path values
/// may not hold `;` `?`, query values may not hold `&` `?`).
fn encode(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for &c in s.as_bytes() {
        let plain = c.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,=/|".contains(&c);
        if plain {
            write!(f, "{}", char::from(c))?;
        } else {
            write!(f, "%{c:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Pkcs11Uri {
    /// The URI as text, never with its `pin-value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:")?;
        for (i, (k, v)) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{k}=")?;
            encode(v, f)?;
        }
        let query: Vec<_> = self
            .query
            .iter()
            .filter(|(k, _)| k != "pin-value")
            .collect();
        for (i, (k, v)) in query.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{k}=")?;
            encode(v, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Uri {
    /// As `Display`: no PIN in logs or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_and_query_and_forgets_the_pin() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=key%20ward;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap_or_default();
        assert_eq!(u.token(), Ok("key ward"));
        assert_eq!(u.object(), Ok("root"));
        assert_eq!(u.query("pin-value"), Some("1234"));
        assert_eq!(
            u.module(),
            Ok(PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
        );
        let shown = u.to_string();
        assert_eq!(
            shown,
            "pkcs11:token=key%20ward;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so"
        );
        assert!(!format!("{u:?}").contains("1234"));
        assert_eq!(Pkcs11Uri::parse(&shown), Ok(u.without_pin()));
    }

    #[test]
    fn refuses_what_rfc_7512_does_not_define() {
        let cases = [
            ("token=a", UriError::Scheme),
            ("pkcs11:token", UriError::Pair("token".into())),
            ("pkcs11:token=a;token=b", UriError::Repeated("token".into())),
            ("pkcs11:label=a", UriError::UnknownPath("label".into())),
            ("pkcs11:token=a?pin=1", UriError::UnknownQuery("pin".into())),
            ("pkcs11:token=a%2", UriError::Percent("token=a%2".into())),
            (
                "pkcs11:token=a;type=private",
                UriError::Type("private".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Pkcs11Uri::parse(text), Err(want), "{text}");
        }
        let u = Pkcs11Uri::parse("PKCS11:token=a;x-vendor=1").unwrap_or_default();
        assert_eq!(u.token(), Ok("a"));
        assert!(u.object().is_err());
        assert!(u.module().is_err());
    }
}
