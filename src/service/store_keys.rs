//! The keys of custom key stores: generated in the store's token, used
//! through its connection, Unavailable while the store is not connected,
//! destroyed in the token when deleted.

use std::sync::Arc;

use crate::crypto::{KeyMaterial, Secret};
use crate::eval::Permit;
use crate::scope::Scope;
use crate::store::KeyRecord;

use super::api::enums::{KeySpec, Origin};
use super::clusters::Connection;
use super::custom_key_stores::{invalid_state, token_label};
use super::{ErrorKind, Identity, KeyService, KmsError};

impl KeyService {
    /// The key of a custom key store, in its token: the version's record
    /// holds the key's label there.
    pub(super) fn material_in_token(
        &self,
        permit: &Permit,
        key: &KeyRecord,
        version: u32,
    ) -> Result<KeyMaterial, KmsError> {
        let conn = self.key_store_connection(key)?;
        let missing = || {
            KmsError::new(
                ErrorKind::InvalidCiphertext,
                "the ciphertext refers to a key version that does not exist",
            )
        };
        let label = match self.cache.sealed(key, version) {
            Some(l) => l,
            None => {
                let since = self.cache.since();
                let l = Arc::new(
                    self.store
                        .version(key, version)?
                        .and_then(|v| v.sealed)
                        .ok_or_else(missing)?,
                );
                self.cache.put_sealed(key, version, l.clone(), since);
                l
            }
        };
        let label = std::str::from_utf8(&label).map_err(|_| missing())?;
        let handle = conn.handle(label).map_err(|e| {
            KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is unavailable: {e}", key.arn),
            )
        })?;
        KeyMaterial::in_token(permit, conn.token.clone(), handle, &key.key_id, version)
            .map_err(|e| KmsError::internal(format!("key material: {e}")))
    }

    /// The open token of the custom key store holding `key`, or the
    /// refusal of a key whose store is not connected: `<arn> is
    /// unavailable.`
    pub(super) fn key_store_connection(
        &self,
        key: &KeyRecord,
    ) -> Result<Arc<Connection>, KmsError> {
        let unavailable = || {
            KmsError::new(
                ErrorKind::KmsInvalidState,
                format!("{} is unavailable.", key.arn),
            )
        };
        let cks_id = key.custom_key_store_id.as_deref().ok_or_else(unavailable)?;
        // The common case: connected in this process, no store read —
        // unless another node changed a custom key store meanwhile (it may
        // have disconnected this one).
        let stale = self.cache.store_stale(cks_id);
        if stale.is_none()
            && let Some(conn) = self.clusters.open_connection(&key.scope, cks_id)
        {
            return Ok(conn);
        }
        let c = self
            .store
            .custom_key_store(&key.scope, cks_id)?
            .ok_or_else(unavailable)?;
        if let Some(count) = stale {
            if c.state != crate::store::StoreState::Connected {
                self.clusters.disconnect(&c);
            }
            self.cache.store_checked(cks_id, count);
        }
        self.clusters
            .connection(&self.root, &c)
            .map_err(|_| unavailable())
    }

    /// Generates a new key's AES-256 key in the token of custom key store
    /// `cks_id`, which must be connected; the connection and the key's
    /// label in the token.
    pub(super) fn generate_in_store(
        &self,
        scope: &Scope,
        cks_id: &str,
        key_id: &str,
    ) -> Result<(Arc<Connection>, String), KmsError> {
        let c = self.custom_key_store(scope, cks_id)?;
        let conn = self.clusters.connection(&self.root, &c).map_err(|_| {
            invalid_state(format!(
                "You requested the CreateKey operation in custom key store {cks_id}, which is not connected. This operation is valid only when the custom key store ConnectionState is CONNECTED."
            ))
        })?;
        let label = token_label(key_id);
        conn.token
            .generate_aes_key(&label)
            .map_err(|e| KmsError::internal(format!("custom key store {cks_id}: {e}")))?;
        Ok((conn, label))
    }

    /// A deleted key's key in its custom key store's token is destroyed
    /// when the store is connected; else it stays in the token, as AWS
    /// leaves it in the cluster, for its owner to delete.
    pub(super) fn destroy_in_store(&self, key: &KeyRecord) {
        let Ok(conn) = self.key_store_connection(key) else {
            return;
        };
        let label = token_label(&key.key_id);
        if let Err(e) = conn.handle(&label).and_then(|h| conn.token.destroy(h)) {
            tracing::warn!(key = %key.arn, error = %e, "the deleted key's key stays in its custom key store's token");
        }
        conn.forget(&label);
    }

    /// `n` random bytes from the token of the caller's custom key store
    /// `cks_id`, which must be connected.
    pub(super) fn random_in_store(
        &self,
        id: &Identity,
        cks_id: &str,
        n: usize,
    ) -> Result<Secret, KmsError> {
        let c = self.custom_key_store(&self.store_scope(id)?, cks_id)?;
        let conn = self.clusters.connection(&self.root, &c).map_err(|_| {
            invalid_state(format!(
                "Custom key store {cks_id} is not connected. GenerateRandom with a CustomKeyStoreId is valid only when its ConnectionState is CONNECTED."
            ))
        })?;
        conn.token
            .random(n)
            .map_err(|e| KmsError::internal(format!("custom key store {cks_id}: {e}")))
    }

    /// Whether a key of a custom key store is Unavailable now.
    pub(super) fn is_unavailable(&self, key: &KeyRecord) -> bool {
        key.custom_key_store_id.is_some() && self.key_store_connection(key).is_err()
    }
}

/// The custom key store a CreateKey asks for, if the request is one a
/// custom key store takes: origin AWS_CLOUDHSM with a store id, a
/// single-Region symmetric encryption key.
pub(super) fn in_custom_key_store(
    origin: Origin,
    cks_id: Option<&str>,
    spec: KeySpec,
    multi_region: bool,
) -> Result<&str, KmsError> {
    let unsupported = |m: &str| KmsError::new(ErrorKind::UnsupportedOperation, m);
    let cks_id = match (origin, cks_id) {
        (Origin::AwsCloudHsm, Some(id)) => id,
        (Origin::AwsCloudHsm, None) => {
            return Err(unsupported(
                "Origin AWS_CLOUDHSM requires a CustomKeyStoreId.",
            ));
        }
        (_, _) => {
            return Err(unsupported(
                "A CustomKeyStoreId requires Origin AWS_CLOUDHSM.",
            ));
        }
    };
    if spec != KeySpec::SymmetricDefault {
        return Err(unsupported(
            "A custom key store holds only SYMMETRIC_DEFAULT keys with KeyUsage ENCRYPT_DECRYPT.",
        ));
    }
    if multi_region {
        return Err(unsupported(
            "A multi-Region key cannot be created in a custom key store.",
        ));
    }
    Ok(cks_id)
}
