//! Custom key stores of type `AWS_CLOUDHSM`: CreateCustomKeyStore,
//! DescribeCustomKeyStores, Connect/Disconnect/Update/DeleteCustomKeyStore.
//! The "cluster" of a store is a PKCS#11 token the server is configured
//! with ([`super::clusters`]); the store's password is the token user's
//! PIN, sealed under the root key and never returned or logged.

use serde::Serialize;
use serde_json::Value;

use crate::crypto::Secret;
use crate::scope::Scope;
use crate::store::{CustomKeyStoreConflict, CustomKeyStoreRecord, StoreState, password_purpose};

use super::api::enums::CustomKeyStoreType;
use super::api::{CUSTOM_KEY_STORE_ID, LIMIT, MARKER, Rule, request};
use super::fields::{Page, hex, paginate};
use super::{Call, Empty, ErrorKind, Facts, Identity, KeyService, KmsError};

/// Custom key stores per account and Region (AWS's default quota).
const MAX_STORES: usize = 10;
const NAME: Rule = Rule::text(1, 256);
const CLUSTER_ID: Rule = Rule::pattern(19, 24, "cluster-[2-7a-zA-Z]{11,16}");
/// The members of external key stores (XKS), which keyward refuses.
const XKS_URI_ENDPOINT: Rule = Rule::pattern(10, 128, "^https://[a-zA-Z0-9.-]+$");
const XKS_URI_PATH: Rule = Rule::pattern(
    10,
    128,
    r"^(/[a-zA-Z0-9\/_-]+/kms/xks/v\d{1,2})$|^(/kms/xks/v\d{1,2})$",
);
const XKS_VPC_SERVICE: Rule = Rule::pattern(
    20,
    64,
    r"^(com|eu)\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$",
);
const XKS_VPC_OWNER: Rule = Rule::pattern(12, 12, "[0-9]{12}");
const XKS_CREDENTIAL: Rule = Rule::Structure(&[
    super::api::Member {
        name: "AccessKeyId",
        required: true,
        rule: Rule::pattern(20, 30, "^[A-Z2-7]+$"),
        sensitive: true,
    },
    super::api::Member {
        name: "RawSecretAccessKey",
        required: true,
        rule: Rule::pattern(43, 64, r"^[a-zA-Z0-9\/+=]+$"),
        sensitive: true,
    },
]);
const XKS_CONNECTIVITY: Rule = Rule::Enum(&["PUBLIC_ENDPOINT", "VPC_ENDPOINT_SERVICE"]);
const TRUST_ANCHOR: Rule = Rule::text(1, 5000);
const PASSWORD: Rule = Rule::text(7, 32);

request! {
    /// CreateCustomKeyStore. The `Xks…` members are declared so they are
    /// validated as AWS does, and refused by name ([`names_xks`]).
    #[allow(dead_code)]
    CreateCustomKeyStoreRequest {
        custom_key_store_name: req String = "CustomKeyStoreName" NAME,
        cloud_hsm_cluster_id: opt String = "CloudHsmClusterId" CLUSTER_ID,
        trust_anchor_certificate: opt String = "TrustAnchorCertificate" TRUST_ANCHOR,
        key_store_password: opt_secret String = "KeyStorePassword" PASSWORD,
        custom_key_store_type: opt CustomKeyStoreType =
            "CustomKeyStoreType" Rule::Enum(CustomKeyStoreType::VALUES),
        xks_proxy_uri_endpoint: opt Value = "XksProxyUriEndpoint" XKS_URI_ENDPOINT,
        xks_proxy_uri_path: opt Value = "XksProxyUriPath" XKS_URI_PATH,
        xks_proxy_vpc_endpoint_service_name: opt Value =
            "XksProxyVpcEndpointServiceName" XKS_VPC_SERVICE,
        xks_proxy_vpc_endpoint_service_owner: opt Value =
            "XksProxyVpcEndpointServiceOwner" XKS_VPC_OWNER,
        xks_proxy_authentication_credential: opt Value =
            "XksProxyAuthenticationCredential" XKS_CREDENTIAL,
        xks_proxy_connectivity: opt Value = "XksProxyConnectivity" XKS_CONNECTIVITY,
    }
}

