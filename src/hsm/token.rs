//! One PKCS#11 token, logged in, with a pool of sessions.
//!
//! A module (the `.so`) is loaded and initialized once per process and
//! shared by every token it serves. A token is found by its label (and
//! serial, manufacturer or model when the URI names them). Sessions are
//! taken from a pool for one call and given back; a session the token
//! dropped (device removed, token restarted) is discarded, and the next
//! call opens and logs in a new one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::Pkcs11Uri;
use crate::crypto::Secret;

/// A token operation that failed, said as a user can act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HsmError {
    #[error("{0}")]
    Uri(#[from] super::UriError),
    #[error("cannot load the PKCS#11 module {path}: {reason}")]
    Module { path: String, reason: String },
    #[error(
        "no PKCS#11 token labelled `{label}` in {module} (is this the machine with the token?)"
    )]
    NoToken { label: String, module: String },
    #[error("{count} PKCS#11 tokens are labelled `{label}`; name one by `serial=` in the URI")]
    AmbiguousToken { label: String, count: usize },
    #[error("cannot log in to the PKCS#11 token `{token}`: {reason}")]
    Login { token: String, reason: String },
    #[error("no secret key labelled `{label}` in the PKCS#11 token `{token}`")]
    NoKey { token: String, label: String },
    #[error("{count} secret keys are labelled `{label}` in the PKCS#11 token `{token}`")]
    AmbiguousKey {
        token: String,
        label: String,
        count: usize,
    },
    #[error(
        "no PIN for the PKCS#11 token `{0}`: give `pin-source=file:PATH` or `pin-value=` in the URI, or set KEYWARD_PKCS11_PIN"
    )]
    NoPin(String),
    #[error("cannot read the PIN from {path}: {reason}")]
    PinSource { path: String, reason: String },
    /// The token refused a ciphertext (wrong key, tampered bytes).
    #[error("the token could not authenticate the ciphertext")]
    Authentication,
    #[error("PKCS#11 {op} failed on the token `{token}`: {reason}")]
    Call {
        op: &'static str,
        token: String,
        reason: String,
    },
}

/// Loaded and initialized modules, by path: a module is initialized once
/// per process.
fn module(path: &Path) -> Result<Pkcs11, HsmError> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let fail = |e: CkError| HsmError::Module {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let m = Pkcs11::new(path).map_err(fail)?;
    match m.initialize(CInitializeArgs::OsThreads) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(e)),
    }
    modules.insert(path.to_owned(), m.clone());
    Ok(m)
}

