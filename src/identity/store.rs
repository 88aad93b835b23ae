//! The CA's files in the state directory: anchor, issuer, bundle and the leaves `certs issue` made.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ca::{self, SigningCa};
use super::{IdentityError, pem, spiffe};
use crate::fsutil::{self, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE};

/// Sub-directory of the state dir holding the CA.
pub const IDENTITY_DIR: &str = "identity";
const ANCHOR_CERT: &str = "trust-anchor.crt";
const ANCHOR_KEY: &str = "trust-anchor.key";
const ISSUER_CERT: &str = "issuer.crt";
const ISSUER_KEY: &str = "issuer.key";
const BUNDLE: &str = "bundle.crt";
/// The anchor an anchor rotation introduces, until it replaces the current one.
const NEXT_ANCHOR_CERT: &str = "trust-anchor.next.crt";
const NEXT_ANCHOR_KEY: &str = "trust-anchor.next.key";
const META: &str = "mesh.json";
const LEAVES: &str = "leaves";

/// Lifetime of the throw-away leaf `issuer_chains_to_bundle` signs (never written anywhere).
const CHAIN_PROBE_LIFETIME: Duration = Duration::from_secs(60);

/// What `certs init` creates.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub trust_domain: String,
    pub anchor_lifetime: Duration,
    pub issuer_lifetime: Duration,
    pub force: bool,
}

/// An organisation's CA used as the mesh issuer (`certs init --issuer-cert/--issuer-key`).
pub struct ExternalIssuer {
    pub cert_pem: String,
    pub key_pem: String,
    /// The root the issuer chains to: the mesh's trust anchor.
    pub anchor_pem: String,
}

impl std::fmt::Debug for ExternalIssuer {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalIssuer")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Facts about the mesh kept next to its CA.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshMeta {
    pub trust_domain: String,
}

/// The role a certificate plays in the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Anchor,
    Issuer,
    Leaf,
}

/// A certificate the store knows, with where it lives.
#[derive(Debug, Clone)]
pub struct StoredCert {
    pub role: Role,
    pub path: PathBuf,
    pub der: rustls_pki_types::CertificateDer<'static>,
}

/// The CA directory inside a state dir.
#[derive(Debug, Clone)]
pub struct CaStore {
    dir: PathBuf,
}

