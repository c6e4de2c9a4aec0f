//! The "CloudHSM clusters" of custom key stores: PKCS#11 tokens the server
//! is configured with (`--cloudhsm-cluster ID=PKCS11-URI`), and the
//! connections of custom key stores to them.
//!
//! A store's record keeps the state its owner asked for (CONNECTED or
//! DISCONNECTED, or FAILED after a connection attempt failed). A store
//! asked to be CONNECTED that has no open token here (a restarted server,
//! a token that went away) is connected again on its next use, at most
//! once per [`RETRY`]; meanwhile it is FAILED and its keys Unavailable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cryptoki::object::ObjectHandle;
use cryptoki::types::AuthPin;

use crate::crypto::RootKey;
use crate::hsm::{HsmError, Pkcs11Uri, Token};
use crate::store::{CustomKeyStoreRecord, StoreState, password_purpose};

/// How long a failed reconnection waits before the next attempt.
const RETRY: Duration = Duration::from_secs(5);

/// A cluster: a token, and the trust anchor certificate that names it.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub id: String,
    pub uri: Pkcs11Uri,
    /// The PEM certificate a custom key store must present for this
    /// cluster (`--cloudhsm-trust-anchor`); any certificate when unset.
    pub trust_anchor: Option<String>,
}

impl Cluster {
    /// `ID=PKCS11-URI`, as `keyward serve --cloudhsm-cluster` takes it.
    pub fn parse(arg: &str) -> Result<Cluster, String> {
        let (id, uri) = arg
            .split_once('=')
            .ok_or_else(|| format!("`{arg}`: expected CLUSTER-ID=PKCS11-URI"))?;
        // AWS's model: `cluster-[2-7a-zA-Z]{11,16}`.
        let tail = id.strip_prefix("cluster-").unwrap_or_default();
        if !(11..=16).contains(&tail.len())
            || !tail
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
        {
            return Err(format!(
                "`{id}`: a cluster id is `cluster-` and 11 to 16 of the letters and digits 2 to 7"
            ));
        }
        let uri = Pkcs11Uri::parse(uri).map_err(|e| format!("{id}: {e}"))?;
        if uri.query("pin-value").is_some() || uri.query("pin-source").is_some() {
            return Err(format!(
                "{id}: the PIN of a cluster's token is the custom key store's KeyStorePassword, not part of the URI"
            ));
        }
        uri.token().map_err(|e| format!("{id}: {e}"))?;
        uri.module().map_err(|e| format!("{id}: {e}"))?;
        Ok(Cluster {
            id: id.to_owned(),
            uri,
            trust_anchor: None,
        })
    }
}

/// A custom key store's open token, and its keys' handles by label.
pub(super) struct Connection {
    pub(super) token: Arc<Token>,
    handles: Mutex<HashMap<String, ObjectHandle>>,
}

impl Connection {
    /// The handle of the key labelled `label` in the token.
    pub(super) fn handle(&self, label: &str) -> Result<ObjectHandle, HsmError> {
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = handles.get(label) {
            return Ok(*h);
        }
        let h = self.token.key(label)?;
        handles.insert(label.to_owned(), h);
        Ok(h)
    }

    pub(super) fn forget(&self, label: &str) {
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(label);
    }
}

/// Why a connection failed, as `ConnectionErrorCode` says it.
pub(super) fn error_code(e: &HsmError) -> &'static str {
    match e {
        HsmError::Login { reason, .. } if reason.contains("PinLocked") => "USER_LOCKED_OUT",
        HsmError::Login { .. } | HsmError::NoPin(_) => "INVALID_CREDENTIALS",
        HsmError::NoToken { .. } | HsmError::Module { .. } => "CLUSTER_NOT_FOUND",
        HsmError::Call { .. } => "NETWORK_ERRORS",
        _ => "INTERNAL_ERROR",
    }
}

/// The clusters this server knows and the stores connected to them.
#[derive(Default)]
pub(super) struct Clusters {
    clusters: HashMap<String, Cluster>,
    open: Mutex<HashMap<String, Arc<Connection>>>,
    /// Stores that should be connected and are not: when the last attempt
    /// was, and why it failed.
    failed: Mutex<HashMap<String, (Instant, &'static str)>>,
}

/// A store's identity across accounts and Regions.
fn store_key(c: &CustomKeyStoreRecord) -> String {
    scoped_key(&c.scope, &c.id)
}

fn scoped_key(scope: &crate::scope::Scope, id: &str) -> String {
    format!("{}\0{}\0{}", scope.account.0, scope.region.as_str(), id)
}

impl Clusters {
    pub(super) fn new(clusters: Vec<Cluster>) -> Clusters {
        Clusters {
            clusters: clusters.into_iter().map(|c| (c.id.clone(), c)).collect(),
            ..Clusters::default()
        }
    }

    pub(super) fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.get(id)
    }