request! {
    /// DescribeCustomKeyStores.
    DescribeCustomKeyStoresRequest {
        custom_key_store_id: opt String = "CustomKeyStoreId" CUSTOM_KEY_STORE_ID,
        custom_key_store_name: opt String = "CustomKeyStoreName" NAME,
        limit: opt i64 = "Limit" LIMIT,
        marker: opt String = "Marker" MARKER,
    }
}

request! {
    /// ConnectCustomKeyStore, DisconnectCustomKeyStore and
    /// DeleteCustomKeyStore.
    CustomKeyStoreIdRequest {
        custom_key_store_id: req String = "CustomKeyStoreId" CUSTOM_KEY_STORE_ID,
    }
}

request! {
    /// UpdateCustomKeyStore (its `Xks…` members as in CreateCustomKeyStore).
    #[allow(dead_code)]
    UpdateCustomKeyStoreRequest {
        custom_key_store_id: req String = "CustomKeyStoreId" CUSTOM_KEY_STORE_ID,
        new_custom_key_store_name: opt String = "NewCustomKeyStoreName" NAME,
        key_store_password: opt_secret String = "KeyStorePassword" PASSWORD,
        cloud_hsm_cluster_id: opt String = "CloudHsmClusterId" CLUSTER_ID,
        xks_proxy_uri_endpoint: opt Value = "XksProxyUriEndpoint" XKS_URI_ENDPOINT,
        xks_proxy_uri_path: opt Value = "XksProxyUriPath" XKS_URI_PATH,
        xks_proxy_vpc_endpoint_service_name: opt Value =
            "XksProxyVpcEndpointServiceName" XKS_VPC_SERVICE,
        xks_proxy_vpc_endpoint_service_owner: opt Value =
            "XksProxyVpcEndpointServiceOwner" XKS_VPC_OWNER,
        xks_proxy_authentication_credential: opt Value =
            "XksProxyAuthenticationCredential" XKS_CREDENTIAL,
        xks_proxy_connectivity: opt Value = "XksProxyConnectivity" XKS_CONNECTIVITY,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateCustomKeyStoreResponse {
    custom_key_store_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CustomKeyStoresListEntry {
    custom_key_store_id: String,
    custom_key_store_name: String,
    cloud_hsm_cluster_id: String,
    trust_anchor_certificate: String,
    connection_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_error_code: Option<String>,
    creation_date: i64,
    custom_key_store_type: &'static str,
}

/// Whether a request names a member of external key stores (`Xks…`).
fn names_xks(input: &Value) -> bool {
    input
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.starts_with("Xks")))
}

/// The label of a key's key in its custom key store's token.
pub(super) fn token_label(key_id: &str) -> String {
    format!("keyward-{key_id}")
}

pub(super) fn invalid_state(message: impl Into<String>) -> KmsError {
    KmsError::new(ErrorKind::CustomKeyStoreInvalidState, message)
}

fn no_external_key_stores() -> KmsError {
    KmsError::new(
        ErrorKind::UnsupportedOperation,
        "keyward has no external key stores (CustomKeyStoreType EXTERNAL_KEY_STORE); it serves AWS_CLOUDHSM key stores over PKCS#11",
    )
}

/// The body of a PEM certificate, without its armour and whitespace, so
/// two copies of one certificate compare equal.
fn certificate_body(pem: &str) -> Option<String> {
    let begin = pem.find("-----BEGIN CERTIFICATE-----")?;
    let rest = &pem[begin + "-----BEGIN CERTIFICATE-----".len()..];
    let end = rest.find("-----END CERTIFICATE-----")?;
    let body: String = rest[..end].split_whitespace().collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(&body)
        .ok()
        .filter(|der| !der.is_empty())?;
    Some(body)
}

impl KeyService {
    pub(super) fn store_scope(&self, id: &Identity) -> Result<Scope, KmsError> {
        self.caller_scope(id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::AccessDenied,
                "a service principal has no custom key stores",
            )
        })
    }

    /// The caller's custom key store `cks_id`, or AWS's refusal.
    pub(super) fn custom_key_store(
        &self,
        scope: &Scope,
        cks_id: &str,
    ) -> Result<CustomKeyStoreRecord, KmsError> {
        self.store.custom_key_store(scope, cks_id)?.ok_or_else(|| {
            KmsError::new(
                ErrorKind::CustomKeyStoreNotFound,
                format!("Custom key store {cks_id} does not exist in this account and Region."),
            )
        })
    }

    /// The trust anchor a store may give for `cluster_id`, or AWS's refusal.
    fn check_cluster(&self, cluster_id: &str, anchor: Option<&str>) -> Result<(), KmsError> {
        let cluster = self.clusters.cluster(cluster_id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::CloudHsmClusterNotFound,
                format!("Cluster {cluster_id} does not exist: this keyward is configured with no such cluster."),
            )
        })?;
        let Some(anchor) = anchor else {
            return Ok(());
        };
        let given = certificate_body(anchor).ok_or_else(|| {
            KmsError::new(
                ErrorKind::IncorrectTrustAnchor,
                "TrustAnchorCertificate is not a PEM certificate.",
            )
        })?;
        if let Some(expected) = &cluster.trust_anchor
            && certificate_body(expected).as_deref() != Some(given.as_str())
        {
            return Err(KmsError::new(
                ErrorKind::IncorrectTrustAnchor,
                format!(
                    "The trust anchor certificate is not the one that issued cluster {cluster_id}'s certificate."
                ),
            ));
        }
        Ok(())
    }

    fn seal_password(&self, c: &CustomKeyStoreRecord, password: &str) -> Result<Vec<u8>, KmsError> {
        let purpose = password_purpose(&c.scope.account.0, c.scope.region.as_str(), &c.id);
        self.root
            .seal_internal(&purpose, &Secret::new(password.as_bytes().to_vec()))
            .map_err(|e| KmsError::internal(e.to_string()))
    }

    fn conflict(c: &CustomKeyStoreRecord, conflict: CustomKeyStoreConflict) -> KmsError {
        match conflict {
            CustomKeyStoreConflict::Name => KmsError::new(
                ErrorKind::CustomKeyStoreNameInUse,
                format!(
                    "Custom key store name {} is already in use in this account and Region.",
                    c.name
                ),
            ),
            CustomKeyStoreConflict::Cluster => KmsError::new(
                ErrorKind::CloudHsmClusterInUse,
                format!(
                    "Cluster {} is already associated with a custom key store.",
                    c.cluster_id
                ),
            ),
        }
    }

    /// Authorizes `action` (IAM policies alone, as AWS) and finds the
    /// caller's custom key store `cks_id`.
    fn caller_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        action: &str,
        cks_id: &str,
    ) -> Result<CustomKeyStoreRecord, KmsError> {
        self.authorize_account(call, id, action, Facts::default())?;
        self.custom_key_store(&self.store_scope(id)?, cks_id)
    }

    /// Writes a changed custom key store, recorded with the call.
    fn save_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        c: &CustomKeyStoreRecord,
    ) -> Result<Empty, KmsError> {
        self.store
            .update_custom_key_store(c, &mut self.journal(call, id))?
            .map_err(|conflict| Self::conflict(c, conflict))?;
        Ok(Empty {})
    }

    pub(super) fn create_custom_key_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CreateCustomKeyStoreRequest,
    ) -> Result<CreateCustomKeyStoreResponse, KmsError> {
        self.authorize_account(call, id, "CreateCustomKeyStore", Facts::default())?;
        if input.custom_key_store_type == Some(CustomKeyStoreType::ExternalKeyStore)
            || names_xks(call.input)
        {
            return Err(no_external_key_stores());
        }
        let missing = |m: &str| {
            KmsError::validation(format!(
                "{m} is required for a custom key store of type AWS_CLOUDHSM."
            ))
        };
        let cluster_id = input
            .cloud_hsm_cluster_id
            .ok_or_else(|| missing("CloudHsmClusterId"))?;
        let anchor = input
            .trust_anchor_certificate
            .ok_or_else(|| missing("TrustAnchorCertificate"))?;
        let password = input
            .key_store_password
            .ok_or_else(|| missing("KeyStorePassword"))?;
        let scope = self.store_scope(id)?;
        self.check_cluster(&cluster_id, Some(&anchor))?;
        if self.store.custom_key_stores(&scope)?.len() >= MAX_STORES {
            return Err(KmsError::new(
                ErrorKind::LimitExceeded,
                format!("An account may have at most {MAX_STORES} custom key stores in a Region."),
            ));
        }
        let mut record = CustomKeyStoreRecord {
            scope,
            id: format!("cks-{}", &hex(&rand::random::<[u8; 9]>())[..17]),
            name: input.custom_key_store_name,
            cluster_id,
            trust_anchor: anchor,
            password: Vec::new(),
            state: StoreState::Disconnected,
            error_code: None,
            created: self.now(),
        };
        record.password = self.seal_password(&record, &password)?;
        self.store
            .insert_custom_key_store(&record, &mut self.journal(call, id))?
            .map_err(|c| Self::conflict(&record, c))?;
        Ok(CreateCustomKeyStoreResponse {
            custom_key_store_id: record.id,
        })
    }

    pub(super) fn describe_custom_key_stores(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: DescribeCustomKeyStoresRequest,
    ) -> Result<Page<CustomKeyStoresListEntry>, KmsError> {
        self.authorize_account(call, id, "DescribeCustomKeyStores", Facts::default())?;
        if input.custom_key_store_id.is_some() && input.custom_key_store_name.is_some() {
            return Err(KmsError::validation(
                "Specify either CustomKeyStoreId or CustomKeyStoreName, not both.",
            ));
        }
        let scope = self.store_scope(id)?;
        let mut stores = self.store.custom_key_stores(&scope)?;
        if let Some(want) = &input.custom_key_store_id {
            stores.retain(|c| &c.id == want);
        }
        if let Some(want) = &input.custom_key_store_name {
            stores.retain(|c| &c.name == want);
        }
        if stores.is_empty()
            && let Some(asked) = input
                .custom_key_store_id
                .as_ref()
                .or(input.custom_key_store_name.as_ref())
        {
            return Err(KmsError::new(
                ErrorKind::CustomKeyStoreNotFound,
                format!("Custom key store {asked} does not exist in this account and Region."),
            ));
        }
        let items = stores
            .into_iter()
            .map(|c| {
                let (state, code) = self.clusters.state(&self.root, &c);
                CustomKeyStoresListEntry {
                    custom_key_store_id: c.id,
                    custom_key_store_name: c.name,
                    cloud_hsm_cluster_id: c.cluster_id,
                    trust_anchor_certificate: c.trust_anchor,
                    connection_state: state,
                    connection_error_code: code,
                    creation_date: c.created,
                    custom_key_store_type: CustomKeyStoreType::AwsCloudHsm.as_str(),
                }
            })
            .collect();
        paginate(
            "CustomKeyStores",
            items,
            input.limit,
            input.marker.as_deref(),
        )
    }

    pub(super) fn connect_custom_key_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CustomKeyStoreIdRequest,
    ) -> Result<Empty, KmsError> {
        let mut c = self.caller_store(
            call,
            id,
            "ConnectCustomKeyStore",
            &input.custom_key_store_id,
        )?;
        match c.state {
            StoreState::Failed => {
                return Err(invalid_state(format!(
                    "Custom key store {} is in state FAILED: disconnect it before connecting it again.",
                    c.id
                )));
            }
            // Connecting a connected store is allowed and changes nothing
            // (a lost token is reconnected on its next use).
            StoreState::Connected => return Ok(Empty {}),
            StoreState::Disconnected => {}
        }
        if self.clusters.cluster(&c.cluster_id).is_none() {
            return Err(KmsError::new(
                ErrorKind::CloudHsmClusterNotActive,
                format!(
                    "Cluster {} is not configured on this keyward.",
                    c.cluster_id
                ),
            ));
        }
        // As AWS does, a failed connection is reported by the store's
        // state (FAILED and a ConnectionErrorCode), not by this call.
        match self.clusters.connect(&self.root, &c) {
            Ok(_) => {
                c.state = StoreState::Connected;
                c.error_code = None;
            }
            Err(code) => {
                c.state = StoreState::Failed;
                c.error_code = Some(code.to_owned());
            }
        }
        self.save_store(call, id, &c)
    }

    pub(super) fn disconnect_custom_key_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CustomKeyStoreIdRequest,
    ) -> Result<Empty, KmsError> {
        let mut c = self.caller_store(
            call,
            id,
            "DisconnectCustomKeyStore",
            &input.custom_key_store_id,
        )?;
        if c.state == StoreState::Disconnected {
            return Err(invalid_state(format!(
                "Custom key store {} is already disconnected.",
                c.id
            )));
        }
        c.state = StoreState::Disconnected;
        c.error_code = None;
        self.store
            .update_custom_key_store(&c, &mut self.journal(call, id))?
            .map_err(|conflict| Self::conflict(&c, conflict))?;
        self.clusters.disconnect(&c);
        Ok(Empty {})
    }

    pub(super) fn update_custom_key_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: UpdateCustomKeyStoreRequest,
    ) -> Result<Empty, KmsError> {
        let mut c =
            self.caller_store(call, id, "UpdateCustomKeyStore", &input.custom_key_store_id)?;
        if names_xks(call.input) {
            return Err(no_external_key_stores());
        }
        let deep = input.key_store_password.is_some() || input.cloud_hsm_cluster_id.is_some();
        match c.state {
            StoreState::Disconnected => {}
            StoreState::Connected if !deep => {}
            state => {
                let state = state.as_str();
                return Err(invalid_state(format!(
                    "Custom key store {} is in state {state}: {}",
                    c.id,
                    if deep {
                        "its password and cluster change only while it is DISCONNECTED."
                    } else {
                        "its name changes only while it is CONNECTED or DISCONNECTED."
                    }
                )));
            }
        }
        if let Some(cluster_id) = input.cloud_hsm_cluster_id
            && cluster_id != c.cluster_id
        {
            self.check_cluster(&cluster_id, None)?;
            // A related cluster holds the same keys under the same
            // certificate: here, the same trust anchor.
            let anchor_of = |id: &str| {
                self.clusters
                    .cluster(id)
                    .and_then(|k| k.trust_anchor.as_deref())
                    .and_then(certificate_body)
            };
            if anchor_of(&cluster_id).is_none()
                || anchor_of(&cluster_id) != certificate_body(&c.trust_anchor)
            {
                return Err(KmsError::new(
                    ErrorKind::CloudHsmClusterNotRelated,
                    format!(
                        "Cluster {cluster_id} has a different cluster certificate than cluster {}.",
                        c.cluster_id
                    ),
                ));
            }
            c.cluster_id = cluster_id;
        }
        if let Some(password) = input.key_store_password {
            c.password = self.seal_password(&c, &password)?;
        }
        if let Some(name) = input.new_custom_key_store_name {
            c.name = name;
        }
        self.save_store(call, id, &c)
    }

    pub(super) fn delete_custom_key_store(
        &self,
        call: &mut Call<'_>,
        id: &Identity,
        input: CustomKeyStoreIdRequest,
    ) -> Result<Empty, KmsError> {
        let c = self.caller_store(call, id, "DeleteCustomKeyStore", &input.custom_key_store_id)?;
        if c.state != StoreState::Disconnected {
            return Err(invalid_state(format!(
                "Custom key store {} is in state {}: disconnect it before deleting it.",
                c.id,
                c.state.as_str()
            )));
        }
        let has_keys = || {
            KmsError::new(
                ErrorKind::CustomKeyStoreHasCmks,
                format!(
                    "Custom key store {} contains KMS keys: schedule their deletion and wait until they are deleted.",
                    c.id
                ),
            )
        };
        if self.store.keys_in_custom_key_store(&c.scope, &c.id)? > 0 {
            return Err(has_keys());
        }
        if !self
            .store
            .delete_custom_key_store(&c.scope, &c.id, &mut self.journal(call, id))?
        {
            return Err(has_keys());
        }
        Ok(Empty {})
    }
}
