//! `speedcert submission new`: a submission folder that certifies out of the box (the
//! reference recipe with a learning-rate knob), with its own test and README.

use std::path::{Path, PathBuf};

use super::{OutsideError, io};

/// The files written, by path inside the folder, from templates in `template/`.
const FILES: [(&str, &str); 5] = [
    ("Cargo.toml", include_str!("template/Cargo.toml.in")),
    ("src/lib.rs", include_str!("template/lib.rs")),
    ("tests/train.rs", include_str!("template/train.rs")),
    ("README.md", include_str!("template/README.md")),
    (".gitignore", include_str!("template/gitignore")),
];

/// The referee's `[patch]` table with absolute paths, so the folder resolves the same
/// crates as the referee when built on its own (speedcert patches one of burn's crates).
fn referee_patches(referee: &Path) -> Result<String, OutsideError> {
    let root = super::runner::referee_manifest(referee)?;
    let Some(mut patch) = root.get("patch").and_then(|p| p.as_table()).cloned() else {
        return Ok(String::new());
    };
    for (_, registry) in patch.iter_mut() {
        let Some(registry) = registry.as_table_mut() else {
            continue;
        };
        for (_, dep) in registry.iter_mut() {
            if let Some(dep) = dep.as_table_mut()
                && let Some(rel) = dep.get("path").and_then(|p| p.as_str())
            {
                let abs = referee.join(rel).display().to_string();
                dep.insert("path".into(), abs.into());
            }
        }
    }
    let mut doc = toml::Table::new();
    doc.insert("patch".into(), patch.into());
    Ok(format!(
        "\n# speedcert's own patches, so this folder builds with the crates the referee builds with.\n{}",
        toml::to_string(&doc).map_err(|e| OutsideError::Referee(e.to_string()))?
    ))
}

/// Writes a new submission `name` for `track` into `dir` (which must not exist or be
/// empty), with a Cargo.lock pinned to speedcert's own versions. Returns the files written.
pub fn new_submission(
    dir: &Path,
    name: &str,
    track: &str,
    referee_source: &Path,
) -> Result<Vec<PathBuf>, OutsideError> {
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(OutsideError::Manifest {
            path: dir.to_owned(),
            message: "already exists and is not empty; choose a new folder".into(),
        });
    }
    let sdk = referee_source.join("sdk");
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{track}}", track)
            .replace("{{sdk}}", &sdk.display().to_string())
    };
    let mut written = Vec::new();
    for (rel, template) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut text = fill(template);
        if rel == "Cargo.toml" {
            text.push_str(&referee_patches(referee_source)?);
        }
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    // The manifest must parse as the referee will read it.
    super::Manifest::read(dir)?;
    // speedcert's own lock, settled for this crate: the submission starts on exactly the
    // versions the referee builds with.
    super::runner::settle_lock(dir, referee_source, &dir.join("Cargo.toml"), "Cargo.lock")?;
    let lock = dir.join("Cargo.lock");
    written.push(lock);
    Ok(written)
}
