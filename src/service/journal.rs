//! Changes and their audit records commit together. A change's record is
//! written and synced before the store commits the change, with the
//! record's anchor in the same transaction; if the record cannot be
//! written, the change rolls back. Records of calls that change nothing
//! are anchored every second and on shutdown.
//!
//! The audit log's keys — the chain's MAC key and the digest signing key —
//! are keyward's own, sealed under the root key in the store.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::audit::{Anchor, ChainKey, Signer};
use crate::crypto::{RootKey, Secret};
use crate::store::{Journal, KeyRecord, Store, StoreError};

use super::{Call, DataDir, Identity, KeyService, KmsError};

const CHAIN_KEY: &str = "audit-chain-hmac-sha256";
const DIGEST_KEY: &str = "audit-digest-ed25519";

/// The audit log's keys, unsealed.
pub struct AuditKeys {
    pub chain: ChainKey,
    pub signer: Signer,
}

impl AuditKeys {
    /// The keys of the store's audit log, created on first use.
    pub(super) fn load_or_create(store: &Store, root: &RootKey) -> Result<AuditKeys, KmsError> {
        let chain = internal_key(store, root, CHAIN_KEY, || {
            Ok(ChainKey::generate().secret().expose().to_vec())
        })?;
        let signer = internal_key(store, root, DIGEST_KEY, || {
            Signer::generate()
                .map(|s| s.pkcs8().expose().to_vec())
                .map_err(|e| KmsError::internal(e.to_string()))
        })?;
        let bad = |e: crate::audit::AuditError| KmsError::internal(e.to_string());
        Ok(AuditKeys {
            chain: ChainKey::new(chain).map_err(bad)?,
            signer: Signer::from_pkcs8(signer).map_err(bad)?,
        })
    }

    /// The keys and the anchor of a data directory's audit log, for
    /// checking it and signing digests (the CLI; the log is not opened).
    pub fn open(dir: &DataDir) -> Result<(AuditKeys, Option<Anchor>), KmsError> {
        let store = dir.open_store()?;
        let root = dir.load_root_key(&store)?;
        let keys = AuditKeys::load_or_create(&store, &root)?;
        Ok((keys, store.audit_anchor()?))
    }

    /// The keys, and every node's anchor, of a store that nodes share.
    pub fn open_all(dir: &DataDir) -> Result<(AuditKeys, Vec<(String, Anchor)>), KmsError> {
        let store = dir.open_store()?;
        let root = dir.load_root_key(&store)?;
        let keys = AuditKeys::load_or_create(&store, &root)?;
        Ok((keys, store.audit_anchors()?))
    }
}

/// The key sealed for `purpose`, made by `make` and stored if there is none.
pub(super) fn internal_key(
    store: &Store,
    root: &RootKey,
    purpose: &str,
    make: impl FnOnce() -> Result<Vec<u8>, KmsError>,
) -> Result<Secret, KmsError> {
    let sealed = match store.internal_key(purpose)? {
        Some(s) => s,
        None => {
            let fresh = Secret::new(make()?);
            let sealed = root
                .seal_internal(purpose, &fresh)
                .map_err(|e| KmsError::internal(e.to_string()))?;
            store.insert_internal_key(purpose, &sealed)?
        }
    };
    root.unseal_internal(purpose, &sealed).map_err(|e| {
        let which = root
            .uri()
            .map_or_else(|| "this root key".to_owned(), |u| format!("the root key {u}"));
        KmsError::internal(format!(
            "{which} does not open this data directory (the audit key `{purpose}`: {e}); is it the key the data was sealed with?"
        ))
    })
}

fn not_recorded(e: crate::audit::AuditError) -> StoreError {
    StoreError::new(format!("change not committed: {e}"))
}

/// Writes a call's record just before its change commits.
pub(super) struct Recorder<'a, 'b> {
    pub(super) service: &'a KeyService,
    pub(super) call: &'a mut Call<'b>,
    pub(super) id: &'a Identity,
}

impl Journal for Recorder<'_, '_> {
    fn record(&mut self) -> Result<Anchor, StoreError> {
        let anchor = self
            .service
            .audit_record(self.call, self.id, None, None)
            .and_then(|r| self.service.audit.append_durable(r))
            .map_err(not_recorded)?;
        self.call.recorded = Some(anchor.head.seq);
        Ok(anchor)
    }
}

/// A change keyward makes on its own when a key's time comes: the end of
/// its deletion waiting period (`DeleteKey`) or an automatic rotation
/// (`RotateKey`). Recorded as a service event, as CloudTrail does.
pub(super) struct ServiceChange<'a> {
    pub(super) service: &'a KeyService,
    pub(super) event: &'static str,
    pub(super) key: &'a KeyRecord,
}

impl Journal for ServiceChange<'_> {
    fn record(&mut self) -> Result<Anchor, StoreError> {
        let record = json!({
            "eventVersion": "1.08",
            "eventTime": self.service.event_time(),
            "eventSource": "kms.amazonaws.com",
            "eventName": self.event,
            "awsRegion": self.key.scope.region.as_str(),
            "userIdentity": {"type": "AWSService", "invokedBy": "kms.amazonaws.com"},
            "requestParameters": null,
            "resources": [{
                "accountId": self.key.scope.account.0, "type": "AWS::KMS::Key", "ARN": self.key.arn
            }],
            "eventType": "AwsServiceEvent",
            "recipientAccountId": self.key.scope.account.0,
            "additionalEventData": {"keyId": self.key.key_id},
        });
        crate::audit::Record::try_from(record)
            .and_then(|r| self.service.audit.append_durable(r))
            .map_err(not_recorded)
    }
}

impl KeyService {
    /// A journal for the change `call` makes.
    pub(super) fn journal<'a, 'b>(
        &'a self,
        call: &'a mut Call<'b>,
        id: &'a Identity,
    ) -> Recorder<'a, 'b> {
        Recorder {
            service: self,
            call,
            id,
        }
    }

    /// Syncs the audit log to disk and anchors its head in the store: the
    /// records of calls that changed nothing can no longer be cut unseen.
    /// The server runs it every second and on shutdown.
    pub fn anchor_audit(&self) -> Result<(), KmsError> {
        let head = self.audit.head().seq;
        if self.anchored.load(Ordering::Acquire) == head {
            return Ok(());
        }
        let anchor = self
            .audit
            .sync()
            .map_err(|e| KmsError::internal(e.to_string()))?;
        self.store.set_audit_anchor(&anchor)?;
        self.anchored.fetch_max(anchor.head.seq, Ordering::AcqRel);
        Ok(())
    }
}