impl CaStore {
    pub fn new(state_dir: &Path) -> Self {
        CaStore {
            dir: state_dir.join(IDENTITY_DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn exists(&self) -> bool {
        self.dir.join(ISSUER_CERT).is_file()
    }

    fn require(&self) -> Result<(), IdentityError> {
        if self.exists() {
            Ok(())
        } else {
            Err(IdentityError::NotInitialised {
                dir: self.dir.clone(),
            })
        }
    }

    /// Creates anchor, issuer and bundle. Everything is generated and written to a sibling
    /// directory first, then swapped in by rename: a failure leaves the old CA (or nothing).
    pub fn init(&self, opts: &InitOptions) -> Result<MeshMeta, IdentityError> {
        if self.exists() && !opts.force {
            return Err(IdentityError::AlreadyInitialised {
                dir: self.dir.clone(),
            });
        }
        spiffe::validate_trust_domain(&opts.trust_domain)?;
        if opts.issuer_lifetime > opts.anchor_lifetime {
            return Err(IdentityError::LifetimeBeyondIssuer {
                requested: crate::duration::format_compact(opts.issuer_lifetime.as_secs() as i64),
                left: crate::duration::format_compact(opts.anchor_lifetime.as_secs() as i64),
            });
        }
        let anchor = ca::new_anchor(&opts.trust_domain, opts.anchor_lifetime)?;
        let anchor_ca = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem)?;
        let issuer = anchor_ca.sign_issuer(&opts.trust_domain, opts.issuer_lifetime)?;
        let meta = MeshMeta {
            trust_domain: opts.trust_domain.clone(),
        };
        self.install(
            &meta,
            &[
                (ANCHOR_CERT, anchor.cert_pem.as_bytes(), PUBLIC_FILE_MODE),
                (ANCHOR_KEY, anchor.key_pem.as_bytes(), PRIVATE_FILE_MODE),
                (ISSUER_CERT, issuer.cert_pem.as_bytes(), PUBLIC_FILE_MODE),
                (ISSUER_KEY, issuer.key_pem.as_bytes(), PRIVATE_FILE_MODE),
                (BUNDLE, anchor.cert_pem.as_bytes(), PUBLIC_FILE_MODE),
            ],
        )?;
        Ok(meta)
    }

    /// Like [`CaStore::init`] with an organisation's issuer: its certificate and key, and the
    /// root it chains to (the mesh's only anchor; its key stays with the organisation, so
    /// `certs rotate` is refused). The issuer is checked by signing a probe leaf and verifying
    /// it against the root, exactly as proxies will.
    pub fn init_external(
        &self,
        trust_domain: &str,
        issuer: &ExternalIssuer,
        force: bool,
    ) -> Result<MeshMeta, IdentityError> {
        if self.exists() && !force {
            return Err(IdentityError::AlreadyInitialised {
                dir: self.dir.clone(),
            });
        }
        spiffe::validate_trust_domain(trust_domain)?;
        let signing = SigningCa::from_pem(&issuer.cert_pem, &issuer.key_pem)?;
        let bundle = super::TrustBundle::from_pem(&issuer.anchor_pem)?;
        let id: super::SpiffeId = format!("spiffe://{trust_domain}/ns/meshctl/sa/init").parse()?;
        let leaf = signing.sign_leaf(&id, &ca::new_key()?, CHAIN_PROBE_LIFETIME)?;
        let chain = [pem::first_cert(&leaf)?, pem::first_cert(&issuer.cert_pem)?];
        bundle.verify(
            &chain[0],
            &chain[1..],
            super::verify::Usage::Server,
            rustls_pki_types::UnixTime::now(),
        )?;
        let meta = MeshMeta {
            trust_domain: trust_domain.to_string(),
        };
        self.install(
            &meta,
            &[
                (ANCHOR_CERT, issuer.anchor_pem.as_bytes(), PUBLIC_FILE_MODE),
                (ISSUER_CERT, issuer.cert_pem.as_bytes(), PUBLIC_FILE_MODE),
                (ISSUER_KEY, issuer.key_pem.as_bytes(), PRIVATE_FILE_MODE),
                (BUNDLE, issuer.anchor_pem.as_bytes(), PUBLIC_FILE_MODE),
            ],
        )?;
        Ok(meta)
    }

    /// Writes `files` and the metadata to a sibling directory, then swaps it in by rename: a
    /// failure leaves the old CA (or nothing).
    fn install(&self, meta: &MeshMeta, files: &[(&str, &[u8], u32)]) -> Result<(), IdentityError> {
        let meta_json =
            serde_json::to_vec_pretty(meta).map_err(|e| IdentityError::Generate(e.to_string()))?;
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        fsutil::create_private_dir(parent).map_err(|e| IdentityError::io(parent, e))?;
        let staging = parent.join(format!(".{IDENTITY_DIR}.new-{}", std::process::id()));
        let write_all = || -> Result<(), IdentityError> {
            fsutil::create_private_dir(&staging.join(LEAVES))
                .map_err(|e| IdentityError::io(&staging, e))?;
            let meta_file = (META, meta_json.as_slice(), PUBLIC_FILE_MODE);
            for &(name, body, mode) in files.iter().chain([&meta_file]) {
                let path = staging.join(name);
                fsutil::write_atomic(&path, body, mode).map_err(|e| IdentityError::io(&path, e))?;
            }
            Ok(())
        };
        if let Err(e) = write_all() {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        let retired = parent.join(format!(".{IDENTITY_DIR}.old-{}", std::process::id()));
        if self.dir.exists() {
            fs::rename(&self.dir, &retired).map_err(|e| IdentityError::io(&self.dir, e))?;
        }
        fs::rename(&staging, &self.dir).map_err(|e| IdentityError::io(&self.dir, e))?;
        let _ = fs::remove_dir_all(&retired);
        Ok(())
    }

    pub fn meta(&self) -> Result<MeshMeta, IdentityError> {
        self.require()?;
        let path = self.dir.join(META);
        let text = fs::read(&path).map_err(|e| IdentityError::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| IdentityError::File {
            path,
            why: e.to_string(),
        })
    }

    /// The issuer, ready to sign. Its key file must not be readable by other users.
    pub fn issuer(&self) -> Result<SigningCa, IdentityError> {
        self.require()?;
        let cert_path = self.dir.join(ISSUER_CERT);
        let cert = fs::read_to_string(&cert_path).map_err(|e| IdentityError::io(&cert_path, e))?;
        let key = super::workload::read_private_key(&self.dir.join(ISSUER_KEY))?;
        SigningCa::from_pem(&cert, &key)
    }

    pub fn issuer_pem(&self) -> Result<String, IdentityError> {
        self.read_text(ISSUER_CERT)
    }

    pub fn bundle_pem(&self) -> Result<String, IdentityError> {
        self.read_text(BUNDLE)
    }

    fn read_text(&self, name: &str) -> Result<String, IdentityError> {
        self.require()?;
        let path = self.dir.join(name);
        fs::read_to_string(&path).map_err(|e| IdentityError::io(&path, e))
    }

    /// The current trust anchor, ready to sign issuers.
    pub fn anchor(&self) -> Result<SigningCa, IdentityError> {
        self.require_anchor_key()?;
        self.signing_ca(ANCHOR_CERT, ANCHOR_KEY)
    }

    /// Refuses to rotate a CA whose anchor key lives elsewhere (an external issuer).
    fn require_anchor_key(&self) -> Result<(), IdentityError> {
        let path = self.dir.join(ANCHOR_KEY);
        if self.exists() && !path.exists() {
            return Err(IdentityError::File {
                path,
                why: "the trust anchor's key is not here: this mesh uses an external issuer \
                      (certs init --issuer-cert); renew it with the CA that owns it, then run \
                      `meshctl certs init --force --issuer-cert … --issuer-key …`"
                    .into(),
            });
        }
        Ok(())
    }

    /// The anchor an anchor rotation staged, if one is in progress.
    pub fn next_anchor(&self) -> Result<Option<SigningCa>, IdentityError> {
        if self.dir.join(NEXT_ANCHOR_CERT).is_file() {
            self.signing_ca(NEXT_ANCHOR_CERT, NEXT_ANCHOR_KEY).map(Some)
        } else {
            Ok(None)
        }
    }

    fn signing_ca(&self, cert: &str, key: &str) -> Result<SigningCa, IdentityError> {
        self.require()?;
        let cert_path = self.dir.join(cert);
        let text = fs::read_to_string(&cert_path).map_err(|e| IdentityError::io(&cert_path, e))?;
        let key = super::workload::read_private_key(&self.dir.join(key))?;
        SigningCa::from_pem(&text, &key)
    }

    /// Rotation step 1: creates the next anchor (or keeps the one already staged, so a resumed
    /// rotation does not mint another) and trusts it beside the current one. Returns its
    /// fingerprint.
    pub fn stage_next_anchor(&self, lifetime: Duration) -> Result<String, IdentityError> {
        self.require_anchor_key()?;
        let next = match self.next_anchor()? {
            Some(next) => next,
            None => {
                let meta = self.meta()?;
                let anchor = ca::new_anchor(&meta.trust_domain, lifetime)?;
                // Key first: a cert without its key is never visible.
                self.write(NEXT_ANCHOR_KEY, &anchor.key_pem, PRIVATE_FILE_MODE)?;
                self.write(NEXT_ANCHOR_CERT, &anchor.cert_pem, PUBLIC_FILE_MODE)?;
                SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem)?
            }
        };
        let current = self.read_text(ANCHOR_CERT)?;
        self.write(
            BUNDLE,
            &format!("{}{}", ensure_newline(&current), next.cert_pem),
            PUBLIC_FILE_MODE,
        )?;
        Ok(pem::fingerprint(&pem::first_cert(&next.cert_pem)?))
    }

    /// Replaces the issuer with a new one signed by `signer`, valid for `lifetime` (capped at
    /// the signer's remaining life). Returns the new issuer's fingerprint.
    pub fn replace_issuer(
        &self,
        signer: &SigningCa,
        lifetime: Duration,
    ) -> Result<String, IdentityError> {
        let meta = self.meta()?;
        let left = signer
            .not_after()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        let issuer = signer.sign_issuer(&meta.trust_domain, lifetime.min(left))?;
        self.write(ISSUER_KEY, &issuer.key_pem, PRIVATE_FILE_MODE)?;
        self.write(ISSUER_CERT, &issuer.cert_pem, PUBLIC_FILE_MODE)?;
        Ok(pem::fingerprint(&pem::first_cert(&issuer.cert_pem)?))
    }

    /// Rotation step 3: the staged anchor becomes the anchor and the only one trusted. A
    /// no-op when nothing is staged (already promoted by an interrupted run).
    pub fn promote_next_anchor(&self) -> Result<(), IdentityError> {
        let Some(next) = self.next_anchor()? else {
            return Ok(());
        };
        let key = super::workload::read_private_key(&self.dir.join(NEXT_ANCHOR_KEY))?;
        self.write(BUNDLE, &next.cert_pem, PUBLIC_FILE_MODE)?;
        self.write(ANCHOR_KEY, &key, PRIVATE_FILE_MODE)?;
        self.write(ANCHOR_CERT, &next.cert_pem, PUBLIC_FILE_MODE)?;
        for name in [NEXT_ANCHOR_CERT, NEXT_ANCHOR_KEY] {
            let path = self.dir.join(name);
            fs::remove_file(&path).map_err(|e| IdentityError::io(&path, e))?;
        }
        Ok(())
    }

    /// Fingerprints of the anchors in the bundle, in order.
    pub fn bundle_fingerprints(&self) -> Result<Vec<String>, IdentityError> {
        Ok(pem::certs(&self.bundle_pem()?)?
            .iter()
            .map(|d| pem::fingerprint(d))
            .collect())
    }

    /// Fingerprint of the current issuer.
    pub fn issuer_fingerprint(&self) -> Result<String, IdentityError> {
        Ok(pem::fingerprint(&pem::first_cert(&self.issuer_pem()?)?))
    }

    /// Fingerprint of the current anchor.
    pub fn anchor_fingerprint(&self) -> Result<String, IdentityError> {
        Ok(pem::fingerprint(&pem::first_cert(
            &self.read_text(ANCHOR_CERT)?,
        )?))
    }

    /// The current trust anchor's certificate, PEM.
    pub fn anchor_pem(&self) -> Result<String, IdentityError> {
        self.read_text(ANCHOR_CERT)
    }

    /// Whether the issuer really chains to the bundle: signs a short-lived probe leaf with it
    /// and verifies that against the bundle, exactly as a proxy would.
    pub fn issuer_chains_to_bundle(&self) -> Result<bool, IdentityError> {
        let issuer = self.issuer()?;
        let bundle = super::TrustBundle::from_pem(&self.bundle_pem()?)?;
        let id: super::SpiffeId =
            format!("spiffe://{}/ns/meshctl/sa/check", self.meta()?.trust_domain).parse()?;
        let key = ca::new_key()?;
        let leaf = issuer.sign_leaf(&id, &key, CHAIN_PROBE_LIFETIME)?;
        let chain = [pem::first_cert(&leaf)?, pem::first_cert(&issuer.cert_pem)?];
        Ok(bundle
            .verify(
                &chain[0],
                &chain[1..],
                super::verify::Usage::Server,
                rustls_pki_types::UnixTime::now(),
            )
            .is_ok())
    }

    fn write(&self, name: &str, body: &str, mode: u32) -> Result<(), IdentityError> {
        let path = self.dir.join(name);
        fsutil::write_atomic(&path, body.as_bytes(), mode).map_err(|e| IdentityError::io(&path, e))
    }

    /// Remembers an issued leaf (public part only) so `certs status` can report it.
    pub fn record_leaf(&self, leaf_pem: &str) -> Result<PathBuf, IdentityError> {
        let der = pem::first_cert(leaf_pem)?;
        let serial = pem::parse(&der)?
            .raw_serial()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let dir = self.dir.join(LEAVES);
        fsutil::create_private_dir(&dir).map_err(|e| IdentityError::io(&dir, e))?;
        let path = dir.join(format!("{serial}.crt"));
        fsutil::write_atomic(&path, leaf_pem.as_bytes(), PUBLIC_FILE_MODE)
            .map_err(|e| IdentityError::io(&path, e))?;
        Ok(path)
    }

    /// Every certificate the store knows: anchors in the bundle, the issuer, recorded leaves.
    pub fn certificates(&self) -> Result<Vec<StoredCert>, IdentityError> {
        self.require()?;
        let mut out = Vec::new();
        let bundle = self.dir.join(BUNDLE);
        for der in pem::certs(&self.bundle_pem()?)? {
            out.push(StoredCert {
                role: Role::Anchor,
                path: bundle.clone(),
                der,
            });
        }
        out.push(StoredCert {
            role: Role::Issuer,
            path: self.dir.join(ISSUER_CERT),
            der: pem::first_cert(&self.issuer_pem()?)?,
        });
        let leaves = self.dir.join(LEAVES);
        let mut paths: Vec<PathBuf> = match fs::read_dir(&leaves) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(IdentityError::io(&leaves, e)),
        };
        paths.sort();
        for path in paths {
            let text = fs::read_to_string(&path).map_err(|e| IdentityError::io(&path, e))?;
            out.push(StoredCert {
                role: Role::Leaf,
                der: pem::first_cert(&text)?,
                path,
            });
        }
        Ok(out)
    }
}

fn ensure_newline(pem: &str) -> String {
    if pem.ends_with('\n') {
        pem.to_string()
    } else {
        format!("{pem}\n")
    }
}
