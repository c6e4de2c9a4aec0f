//! `KeyMetadata`, as CreateKey, DescribeKey and ReplicateKey return it.

use serde::Serialize;

use crate::store::{KeyRecord, KeyState};

use super::rotation::material_id;
use super::specs::{self, Algorithms};
use super::{KeyService, KmsError};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: String,
    key_id: String,
    arn: String,
    creation_date: i64,
    enabled: bool,
    description: String,
    key_usage: String,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<i64>,
    origin: String,
    key_manager: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_master_key_spec: Option<String>,
    key_spec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<String>,
    #[serde(flatten)]
    algorithms: Algorithms,
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_region_configuration: Option<MultiRegionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_key_store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_hsm_cluster_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MultiRegionConfiguration {
    multi_region_key_type: &'static str,
    primary_key: MultiRegionKey,
    replica_keys: Vec<MultiRegionKey>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MultiRegionKey {
    arn: String,
    region: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeyMetadataResponse {
    pub(super) key_metadata: KeyMetadata,
}

impl KeyService {
    pub(super) fn metadata(&self, key: &KeyRecord) -> Result<KeyMetadata, KmsError> {
        let imported = key.is_imported();
        let versions = if imported {
            self.store.versions(key)?
        } else {
            Vec::new()
        };
        // The material permanently associated with the key: the current
        // version and those before it (not one pending rotation).
        let associated = || versions.iter().filter(|v| v.version <= key.current_version);
        let current = versions.iter().find(|v| v.version == key.current_version);
        // AWS: the earliest time any of the key's imported material expires.
        let valid_to = associated().filter_map(|v| v.valid_to).min();
        let expiration_model = imported
            .then(|| current.and_then(|v| v.expiration_model.clone()))
            .flatten();
        let current_key_material_id = if !specs::is_symmetric(key) || key.current_version == 0 {
            None
        } else if imported {
            current.and_then(|v| v.material_id.clone())
        } else {
            Some(material_id(&key.key_id, key.current_version))
        };
        Ok(KeyMetadata {
            aws_account_id: key.scope.account.0.clone(),
            key_id: key.key_id.clone(),
            arn: key.arn.clone(),
            creation_date: key.created,
            enabled: key.state == KeyState::Enabled,
            description: key.description.clone(),
            key_usage: key.key_usage.clone(),
            // A key whose custom key store is not connected is Unavailable
            // (unless it is pending deletion), and keeps its state for
            // when the store is connected again.
            key_state: if matches!(key.state, KeyState::Enabled | KeyState::Disabled)
                && self.is_unavailable(key)
            {
                "Unavailable"
            } else {
                key.state.as_str()
            },
            deletion_date: key
                .deletion_date
                .filter(|_| key.state == KeyState::PendingDeletion),
            valid_to,
            origin: key.origin.clone(),
            key_manager: "CUSTOMER",
            customer_master_key_spec: specs::has_customer_master_key_spec(&key.key_spec)
                .then(|| key.key_spec.clone()),
            key_spec: key.key_spec.clone(),
            expiration_model,
            algorithms: specs::algorithms(key),
            multi_region: key.is_multi_region(),
            multi_region_configuration: self.multi_region_configuration(key)?,
            pending_deletion_window_in_days: match key.state {
                KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => {
                    key.pending_window_days
                }
                _ => None,
            },
            current_key_material_id,
            cloud_hsm_cluster_id: match &key.custom_key_store_id {
                Some(cks) => self
                    .store
                    .custom_key_store(&key.scope, cks)?
                    .map(|c| c.cluster_id),
                None => None,
            },
            custom_key_store_id: key.custom_key_store_id.clone(),
        })
    }

    /// The primary and every replica of a multi-Region key, as each of them
    /// describes it.
    fn multi_region_configuration(
        &self,
        key: &KeyRecord,
    ) -> Result<Option<MultiRegionConfiguration>, KmsError> {
        let Some(primary) = &key.primary_region else {
            return Ok(None);
        };
        let entry = |k: &KeyRecord| MultiRegionKey {
            arn: k.arn.clone(),
            region: k.scope.region.to_string(),
        };
        let all = self.store.key_everywhere(&key.scope.account, &key.key_id)?;
        let primary_key = all
            .iter()
            .find(|k| &k.scope.region == primary)
            .map(entry)
            .unwrap_or_else(|| MultiRegionKey {
                arn: key.scope.with_region(primary.clone()).key_arn(&key.key_id),
                region: primary.to_string(),
            });
        Ok(Some(MultiRegionConfiguration {
            multi_region_key_type: if key.is_replica() {
                "REPLICA"
            } else {
                "PRIMARY"
            },
            primary_key,
            replica_keys: all.iter().filter(|k| k.is_replica()).map(entry).collect(),
        }))
    }
}
