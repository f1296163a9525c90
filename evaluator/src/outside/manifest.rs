//! A submission folder's manifest: `[package.metadata.speedcert]` in its Cargo.toml,
//! naming the submission, the type that implements `speedcert_sdk::Family`, and the
//! tracks it is for.

use std::path::{Path, PathBuf};

use super::OutsideError;

/// Where the manifest lives in Cargo.toml.
pub const TABLE: &str = "[package.metadata.speedcert]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The crate's package name (`[package] name`).
    pub package: String,
    /// The submission's name in bundles and records.
    pub name: String,
    /// Path of the `Family` type inside the crate, e.g. `Submission` or `recipes::Fast`.
    pub family: String,
    /// Track names this submission is for.
    pub tracks: Vec<String>,
}

impl Manifest {
    /// Reads `dir/Cargo.toml`. Every error names the file and the field.
    pub fn read(dir: &Path) -> Result<Self, OutsideError> {
        let path = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| OutsideError::Io {
            path: path.clone(),
            source: e,
        })?;
        let bad = |message: String| OutsideError::Manifest {
            path: path.clone(),
            message,
        };
        let doc: toml::Table = text.parse().map_err(|e| bad(format!("not TOML: {e}")))?;
        let package = doc
            .get("package")
            .and_then(|p| p.as_table())
            .ok_or_else(|| bad("no [package]: a submission is one Cargo package".into()))?;
        let crate_name = package
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| bad("[package] name: missing".into()))?
            .to_owned();
        let meta = package
            .get("metadata")
            .and_then(|m| m.get("speedcert"))
            .and_then(|m| m.as_table())
            .ok_or_else(|| {
                bad(format!(
                    "no {TABLE}: it names the submission, its Family type and its tracks (`speedcert submission new` writes one)"
                ))
            })?;
        let field = |key: &str| -> Result<String, OutsideError> {
            meta.get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("{TABLE} {key}: missing or not a string")))
        };
        let name = field("name")?;
        if !valid_name(&name) {
            return Err(bad(format!(
                "{TABLE} name: {name:?} must be 1 to 64 lowercase letters, digits and dashes, starting with a letter or digit"
            )));
        }
        let family = field("family")?;
        if !family.split("::").all(valid_ident) {
            return Err(bad(format!(
                "{TABLE} family: {family:?} is not a Rust type path (like `Submission` or `recipes::Fast`)"
            )));
        }
        let tracks = meta
            .get("tracks")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .map(|t| t.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .and_then(|t| t.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                bad(format!(
                    "{TABLE} tracks: missing, empty or not a list of track names"
                ))
            })?;
        Ok(Self {
            package: crate_name,
            name,
            family,
            tracks,
        })
    }

    /// `Err` unless the manifest names `track`.
    pub fn check_track(&self, dir: &Path, track: &str) -> Result<(), OutsideError> {
        if self.tracks.iter().any(|t| t == track) {
            return Ok(());
        }
        Err(OutsideError::Manifest {
            path: dir.join("Cargo.toml"),
            message: format!(
                "{TABLE} tracks = {:?} does not name track `{track}`: a submission is certified only on the tracks it is written for",
                self.tracks
            ),
        })
    }

    /// The crate's name as a Rust identifier (dashes become underscores).
    pub fn crate_ident(&self) -> String {
        self.package.replace('-', "_")
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The folder a `--submission` value names, if it names one: a value with a `/` or an
/// existing folder. Built-in names have neither.
pub fn as_folder(value: &str) -> Option<PathBuf> {
    let path = Path::new(value);
    (value.contains('/') || path.is_dir()).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, meta: &str) {
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"my-sub\"\nversion = \"0.1.0\"\n\n{meta}"),
        )
        .unwrap();
    }

    #[test]
    fn reads_the_manifest_and_names_the_field_that_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "[package.metadata.speedcert]\nname = \"lr-up\"\nfamily = \"Submission\"\ntracks = [\"test-tiny\"]\n",
        );
        let m = Manifest::read(d.path()).unwrap();
        assert_eq!(
            (m.name.as_str(), m.family.as_str(), m.crate_ident().as_str()),
            ("lr-up", "Submission", "my_sub")
        );
        assert!(m.check_track(d.path(), "test-tiny").is_ok());
        let e = m
            .check_track(d.path(), "synthetic-cpu")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Cargo.toml") && e.contains("synthetic-cpu"),
            "{e}"
        );

        for (meta, field) in [
            ("", "no [package.metadata.speedcert]"),
            (
                "[package.metadata.speedcert]\nfamily = \"S\"\ntracks = [\"t\"]\n",
                "name: missing",
            ),
            (
                "[package.metadata.speedcert]\nname = \"Bad Name\"\nfamily = \"S\"\ntracks = [\"t\"]\n",
                "name: \"Bad Name\"",
            ),
            (
                "[package.metadata.speedcert]\nname = \"a\"\nfamily = \"S;x\"\ntracks = [\"t\"]\n",
                "family",
            ),
            (
                "[package.metadata.speedcert]\nname = \"a\"\nfamily = \"S\"\ntracks = []\n",
                "tracks",
            ),
        ] {
            write(d.path(), meta);
            let e = Manifest::read(d.path()).unwrap_err().to_string();
            assert!(e.contains("Cargo.toml") && e.contains(field), "{meta}: {e}");
        }
    }
}
