//! Errors as AWS KMS returns them: an exception type and a message.

use std::fmt;

/// The AWS KMS exception types keyward returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorKind {
    AccessDenied,
    AlreadyExists,
    CloudHsmClusterInUse,
    CloudHsmClusterNotActive,
    CloudHsmClusterNotFound,
    CloudHsmClusterNotRelated,
    CustomKeyStoreHasCmks,
    CustomKeyStoreInvalidState,
    CustomKeyStoreNameInUse,
    CustomKeyStoreNotFound,
    Disabled,
    DependencyTimeout,
    DryRunOperation,
    ExpiredImportToken,
    IncorrectKey,
    IncorrectTrustAnchor,
    IncorrectKeyMaterial,
    InvalidAliasName,
    InvalidArn,
    InvalidCiphertext,
    InvalidGrantId,
    InvalidGrantToken,
    InvalidImportToken,
    InvalidKeyUsage,
    InvalidMac,
    InvalidMarker,
    InvalidSignature,
    KmsInternal,
    KmsInvalidState,
    LimitExceeded,
    MalformedPolicyDocument,
    NotFound,
    Serialization,
    Tag,
    Throttling,
    UnknownOperation,
    UnsupportedOperation,
    Validation,
}

impl ErrorKind {
    /// The `__type` AWS sends.
    pub fn aws_type(self) -> &'static str {
        match self {
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::AlreadyExists => "AlreadyExistsException",
            ErrorKind::CloudHsmClusterInUse => "CloudHsmClusterInUseException",
            ErrorKind::CloudHsmClusterNotActive => "CloudHsmClusterNotActiveException",
            ErrorKind::CloudHsmClusterNotFound => "CloudHsmClusterNotFoundException",
            ErrorKind::CloudHsmClusterNotRelated => "CloudHsmClusterNotRelatedException",
            ErrorKind::CustomKeyStoreHasCmks => "CustomKeyStoreHasCMKsException",
            ErrorKind::CustomKeyStoreInvalidState => "CustomKeyStoreInvalidStateException",
            ErrorKind::CustomKeyStoreNameInUse => "CustomKeyStoreNameInUseException",
            ErrorKind::CustomKeyStoreNotFound => "CustomKeyStoreNotFoundException",
            ErrorKind::Disabled => "DisabledException",
            ErrorKind::DependencyTimeout => "DependencyTimeoutException",
            ErrorKind::DryRunOperation => "DryRunOperationException",
            ErrorKind::ExpiredImportToken => "ExpiredImportTokenException",
            ErrorKind::IncorrectKey => "IncorrectKeyException",
            ErrorKind::IncorrectTrustAnchor => "IncorrectTrustAnchorException",
            ErrorKind::IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            ErrorKind::InvalidAliasName => "InvalidAliasNameException",
            ErrorKind::InvalidArn => "InvalidArnException",
            ErrorKind::InvalidCiphertext => "InvalidCiphertextException",
            ErrorKind::InvalidGrantId => "InvalidGrantIdException",
            ErrorKind::InvalidGrantToken => "InvalidGrantTokenException",
            ErrorKind::InvalidImportToken => "InvalidImportTokenException",
            ErrorKind::InvalidKeyUsage => "InvalidKeyUsageException",
            ErrorKind::InvalidMac => "KMSInvalidMacException",
            ErrorKind::InvalidMarker => "InvalidMarkerException",
            ErrorKind::InvalidSignature => "KMSInvalidSignatureException",
            ErrorKind::KmsInternal => "KMSInternalException",
            ErrorKind::KmsInvalidState => "KMSInvalidStateException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::Tag => "TagException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::UnsupportedOperation => "UnsupportedOperationException",
            ErrorKind::Validation => "ValidationException",
        }
    }

    /// The HTTP status AWS sends with it.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::KmsInternal => 500,
            ErrorKind::DependencyTimeout => 503,
            ErrorKind::DryRunOperation => 412,
            _ => 400,
        }
    }
}

/// An error of one KMS operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct KmsError {
    pub kind: ErrorKind,
    /// AWS's message, as the client receives it.
    pub message: String,
    /// What keyward knows beyond AWS's text (why a ciphertext was refused,
    /// say): recorded in the audit log, never sent to the client.
    pub detail: Option<String>,
    /// The refusal came from the encryption context: a policy condition on
    /// it, or a ciphertext that does not open under the context given (for
    /// the on-call metric of context-mismatch denials).
    pub context_mismatch: bool,
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.aws_type(), self.message)
    }
}

impl KmsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> KmsError {
        KmsError {
            kind,
            message: message.into(),
            detail: None,
            context_mismatch: false,
        }
    }

    /// Marks a refusal that came from the encryption context.
    pub fn on_context(mut self) -> KmsError {
        self.context_mismatch = true;
        self
    }

    /// Adds what keyward knows beyond AWS's text (see [`KmsError::detail`]).
    pub fn with_detail(mut self, detail: impl Into<String>) -> KmsError {
        self.detail = Some(detail.into());
        self
    }

    /// AWS's InvalidCiphertextException, whose message is empty.
    pub fn invalid_ciphertext(detail: impl Into<String>) -> KmsError {
        KmsError::new(ErrorKind::InvalidCiphertext, "").with_detail(detail)
    }

    pub fn validation(message: impl Into<String>) -> KmsError {
        KmsError::new(ErrorKind::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> KmsError {
        KmsError::new(ErrorKind::NotFound, message)
    }

    /// AWS's answer to a request with `DryRun` set that would have succeeded.
    pub fn dry_run() -> KmsError {
        KmsError::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        )
    }

    pub fn internal(message: impl Into<String>) -> KmsError {
        KmsError::new(ErrorKind::KmsInternal, message)
    }
}

impl From<crate::store::StoreError> for KmsError {
    /// A store that did not answer in time (a shared database that is
    /// slow, overloaded or restarting) is AWS's retryable
    /// `DependencyTimeoutException`; any other failure is internal.
    fn from(e: crate::store::StoreError) -> Self {
        if e.timed_out() {
            KmsError::new(
                ErrorKind::DependencyTimeout,
                "The system timed out while trying to fulfill the request. You can retry the request.",
            )
            .with_detail(e.to_string())
        } else {
            KmsError::internal(e.to_string())
        }
    }
}
