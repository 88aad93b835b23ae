//! The identity material install puts into the cluster: a fresh anchor and issuer (the anchor
//! key saved on this machine, never sent), a CA made by `meshctl certs init`, or an
//! organisation's issuer; each checked before anything is rendered.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow, bail};

use crate::identity::ca::{self, SigningCa};
use crate::identity::store::{CaStore, IDENTITY_DIR, InitOptions};
use crate::identity::verify::Usage;
use crate::identity::{SpiffeId, TrustBundle, pem, spiffe};

/// Lifetime of the throw-away leaf signed to prove the issuer chains to the bundle.
const PROBE_LIFETIME: Duration = Duration::from_secs(60);

/// What the cluster receives: the issuer (certificate chain and key) and the trust bundle.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    pub trust_domain: String,
    /// The issuer certificate, followed by any intermediates up to (not including) the anchor.
    pub issuer_cert_pem: String,
    pub issuer_key_pem: String,
    /// The trust anchors proxies verify against (what `ca.crt` and the caBundle carry).
    pub bundle_pem: String,
}

impl std::fmt::Debug for Material {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("trust_domain", &self.trust_domain)
            .field("issuer_key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Where the material comes from (the install flags).
#[derive(Debug, Clone)]
pub enum Source {
    /// A new anchor and issuer; the CA (with the anchor key) is saved under `save_to`, or
    /// kept in memory only and dropped when `save_to` is `None` (`--discard-anchor-key`).
    Generate { save_to: Option<PathBuf> },
    /// A CA directory as `meshctl certs init` (or a previous install) wrote it.
    Dir(PathBuf),
    /// An organisation's issuer: certificate (optionally followed by its chain up to the
    /// root), key, and the root when the certificate file does not end with it.
    Files {
        cert: PathBuf,
        key: PathBuf,
        anchor: Option<PathBuf>,
    },
}

/// Why the material could not be had: bad input (exit 2) or a failure on this machine (1).
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    #[error("{0:#}")]
    Input(anyhow::Error),
    #[error("{0:#}")]
    Runtime(anyhow::Error),
}

/// The checked material, and where a newly generated CA was saved.
#[derive(Debug)]
pub struct Resolved {
    pub material: Material,
    /// The anchor key file written for a generated CA.
    pub saved_anchor_key: Option<PathBuf>,
}

/// Loads or generates the material for `trust_domain` (`None`: the CA's own, or the
/// default for a new one) and checks it.
pub fn resolve(source: &Source, trust_domain: Option<&str>) -> Result<Resolved, MaterialError> {
    let input = MaterialError::Input;
    if let Some(td) = trust_domain {
        spiffe::validate_trust_domain(td).map_err(|e| input(anyhow!("--trust-domain: {e}")))?;
    }
    let (material, saved_anchor_key) = match source {
        Source::Generate { save_to: None } => {
            let td = trust_domain.unwrap_or(spiffe::DEFAULT_TRUST_DOMAIN);
            (generate(td).map_err(MaterialError::Runtime)?, None)
        }
        Source::Generate { save_to: Some(dir) } => {
            let td = trust_domain.unwrap_or(spiffe::DEFAULT_TRUST_DOMAIN);
            let store = CaStore::new(dir);
            if store.exists() {
                return Err(input(anyhow!(
                    "{} already holds a mesh CA: install with it (--identity-dir {}), or save the new one elsewhere (--save-identity DIR)",
                    store.dir().display(),
                    dir.display()
                )));
            }
            store
                .init(&InitOptions {
                    trust_domain: td.to_string(),
                    anchor_lifetime: ca::DEFAULT_ANCHOR_LIFETIME,
                    issuer_lifetime: ca::DEFAULT_ISSUER_LIFETIME,
                    force: false,
                })
                .map_err(|e| MaterialError::Runtime(anyhow!("saving the new CA: {e}")))?;
            let material = from_store(&store, None).map_err(MaterialError::Runtime)?;
            (material, Some(store.dir().join("trust-anchor.key")))
        }
        Source::Dir(dir) => (from_dir(dir, trust_domain).map_err(input)?, None),
        Source::Files { cert, key, anchor } => {
            let td = trust_domain.unwrap_or(spiffe::DEFAULT_TRUST_DOMAIN);
            let material = from_files(td, cert, key, anchor.as_deref()).map_err(input)?;
            (material, None)
        }
    };
    check(&material, SystemTime::now()).map_err(input)?;
    Ok(Resolved {
        material,
        saved_anchor_key,
    })
}

fn generate(trust_domain: &str) -> anyhow::Result<Material> {
    let anchor = ca::new_anchor(trust_domain, ca::DEFAULT_ANCHOR_LIFETIME)?;
    let issuer = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem)?
        .sign_issuer(trust_domain, ca::DEFAULT_ISSUER_LIFETIME)?;
    Ok(Material {
        trust_domain: trust_domain.to_string(),
        issuer_cert_pem: issuer.cert_pem,
        issuer_key_pem: issuer.key_pem,
        bundle_pem: anchor.cert_pem,
    })
}

/// `DIR` may be the directory holding `identity/` (a state directory, or what install saved)
/// or the `identity/` directory itself.
fn from_dir(dir: &Path, trust_domain: Option<&str>) -> anyhow::Result<Material> {
    let store = ca_store(dir, "--identity-dir")?;
    from_store(&store, trust_domain).with_context(|| format!("--identity-dir {}", dir.display()))
}

