//! The mesh issuer the controller signs with, followed live: read from the mounted Secret at
//! start, then from a watch of that Secret through the API server, so `meshctl certs rotate`
//! (or `install --apply` with another issuer) takes effect within seconds and without a
//! restart — the kubelet refreshes a mounted Secret only about once a minute. A changed
//! Secret is checked as `install` checks its input (the key matches, the issuer is a CA, none
//! is expired, a leaf it signs verifies against the bundle); one that fails is refused:
//! logged, shown in `/status` as `issuer_error`, and the last good issuer stays in force.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::watch;

use super::super::ISSUER_SECRET;
use super::super::identity::{Material, check};

/// The keys of the issuer Secret (`kubernetes.io/tls`, plus the bundle).
pub const CERT_KEY: &str = "tls.crt";
pub const KEY_KEY: &str = "tls.key";
pub const BUNDLE_KEY: &str = "ca.crt";

/// The issuer in force and why the last change was refused (if it was).
#[derive(Debug)]
pub struct IssuerState {
    trust_domain: String,
    current: watch::Sender<Arc<Material>>,
    /// `""` when the Secret's content is the issuer in force.
    error: Mutex<String>,
}

impl IssuerState {
    pub fn new(material: Material) -> Arc<Self> {
        let (current, _) = watch::channel(Arc::new(material.clone()));
        Arc::new(IssuerState {
            trust_domain: material.trust_domain,
            current,
            error: Mutex::new(String::new()),
        })
    }

    /// The issuer in force now.
    pub fn current(&self) -> Arc<Material> {
        self.current.borrow().clone()
    }

    /// Notified of every issuer put in force after this call.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Material>> {
        self.current.subscribe()
    }

    /// Why the Secret's current content was refused (`""`: it was not).
    pub fn error(&self) -> String {
        self.error.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn set_error(&self, why: String) {
        if let Ok(mut e) = self.error.lock() {
            *e = why;
        }
    }

    /// Puts the Secret's content in force if it differs and passes the checks; whether it
    /// did. A refusal is remembered (and cleared by the next good content).
    pub fn offer(&self, secret: &Secret, now: SystemTime) -> Result<bool, String> {
        let outcome = from_secret(secret, &self.trust_domain).and_then(|m| {
            if *self.current() == m {
                return Ok(false);
            }
            check(&m, now).map_err(|e| format!("{e:#}"))?;
            self.current.send_replace(Arc::new(m));
            Ok(true)
        });
        match &outcome {
            Ok(_) => self.set_error(String::new()),
            Err(why) => self.set_error(why.clone()),
        }
        outcome
    }
}

/// The issuer and bundle from the mounted Secret's directory (`tls.crt`: the issuer, then
/// any intermediates; `tls.key`; `ca.crt`: the trust bundle).
pub fn load_dir(dir: &Path, trust_domain: &str) -> anyhow::Result<Material> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let material = Material {
        trust_domain: trust_domain.to_string(),
        issuer_cert_pem: read(CERT_KEY)?,
        issuer_key_pem: read(KEY_KEY)?,
        bundle_pem: read(BUNDLE_KEY)?,
    };
    crate::identity::pem::certs(&material.bundle_pem)
        .with_context(|| format!("the trust bundle {}", dir.join(BUNDLE_KEY).display()))?;
    Ok(material)
}

/// The material a Secret holds, or which key is missing or not text.
fn from_secret(secret: &Secret, trust_domain: &str) -> Result<Material, String> {
    let data = secret.data.as_ref();
    let key = |name: &str| {
        let bytes = data
            .and_then(|d| d.get(name))
            .ok_or_else(|| format!("Secret {ISSUER_SECRET} has no `{name}`"))?;
        String::from_utf8(bytes.0.clone())
            .map_err(|_| format!("Secret {ISSUER_SECRET}: `{name}` is not PEM text"))
    };
    Ok(Material {
        trust_domain: trust_domain.to_string(),
        issuer_cert_pem: key(CERT_KEY)?,
        issuer_key_pem: key(KEY_KEY)?,
        bundle_pem: key(BUNDLE_KEY)?,
    })
}