    /// Opens the store's token with its password (unsealed for this call
    /// only); the connection, or why it failed.
    pub(super) fn connect(
        &self,
        root: &RootKey,
        c: &CustomKeyStoreRecord,
    ) -> Result<Arc<Connection>, &'static str> {
        let key = store_key(c);
        let result = self.open_token(root, c);
        match result {
            Ok(token) => {
                let conn = Arc::new(Connection {
                    token: Arc::new(token),
                    handles: Mutex::new(HashMap::new()),
                });
                self.open
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.clone(), conn.clone());
                self.failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
                Ok(conn)
            }
            Err(code) => {
                tracing::warn!(custom_key_store = %c.id, cluster = %c.cluster_id, code, "custom key store connection failed");
                self.failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, (Instant::now(), code));
                Err(code)
            }
        }
    }

    fn open_token(&self, root: &RootKey, c: &CustomKeyStoreRecord) -> Result<Token, &'static str> {
        let cluster = self
            .clusters
            .get(&c.cluster_id)
            .ok_or("CLUSTER_NOT_FOUND")?;
        let purpose = password_purpose(&c.scope.account.0, c.scope.region.as_str(), &c.id);
        let password = root
            .unseal_internal(&purpose, &c.password)
            .map_err(|_| "INTERNAL_ERROR")?;
        let pin =
            String::from_utf8(password.expose().to_vec()).map_err(|_| "INVALID_CREDENTIALS")?;
        Token::open(&cluster.uri, AuthPin::new(pin)).map_err(|e| error_code(&e))
    }

    pub(super) fn disconnect(&self, c: &CustomKeyStoreRecord) {
        let key = store_key(c);
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }

    /// The open connection of store `id` in `scope`, if it is connected in
    /// this process (a connection is dropped when its store is
    /// disconnected, so an open one is a connected store's).
    pub(super) fn open_connection(
        &self,
        scope: &crate::scope::Scope,
        id: &str,
    ) -> Option<Arc<Connection>> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&scoped_key(scope, id))
            .cloned()
    }

    /// The store's open connection; a store that should be connected and is
    /// not is connected again (at most once per [`RETRY`]).
    pub(super) fn connection(
        &self,
        root: &RootKey,
        c: &CustomKeyStoreRecord,
    ) -> Result<Arc<Connection>, &'static str> {
        if c.state != StoreState::Connected {
            return Err("DISCONNECTED");
        }
        let key = store_key(c);
        if let Some(conn) = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(conn.clone());
        }
        let recent = self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|(at, _)| at.elapsed() < RETRY)
            .map(|(_, code)| *code);
        if let Some(code) = recent {
            return Err(code);
        }
        self.connect(root, c)
    }

    /// `ConnectionState` and `ConnectionErrorCode` as DescribeCustomKeyStores
    /// reports them.
    pub(super) fn state(
        &self,
        root: &RootKey,
        c: &CustomKeyStoreRecord,
    ) -> (&'static str, Option<String>) {
        match c.state {
            StoreState::Connected => match self.connection(root, c) {
                Ok(_) => (StoreState::Connected.as_str(), None),
                Err(code) => (StoreState::Failed.as_str(), Some(code.to_owned())),
            },
            StoreState::Failed => (StoreState::Failed.as_str(), c.error_code.clone()),
            StoreState::Disconnected => (StoreState::Disconnected.as_str(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_an_aws_shaped_id_and_a_token_without_a_pin() {
        let m = "module-path=/usr/lib/softhsm/libsofthsm2.so";
        let ok = Cluster::parse(&format!("cluster-a2b3c4defgh=pkcs11:token=cks1?{m}"));
        assert!(ok.is_ok_and(|c| c.id == "cluster-a2b3c4defgh" && c.trust_anchor.is_none()));
        for (arg, says) in [
            (format!("cluster-1a23b4cdefg=pkcs11:token=a?{m}"), "2 to 7"),
            (format!("cluster-short=pkcs11:token=a?{m}"), "11 to 16"),
            (
                format!("cluster-a2b3c4defgh=pkcs11:token=a?{m}&pin-value=1234567"),
                "KeyStorePassword",
            ),
            (format!("cluster-a2b3c4defgh=pkcs11:object=a?{m}"), "token"),
            ("cluster-a2b3c4defgh=pkcs11:token=a".to_owned(), "module"),
            ("cluster-a2b3c4defgh".to_owned(), "ID=PKCS11-URI"),
        ] {
            let e = Cluster::parse(&arg).err().unwrap_or_default();
            assert!(e.contains(says), "{arg}: {e}");
        }
    }

    #[test]
    fn connection_errors_read_as_aws_codes() {
        let login = |reason: &str| HsmError::Login {
            token: "t".into(),
            reason: reason.into(),
        };
        assert_eq!(error_code(&login("PinIncorrect")), "INVALID_CREDENTIALS");
        assert_eq!(error_code(&login("PinLocked")), "USER_LOCKED_OUT");
        let missing = HsmError::NoToken {
            label: "t".into(),
            module: "m".into(),
        };
        assert_eq!(error_code(&missing), "CLUSTER_NOT_FOUND");
    }
}
