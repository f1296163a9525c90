//! Where a shard comes from: its name in the data folder (and the lock), its path under
//! the base URL and its pinned digest. Shared by fetch and the data lock.

use serde::{Deserialize, Serialize};

/// One shard to fetch: the plain input the evaluator's track parser hands over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSource {
    /// File name in the data folder, and the key in the data lock.
    pub name: String,
    /// Path under the base URL (usually the name).
    pub url_path: String,
    /// Pinned lowercase hex sha256; `None` means trust on first use.
    pub sha256: Option<String>,
}

/// A shard name must be a plain file name: a track cannot make fetch write elsewhere.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.ends_with(".part");
    if plain {
        Ok(())
    } else {
        Err(format!(
            "shard name {name:?} must be a plain file name (no folders, not ending in .part)"
        ))
    }
}

impl ShardSource {
    /// A shard served under its own name.
    pub fn new(name: impl Into<String>, sha256: Option<String>) -> Self {
        let name = name.into();
        Self {
            url_path: name.clone(),
            name,
            sha256,
        }
    }
}