/// The CA in `dir`: the directory holding `identity/` (a state directory, or what install
/// saved) or the `identity/` directory itself; `flag` names where `dir` came from.
pub fn ca_store(dir: &Path, flag: &str) -> anyhow::Result<CaStore> {
    if CaStore::new(dir).exists() {
        Ok(CaStore::new(dir))
    } else if dir.file_name().is_some_and(|n| n == IDENTITY_DIR)
        && CaStore::new(dir.parent().unwrap_or(Path::new("."))).exists()
    {
        Ok(CaStore::new(dir.parent().unwrap_or(Path::new("."))))
    } else {
        bail!(
            "{flag} {}: no mesh CA there (expected {}/issuer.crt, as `meshctl certs init` and `meshctl install` write it)",
            dir.display(),
            dir.join(IDENTITY_DIR).display()
        );
    }
}

/// The material a CA directory holds (its trust domain must be `trust_domain` when given).
pub fn from_store(store: &CaStore, trust_domain: Option<&str>) -> anyhow::Result<Material> {
    let meta = store.meta()?;
    if let Some(td) = trust_domain
        && td != meta.trust_domain
    {
        bail!(
            "the CA's trust domain is `{}`, not `{td}` (drop --trust-domain or use another CA)",
            meta.trust_domain
        );
    }
    let key_path = store.dir().join("issuer.key");
    Ok(Material {
        trust_domain: meta.trust_domain,
        issuer_cert_pem: store.issuer_pem()?,
        issuer_key_pem: crate::identity::workload::read_private_key(&key_path)?,
        bundle_pem: store.bundle_pem()?,
    })
}

fn read(flag: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))
}

fn from_files(
    trust_domain: &str,
    cert: &Path,
    key: &Path,
    anchor: Option<&Path>,
) -> anyhow::Result<Material> {
    let cert_text = read("--issuer-cert", cert)?;
    let key_text = read("--issuer-key", key)?;
    let blocks = pem::cert_blocks(&cert_text);
    if blocks.is_empty() {
        bail!("--issuer-cert {}: no PEM certificate in it", cert.display());
    }
    let (issuer_cert_pem, bundle_pem) = match anchor {
        Some(path) => (blocks.concat(), read("--anchor-cert", path)?),
        None if blocks.len() >= 2 => {
            let (chain, root) = blocks.split_at(blocks.len() - 1);
            (chain.concat(), root.concat())
        }
        None => bail!(
            "--issuer-cert {} holds only the issuer: pass its root with --anchor-cert FILE (or append it to the file)",
            cert.display()
        ),
    };
    let material = Material {
        trust_domain: trust_domain.to_string(),
        issuer_cert_pem,
        issuer_key_pem: key_text,
        bundle_pem,
    };
    check_key_matches(&material).with_context(|| {
        format!(
            "--issuer-key {} and --issuer-cert {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(material)
}

fn check_key_matches(m: &Material) -> anyhow::Result<()> {
    let key = rcgen::KeyPair::from_pem(&m.issuer_key_pem)
        .map_err(|e| anyhow!("the issuer key is not a usable private key: {e}"))?;
    let der = pem::first_cert(&m.issuer_cert_pem)?;
    let cert = pem::parse(&der)?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        bail!("the key does not belong to the certificate (their public keys differ)");
    }
    Ok(())
}

/// The checks every source goes through: the trust domain, the key matches, the issuer is a
/// CA, nothing is expired, and a leaf the issuer signs verifies against the bundle exactly as
/// proxies will verify it.
pub fn check(m: &Material, now: SystemTime) -> anyhow::Result<()> {
    spiffe::validate_trust_domain(&m.trust_domain)?;
    check_key_matches(m)?;
    let issuer_der = pem::first_cert(&m.issuer_cert_pem)?;
    let issuer = pem::parse(&issuer_der)?;
    let is_ca = issuer
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    if !is_ca {
        bail!(
            "the issuer certificate ({}) is not a CA certificate (basicConstraints CA:TRUE): it cannot sign workload certificates",
            issuer.subject()
        );
    }
    expiry("the issuer", &issuer_der, now)?;
    let bundle = TrustBundle::from_pem(&m.bundle_pem)?;
    for der in bundle.certificates() {
        expiry("the trust anchor", der, now)?;
    }
    let signing = SigningCa::from_pem(&m.issuer_cert_pem, &m.issuer_key_pem)?;
    let id: SpiffeId = format!("spiffe://{}/ns/meshctl/sa/install", m.trust_domain).parse()?;
    let leaf = signing.sign_leaf(&id, &ca::new_key()?, PROBE_LIFETIME)?;
    let intermediates = pem::certs(&m.issuer_cert_pem)?;
    bundle
        .verify(
            &pem::first_cert(&leaf)?,
            &intermediates,
            Usage::Server,
            rustls_pki_types::UnixTime::now(),
        )
        .map_err(|e| anyhow!("the issuer does not chain to the trust anchor: {e}"))?;
    Ok(())
}

fn expiry(what: &str, der: &[u8], now: SystemTime) -> anyhow::Result<()> {
    let not_after = pem::not_after(der)?;
    if not_after <= now {
        let cert = pem::parse(der)?;
        bail!(
            "{what} ({}) expired {} ago",
            cert.subject(),
            crate::duration::format_compact(
                now.duration_since(not_after).unwrap_or_default().as_secs() as i64
            )
        );
    }
    Ok(())
}
