//! The demo's gateway in front of `web`: a self-signed certificate for `localhost` and
//! `127.0.0.1`, and an API key named `demo`, made once in the demo's directory and reused
//! (the key is shown in `gateway-demo.key`, mode 0600, so the README's curl can read it).

use std::path::{Path, PathBuf};

use crate::api::api_keys::KeyFile;

/// The demo gateway's files, in the demo's directory.
#[derive(Debug, Clone)]
pub struct DemoGateway {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub keys_file: PathBuf,
    /// The `demo` key itself (what a client sends in `x-api-key`).
    pub demo_key: PathBuf,
}

pub const CERT_FILE: &str = "gateway-cert.pem";
pub const KEY_FILE: &str = "gateway-key.pem";
pub const KEYS_FILE: &str = "gateway-keys.json";
pub const DEMO_KEY_FILE: &str = "gateway-demo.key";

/// Makes whatever of the demo gateway's files is missing in `dir`.
pub fn ensure(dir: &Path) -> anyhow::Result<DemoGateway> {
    use anyhow::Context as _;
    let files = DemoGateway {
        cert: dir.join(CERT_FILE),
        key: dir.join(KEY_FILE),
        keys_file: dir.join(KEYS_FILE),
        demo_key: dir.join(DEMO_KEY_FILE),
    };
    let private = crate::fsutil::PRIVATE_FILE_MODE;
    if !(files.cert.exists() && files.key.exists()) {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let made = rcgen::generate_simple_self_signed(names)
            .context("making the demo gateway's certificate")?;
        crate::fsutil::write_atomic(
            &files.key,
            made.signing_key.serialize_pem().as_bytes(),
            private,
        )
        .with_context(|| format!("writing {}", files.key.display()))?;
        crate::fsutil::write_atomic(
            &files.cert,
            made.cert.pem().as_bytes(),
            crate::fsutil::PUBLIC_FILE_MODE,
        )
        .with_context(|| format!("writing {}", files.cert.display()))?;
    }
    if !(files.keys_file.exists() && files.demo_key.exists()) {
        let mut keys = KeyFile::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let key = keys.add("demo", now)?;
        keys.save(&files.keys_file)?;
        crate::fsutil::write_atomic(&files.demo_key, format!("{key}\n").as_bytes(), private)
            .with_context(|| format!("writing {}", files.demo_key.display()))?;
    }
    Ok(files)
}
