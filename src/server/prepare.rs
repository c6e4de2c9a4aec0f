//! What `keyward serve` does before it listens: the data directory (and
//! the shared store, if one is named), the key service over it, and the
//! identities, with a development identity on a first start.

use std::path::PathBuf;

use super::Config;
use super::identities::{self, Identities};
use crate::service::{DataDir, KeyService};

/// What a first start prints: how to reach the server.
pub struct Startup {
    pub credentials: Option<(String, String)>,
    pub identities: PathBuf,
}

/// Prepares the data directory and identities, creating a development
/// identity on first start.
pub fn prepare(config: &Config) -> Result<(KeyService, Identities, Startup), miette::Report> {
    let mut dir = DataDir::new(&config.data);
    if let Some(url) = &config.store {
        dir = dir.with_store(url.clone());
    }
    if let Some(node) = &config.node {
        dir = dir.with_node(node.clone());
    }
    dir.init().map_err(|e| miette::miette!("{e}"))?;
    let default_region = config
        .regions
        .first()
        .ok_or_else(|| miette::miette!("no Region to serve"))?;
    let service = KeyService::open(&dir, default_region.as_str())
        .map_err(|e| miette::miette!("{e}"))?
        .with_regions(config.regions.clone())
        .with_clusters(config.clusters.clone())
        .with_audit_sync(config.audit_sync);
    tracing::info!(
        data = %config.data.display(),
        store = %dir.store_location(),
        node = %service.node(),
        audit_log = %dir.audit_log().display(),
        "store and audit log opened"
    );
    let (path, credentials) = match &config.identities {
        Some(p) => (p.clone(), None),
        None => {
            let p = config.data.join("identities.json");
            if p.exists() {
                (p, None)
            } else {
                let (doc, key, secret) = identities::development_identity();
                let text =
                    serde_json::to_string_pretty(&doc).map_err(|e| miette::miette!("{e}"))?;
                crate::service::write_private(&p, text.as_bytes())
                    .map_err(|e| miette::miette!("{}: {e}", p.display()))?;
                (p, Some((key, secret)))
            }
        }
    };
    let identities = Identities::load(&path)?;
    Ok((
        service,
        identities,
        Startup {
            credentials,
            identities: path,
        },
    ))
}
