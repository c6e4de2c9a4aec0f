//! A key's compiled tables (its key policy and grants): loaded from the
//! store once, then kept; a grant change updates the kept grants in
//! O(log n) instead of loading them again.

use std::sync::Arc;

use crate::compile::GrantIndex;
use crate::policy::{self, Source};
use crate::store::{GrantRecord, KeyRecord};

use super::access::compile_key_policy;
use super::{KeyService, KeyTables, KmsError};

impl KeyService {
    /// A grant the store committed joins the key's cached grants: O(log n)
    /// in the key's grants, no rebuild.
    pub(super) fn grant_added(&self, key: &KeyRecord, grant: &GrantRecord) {
        match compile_grant(grant) {
            Ok(added) => self.cache.change_tables(key, |t| {
                let mut grants = (*t.grants).clone();
                grants.append(&added);
                KeyTables {
                    policy: t.policy.clone(),
                    grants: Arc::new(grants),
                }
            }),
            // Stored grants compile; if one did not, the next request
            // loads the key's grants from the store and reports it.
            Err(_) => self.cache.drop_tables(key),
        }
    }

    /// A grant the store deleted leaves the key's cached grants.
    pub(super) fn grant_removed(&self, key: &KeyRecord, grant_id: &str) {
        self.cache.change_tables(key, |t| {
            let mut grants = (*t.grants).clone();
            grants.remove(grant_id);
            KeyTables {
                policy: t.policy.clone(),
                grants: Arc::new(grants),
            }
        });
    }

    pub(super) fn key_tables(&self, key: &KeyRecord) -> Result<Arc<KeyTables>, KmsError> {
        if let Some(t) = self.cache.tables(key) {
            return Ok(t);
        }
        let version = self.cache.tables_version();
        let t = Arc::new(load_tables(&self.store, key)?);
        self.cache.put_loaded_tables(key, t.clone(), version);
        Ok(t)
    }
}

/// One stored grant, compiled.
fn compile_grant(g: &GrantRecord) -> Result<GrantIndex, KmsError> {
    let source = Source::new(format!("grant {}", g.grant_id), g.document.as_str());
    let parsed = policy::parse_grants(&source)
        .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))?;
    GrantIndex::compile(&parsed, &source)
        .map_err(|e| KmsError::internal(format!("stored grant {}: {e}", g.grant_id)))
}

/// A key's compiled policy and grants, from the store.
pub(super) fn load_tables(
    store: &crate::store::Store,
    key: &KeyRecord,
) -> Result<KeyTables, KmsError> {
    let policy = compile_key_policy(&key.key_id, &key.policy)?;
    let mut grants = GrantIndex::default();
    for g in store.grants(key)? {
        grants.append(&compile_grant(&g)?);
    }
    Ok(KeyTables {
        policy: Arc::new(policy),
        grants: Arc::new(grants),
    })
}
