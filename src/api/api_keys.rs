//! The gateway's API key file: written by `meshctl gateway keys add|revoke`, read (and
//! re-read when it changes) by the gateway. It holds each key's name and SHA-256, never the
//! key: a key is 256 random bits, so a fast hash is enough to make a stolen file useless.
//! Written atomically with mode 0600; a file other users can read is refused.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::token::NoRandomness;

/// What every key starts with (so a leaked one is recognisable, e.g. by secret scanners).
pub const KEY_PREFIX: &str = "mk_";
/// The largest key file read (a hundred thousand keys fit in it).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub keys: Vec<KeyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// What the gateway passes to the service and counts in metrics.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: String,
    pub created_unix: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_unix: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{}: readable by other users (mode {mode:o}); run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{}: larger than {MAX_FILE_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("{}: not a key file: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error("a key named `{0}` exists already (revoke it first, or pick another name)")]
    Exists(String),
    #[error("no active key named `{0}`")]
    NoSuchKey(String),
    #[error(
        "invalid key name `{0}`: 1-63 characters, letters, digits, `-`, `_` and `.` (it is passed in a header)"
    )]
    BadName(String),
    #[error(transparent)]
    NoRandomness(#[from] NoRandomness),
}

/// Hex SHA-256 of a presented key.
pub fn key_hash(key: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Equal without an early exit: the time taken does not say how much of a hash matched.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

pub fn check_name(name: &str) -> Result<(), KeyFileError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KeyFileError::BadName(name.to_string()))
    }
}

/// A key as the gateway checks it: the hash parsed once.
#[derive(Debug, Clone)]
pub struct Known {
    pub name: String,
    hash: [u8; 32],
    pub revoked: bool,
}

/// What a presented key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    Valid(&'a str),
    Revoked(&'a str),
    Unknown,
}

/// The keys of a file, ready to check presented keys against.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Known>,
}

impl KeySet {
    /// Compares the presented key's hash with every entry (all of them, in constant time
    /// each), so neither which key matched nor how much of it shows in the time taken.
    pub fn lookup(&self, presented: &str) -> Lookup<'_> {
        let hash = key_hash(presented);
        let mut found = None;
        for k in &self.keys {
            if same(&k.hash, &hash) && found.is_none() {
                found = Some(k);
            }
        }
        match found {
            Some(k) if k.revoked => Lookup::Revoked(&k.name),
            Some(k) => Lookup::Valid(&k.name),
            None => Lookup::Unknown,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyFile {
    /// Reads `path`, refusing a file that group or others can read.
    pub fn load(path: &Path) -> Result<KeyFile, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(KeyFileError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read(path).map_err(io)?;
        let file: KeyFile = serde_json::from_slice(&text).map_err(|e| KeyFileError::Corrupt {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        for k in &file.keys {
            if unhex(&k.sha256).is_none() {
                return Err(KeyFileError::Corrupt {
                    path: path.to_path_buf(),
                    why: format!("key `{}`: sha256 is not 64 hex digits", k.name),
                });
            }
        }
        Ok(file)
    }

    /// [`KeyFile::load`], or an empty file when there is none yet.
    pub fn load_or_empty(path: &Path) -> Result<KeyFile, KeyFileError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KeyFile::default()),
            _ => KeyFile::load(path),
        }
    }

    /// Writes the file atomically (a reader sees the old or the new one), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut body = serde_json::to_vec_pretty(self).map_err(|e| io(io::Error::other(e)))?;
        body.push(b'\n');
        crate::fsutil::write_atomic(path, &body, crate::fsutil::PRIVATE_FILE_MODE).map_err(io)
    }

    /// Adds a new random key named `name` and returns it: the only time it is ever shown.
    pub fn add(&mut self, name: &str, now_unix: u64) -> Result<String, KeyFileError> {
        check_name(name)?;
        if self
            .keys
            .iter()
            .any(|k| k.name == name && k.revoked_unix.is_none())
        {
            return Err(KeyFileError::Exists(name.to_string()));
        }
        let key = format!("{KEY_PREFIX}{}", super::token::new_token()?);
        self.keys.push(KeyEntry {
            name: name.to_string(),
            sha256: hex(&key_hash(&key)),
            created_unix: now_unix,
            revoked_unix: None,
        });
        Ok(key)
    }

    /// Marks the active key `name` revoked (kept, so its use is answered 403 "revoked").
    pub fn revoke(&mut self, name: &str, now_unix: u64) -> Result<(), KeyFileError> {
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.name == name && k.revoked_unix.is_none())
            .ok_or_else(|| KeyFileError::NoSuchKey(name.to_string()))?;
        key.revoked_unix = Some(now_unix);
        Ok(())
    }

    pub fn key_set(&self) -> KeySet {
        KeySet {
            keys: self
                .keys
                .iter()
                .filter_map(|k| {
                    Some(Known {
                        name: k.name.clone(),
                        hash: unhex(&k.sha256)?,
                        revoked: k.revoked_unix.is_some(),
                    })
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_its_hash_and_a_revoked_one_is_told_apart() {
        let mut file = KeyFile::default();
        let ci = file.add("ci", 1).unwrap();
        let other = file.add("partner", 2).unwrap();
        assert!(ci.starts_with(KEY_PREFIX) && ci.len() == 3 + 64, "{ci}");
        assert_ne!(ci, other);
        assert!(!serde_json::to_string(&file).unwrap().contains(&ci));
        let set = file.key_set();
        assert_eq!(set.lookup(&ci), Lookup::Valid("ci"));
        assert_eq!(set.lookup("mk_guess"), Lookup::Unknown);
        file.revoke("ci", 3).unwrap();
        assert_eq!(file.key_set().lookup(&ci), Lookup::Revoked("ci"));
        assert_eq!(file.key_set().lookup(&other), Lookup::Valid("partner"));
        assert!(matches!(
            file.revoke("ci", 4),
            Err(KeyFileError::NoSuchKey(_))
        ));
        // The name is free again once revoked.
        let again = file.add("ci", 5).unwrap();
        assert_eq!(file.key_set().lookup(&again), Lookup::Valid("ci"));
        assert!(matches!(file.add("ci", 6), Err(KeyFileError::Exists(_))));
        assert!(matches!(file.add("a b", 6), Err(KeyFileError::BadName(_))));
    }

    #[test]
    fn the_file_is_written_0600_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        assert_eq!(KeyFile::load_or_empty(&path).unwrap(), KeyFile::default());
        let mut file = KeyFile::default();
        file.add("ci", 1).unwrap();
        file.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(KeyFile::load(&path).unwrap(), file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyFile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("readable by other users") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            &path,
            "{\"keys\":[{\"name\":\"x\",\"sha256\":\"zz\",\"created_unix\":1}]}",
        )
        .unwrap();
        let err = KeyFile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("not a key file") && err.contains("`x`"),
            "{err}"
        );
    }
}