/// Watches the issuer Secret in `namespace` (by name) and offers every version of it to
/// `state`, until the process ends. A failing watch is retried with backoff; the issuer in
/// force meanwhile stays.
pub async fn follow(client: Client, namespace: String, state: Arc<IssuerState>) {
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={ISSUER_SECRET}"));
    let stream = watcher(api, config).default_backoff().applied_objects();
    let mut stream = std::pin::pin!(stream);
    let mut failing = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(secret) => {
                failing = false;
                match state.offer(&secret, SystemTime::now()) {
                    Ok(true) => tracing::info!(
                        secret = %format!("{namespace}/{ISSUER_SECRET}"),
                        "the issuer Secret changed: signing with the new issuer"
                    ),
                    Ok(false) => {}
                    Err(why) => tracing::warn!(
                        secret = %format!("{namespace}/{ISSUER_SECRET}"),
                        error = %why,
                        "the issuer Secret changed but is refused; the last good issuer stays in force"
                    ),
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "watching the issuer Secret failed; retrying with backoff");
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use k8s_openapi::ByteString;

    use super::*;
    use crate::identity::ca::{self, SigningCa};

    const TD: &str = "mesh.test";

    fn material() -> Material {
        let anchor = ca::new_anchor(TD, Duration::from_secs(3600)).unwrap();
        let issuer = SigningCa::from_pem(&anchor.cert_pem, &anchor.key_pem)
            .unwrap()
            .sign_issuer(TD, Duration::from_secs(1800))
            .unwrap();
        Material {
            trust_domain: TD.into(),
            issuer_cert_pem: issuer.cert_pem,
            issuer_key_pem: issuer.key_pem,
            bundle_pem: anchor.cert_pem,
        }
    }

    fn secret(m: &Material) -> Secret {
        let b = |s: &str| ByteString(s.as_bytes().to_vec());
        Secret {
            data: Some(BTreeMap::from([
                (CERT_KEY.to_string(), b(&m.issuer_cert_pem)),
                (KEY_KEY.to_string(), b(&m.issuer_key_pem)),
                (BUNDLE_KEY.to_string(), b(&m.bundle_pem)),
            ])),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_issuer_in_the_secret_is_put_in_force_and_the_same_one_is_not_resent() {
        let first = material();
        let state = IssuerState::new(first.clone());
        let mut seen = state.subscribe();
        assert_eq!(state.offer(&secret(&first), SystemTime::now()), Ok(false));
        assert!(!seen.has_changed().unwrap());
        let second = material();
        assert_eq!(state.offer(&secret(&second), SystemTime::now()), Ok(true));
        assert!(seen.has_changed().unwrap());
        assert_eq!(*seen.borrow_and_update().clone(), second);
        assert_eq!(state.error(), "");
    }

    #[test]
    fn a_bad_secret_is_refused_with_the_reason_and_the_last_good_issuer_stays() {
        let good = material();
        let state = IssuerState::new(good.clone());
        // An issuer whose key is another's.
        let other = material();
        let mismatched = Material {
            issuer_key_pem: other.issuer_key_pem.clone(),
            ..good.clone()
        };
        let err = state
            .offer(&secret(&mismatched), SystemTime::now())
            .unwrap_err();
        assert!(err.contains("public keys differ"), "{err}");
        assert_eq!(state.error(), err);
        // An issuer that does not chain to the bundle.
        let foreign = Material {
            bundle_pem: other.bundle_pem.clone(),
            ..good.clone()
        };
        let err = state
            .offer(&secret(&foreign), SystemTime::now())
            .unwrap_err();
        assert!(err.contains("does not chain to the trust anchor"), "{err}");
        // Expired by the time it is offered.
        let later = SystemTime::now() + Duration::from_secs(7200);
        let err = state.offer(&secret(&other), later).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        // A key missing.
        let mut partial = secret(&other);
        partial.data.as_mut().unwrap().remove(KEY_KEY);
        let err = state.offer(&partial, SystemTime::now()).unwrap_err();
        assert_eq!(err, "Secret meshctl-issuer has no `tls.key`");
        assert_eq!(*state.current(), good);
        // Good content again clears the error.
        assert_eq!(state.offer(&secret(&other), SystemTime::now()), Ok(true));
        assert_eq!(state.error(), "");
    }
}
