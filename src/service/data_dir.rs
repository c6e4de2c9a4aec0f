//! Where a service keeps its files: the store, the root key and the audit
//! log. The store is the embedded database in the directory, or a
//! PostgreSQL database that several nodes share, each with a directory of
//! its own for its audit log.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::crypto::{RootKey, Secret};
use crate::hsm::Pkcs11Uri;
use crate::store::{Journal, ROOT_KEY, Sealed, Store, StoreError};

use super::KmsError;

/// The files of a data directory.
pub struct DataDir {
    pub root: PathBuf,
    audit: Option<PathBuf>,
    /// A shared store (PostgreSQL connection settings) instead of the
    /// embedded one.
    store: Option<String>,
    /// This node's name in a shared store.
    node: Option<String>,
}

/// The file in a data directory that names its node in a shared store.
const NODE_FILE: &str = "node-id";

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir {
            root: root.into(),
            audit: None,
            store: None,
            node: None,
        }
    }

    /// Keeps the store in the PostgreSQL database `url` names (a
    /// `postgresql://` URL or `key=value` settings, completed from the
    /// `PG*` environment variables).
    pub fn with_store(mut self, url: impl Into<String>) -> DataDir {
        self.store = Some(url.into());
        self
    }

    /// Names this node in a shared store (by default the name kept in the
    /// data directory, made on first use).
    pub fn with_node(mut self, node: impl Into<String>) -> DataDir {
        self.node = Some(node.into());
        self
    }

    /// Where the store is, for messages (never with a password).
    pub fn store_location(&self) -> String {
        match &self.store {
            Some(url) => format!("postgresql ({})", redacted(url)),
            None => self.database().display().to_string(),
        }
    }

    /// Opens the store: the shared one if there is one, else the embedded
    /// database.
    pub fn open_store(&self) -> Result<Store, KmsError> {
        match &self.store {
            Some(url) => Ok(Store::connect(url, &self.node()?)?),
            // A node's directory holds no database: opening one there
            // would make an empty store (and new audit keys) beside the
            // shared one.
            None if self.root.join(NODE_FILE).exists() => Err(KmsError::internal(format!(
                "{} belongs to a node of a shared PostgreSQL store: give its --store",
                self.root.display()
            ))),
            None => Ok(Store::open(&self.database())?),
        }
    }

    /// This node's name: as given, else as kept in the data directory.
    pub fn node(&self) -> Result<String, KmsError> {
        if let Some(n) = &self.node {
            return valid_node(n);
        }
        let path = self.root.join(NODE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(n) => valid_node(n.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KmsError::internal(format!(
                "{} has no node id ({NODE_FILE}): it has not served a shared store; name its node",
                self.root.display()
            ))),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Keeps this node's name in the data directory: the one given, or a
    /// new one (`node-` and 8 random hex digits). A data directory keeps
    /// the node it first served as: its audit log is that node's.
    fn keep_node(&self) -> Result<(), KmsError> {
        let path = self.root.join(NODE_FILE);
        let kept = match std::fs::read_to_string(&path) {
            Ok(n) => Some(n.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io(e)),
        };
        match (&self.node, kept) {
            (Some(given), Some(kept)) if *given != kept => Err(KmsError::internal(format!(
                "{} is node {kept}'s (its audit log is that node's); it cannot serve as node {given}",
                self.root.display()
            ))),
            (_, Some(_)) => Ok(()),
            (given, None) => {
                let n = match given {
                    Some(g) => valid_node(g)?,
                    None => format!("node-{}", hex::encode(Secret::random(4).expose())),
                };
                write_private(&path, n.as_bytes()).map_err(|e| self.io(e))
            }
        }
    }

    /// Writes the audit log somewhere other than the data directory.
    pub fn with_audit_log(mut self, path: impl Into<PathBuf>) -> DataDir {
        self.audit = Some(path.into());
        self
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("keyward.db")
    }

    pub fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }

    pub fn audit_log(&self) -> PathBuf {
        self.audit
            .clone()
            .unwrap_or_else(|| self.root.join("audit.jsonl"))
    }

    /// Creates the directory and a new root key file (mode 0600) if there
    /// is no root key yet (no file, and no token named in the store), and
    /// for a shared store keeps the node's name; `true` when a key was
    /// created.
    pub fn init(&self) -> Result<bool, KmsError> {
        crate::files::private_dir(&self.root).map_err(|e| self.io(e))?;
        if self.store.is_some() {
            self.keep_node()?;
        }
        let path = self.root_key();
        if path.exists() || self.token_uri()?.is_some() {
            return Ok(false);
        }
        let key = Secret::random(32);
        write_private(&path, B64.encode(key.expose()).as_bytes()).map_err(|e| self.io(e))?;
        Ok(true)
    }

    fn io(&self, e: std::io::Error) -> KmsError {
        KmsError::internal(format!("{}: {e}", self.root.display()))
    }

    /// The PKCS#11 URI the store names as its root key, if it names one.
    fn token_uri(&self) -> Result<Option<Pkcs11Uri>, KmsError> {
        if self.store.is_none() && !self.database().exists() {
            return Ok(None);
        }
        let store = self.open_store()?;
        stored_uri(&store)
    }

    /// The root key: the token the store names; else `KEYWARD_ROOT_KEY`
    /// (base64) if set; else the key file.
    pub fn load_root_key(&self, store: &Store) -> Result<RootKey, KmsError> {
        if let Some(uri) = stored_uri(store)? {
            if std::env::var_os("KEYWARD_ROOT_KEY").is_some_and(|v| !v.is_empty()) {
                return Err(KmsError::internal(format!(
                    "{}'s root key is in a PKCS#11 token ({uri}); unset KEYWARD_ROOT_KEY",
                    self.root.display()
                )));
            }
            // A key file left by a move to the token that stopped after
            // its commit opens nothing here any more.
            if self.root_key().exists() {
                std::fs::remove_file(self.root_key()).map_err(|e| self.io(e))?;
            }
            let (root, _) = RootKey::in_token(&uri, false).map_err(|e| {
                KmsError::internal(format!(
                    "cannot open the root key of {} ({uri}): {e}",
                    self.root.display()
                ))
            })?;
            return Ok(root);
        }
        self.load_file_root()
    }

    fn load_file_root(&self) -> Result<RootKey, KmsError> {
        let text = match std::env::var("KEYWARD_ROOT_KEY") {
            Ok(v) if !v.is_empty() => v,
            _ => std::fs::read_to_string(self.root_key()).map_err(|e| {
                KmsError::internal(format!(
                    "cannot read the root key {}: {e} (run `keyward init`)",
                    self.root_key().display()
                ))
            })?,
        };
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| KmsError::internal("the root key is not base64"))?;
        RootKey::from_bytes(bytes).map_err(|e| KmsError::internal(format!("root key: {e}")))
    }

    /// Puts the data directory's root key in the PKCS#11 token `uri` names:
    /// a new key generated in the token unless it holds one under the
    /// URI's object label. A data directory sealed under a root key file
    /// is resealed under the token's key in one transaction, then the file
    /// is removed.
    pub fn init_in_token(&self, uri: &Pkcs11Uri) -> Result<TokenInit, KmsError> {
        crate::files::private_dir(&self.root).map_err(|e| self.io(e))?;
        if self.store.is_some() {
            self.keep_node()?;
        }
        let store = self.open_store()?;
        let named = uri.without_pin().to_string();
        if let Some(current) = stored_uri(&store)? {
            if current.to_string() == named {
                self.load_root_key(&store)?;
                return Ok(TokenInit::default());
            }
            return Err(KmsError::internal(format!(
                "{} is sealed under {current}; moving it to another token is not supported",
                self.root.display()
            )));
        }
        let (root, generated) =
            RootKey::in_token(uri, true).map_err(|e| KmsError::internal(format!("{uri}: {e}")))?;
        match root.is_sealed_in_token() {
            Some(Ok(true)) => {}
            Some(Ok(false)) => {
                return Err(KmsError::internal(format!(
                    "the key {uri} names is extractable or not sensitive; keyward uses only keys that never leave the token"
                )));
            }
            Some(Err(e)) => return Err(KmsError::internal(e.to_string())),
            None => return Err(KmsError::internal("not a token root key")),
        }
        let old = if self.root_key().exists()
            || std::env::var_os("KEYWARD_ROOT_KEY").is_some_and(|v| !v.is_empty())
        {
            Some(self.load_file_root()?)
        } else {
            None
        };
        // The move is recorded in the audit log, under the chain key the
        // old root opens (the key is resealed, its value stays).
        let audit = match &old {
            Some(old) => {
                let keys = super::AuditKeys::load_or_create(&store, old)?;
                let log = crate::audit::AuditLog::open(
                    &self.audit_log(),
                    keys.chain,
                    store.audit_anchor()?.as_ref(),
                )
                .map_err(|e| KmsError::internal(e.to_string()))?;
                Some(log)
            }
            None => None,
        };
        let mut journal = audit.as_ref().map(|log| RootMove {
            log,
            uri: named.clone(),
        });
        let resealed = store.reseal_all(
            &|sealed| {
                let Some(old) = &old else {
                    return Err("sealed under a root key that is not here".to_owned());
                };
                match sealed {
                    Sealed::Material {
                        key_id,
                        version,
                        sealed,
                    } => old.reseal(&root, key_id, version, sealed),
                    Sealed::Internal { purpose, sealed } => {
                        old.reseal_internal(&root, purpose, sealed)
                    }
                }
                .map_err(|e| e.to_string())
            },
            ROOT_KEY,
            &named,
            journal.as_mut().map(|j| j as &mut dyn Journal),
        )?;
        if let Some(log) = &audit {
            log.sync().map_err(|e| KmsError::internal(e.to_string()))?;
        }
        if self.root_key().exists() {
            std::fs::remove_file(self.root_key()).map_err(|e| self.io(e))?;
            crate::files::sync_dir(&self.root).map_err(|e| self.io(e))?;
        }
        Ok(TokenInit {
            generated,
            resealed,
            moved: old.is_some(),
        })
    }
}