/// The PIN a URI names: `pin-value`, else the file of `pin-source`, else
/// `KEYWARD_PKCS11_PIN`.
pub fn pin_for(uri: &Pkcs11Uri) -> Result<AuthPin, HsmError> {
    if let Some(v) = uri.query("pin-value") {
        return Ok(AuthPin::new(v.to_owned()));
    }
    if let Some(src) = uri.query("pin-source") {
        let path = src.strip_prefix("file:").unwrap_or(src);
        let path = path.strip_prefix("//").unwrap_or(path);
        let text = std::fs::read_to_string(path).map_err(|e| HsmError::PinSource {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        return Ok(AuthPin::new(text.trim_end_matches(['\r', '\n']).to_owned()));
    }
    match std::env::var("KEYWARD_PKCS11_PIN") {
        Ok(v) if !v.is_empty() => Ok(AuthPin::new(v)),
        _ => Err(HsmError::NoPin(uri.token().unwrap_or("?").to_owned())),
    }
}

/// A logged-in token.
pub struct Token {
    module: Pkcs11,
    slot: Slot,
    label: String,
    pin: AuthPin,
    sessions: Mutex<Vec<Session>>,
}

impl Token {
    /// Finds the token the URI names and logs in with `pin`.
    pub fn open(uri: &Pkcs11Uri, pin: AuthPin) -> Result<Token, HsmError> {
        let label = uri.token()?;
        let path = uri.module()?;
        let module = module(&path)?;
        let call = |op| {
            move |e: CkError| HsmError::Call {
                op,
                token: label.to_owned(),
                reason: reason(&e),
            }
        };
        let mut found = Vec::new();
        for slot in module
            .get_slots_with_initialized_token()
            .map_err(call("C_GetSlotList"))?
        {
            let info = module
                .get_token_info(slot)
                .map_err(call("C_GetTokenInfo"))?;
            let matches = info.label().trim_end() == label
                && uri
                    .attr("serial")
                    .is_none_or(|s| info.serial_number().trim_end() == s)
                && uri
                    .attr("manufacturer")
                    .is_none_or(|s| info.manufacturer_id().trim_end() == s)
                && uri
                    .attr("model")
                    .is_none_or(|s| info.model().trim_end() == s);
            if matches {
                found.push(slot);
            }
        }
        let slot = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(HsmError::NoToken {
                    label: label.to_owned(),
                    module: path.display().to_string(),
                });
            }
            many => {
                return Err(HsmError::AmbiguousToken {
                    label: label.to_owned(),
                    count: many.len(),
                });
            }
        };
        let token = Token {
            module,
            slot,
            label: label.to_owned(),
            pin,
            sessions: Mutex::new(Vec::new()),
        };
        // Log in now, so a wrong PIN is reported when the token is opened.
        let session = token.new_session().inspect_err(|e| {
            tracing::warn!(token = %token.label, error = %e, "PKCS#11 login failed");
        })?;
        token.give_back(session);
        tracing::info!(token = %token.label, module = %path.display(), "PKCS#11 token opened");
        Ok(token)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    fn new_session(&self) -> Result<Session, HsmError> {
        let session = self
            .module
            .open_rw_session(self.slot)
            .map_err(|e| self.fail("C_OpenSession", &e))?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(HsmError::Login {
                token: self.label.clone(),
                reason: reason(&e),
            }),
        }
    }

    fn give_back(&self, session: Session) {
        let mut pool = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 16 {
            pool.push(session);
        }
    }

    /// Runs `f` on a pooled session. A session the token no longer knows
    /// is dropped and the call is tried once on a new one.
    fn with_session<T>(
        &self,
        op: &'static str,
        mut f: impl FnMut(&Session) -> Result<T, CkError>,
    ) -> Result<T, HsmError> {
        for attempt in 0..2 {
            let pooled = self
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let session = match pooled {
                Some(s) => s,
                None => self.new_session()?,
            };
            match f(&session) {
                Ok(v) => {
                    self.give_back(session);
                    return Ok(v);
                }
                Err(e) if attempt == 0 && session_lost(&e) => {
                    tracing::warn!(token = %self.label, op, error = %reason(&e), "PKCS#11 session lost; opening a new one");
                    drop(session);
                }
                Err(e) => {
                    if !session_lost(&e) {
                        self.give_back(session);
                    }
                    return Err(self.fail(op, &e));
                }
            }
        }
        Err(HsmError::Call {
            op,
            token: self.label.clone(),
            reason: "the token dropped two sessions in a row".into(),
        })
    }

    fn fail(&self, op: &'static str, e: &CkError) -> HsmError {
        HsmError::Call {
            op,
            token: self.label.clone(),
            reason: reason(e),
        }
    }

    /// The one secret key labelled `label`, if there is one.
    pub fn find_key(&self, label: &str) -> Result<Option<ObjectHandle>, HsmError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let found = self.with_session("C_FindObjects", |s| s.find_objects(&template))?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(HsmError::AmbiguousKey {
                token: self.label.clone(),
                label: label.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// The secret key labelled `label`, or [`HsmError::NoKey`].
    pub fn key(&self, label: &str) -> Result<ObjectHandle, HsmError> {
        self.find_key(label)?.ok_or_else(|| HsmError::NoKey {
            token: self.label.clone(),
            label: label.to_owned(),
        })
    }

    /// Generates an AES-256 key in the token: a token object, private,
    /// sensitive and never extractable, usable only to encrypt and decrypt.
    pub fn generate_aes_key(&self, label: &str) -> Result<ObjectHandle, HsmError> {
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(label.as_bytes().to_vec()),
        ];
        self.with_session("C_GenerateKey", |s| {
            s.generate_key(&Mechanism::AesKeyGen, &template)
        })
    }

    /// Whether a key is sensitive and was never extractable, as the token
    /// reports it.
    pub fn is_sealed_in(&self, key: ObjectHandle) -> Result<bool, HsmError> {
        let attrs = self.with_session("C_GetAttributeValue", |s| {
            s.get_attributes(
                key,
                &[AttributeType::Sensitive, AttributeType::NeverExtractable],
            )
        })?;
        Ok(attrs.len() == 2
            && attrs.iter().all(|a| {
                matches!(
                    a,
                    Attribute::Sensitive(true) | Attribute::NeverExtractable(true)
                )
            }))
    }

    /// `n` random bytes from the token's generator.
    pub fn random(&self, n: usize) -> Result<Secret, HsmError> {
        let mut out = Secret::new(vec![0u8; n]);
        self.with_session("C_GenerateRandom", |s| {
            s.generate_random_slice(out.expose_mut())
        })?;
        Ok(out)
    }

    pub fn destroy(&self, key: ObjectHandle) -> Result<(), HsmError> {
        self.with_session("C_DestroyObject", |s| s.destroy_object(key))
    }

    /// AES-GCM inside the token: ciphertext ‖ 16-byte tag.
    pub fn gcm_encrypt(
        &self,
        key: ObjectHandle,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        self.with_session("C_Encrypt", |s| {
            let mut iv = *nonce;
            let params = GcmParams::new(&mut iv, aad, 128.into())?;
            s.encrypt(&Mechanism::AesGcm(params), key, plaintext)
        })
    }

    /// Opens what [`Token::gcm_encrypt`] made; a ciphertext the token cannot
    /// authenticate is [`HsmError::Authentication`].
    pub fn gcm_decrypt(
        &self,
        key: ObjectHandle,
        nonce: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Secret, HsmError> {
        if ciphertext.len() < 16 {
            return Err(HsmError::Authentication);
        }
        let r = self.with_session("C_Decrypt", |s| {
            let mut iv = *nonce;
            let params = GcmParams::new(&mut iv, aad, 128.into())?;
            s.decrypt(&Mechanism::AesGcm(params), key, ciphertext)
        });
        match r {
            Ok(pt) => Ok(Secret::new(pt)),
            Err(HsmError::Call { reason, .. })
                if reason.starts_with("EncryptedDataInvalid")
                    || reason.starts_with("FunctionFailed")
                    || reason.starts_with("GeneralError") =>
            {
                Err(HsmError::Authentication)
            }
            Err(e) => Err(e),
        }
    }
}

/// The session is gone (token removed or restarted): worth a new one.
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn,
            _
        )
    )
}

/// A PKCS#11 error's return-value name (`PinIncorrect`), not the
/// specification's paragraph.
fn reason(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => format!("{rv:?}"),
        other => other.to_string(),
    }
}
