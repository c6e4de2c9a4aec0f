//! Hardware security modules over PKCS#11: where the root key and the keys
//! of custom key stores live when they must not live in keyward's memory.
//!
//! A token is named by an RFC 7512 URI ([`Pkcs11Uri`]) and used through
//! the `cryptoki` binding ([`Token`]): keys are generated inside it as
//! sensitive, non-extractable AES-256 keys, and sealing and opening run
//! inside it (AES-GCM).

mod token;
mod uri;

pub use token::{HsmError, Token, pin_for};
pub use uri::{Pkcs11Uri, UriError};