/// What [`DataDir::init_in_token`] did.
#[derive(Debug, Default)]
pub struct TokenInit {
    /// A key was generated in the token.
    pub generated: bool,
    /// Sealed records moved from the root key file to the token.
    pub resealed: usize,
    /// The data directory was sealed under a root key file before.
    pub moved: bool,
}

/// The audit record of a data directory's move to a root key in a token.
struct RootMove<'a> {
    log: &'a crate::audit::AuditLog,
    uri: String,
}

impl Journal for RootMove<'_> {
    fn record(&mut self) -> Result<crate::audit::Anchor, StoreError> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        crate::audit::Record::try_from(serde_json::json!({
            "eventVersion": "1.08",
            "eventTime": now,
            "eventSource": "keyward",
            "eventName": "MoveRootKey",
            "eventType": "KeywardAdministrativeEvent",
            "userIdentity": {"type": "LocalOperator", "invokedBy": "keyward init"},
            "requestParameters": {"rootKey": self.uri},
            "readOnly": false,
        }))
        .and_then(|r| self.log.append_durable(r))
        .map_err(|e| StoreError::new(format!("change not committed: {e}")))
    }
}

/// A node name: what an audit record and a notification carry.
fn valid_node(n: &str) -> Result<String, KmsError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(n.to_owned())
    } else {
        Err(KmsError::internal(format!(
            "node id {n:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Connection settings without a password.
fn redacted(url: &str) -> String {
    if url.contains("password") {
        return "settings with a password".to_owned();
    }
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn stored_uri(store: &Store) -> Result<Option<Pkcs11Uri>, KmsError> {
    store
        .setting(ROOT_KEY)?
        .map(|u| {
            Pkcs11Uri::parse(&u).map_err(|e| KmsError::internal(format!("root key URI {u}: {e}")))
        })
        .transpose()
}

/// Writes a new file readable by its owner only (mode 0600), durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::files::private_options()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
